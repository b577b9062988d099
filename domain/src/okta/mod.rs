//! Okta's Management API: the service app's key, the client, and the
//! objects Portcullis reads (users, groups).

pub mod client;
pub mod keys;

use serde::{Deserialize, Serialize};

pub use client::{Credentials, OktaClient, OktaError, Patience};
pub use keys::{parse_private_key, KeyError, ServiceKey};

/// A group as the Management API returns it (fields Portcullis uses).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct OktaGroup {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    pub profile: GroupProfile,
    #[serde(rename = "lastUpdated", default)]
    pub last_updated: Option<String>,
    #[serde(rename = "lastMembershipUpdated", default)]
    pub last_membership_updated: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct GroupProfile {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A user as the Management API returns it (fields Portcullis uses).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct OktaUser {
    pub id: String,
    pub status: String,
    pub profile: UserProfile,
    #[serde(rename = "lastUpdated", default)]
    pub last_updated: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct UserProfile {
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(rename = "firstName", default)]
    pub first_name: Option<String>,
    #[serde(rename = "lastName", default)]
    pub last_name: Option<String>,
}
