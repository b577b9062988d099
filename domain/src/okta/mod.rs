//! Okta's Management API: the service app's key, the client, and the
//! objects Portcullis reads (users, groups).

pub mod client;
pub mod keys;

use serde::{Deserialize, Serialize};

pub use client::{
    CallStats, Credentials, OktaClient, OktaError, Page, Patience, WaitKind, WaitObserver, APPS_READ_SCOPE,
    DIRECTORY_SCOPES,
};
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

/// A member in `GET /api/v1/groups/{id}/users`: only the id is needed.
#[derive(Debug, Clone, Deserialize)]
pub struct OktaMember {
    pub id: String,
}

/// An assignment in `GET /api/v1/apps/{id}/users?expand=user`.
#[derive(Debug, Clone, Deserialize)]
pub struct OktaAppUser {
    pub id: String,
    #[serde(rename = "_embedded", default)]
    pub embedded: Option<AppUserEmbedded>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AppUserEmbedded {
    pub user: OktaUser,
}

/// An assignment in `GET /api/v1/apps/{id}/groups?expand=group`.
#[derive(Debug, Clone, Deserialize)]
pub struct OktaAppGroup {
    pub id: String,
    #[serde(rename = "_embedded", default)]
    pub embedded: Option<AppGroupEmbedded>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AppGroupEmbedded {
    pub group: OktaGroup,
}
