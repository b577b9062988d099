//! Okta's SCIM client, as it provisions an app: the requests, headers and bodies of both of
//! Okta's flavours (`shared/okta-scim.md`). **Patch** is a catalogue (OIN) app: deactivation and
//! group changes by PATCH, pathless `replace` included. **Put** is a custom (AIW) app: every change
//! is a GET followed by a PUT of the whole resource. Profile changes are GET then PUT in both.
//!
//! Stateless, as Okta's retries are: a person is found by `userName` (then `externalId`), a
//! group by `displayName`.

use serde_json::{json, Value};

/// Which of Okta's two provisioning flavours the app speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    Patch,
    Put,
}

/// A person as Okta pushes them: from the org's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedUser {
    /// Okta's id (`00u…`): the `externalId`.
    pub okta_id: String,
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScimPushError {
    #[error("{method} {path}: HTTP {status}: {body}")]
    Refused { method: String, path: String, status: u16, body: String },
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Unexpected(String),
}

impl ScimPushError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ScimPushError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScimClient {
    http: reqwest::Client,
    base: String,
    authorization: String,
    pub flavour: Flavour,
}

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

impl ScimClient {
    /// `base` is the app's SCIM base URL; `token` goes in `Authorization: Bearer` (Okta's "HTTP
    /// Header" authentication).
    pub fn new(base: &str, token: &str, flavour: Flavour) -> Self {
        let http = reqwest::Client::builder()
            .user_agent("Okta SCIM Client 1.0.0")
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap_or_default();
        Self { http, base: base.trim_end_matches('/').to_string(), authorization: format!("Bearer {token}"), flavour }
    }

    /// Sends one request as Okta does; 2xx answers' bodies (empty: `Null`), else the refusal.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ScimPushError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("Authorization", &self.authorization)
            .header("Accept", "application/scim+json");
        if let Some(body) = body {
            request = request.header("Content-Type", "application/scim+json; charset=utf-8").body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        if !(200..300).contains(&status) {
            return Err(ScimPushError::Refused {
                method: method.to_string(),
                path: path.to_string(),
                status,
                body: text,
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| ScimPushError::Unexpected(format!("{path}: not JSON: {e}")))
    }

    async fn get(&self, path: &str) -> Result<Value, ScimPushError> {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// Okta's "Test API Credentials".
    pub async fn test_credentials(&self) -> Result<Value, ScimPushError> {
        self.get("/Users?startIndex=1&count=2").await
    }

    fn id_of(v: &Value) -> Result<String, ScimPushError> {
        v["id"].as_str().map(str::to_string).ok_or_else(|| ScimPushError::Unexpected(format!("no id in {v}")))
    }

    async fn first(&self, resource: &str, attribute: &str, value: &str) -> Result<Option<Value>, ScimPushError> {
        let filter = format!("{attribute} eq \"{}\"", value.replace('"', "\\\""));
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", &filter)
            .append_pair("startIndex", "1")
            .append_pair("count", "100")
            .finish();
        let list = self.get(&format!("/{resource}?{query}")).await?;
        Ok(list["Resources"].as_array().and_then(|r| r.first()).cloned())
    }

    /// The person's SCIM id, if the app has them.
    pub async fn find_user(&self, user: &PushedUser) -> Result<Option<String>, ScimPushError> {
        if let Some(found) = self.first("Users", "userName", &user.login).await? {
            return Ok(Some(Self::id_of(&found)?));
        }
        match self.first("Users", "externalId", &user.okta_id).await? {
            Some(found) => Ok(Some(Self::id_of(&found)?)),
            None => Ok(None),
        }
    }

    /// Assigning the app: look the person up by userName, create them if missing (with the
    /// password Okta syncs, which the app must never keep). The person's SCIM id.
    pub async fn assign(&self, user: &PushedUser) -> Result<String, ScimPushError> {
        if let Some(id) = self.find_user(user).await? {
            self.set_active(&id, true).await?;
            return Ok(id);
        }
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user.login,
            "name": {"givenName": user.first_name, "familyName": user.last_name},
            "emails": [{"primary": true, "value": user.email, "type": "work"}],
            "displayName": format!("{} {}", user.first_name, user.last_name),
            "locale": "en-US",
            "externalId": user.okta_id,
            "groups": [],
            "password": "Okta-synced-P4ssw0rd!",
            "active": true,
        });
        let created = self.send(reqwest::Method::POST, "/Users", Some(&body)).await?;
        Self::id_of(&created)
    }

    /// A profile change: GET, merge, PUT (both flavours).
    pub async fn update_profile(&self, id: &str, user: &PushedUser) -> Result<Value, ScimPushError> {
        let mut current = self.get(&format!("/Users/{id}")).await?;
        current["userName"] = user.login.clone().into();
        current["name"] = json!({"givenName": user.first_name, "familyName": user.last_name});
        current["displayName"] = format!("{} {}", user.first_name, user.last_name).into();
        current["emails"] = json!([{"primary": true, "value": user.email, "type": "work"}]);
        self.send(reqwest::Method::PUT, &format!("/Users/{id}"), Some(&current)).await
    }

    /// Deactivation (also what unassigning sends) and reactivation.
    pub async fn set_active(&self, id: &str, active: bool) -> Result<Value, ScimPushError> {
        match self.flavour {
            Flavour::Patch => {
                // Okta sends the boolean as a string in some orgs: both are accepted by Portcullis.
                let body =
                    json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": active}}]});
                self.send(reqwest::Method::PATCH, &format!("/Users/{id}"), Some(&body)).await
            }
            Flavour::Put => {
                let mut current = self.get(&format!("/Users/{id}")).await?;
                current["active"] = active.into();
                self.send(reqwest::Method::PUT, &format!("/Users/{id}"), Some(&current)).await
            }
        }
    }

    /// Push Groups: the group by name, created (with no externalId, as Okta does) when
    /// missing; then its members. The group's SCIM id.
    pub async fn push_group(&self, name: &str, members: &[String]) -> Result<String, ScimPushError> {
        let id = match self.first("Groups", "displayName", name).await? {
            Some(found) => Self::id_of(&found)?,
            None => {
                let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": []});
                Self::id_of(&self.send(reqwest::Method::POST, "/Groups", Some(&body)).await?)?
            }
        };
        if !members.is_empty() {
            self.replace_members(&id, members).await?;
        }
        Ok(id)
    }

    pub async fn find_group(&self, name: &str) -> Result<Option<String>, ScimPushError> {
        self.first("Groups", "displayName", name).await?.map(|g| Self::id_of(&g)).transpose()
    }

    async fn put_group(&self, id: &str, change: impl FnOnce(&mut Value)) -> Result<Value, ScimPushError> {
        let mut current = self.get(&format!("/Groups/{id}")).await?;
        change(&mut current);
        self.send(reqwest::Method::PUT, &format!("/Groups/{id}"), Some(&current)).await
    }

    async fn patch_group(&self, id: &str, operations: Value) -> Result<Value, ScimPushError> {
        let body = json!({"schemas": [PATCH_OP], "Operations": operations});
        self.send(reqwest::Method::PATCH, &format!("/Groups/{id}"), Some(&body)).await
    }

    /// A rename: Okta's pathless replace with the read-only id inside the value.
    pub async fn rename_group(&self, id: &str, name: &str) -> Result<Value, ScimPushError> {
        match self.flavour {
            Flavour::Patch => {
                self.patch_group(id, json!([{"op": "replace", "value": {"id": id, "displayName": name}}])).await
            }
            Flavour::Put => self.put_group(id, |g| g["displayName"] = name.into()).await,
        }
    }

    fn member_list(ids: &[String]) -> Value {
        // No `type`: Okta leaves it out.
        Value::Array(ids.iter().map(|m| json!({"value": m, "display": m})).collect())
    }

    fn listed(group: &Value) -> Vec<String> {
        group["members"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["value"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    pub async fn add_members(&self, id: &str, ids: &[String]) -> Result<Value, ScimPushError> {
        match self.flavour {
            Flavour::Patch => {
                self.patch_group(id, json!([{"op": "add", "path": "members", "value": Self::member_list(ids)}])).await
            }
            Flavour::Put => {
                self.put_group(id, |g| {
                    let mut all = Self::listed(g);
                    all.extend(ids.iter().filter(|m| !all.contains(m)).cloned().collect::<Vec<_>>());
                    g["members"] = Self::member_list(&all);
                })
                .await
            }
        }
    }

    /// The removal authentik lost: one `remove` on `members[value eq "…"]` per person.
    pub async fn remove_members(&self, id: &str, ids: &[String]) -> Result<Value, ScimPushError> {
        match self.flavour {
            Flavour::Patch => {
                let ops: Vec<Value> =
                    ids.iter().map(|m| json!({"op": "remove", "path": format!("members[value eq \"{m}\"]")})).collect();
                self.patch_group(id, Value::Array(ops)).await
            }
            Flavour::Put => {
                self.put_group(id, |g| {
                    let kept: Vec<String> = Self::listed(g).into_iter().filter(|m| !ids.contains(m)).collect();
                    g["members"] = Self::member_list(&kept);
                })
                .await
            }
        }
    }

    pub async fn replace_members(&self, id: &str, ids: &[String]) -> Result<Value, ScimPushError> {
        match self.flavour {
            Flavour::Patch => {
                self.patch_group(id, json!([{"op": "replace", "path": "members", "value": Self::member_list(ids)}]))
                    .await
            }
            Flavour::Put => self.put_group(id, |g| g["members"] = Self::member_list(ids)).await,
        }
    }

    /// Unlinking a pushed group with "delete the group in the app".
    pub async fn delete_group(&self, id: &str) -> Result<Value, ScimPushError> {
        self.send(reqwest::Method::DELETE, &format!("/Groups/{id}"), None).await
    }
}
