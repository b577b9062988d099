//! Discovery documents and JWKS (okta-api.md §2.3, §2.4).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::errors::{OktaError, JSON_UTF8};
use crate::state::{AppState, Server};

const ALL_AUTH_METHODS: [&str; 5] =
    ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"];
const REQUEST_ALGS: [&str; 9] = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"];
const DPOP_ALGS: [&str; 6] = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"];
const OIDC_CLAIMS: [&str; 31] = [
    "iss",
    "ver",
    "sub",
    "aud",
    "iat",
    "exp",
    "jti",
    "auth_time",
    "amr",
    "idp",
    "nonce",
    "name",
    "nickname",
    "preferred_username",
    "given_name",
    "middle_name",
    "family_name",
    "email",
    "email_verified",
    "profile",
    "zoneinfo",
    "locale",
    "address",
    "phone_number",
    "picture",
    "website",
    "gender",
    "birthdate",
    "updated_at",
    "at_hash",
    "c_hash",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Oidc,
    OAuth,
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    r
}

/// `?client_id=` is optional; an unknown value is a 400 in Okta's error shape.
fn check_client_id(st: &AppState, q: &HashMap<String, String>) -> Result<(), Response> {
    if let Some(id) = q.get("client_id") {
        let store = st.store();
        if !store.oidc_apps.contains_key(id) && !store.service_apps.contains_key(id) {
            return Err(OktaError::new(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                "Invalid value for 'client_id' parameter.",
            )
            .into_response());
        }
    }
    Ok(())
}

fn document(st: &AppState, server: &Server, kind: Kind) -> Value {
    let sw = st.switches();
    let base = &st.base_url;
    let ep = st.endpoint_base(server);
    let mut d = json!({
        "issuer": st.discovery_issuer(server, &sw),
        "authorization_endpoint": format!("{ep}/authorize"),
        "token_endpoint": format!("{ep}/token"),
        "userinfo_endpoint": format!("{ep}/userinfo"),
        "registration_endpoint": format!("{base}/oauth2/v1/clients"),
        "jwks_uri": format!("{ep}/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "code token", "id_token token", "code id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post", "okta_post_message"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "password", "urn:ietf:params:oauth:grant-type:device_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone", "offline_access", "groups"],
        "token_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
        "claims_supported": OIDC_CLAIMS,
        "code_challenge_methods_supported": ["S256"],
        "introspection_endpoint": format!("{ep}/introspect"),
        "introspection_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
        "revocation_endpoint": format!("{ep}/revoke"),
        "revocation_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
        "end_session_endpoint": format!("{ep}/logout"),
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": REQUEST_ALGS,
        "device_authorization_endpoint": format!("{ep}/device/authorize"),
        "pushed_authorization_request_endpoint": format!("{ep}/par"),
    });
    match server {
        Server::Org => {
            if sw.dpop_algs_in_org_discovery {
                d["dpop_signing_alg_values_supported"] = json!(DPOP_ALGS);
            }
        }
        Server::Custom(id) => {
            let custom_scopes = st.store().auth_servers.get(id).map(|a| a.scopes.clone()).unwrap_or_default();
            let mut scopes: Vec<String> = custom_scopes;
            for s in ["openid", "profile", "email", "address", "phone", "offline_access", "device_sso"] {
                scopes.push(s.to_owned());
            }
            d["scopes_supported"] = json!(scopes);
            d["id_token_encryption_alg_values_supported"] = json!(["RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512"]);
            d["id_token_encryption_enc_values_supported"] = json!(["A256GCM"]);
            d["dpop_signing_alg_values_supported"] = json!(DPOP_ALGS);
            if kind == Kind::OAuth {
                if let Some(o) = d.as_object_mut() {
                    o.remove("userinfo_endpoint");
                    o.remove("id_token_signing_alg_values_supported");
                }
                d["response_types_supported"] = json!([
                    "code",
                    "token",
                    "id_token",
                    "code id_token",
                    "code token",
                    "id_token token",
                    "code id_token token"
                ]);
                d["grant_types_supported"] = json!([
                    "authorization_code",
                    "implicit",
                    "refresh_token",
                    "password",
                    "client_credentials",
                    "urn:ietf:params:oauth:grant-type:device_code"
                ]);
                d["claims_supported"] = json!(["ver", "jti", "iss", "aud", "iat", "exp", "cid", "uid", "scp", "sub"]);
            }
        }
    }
    d
}

pub(crate) async fn oidc(
    server: Server,
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = check_client_id(&st, &q) {
        return r;
    }
    json_response(StatusCode::OK, &document(&st, &server, Kind::Oidc))
}

/// The org server serves it only with the `orgOauthMetadata` switch (okta-api.md §8.1), with
/// the same body as its OIDC document.
pub(crate) async fn oauth(
    server: Server,
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if server == Server::Org && !st.switches().org_oauth_metadata {
        return OktaError::path_not_found().into_response();
    }
    if let Err(r) = check_client_id(&st, &q) {
        return r;
    }
    let kind = if server == Server::Org { Kind::Oidc } else { Kind::OAuth };
    json_response(StatusCode::OK, &document(&st, &server, kind))
}

fn keys_response(st: &AppState) -> Response {
    let sw = st.switches();
    let jwks = st.keys_mut().jwks(st.clock.now_ms(), sw.publish_next_key);
    let mut r = json_response(StatusCode::OK, &jwks);
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600, must-revalidate"));
    r
}

pub(crate) async fn keys(
    _server: Server,
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = check_client_id(&st, &q) {
        return r;
    }
    keys_response(&st)
}
