//! Test levers: the same operations in-process ([`Control`]) and over HTTP
//! (`POST /__sim/control` with a JSON op, `GET /__sim/state`). Loopback tests only; no auth.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::fixture::{GroupDef, UserDef, UserStatus};
use crate::state::AppState;
use crate::switches::Switches;

/// One control operation; JSON `{"op":"set_latency","ms":200}` and so on.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ControlOp {
    SetLatency {
        ms: u64,
    },
    SetErrorRate {
        rate: f64,
        #[serde(default)]
        status: Option<u16>,
        #[serde(default)]
        path_prefix: Option<String>,
    },
    SetWrongIssuer {
        enabled: bool,
    },
    SetWrongTokenIssuer {
        enabled: bool,
    },
    /// The next key signs from now on; the old one stays in the JWKS for the grace period.
    RotateKeys {
        #[serde(default)]
        grace_seconds: Option<u64>,
    },
    SetRateLimit {
        per_minute: u32,
    },
    ResetRateLimits,
    /// Merges a partial switches object (camelCase keys, as in the fixture).
    SetSwitches {
        switches: Value,
    },
    DeactivateUser {
        user_id: String,
    },
    SetUserStatus {
        user_id: String,
        status: UserStatus,
    },
    DeleteUser {
        user_id: String,
    },
    UpdateUserProfile {
        user_id: String,
        profile: Map<String, Value>,
    },
    AddUser {
        user: Box<UserDef>,
    },
    AddGroup {
        group: Box<GroupDef>,
    },
    DeleteGroup {
        group_id: String,
    },
    RenameGroup {
        group_id: String,
        name: String,
    },
    SetGroupMembers {
        group_id: String,
        user_ids: Vec<String>,
    },
    AddMembership {
        group_id: String,
        user_id: String,
    },
    RemoveMembership {
        group_id: String,
        user_id: String,
    },
    AssignApp {
        app_id: String,
        #[serde(default)]
        user_ids: Vec<String>,
        #[serde(default)]
        group_ids: Vec<String>,
    },
    UnassignApp {
        app_id: String,
        #[serde(default)]
        user_ids: Vec<String>,
        #[serde(default)]
        group_ids: Vec<String>,
    },
    SetRedirectUris {
        client_id: String,
        redirect_uris: Vec<String>,
        #[serde(default)]
        post_logout_redirect_uris: Option<Vec<String>>,
    },
    /// Moves the simulator's clock (tokens, codes, assertions, rate windows, `Date`).
    AdvanceClock {
        seconds: i64,
    },
    RotateDpopNonce,
    RevokeAllTokens,
    ResetRequestCount,
    /// A Universal Logout request as Okta sends it, signed with the org's active key: the JWT
    /// for `Authorization: Bearer` and the body naming the user. Answers `{"token", "body"}`.
    /// The user's sessions at the simulator end, as Okta's do.
    UniversalLogoutRequest {
        /// The app's Universal Logout endpoint (the JWT's `aud`).
        audience: String,
        user_id: String,
        /// `email` (Okta's default) or `iss_sub`.
        #[serde(default)]
        format: Option<String>,
        /// Seconds until `exp` (default 300; negative: already expired).
        #[serde(default)]
        expires_in: Option<i64>,
        /// Another `iss` than the org's (a defect).
        #[serde(default)]
        issuer: Option<String>,
        /// Signed with a key the org does not publish (a defect).
        #[serde(default)]
        unpublished_key: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
}

/// A handle on a running simulator. Cheap to clone.
#[derive(Clone)]
pub struct Control {
    pub(crate) st: Arc<AppState>,
}

impl Control {
    pub fn apply(&self, op: ControlOp) -> Result<Value, ControlError> {
        let st = &self.st;
        let now = st.clock.now_ms();
        let nf = |what: &str, id: &str| ControlError::NotFound(format!("{what} {id}"));
        match op {
            ControlOp::SetLatency { ms } => st.switches_mut().latency_ms = ms,
            ControlOp::SetErrorRate { rate, status, path_prefix } => {
                if !(0.0..=1.0).contains(&rate) {
                    return Err(ControlError::Invalid("rate must be within 0.0..=1.0".into()));
                }
                let mut sw = st.switches_mut();
                sw.error_rate = rate;
                if let Some(s) = status {
                    sw.error_status = s;
                }
                if let Some(p) = path_prefix {
                    sw.error_path_prefix = p;
                }
            }
            ControlOp::SetWrongIssuer { enabled } => st.switches_mut().wrong_issuer = enabled,
            ControlOp::SetWrongTokenIssuer { enabled } => st.switches_mut().wrong_token_issuer = enabled,
            ControlOp::RotateKeys { grace_seconds } => {
                let grace = grace_seconds.unwrap_or(st.switches().key_grace_seconds);
                st.keys_mut()
                    .rotate(now, (grace as i64).saturating_mul(1000))
                    .map_err(|e| ControlError::Invalid(e.to_string()))?;
                return Ok(json!({ "ok": true, "activeKid": st.keys().active().kid }));
            }
            ControlOp::SetRateLimit { per_minute } => {
                st.switches_mut().rate_limit_per_minute = per_minute;
                st.limiter.reset();
            }
            ControlOp::ResetRateLimits => st.limiter.reset(),
            ControlOp::SetSwitches { switches } => {
                let mut current =
                    serde_json::to_value(st.switches()).map_err(|e| ControlError::Invalid(e.to_string()))?;
                let known =
                    serde_json::to_value(Switches::all_named()).map_err(|e| ControlError::Invalid(e.to_string()))?;
                let (Some(cur), Value::Object(patch)) = (current.as_object_mut(), switches) else {
                    return Err(ControlError::Invalid("switches must be an object".into()));
                };
                for (k, v) in patch {
                    if known.get(&k).is_none() {
                        return Err(ControlError::Invalid(format!("unknown switch {k}")));
                    }
                    cur.insert(k, v);
                }
                let merged: Switches =
                    serde_json::from_value(current).map_err(|e| ControlError::Invalid(e.to_string()))?;
                *st.switches_mut() = merged;
            }
            ControlOp::DeactivateUser { user_id } => {
                st.store_mut()
                    .set_user_status(&user_id, UserStatus::Deprovisioned, now)
                    .ok_or_else(|| nf("user", &user_id))?;
                st.tokens().revoke_user(&user_id);
            }
            ControlOp::SetUserStatus { user_id, status } => {
                st.store_mut().set_user_status(&user_id, status, now).ok_or_else(|| nf("user", &user_id))?;
                if status != UserStatus::Active {
                    st.tokens().revoke_user(&user_id);
                }
            }
            ControlOp::DeleteUser { user_id } => {
                st.store_mut().delete_user(&user_id, now).ok_or_else(|| nf("user", &user_id))?;
                st.tokens().revoke_user(&user_id);
            }
            ControlOp::UpdateUserProfile { user_id, profile } => {
                st.store_mut().update_profile(&user_id, &profile, now).map_err(ControlError::Invalid)?;
            }
            ControlOp::AddUser { user } => {
                st.store_mut().add_user(&user, now).map_err(|e| ControlError::Invalid(e.to_string()))?;
            }
            ControlOp::AddGroup { group } => {
                st.store_mut().add_group(&group).map_err(|e| ControlError::Invalid(e.to_string()))?;
            }
            ControlOp::DeleteGroup { group_id } => {
                st.store_mut().delete_group(&group_id).map_err(ControlError::NotFound)?
            }
            ControlOp::RenameGroup { group_id, name } => {
                st.store_mut().rename_group(&group_id, &name, now).map_err(ControlError::NotFound)?
            }
            ControlOp::SetGroupMembers { group_id, user_ids } => {
                st.store_mut().set_members(&group_id, &user_ids, now).map_err(ControlError::Invalid)?
            }
            ControlOp::AddMembership { group_id, user_id } => {
                st.store_mut().add_member(&group_id, &user_id, now).map_err(ControlError::Invalid)?
            }
            ControlOp::RemoveMembership { group_id, user_id } => {
                st.store_mut().remove_member(&group_id, &user_id, now).map_err(ControlError::Invalid)?
            }
            ControlOp::AssignApp { app_id, user_ids, group_ids } => {
                st.store_mut().assign_app(&app_id, &user_ids, &group_ids, now).map_err(ControlError::Invalid)?
            }
            ControlOp::UnassignApp { app_id, user_ids, group_ids } => {
                st.store_mut().unassign_app(&app_id, &user_ids, &group_ids)
            }
            ControlOp::SetRedirectUris { client_id, redirect_uris, post_logout_redirect_uris } => {
                let mut store = st.store_mut();
                let app = store.oidc_apps.get_mut(&client_id).ok_or_else(|| nf("OIDC app", &client_id))?;
                app.redirect_uris = redirect_uris;
                if let Some(p) = post_logout_redirect_uris {
                    app.post_logout_redirect_uris = p;
                }
            }
            ControlOp::AdvanceClock { seconds } => st.clock.advance(seconds.saturating_mul(1000)),
            ControlOp::RotateDpopNonce => st.rotate_dpop_nonce(),
            ControlOp::RevokeAllTokens => {
                let mut t = st.tokens();
                t.refresh.clear();
                t.sessions.clear();
                for r in t.access.values_mut() {
                    r.revoked = true;
                }
            }
            ControlOp::ResetRequestCount => st.request_count.store(0, Ordering::Relaxed),
            ControlOp::UniversalLogoutRequest { audience, user_id, format, expires_in, issuer, unpublished_key } => {
                let store = st.store();
                let user = store.users.get(&user_id).ok_or_else(|| nf("user", &user_id))?;
                let body = match format.as_deref().unwrap_or("email") {
                    "email" => {
                        json!({"sub_id": {"format": "email", "email": user.profile_str("email").unwrap_or_default()}})
                    }
                    "iss_sub" => json!({"sub_id": {"format": "iss_sub", "iss": st.base_url, "sub": user.id}}),
                    other => return Err(ControlError::Invalid(format!("format {other}: use email or iss_sub"))),
                };
                let now_s = now / 1000;
                let claims = json!({
                    "iss": issuer.unwrap_or_else(|| st.base_url.clone()),
                    "aud": audience,
                    "iat": now_s,
                    "exp": now_s + expires_in.unwrap_or(300),
                    "jti": crate::util::random_token(16),
                });
                let token = if unpublished_key {
                    st.keys().unpublished().and_then(|k| k.sign(Map::new(), &claims))
                } else {
                    st.keys().active().sign(Map::new(), &claims)
                }
                .map_err(|e| ControlError::Invalid(e.to_string()))?;
                drop(store);
                // Okta ends the person's own Okta session before it tells the apps.
                st.tokens().revoke_user(&user_id);
                return Ok(json!({"token": token, "body": body}));
            }
        }
        Ok(json!({ "ok": true }))
    }

    /// See [`ControlOp::UniversalLogoutRequest`]: (the JWT, the body).
    pub fn universal_logout_request(
        &self,
        audience: &str,
        user_id: &str,
        format: &str,
    ) -> Result<(String, Value), ControlError> {
        let op = ControlOp::UniversalLogoutRequest {
            audience: audience.to_owned(),
            user_id: user_id.to_owned(),
            format: Some(format.to_owned()),
            expires_in: None,
            issuer: None,
            unpublished_key: false,
        };
        let made = self.apply(op)?;
        Ok((made["token"].as_str().unwrap_or_default().to_owned(), made["body"].clone()))
    }

    pub fn set_latency(&self, ms: u64) {
        let _ = self.apply(ControlOp::SetLatency { ms });
    }
    /// `rate` within 0.0..=1.0; injected errors are 500 unless `set_switches` says otherwise.
    pub fn set_error_rate(&self, rate: f64) -> Result<(), ControlError> {
        self.apply(ControlOp::SetErrorRate { rate, status: None, path_prefix: None }).map(drop)
    }
    pub fn set_wrong_issuer(&self, enabled: bool) {
        let _ = self.apply(ControlOp::SetWrongIssuer { enabled });
    }
    pub fn set_wrong_token_issuer(&self, enabled: bool) {
        let _ = self.apply(ControlOp::SetWrongTokenIssuer { enabled });
    }
    /// Rotates the signing key; returns the new active `kid`.
    pub fn rotate_keys(&self) -> Result<String, ControlError> {
        self.apply(ControlOp::RotateKeys { grace_seconds: None })?;
        Ok(self.active_kid())
    }
    pub fn rotate_keys_with_grace(&self, grace_seconds: u64) -> Result<String, ControlError> {
        self.apply(ControlOp::RotateKeys { grace_seconds: Some(grace_seconds) })?;
        Ok(self.active_kid())
    }
    pub fn active_kid(&self) -> String {
        self.st.keys().active().kid.clone()
    }
    pub fn deactivate_user(&self, user_id: &str) -> Result<(), ControlError> {
        self.apply(ControlOp::DeactivateUser { user_id: user_id.to_owned() }).map(drop)
    }
    pub fn set_user_status(&self, user_id: &str, status: UserStatus) -> Result<(), ControlError> {
        self.apply(ControlOp::SetUserStatus { user_id: user_id.to_owned(), status }).map(drop)
    }
    pub fn delete_user(&self, user_id: &str) -> Result<(), ControlError> {
        self.apply(ControlOp::DeleteUser { user_id: user_id.to_owned() }).map(drop)
    }
    pub fn set_group_members(&self, group_id: &str, user_ids: Vec<String>) -> Result<(), ControlError> {
        self.apply(ControlOp::SetGroupMembers { group_id: group_id.to_owned(), user_ids }).map(drop)
    }
    pub fn add_membership(&self, group_id: &str, user_id: &str) -> Result<(), ControlError> {
        self.apply(ControlOp::AddMembership { group_id: group_id.to_owned(), user_id: user_id.to_owned() }).map(drop)
    }
    pub fn remove_membership(&self, group_id: &str, user_id: &str) -> Result<(), ControlError> {
        self.apply(ControlOp::RemoveMembership { group_id: group_id.to_owned(), user_id: user_id.to_owned() }).map(drop)
    }
    pub fn rename_group(&self, group_id: &str, name: &str) -> Result<(), ControlError> {
        self.apply(ControlOp::RenameGroup { group_id: group_id.to_owned(), name: name.to_owned() }).map(drop)
    }
    pub fn set_rate_limit(&self, per_minute: u32) {
        let _ = self.apply(ControlOp::SetRateLimit { per_minute });
    }
    pub fn set_redirect_uris(&self, client_id: &str, redirect_uris: Vec<String>) -> Result<(), ControlError> {
        self.apply(ControlOp::SetRedirectUris {
            client_id: client_id.to_owned(),
            redirect_uris,
            post_logout_redirect_uris: None,
        })
        .map(drop)
    }
    pub fn advance_clock(&self, seconds: i64) {
        let _ = self.apply(ControlOp::AdvanceClock { seconds });
    }
    pub fn switches(&self) -> Switches {
        self.st.switches()
    }
    /// Replaces all switches at once.
    pub fn set_switches(&self, switches: Switches) {
        *self.st.switches_mut() = switches;
    }
    /// Requests served (control endpoint excluded), for benchmarks.
    pub fn request_count(&self) -> u64 {
        self.st.request_count.load(Ordering::Relaxed)
    }
    pub fn reset_request_count(&self) {
        self.st.request_count.store(0, Ordering::Relaxed);
    }
    /// The org's group id with this name.
    pub fn group_id(&self, name: &str) -> Option<String> {
        self.st.store().groups.values().find(|g| g.name() == name).map(|g| g.id.clone())
    }
    /// A user's id by id, login or short name.
    pub fn user_id(&self, login: &str) -> Option<String> {
        self.st.store().find_user(login).map(|u| u.id.clone())
    }
    pub fn state(&self) -> Value {
        let st = &self.st;
        let store = st.store();
        json!({
            "baseUrl": st.base_url,
            "requestCount": self.request_count(),
            "users": store.users.len(),
            "groups": store.groups.len(),
            "kids": st.keys().kids(),
            "activeKid": st.keys().active().kid,
            "clockOffsetSeconds": st.clock.offset_ms() / 1000,
            "dpopNonce": st.nonces().current,
            "switches": st.switches(),
        })
    }
}

pub(crate) async fn http_control(State(st): State<Arc<AppState>>, Json(body): Json<Value>) -> Response {
    let op: ControlOp = match serde_json::from_value(body) {
        Ok(op) => op,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(json!({ "error": e.to_string() }))).into_response(),
    };
    match (Control { st }).apply(op) {
        Ok(v) => Json(v).into_response(),
        Err(e @ ControlError::NotFound(_)) => {
            (StatusCode::NOT_FOUND, Json(json!({ "error": e.to_string() }))).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e.to_string() }))).into_response(),
    }
}

pub(crate) async fn http_state(State(st): State<Arc<AppState>>) -> Json<Value> {
    Json((Control { st }).state())
}

/// `POST /__sim/scim`: Okta pushing to an app's SCIM server, as its provisioning does. Body:
/// `{"base", "token", "flavour": "patch"|"put", "action", "user_id"?, "group_id"?, "name"?,
/// "user_ids"?}` with the org's own ids; actions `assign`, `update`, `deactivate`,
/// `reactivate`, `unassign`, `push_group`, `rename_group` (to `name`), `add_members`,
/// `remove_members`, `delete_group`. Answers `{"id", "result"}` or the app's refusal.
#[derive(Debug, Deserialize)]
pub(crate) struct ScimPush {
    base: String,
    token: String,
    flavour: crate::scim_client::Flavour,
    action: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    group_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    user_ids: Vec<String>,
}

pub(crate) async fn http_scim(State(st): State<Arc<AppState>>, Json(push): Json<ScimPush>) -> Response {
    match scim_push(&st, push).await {
        Ok(v) => Json(v).into_response(),
        Err((status, e)) => (status, Json(json!({ "error": e }))).into_response(),
    }
}

async fn scim_push(st: &AppState, push: ScimPush) -> Result<Value, (StatusCode, String)> {
    use crate::scim_client::{PushedUser, ScimClient, ScimPushError};
    let client = ScimClient::new(&push.base, &push.token, push.flavour);
    let bad = |e: String| (StatusCode::BAD_REQUEST, e);
    let refused = |e: ScimPushError| (StatusCode::BAD_GATEWAY, e.to_string());
    let person = |id: &str| -> Result<PushedUser, (StatusCode, String)> {
        let store = st.store();
        let u = store.users.get(id).ok_or_else(|| (StatusCode::NOT_FOUND, format!("user {id}")))?;
        Ok(PushedUser {
            okta_id: u.id.clone(),
            login: u.login().to_string(),
            email: u.profile_str("email").unwrap_or_default().to_string(),
            first_name: u.profile_str("firstName").unwrap_or_default().to_string(),
            last_name: u.profile_str("lastName").unwrap_or_default().to_string(),
        })
    };
    let group_name = |id: &str| -> Result<String, (StatusCode, String)> {
        let store = st.store();
        let g = store.groups.get(id).ok_or_else(|| (StatusCode::NOT_FOUND, format!("group {id}")))?;
        Ok(g.name().to_string())
    };
    let user = || push.user_id.clone().ok_or_else(|| bad("user_id is required".into()));
    let group = || push.group_id.clone().ok_or_else(|| bad("group_id is required".into()));
    // The people's ids at the app, as Okta keeps them.
    let app_ids = |ids: Vec<String>| async {
        let mut out = Vec::new();
        for id in ids {
            let p = person(&id)?;
            out.push(client.find_user(&p).await.map_err(refused)?.ok_or_else(|| bad(format!("{id} is not pushed")))?);
        }
        Ok::<_, (StatusCode, String)>(out)
    };
    let client = &client;
    let existing = |name: String| async move {
        client.find_group(&name).await.map_err(refused)?.ok_or_else(|| bad(format!("group {name} is not pushed")))
    };
    let (id, result) = match push.action.as_str() {
        "assign" => {
            let id = client.assign(&person(&user()?)?).await.map_err(refused)?;
            (id, Value::Null)
        }
        "update" | "deactivate" | "reactivate" | "unassign" => {
            let p = person(&user()?)?;
            let id =
                client.find_user(&p).await.map_err(refused)?.ok_or_else(|| bad("the user is not pushed".into()))?;
            let result = match push.action.as_str() {
                "update" => client.update_profile(&id, &p).await,
                "reactivate" => client.set_active(&id, true).await,
                _ => client.set_active(&id, false).await,
            }
            .map_err(refused)?;
            (id, result)
        }
        "push_group" => {
            let members = app_ids(push.user_ids.clone()).await?;
            let id = client.push_group(&group_name(&group()?)?, &members).await.map_err(refused)?;
            (id, Value::Null)
        }
        "rename_group" => {
            let id = existing(group_name(&group()?)?).await?;
            let name = push.name.clone().ok_or_else(|| bad("name is required".into()))?;
            let result = client.rename_group(&id, &name).await.map_err(refused)?;
            (id, result)
        }
        "add_members" | "remove_members" => {
            let id = existing(group_name(&group()?)?).await?;
            let members = app_ids(push.user_ids.clone()).await?;
            let result = if push.action == "add_members" {
                client.add_members(&id, &members).await
            } else {
                client.remove_members(&id, &members).await
            }
            .map_err(refused)?;
            (id, result)
        }
        "delete_group" => {
            let id = existing(group_name(&group()?)?).await?;
            (id.clone(), client.delete_group(&id).await.map_err(refused)?)
        }
        other => return Err(bad(format!("unknown action {other}"))),
    };
    Ok(json!({"id": id, "result": result}))
}
