//! `/authorize` with a real sign-in page, sessions, `prompt`, `max_age`, PKCE; `/logout`
//! (okta-api.md §2.5, §2.10).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use super::{has, split_scopes, user_is_usable, Form, CODE_SECS};
use crate::keys::ParsedJwt;
use crate::state::{AppState, AuthorizeTx, CodeRecord, Server, Session};
use crate::state::{AuthRequest, ResponseMode};
use crate::util::{html_escape, random_token};

const TX_SECS: i64 = 600;

fn params_of(method: &Method, query: Option<String>, body: &Bytes) -> Form {
    if method == Method::POST && !body.is_empty() {
        Form::parse(body)
    } else {
        Form::parse(query.unwrap_or_default().as_bytes())
    }
}

pub(crate) async fn handler(
    server: Server,
    State(st): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    authorize(&st, server, &headers, &params_of(&method, q, &body))
}

/// Okta shows errors before the redirect URI is trusted on its own page, not at the client.
pub(crate) fn error_page(status: StatusCode, code: &str, summary: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Error</title></head><body>\
         <h1>Error</h1><p id=\"error-code\">{}</p><p id=\"error-summary\">{}</p></body></html>",
        html_escape(code),
        html_escape(summary)
    );
    (status, Html(body)).into_response()
}

fn with_query(uri: &str, sep: char, params: &[(&str, &str)]) -> String {
    let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    if sep == '?' && uri.contains('?') {
        format!("{uri}&{encoded}")
    } else {
        format!("{uri}{sep}{encoded}")
    }
}

/// Delivers parameters to the client by the request's response mode.
fn deliver(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)]) -> Response {
    match mode {
        ResponseMode::Query | ResponseMode::Fragment => {
            let sep = if mode == ResponseMode::Query { '?' } else { '#' };
            let location = with_query(redirect_uri, sep, params);
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r.headers_mut().insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            r
        }
        ResponseMode::FormPost => {
            let inputs: String = params
                .iter()
                .map(|(k, v)| {
                    format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", html_escape(k), html_escape(v))
                })
                .collect();
            let body = format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>Submit</title></head>\
                 <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{inputs}\
                 <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
                html_escape(redirect_uri)
            );
            let mut r = Html(body).into_response();
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
            r
        }
    }
}

fn redirect_error(uri: &str, mode: ResponseMode, error: &str, description: &str, state: Option<&str>) -> Response {
    let mut p = vec![("error", error), ("error_description", description)];
    if let Some(s) = state.filter(|s| !s.is_empty()) {
        p.push(("state", s));
    }
    deliver(uri, mode, &p)
}

fn validate(st: &AppState, server: &Server, p: &Form) -> Result<AuthRequest, Response> {
    let store = st.store();
    let client_id = p.value("client_id");
    let Some(app) = client_id.and_then(|id| store.oidc_apps.get(id)) else {
        if client_id.is_some_and(|id| store.service_apps.contains_key(id)) {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Clients with 'application_type' of 'service' are not allowed to access the 'authorize' endpoint.",
            ));
        }
        return Err(error_page(StatusCode::BAD_REQUEST, "invalid_client", "Invalid value for 'client_id' parameter."));
    };
    let Some(redirect_uri) = p.value("redirect_uri").filter(|r| app.redirect_uris.iter().any(|u| u == r)) else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.",
        ));
    };
    let state = p.get("state");
    let fail = |mode, error: &str, desc: &str| Err(redirect_error(redirect_uri, mode, error, desc, state));
    let mode = match p.value("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        Some("form_post") => ResponseMode::FormPost,
        Some("okta_post_message") => {
            return fail(
                ResponseMode::Query,
                "unsupported_response_mode",
                "'okta_post_message' response mode cannot be used with the 'code' response type.",
            )
        }
        Some(_) => {
            return fail(
                ResponseMode::Query,
                "unsupported_response_mode",
                "The response mode is not supported by the authorization server. Valid response modes: [query, fragment, form_post, okta_post_message].",
            )
        }
    };
    if p.value("response_type") != Some("code") || !app.grant_types.iter().any(|g| g == "authorization_code") {
        return fail(
            mode,
            "unsupported_response_type",
            "The response type is not supported by the authorization server. Configured response types: [code].",
        );
    }
    let Some(state) = state.filter(|s| !s.is_empty()) else {
        return fail(mode, "invalid_request", "The authentication request has an invalid 'state' parameter.");
    };
    let scopes = split_scopes(p.get("scope").unwrap_or_default());
    if scopes.is_empty() {
        return fail(mode, "invalid_scope", "No scopes were requested.");
    }
    if !has(&scopes, "openid") {
        return fail(
            mode,
            "invalid_scope",
            "Requests for ID tokens or access tokens with OpenID scopes require the 'openid' scope.",
        );
    }
    let mut known: Vec<String> =
        ["openid", "profile", "email", "address", "phone", "offline_access"].iter().map(|s| (*s).to_owned()).collect();
    match server {
        Server::Org => known.push("groups".to_owned()),
        Server::Custom(id) => {
            known.push("device_sso".to_owned());
            known.extend(store.auth_servers.get(id).map(|a| a.scopes.clone()).unwrap_or_default());
        }
    }
    if scopes.iter().any(|s| !known.contains(s)) {
        return fail(
            mode,
            "invalid_scope",
            "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner.",
        );
    }
    let challenge = p.value("code_challenge");
    let method = p.value("code_challenge_method");
    if method.is_some_and(|m| m != "S256") || (challenge.is_some() && method.is_none()) {
        return fail(mode, "invalid_request", "PKCE code challenge method is not supported. Valid values: [S256]");
    }
    if let Some(c) = challenge {
        let legal =
            c.len() >= 43 && c.len() <= 128 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !legal {
            return fail(mode, "invalid_request", "PKCE code challenge contains illegal characters.");
        }
    } else if app.pkce_required || app.auth_method == crate::fixture::ClientAuthMethod::None {
        return fail(mode, "invalid_request", "PKCE code challenge is required by the application.");
    }
    let prompts: Vec<&str> = p.get("prompt").unwrap_or_default().split(' ').filter(|s| !s.is_empty()).collect();
    let prompt_ok = prompts.iter().all(|x| matches!(*x, "none" | "login" | "consent"))
        && !(prompts.contains(&"none") && prompts.len() > 1);
    if !prompt_ok {
        return fail(
            mode,
            "invalid_request",
            "Invalid value for 'prompt' parameter. Supported values: [none, consent, login, consent login]",
        );
    }
    let max_age = match p.value("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (0..=i64::from(i32::MAX)).contains(&n) => Some(n),
            _ => {
                return fail(
                    mode,
                    "invalid_request",
                    "Invalid value for 'max_age' parameter. It should be within range 0 - 2^31-1.",
                )
            }
        },
    };
    let prompt_none = prompts.contains(&"none");
    if prompt_none && max_age == Some(0) {
        return fail(
            mode,
            "invalid_request",
            "'prompt' parameter must not have the value 'none' for request with 'zero' as max_age.",
        );
    }
    Ok(AuthRequest {
        server: server.clone(),
        client_id: app.client_id.clone(),
        app_label: app.label.clone(),
        redirect_uri: redirect_uri.to_owned(),
        mode,
        scopes,
        state: state.to_owned(),
        nonce: p.value("nonce").map(str::to_owned),
        code_challenge: challenge.map(str::to_owned),
        prompt_login: prompts.contains(&"login") || max_age == Some(0),
        prompt_none,
        max_age,
        login_hint: p.value("login_hint").map(str::to_owned),
    })
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn current_session(st: &AppState, headers: &HeaderMap) -> Option<(String, Session)> {
    let sid = cookie_value(headers, &st.cookie_name)?;
    let session = st.tokens().sessions.get(sid).cloned()?;
    let usable = st.store().users.get(&session.user_id).is_some_and(user_is_usable);
    usable.then(|| (sid.to_owned(), session))
}

fn authorize(st: &Arc<AppState>, server: Server, headers: &HeaderMap, p: &Form) -> Response {
    let req = match validate(st, &server, p) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let now = st.clock.now_secs();
    let fresh = |s: &Session| req.max_age.is_none_or(|m| now - s.auth_time <= m);
    match current_session(st, headers) {
        Some((_, s)) if !req.prompt_login && fresh(&s) => finish(st, &req, &s.user_id, s.auth_time, None),
        _ if req.prompt_none => redirect_error(
            &req.redirect_uri,
            req.mode,
            "login_required",
            "The client specified not to prompt, but the user is not logged in.",
            Some(&req.state),
        ),
        _ => {
            let tx = random_token(24);
            let hint = req.login_hint.clone().unwrap_or_default();
            let label = req.app_label.clone();
            let mut tokens = st.tokens();
            tokens.transactions.insert(tx.clone(), AuthorizeTx { request: req, exp: now + TX_SECS });
            tokens.maybe_prune(now);
            drop(tokens);
            sign_in_page(st, StatusCode::OK, &tx, &label, &hint, None)
        }
    }
}

fn sign_in_page(
    st: &AppState,
    status: StatusCode,
    tx: &str,
    app_label: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let org = html_escape(&st.store().org.name);
    let error_html = error
        .map(|e| format!("<div class=\"o-form-error\" role=\"alert\">{}</div>", html_escape(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{org} - Sign In</title>
<style>body{{font-family:sans-serif;background:#f4f4f4}}main{{max-width:360px;margin:60px auto;background:#fff;padding:32px;border:1px solid #ddd}}
label,input,button{{display:block;width:100%;margin:6px 0}}input{{padding:8px}}button{{padding:10px;background:#1662dd;color:#fff;border:0}}
.o-form-error{{color:#b00;margin:8px 0}}</style></head>
<body><main>
<h1>Sign In</h1>
<p>{org} &middot; {app}</p>
{error_html}
<form method="post" action="{action}" id="form">
<input type="hidden" name="tx" value="{tx}">
<label for="okta-signin-username">Username</label>
<input id="okta-signin-username" name="username" type="text" autocomplete="username" value="{username}" autofocus>
<label for="okta-signin-password">Password</label>
<input id="okta-signin-password" name="password" type="password" autocomplete="current-password">
<button type="submit" id="okta-signin-submit">Sign in</button>
</form>
</main></body></html>"#,
        app = html_escape(app_label),
        action = html_escape(&format!("{}/login/signin", st.base_url)),
        tx = html_escape(tx),
        username = html_escape(username),
    );
    let mut r = (status, Html(body)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
    r
}

/// `POST /login/signin`: the sign-in form.
pub(crate) async fn sign_in(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let tx_id = form.get("tx").unwrap_or_default().to_owned();
    let now = st.clock.now_secs();
    let Some(tx) = st.tokens().transactions.get(&tx_id).cloned().filter(|t| t.exp > now) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "login_required",
            "Request expired, please start over and try again.",
        );
    };
    let username = form.get("username").unwrap_or_default().trim().to_owned();
    let password = form.get("password").unwrap_or_default();
    let user_id = {
        let store = st.store();
        store
            .find_user(&username)
            .filter(|u| user_is_usable(u))
            .filter(|u| u.password.as_deref().is_some_and(|p| crate::util::secure_eq(p, password)))
            .map(|u| u.id.clone())
    };
    let Some(user_id) = user_id else {
        return sign_in_page(
            &st,
            StatusCode::UNAUTHORIZED,
            &tx_id,
            &tx.request.app_label,
            &username,
            Some("Unable to sign in"),
        );
    };
    st.tokens().transactions.remove(&tx_id);
    if let Some(u) = st.store_mut().users.get_mut(&user_id) {
        u.last_login = Some(st.clock.now_ms());
    }
    let sid = random_token(24);
    st.tokens().sessions.insert(sid.clone(), Session { user_id: user_id.clone(), auth_time: now });
    let secure = if st.tls { "; Secure" } else { "" };
    let cookie = format!("{}={sid}; Path=/; HttpOnly; SameSite=Lax{secure}", st.cookie_name);
    finish(&st, &tx.request, &user_id, now, Some(cookie))
}

/// Issues the authorization code once the user is known.
fn finish(
    st: &Arc<AppState>,
    req: &AuthRequest,
    user_id: &str,
    auth_time: i64,
    set_cookie: Option<String>,
) -> Response {
    let assigned = st.store().is_assigned(&req.client_id, user_id);
    let mut resp = if !assigned {
        redirect_error(
            &req.redirect_uri,
            req.mode,
            "access_denied",
            "User is not assigned to the client application.",
            Some(&req.state),
        )
    } else {
        let code = random_token(32);
        let now = st.clock.now_secs();
        let mut tokens = st.tokens();
        tokens.codes.insert(
            code.clone(),
            CodeRecord {
                server: req.server.clone(),
                client_id: req.client_id.clone(),
                redirect_uri: req.redirect_uri.clone(),
                scopes: req.scopes.clone(),
                nonce: req.nonce.clone(),
                code_challenge: req.code_challenge.clone(),
                user_id: user_id.to_owned(),
                auth_time,
                exp: now + CODE_SECS,
            },
        );
        tokens.maybe_prune(now);
        drop(tokens);
        deliver(&req.redirect_uri, req.mode, &[("code", &code), ("state", &req.state)])
    };
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

pub(crate) async fn logout_handler(
    server: Server,
    State(st): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    logout(&st, &server, &headers, &params_of(&method, q, &body))
}

fn logout(st: &Arc<AppState>, server: &Server, headers: &HeaderMap, p: &Form) -> Response {
    let bad = |desc: &str| error_page(StatusCode::BAD_REQUEST, "invalid_request", desc);
    let Some(hint) = p.value("id_token_hint") else {
        return bad("The 'id_token_hint' parameter is required.");
    };
    let Some(jwt) = ParsedJwt::parse(hint) else {
        return bad("The id_token_hint cannot be parsed.");
    };
    // Expired hints are fine; the signature and issuer must be ours.
    let key = jwt.kid().and_then(|k| st.keys().find(k));
    if !key.is_some_and(|k| jwt.verify(jsonwebtoken::Algorithm::RS256, &k.decoding)) {
        return bad("The id_token_hint signature is invalid.");
    }
    let sw = st.switches();
    let iss = jwt.claim_str("iss").unwrap_or_default();
    if iss != st.issuer(server) && iss != st.token_issuer(server, &sw) {
        return bad("The issuer of the id_token_hint is invalid.");
    }
    let aud = match jwt.claims.get("aud") {
        Some(Value::String(a)) => a.clone(),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    let allowed = st.store().oidc_apps.get(&aud).map(|a| a.post_logout_redirect_uris.clone());
    let Some(allowed) = allowed else {
        return bad("The audience of the id_token_hint is invalid.");
    };
    let target =
        match p.value("post_logout_redirect_uri") {
            Some(uri) if allowed.iter().any(|a| a == uri) => {
                let mut t = uri.to_owned();
                if let Some(s) = p.value("state") {
                    t = with_query(&t, '?', &[("state", s)]);
                }
                t
            }
            Some(_) => return bad(
                "The 'post_logout_redirect_uri' parameter must be a Logout redirect URI in the client app settings.",
            ),
            None => format!("{}/", st.base_url),
        };
    if let Some(sid) = cookie_value(headers, &st.cookie_name) {
        st.tokens().sessions.remove(sid);
    }
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&target) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    let clear = format!("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax", st.cookie_name);
    if let Ok(v) = HeaderValue::from_str(&clear) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /`: where logout lands without a redirect URI.
pub(crate) async fn landing(State(st): State<Arc<AppState>>) -> Response {
    let org = html_escape(&st.store().org.name);
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{org}</title></head>\
         <body><h1>{org}</h1><p>okta-sim: a local Okta org. You are signed out.</p></body></html>"
    ))
    .into_response()
}
