//! `/token` (authorization_code, refresh_token, client_credentials, with DPoP), `/revoke`,
//! `/introspect` (okta-api.md §2.6, §2.10, §3.2, §3.4).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::client_auth::authenticate;
use super::{
    groups_claim, has, mint_access_token, mint_id_token, pkce_s256, split_scopes, user_is_usable, Form, IdTokenInput,
    Issued, REFRESH_TOKEN_SECS,
};
use crate::dpop::check_proof;
use crate::errors::{no_store, OAuthError, JSON_UTF8};
use crate::state::{AppState, RefreshRecord, Server};
use crate::store::{Client, OidcApp, ServiceApp};
use crate::util::random_token;

const GRANTS: &str = "authorization_code, client_credentials, implicit, password, refresh_token, urn:ietf:params:oauth:grant-type:device_code, urn:ietf:params:oauth:grant-type:token-exchange, urn:ietf:params:oauth:grant-type:saml2-bearer, urn:openid:params:grant-type:ciba";

fn ok_json(v: &Value) -> Response {
    let mut r = (StatusCode::OK, v.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    no_store(r.headers_mut());
    r
}

/// The URLs a request to `/…/v1/{name}` may have been addressed to: the configured base URL,
/// and the `Host` the client actually used (e.g. `localhost` for `127.0.0.1`).
pub(crate) fn endpoint_urls(st: &AppState, server: &Server, headers: &HeaderMap, name: &str) -> Vec<String> {
    let mut v = vec![format!("{}/{name}", st.endpoint_base(server))];
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        let scheme = if st.tls { "https" } else { "http" };
        let path = st.endpoint_base(server).splitn(4, '/').nth(3).map(str::to_owned).unwrap_or_default();
        v.push(format!("{scheme}://{host}/{path}/{name}"));
    }
    v
}

fn creds_in_query(q: &Option<String>) -> bool {
    let f = Form::parse(q.as_deref().unwrap_or_default().as_bytes());
    ["client_id", "client_secret", "client_assertion", "client_assertion_type"].iter().any(|k| f.get(k).is_some())
}

pub(crate) async fn handler(
    server: Server,
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    token(&st, server, &headers, &q, &body)
}

fn token(st: &Arc<AppState>, server: Server, headers: &HeaderMap, q: &Option<String>, body: &Bytes) -> Response {
    match token_inner(st, &server, headers, q, body) {
        Ok(r) | Err(r) => r,
    }
}

fn token_inner(
    st: &Arc<AppState>,
    server: &Server,
    headers: &HeaderMap,
    q: &Option<String>,
    body: &Bytes,
) -> Result<Response, Response> {
    let e = |err: OAuthError| err.into_response();
    if creds_in_query(q) {
        return Err(e(OAuthError::bad(
            "invalid_request",
            "Client credentials cannot be supplied via query parameters.",
        )));
    }
    let form = Form::parse(body);
    if form.has_duplicates() {
        return Err(e(OAuthError::bad(
            "invalid_request",
            "The request contained multiple parameters with the same name.",
        )));
    }
    let Some(grant) = form.value("grant_type") else {
        return Err(e(OAuthError::bad(
            "invalid_request",
            format!("The token request must specify a 'grant_type'. Valid values: [{GRANTS}]"),
        )));
    };
    if !matches!(grant, "authorization_code" | "refresh_token" | "client_credentials") {
        return Err(e(OAuthError::bad(
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server. Configured grant types: [authorization_code, client_credentials, refresh_token].",
        )));
    }
    let endpoint = format!("{}/token", st.endpoint_base(server));
    let client = authenticate(st, headers, &form, &endpoint)?;

    if grant == "client_credentials" && *server == Server::Org {
        match &client {
            Client::Oidc(_) => {
                return Err(e(OAuthError::client(
                    "Only clients with 'application_type' of 'service' may use the client_credentials 'grant_type' with the Org Authorization Server.",
                )))
            }
            Client::Service(s) if s.auth_method != crate::fixture::ClientAuthMethod::PrivateKeyJwt => {
                return Err(e(OAuthError::client(
                    "Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method.",
                )))
            }
            _ => {}
        }
    }
    let configured = client.grant_types();
    if !configured.iter().any(|g| g == grant) {
        return Err(e(OAuthError::bad(
            "unauthorized_client",
            format!(
                "The client is not authorized to use the provided grant type. Configured grant types: [{}].",
                configured.join(", ")
            ),
        )));
    }

    // DPoP comes after client authentication: the assertion's jti is already spent when
    // Okta asks for a nonce (okta-api.md §3.2).
    let jkt = if client.dpop_required() { Some(require_dpop(st, server, headers)?) } else { None };

    let issued = match (grant, &client) {
        ("client_credentials", Client::Service(app)) => client_credentials(st, server, app, &form, jkt.as_deref()),
        ("authorization_code", Client::Oidc(app)) => authorization_code(st, server, app, &form, jkt.as_deref()),
        ("refresh_token", Client::Oidc(app)) => refresh(st, server, app, &form, jkt.as_deref()),
        _ => {
            Err(OAuthError::bad("unauthorized_client", "The client is not authorized to use the provided grant type."))
        }
    }
    .map_err(e)?;
    Ok(ok_json(&issued.body()))
}

/// Validates the token request's DPoP proof and nonce; returns the key thumbprint to bind.
fn require_dpop(st: &Arc<AppState>, server: &Server, headers: &HeaderMap) -> Result<String, Response> {
    let now = st.clock.now_secs();
    let urls = endpoint_urls(st, server, headers, "token");
    let proof = match check_proof(headers, "POST", &urls, now) {
        Ok(Some(p)) => p,
        Ok(None) => return Err(OAuthError::dpop("The DPoP proof JWT header is missing.").into_response()),
        Err(msg) => return Err(OAuthError::dpop(msg).into_response()),
    };
    if st.switches().dpop_nonce_required {
        let nonces = st.nonces();
        let ok = proof.nonce.as_deref().is_some_and(|n| n == nonces.current || nonces.previous.as_deref() == Some(n));
        if !ok {
            let current = nonces.current.clone();
            return Err(OAuthError::bad("use_dpop_nonce", "Authorization server requires nonce in DPoP proof.")
                .with_header(header::HeaderName::from_static("dpop-nonce"), &current)
                .into_response());
        }
    }
    let mut tokens = st.tokens();
    if tokens.dpop_jtis.contains_key(&proof.jti) {
        return Err(OAuthError::dpop("The DPoP proof JWT has already been used.").into_response());
    }
    tokens.dpop_jtis.insert(proof.jti.clone(), now + 600);
    Ok(proof.jkt)
}

fn token_type(jkt: Option<&str>) -> &'static str {
    if jkt.is_some() {
        "DPoP"
    } else {
        "Bearer"
    }
}

fn client_credentials(
    st: &Arc<AppState>,
    server: &Server,
    app: &ServiceApp,
    form: &Form,
    jkt: Option<&str>,
) -> Result<Issued, OAuthError> {
    let scopes = split_scopes(form.get("scope").unwrap_or_default());
    if scopes.is_empty() {
        return Err(OAuthError::bad(
            "invalid_scope",
            "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
        ));
    }
    if has(&scopes, "openid") {
        return Err(OAuthError::bad("invalid_scope", "Cannot request 'openid' scopes using client credentials."));
    }
    let generic = || {
        OAuthError::bad(
            "invalid_scope",
            "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner.",
        )
    };
    match server {
        Server::Org => {
            if scopes.iter().any(|s| !s.starts_with("okta.")) {
                return Err(generic());
            }
            if scopes.iter().any(|s| !app.granted_scopes.contains(s)) {
                return Err(match st.switches().ungranted_scope_error {
                    crate::switches::UngrantedScopeError::ConsentRequired => {
                        OAuthError::bad("consent_required", "You are not allowed any of the requested scopes.")
                    }
                    crate::switches::UngrantedScopeError::InvalidScope => generic(),
                });
            }
        }
        Server::Custom(id) => {
            let server_scopes = st.store().auth_servers.get(id).map(|a| a.scopes.clone()).unwrap_or_default();
            if scopes.iter().any(|s| !server_scopes.contains(s) || !app.granted_scopes.contains(s)) {
                return Err(generic());
            }
        }
    }
    let access_token = mint_access_token(st, server, &app.client_id, None, &scopes, None, jkt)?;
    Ok(Issued {
        access_token,
        expires_in: st.switches().access_token_seconds,
        token_type: token_type(jkt),
        scope: scopes.join(" "),
        id_token: None,
        refresh_token: None,
    })
}

fn authorization_code(
    st: &Arc<AppState>,
    server: &Server,
    app: &OidcApp,
    form: &Form,
    jkt: Option<&str>,
) -> Result<Issued, OAuthError> {
    let code = form
        .value("code")
        .ok_or_else(|| OAuthError::bad("invalid_request", "The required parameter 'code' is missing."))?;
    let now = st.clock.now_secs();
    // Single use: removed before any other check.
    let record = st.tokens().codes.remove(code);
    let invalid = || OAuthError::grant("The authorization code is invalid or has expired.");
    let record = record.filter(|r| r.exp > now && r.server == *server).ok_or_else(invalid)?;
    if record.client_id != app.client_id {
        return Err(OAuthError::grant(
            "The grant was issued to another client. Please make sure the 'client_id' matches the one used at the authorize request.",
        ));
    }
    if form.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(OAuthError::grant(
            "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
        ));
    }
    match (&record.code_challenge, form.value("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce_s256(verifier) == *challenge => {}
        (Some(_), _) => return Err(OAuthError::grant("PKCE verification failed.")),
        (None, Some(_)) => {
            return Err(OAuthError::bad(
                "invalid_request",
                "PKCE code challenge should be specified in the authorize request for code verification.",
            ))
        }
        (None, None) => {}
    }
    let user = st.store().users.get(&record.user_id).filter(|u| user_is_usable(u)).cloned().ok_or_else(invalid)?;
    let mut scopes = record.scopes.clone();
    let refresh_allowed = app.grant_types.iter().any(|g| g == "refresh_token");
    if !refresh_allowed {
        scopes.retain(|s| s != "offline_access");
    }
    let sw = st.switches();
    let groups = groups_claim(&st.store(), app, &user.id, &scopes, server, &sw)?;
    let access_token =
        mint_access_token(st, server, &app.client_id, Some(&user), &scopes, Some(record.auth_time), jkt)?;
    let id_token = if has(&scopes, "openid") {
        Some(mint_id_token(
            st,
            IdTokenInput {
                server,
                app,
                user: &user,
                scopes: &scopes,
                nonce: record.nonce.as_deref(),
                auth_time: record.auth_time,
                access_token: Some(&access_token),
                groups,
            },
        )?)
    } else {
        None
    };
    let refresh_token = (has(&scopes, "offline_access") && refresh_allowed).then(|| {
        new_refresh(
            st,
            RefreshRecord {
                server: server.clone(),
                client_id: app.client_id.clone(),
                user_id: user.id.clone(),
                scopes: scopes.clone(),
                auth_time: record.auth_time,
                exp: now + REFRESH_TOKEN_SECS,
                jkt: jkt.map(str::to_owned),
            },
        )
    });
    Ok(Issued {
        access_token,
        expires_in: st.switches().access_token_seconds,
        token_type: token_type(jkt),
        scope: scopes.join(" "),
        id_token,
        refresh_token,
    })
}

fn new_refresh(st: &AppState, record: RefreshRecord) -> String {
    let token = random_token(32);
    st.tokens().refresh.insert(token.clone(), record);
    token
}

fn refresh(
    st: &Arc<AppState>,
    server: &Server,
    app: &OidcApp,
    form: &Form,
    jkt: Option<&str>,
) -> Result<Issued, OAuthError> {
    let now = st.clock.now_secs();
    let invalid = || OAuthError::grant("The refresh token is invalid or expired.");
    let presented = form.value("refresh_token").ok_or_else(invalid)?.to_owned();
    let record = st
        .tokens()
        .refresh
        .get(&presented)
        .cloned()
        .filter(|r| r.exp > now && r.server == *server && r.client_id == app.client_id)
        .ok_or_else(invalid)?;
    if record.jkt.is_some() && record.jkt.as_deref() != jkt {
        return Err(OAuthError::dpop("Invalid DPoP Public Key binding in refresh token"));
    }
    let scopes = match form.value("scope") {
        None => record.scopes.clone(),
        Some(s) => {
            let requested = split_scopes(s);
            let denied: Vec<&String> = requested.iter().filter(|r| !record.scopes.contains(r)).collect();
            if !denied.is_empty() {
                let list: Vec<&str> = denied.iter().map(|s| s.as_str()).collect();
                return Err(OAuthError::bad(
                    "access_denied",
                    format!(
                        "Some of the scopes requested for the refresh request were not granted in the original authorize request. Denied scopes: {}.",
                        list.join(", ")
                    ),
                ));
            }
            requested
        }
    };
    let user = st.store().users.get(&record.user_id).filter(|u| user_is_usable(u)).cloned().ok_or_else(invalid)?;
    let sw = st.switches();
    let groups = groups_claim(&st.store(), app, &user.id, &scopes, server, &sw)?;
    let access_token =
        mint_access_token(st, server, &app.client_id, Some(&user), &scopes, Some(record.auth_time), jkt)?;
    let id_token = if has(&scopes, "openid") {
        Some(mint_id_token(
            st,
            IdTokenInput {
                server,
                app,
                user: &user,
                scopes: &scopes,
                nonce: None,
                auth_time: record.auth_time,
                access_token: Some(&access_token),
                groups,
            },
        )?)
    } else {
        None
    };
    let refresh_token = if app.refresh_token_rotation {
        st.tokens().refresh.remove(&presented);
        new_refresh(st, RefreshRecord { exp: now + REFRESH_TOKEN_SECS, ..record })
    } else {
        presented
    };
    Ok(Issued {
        access_token,
        expires_in: st.switches().access_token_seconds,
        token_type: token_type(jkt),
        scope: scopes.join(" "),
        id_token,
        refresh_token: Some(refresh_token),
    })
}

pub(crate) async fn revoke_handler(
    server: Server,
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    revoke(&st, &server, &headers, &body)
}

/// What `/revoke` and `/introspect` both start with: an authenticated client and the
/// `token` it asks about.
fn client_and_token<'f>(
    st: &Arc<AppState>,
    server: &Server,
    headers: &HeaderMap,
    form: &'f Form,
    endpoint: &str,
) -> Result<(Client, &'f str), Response> {
    let endpoint = format!("{}/{endpoint}", st.endpoint_base(server));
    let client = authenticate(st, headers, form, &endpoint)?;
    let token = form
        .value("token")
        .ok_or_else(|| OAuthError::bad("invalid_request", "The 'token' parameter is required.").into_response())?;
    Ok((client, token))
}

/// Always 200 with an empty body once the client is authenticated, known token or not.
fn revoke(st: &Arc<AppState>, server: &Server, headers: &HeaderMap, body: &Bytes) -> Response {
    let form = Form::parse(body);
    let (client, token) = match client_and_token(st, server, headers, &form, "revoke") {
        Ok(found) => found,
        Err(r) => return r,
    };
    let mut tokens = st.tokens();
    if let Some(r) = tokens.access.get_mut(token) {
        if r.client_id == client.id() {
            r.revoked = true;
        }
    }
    if tokens.refresh.get(token).is_some_and(|r| r.client_id == client.id()) {
        tokens.refresh.remove(token);
    }
    StatusCode::OK.into_response()
}

pub(crate) async fn introspect_handler(
    server: Server,
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    introspect(&st, &server, &headers, &body)
}

fn introspect(st: &Arc<AppState>, server: &Server, headers: &HeaderMap, body: &Bytes) -> Response {
    let form = Form::parse(body);
    let (client, token) = match client_and_token(st, server, headers, &form, "introspect") {
        Ok(found) => found,
        Err(r) => return r,
    };
    let now = st.clock.now_secs();
    let (access, refresh) = {
        let tokens = st.tokens();
        (tokens.access.get(token).cloned(), tokens.refresh.get(token).cloned())
    };
    if let Some(r) = access.filter(|r| !r.revoked && r.exp > now && r.server == *server && r.client_id == client.id()) {
        let username = r.user_id.as_ref().and_then(|u| st.store().users.get(u).map(|u| u.login().to_owned()));
        let mut v = json!({
            "active": true, "token_type": if r.jkt.is_some() { "DPoP" } else { "Bearer" },
            "scope": r.scopes.join(" "), "client_id": r.client_id, "exp": r.exp, "iat": r.iat,
            "sub": username.clone().unwrap_or_else(|| r.client_id.clone()), "aud": r.aud, "iss": r.iss, "jti": r.jti,
        });
        if let Some(u) = &r.user_id {
            v["uid"] = Value::from(u.clone());
        }
        if let Some(name) = username {
            v["username"] = Value::from(name);
        }
        if let Some(j) = &r.jkt {
            v["cnf"] = json!({ "jkt": j });
        }
        return ok_json(&v);
    }
    if let Some(r) = refresh.filter(|r| r.exp > now && r.server == *server && r.client_id == client.id()) {
        return ok_json(&json!({
            "active": true, "token_type": "refresh_token", "scope": r.scopes.join(" "),
            "client_id": r.client_id, "exp": r.exp, "uid": r.user_id,
        }));
    }
    ok_json(&json!({ "active": false }))
}
