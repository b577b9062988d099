//! Sessions on every request, the page gate, and the sign-in, setup and
//! sign-out forms. The forms are plain HTML posts answered with redirects, so
//! they work with and without JavaScript.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Extension, Form,
};
use http::{header, Method};
use portcullis_domain::{
    accounts::{InputError, SetupError, SetupForm, SignInError},
    codes::{SetupCode, SignInCode},
    ClientInfo, NewSession, SignedIn,
};
use serde::Deserialize;

use crate::{cookies, AppState};

/// The client's address: `X-Forwarded-For` counts only when the peer is a trusted proxy.
fn client_ip(state: &AppState, req: &Request) -> Option<String> {
    let ConnectInfo(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>()?;
    let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    Some(state.services.settings.trusted_proxies.client_ip(peer.ip(), forwarded).to_string())
}

/// Finds the session behind the cookie and puts the signed-in person and the
/// client's address into the request for everything after.
pub async fn resolve_session(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let client = ClientInfo {
        ip: client_ip(&state, &req),
        user_agent: req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
    };
    if let Some(token) = cookies::read_session(&state, req.headers()) {
        match state.services.accounts.session(token).await {
            Ok(Some(user)) if user.refresh_due => {
                // Renew at the provider first: the groups, and so the role, may have changed.
                match state.services.sso.refresh(&user, &client).await {
                    Ok(Some(user)) => {
                        req.extensions_mut().insert(user);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "could not refresh the session");
                        return (
                            http::StatusCode::SERVICE_UNAVAILABLE,
                            "The database is not answering; try again shortly.",
                        )
                            .into_response();
                    }
                }
            }
            Ok(Some(user)) => {
                req.extensions_mut().insert(user);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "could not read the session");
                return (http::StatusCode::SERVICE_UNAVAILABLE, "The database is not answering; try again shortly.")
                    .into_response();
            }
        }
    }
    req.extensions_mut().insert(client);
    next.run(req).await
}

/// Paths anyone may load. Server functions (`/api/…`) check roles themselves.
fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/setup" | "/healthz" | "/readyz" | "/favicon.svg" | "/robots.txt")
        || matches!(
            path,
            "/auth/start" | "/auth/callback" | "/auth/error" | "/auth/access" | "/verify" | "/verify/forward"
        )
        || path.starts_with("/.portcullis/")
        || path == "/.well-known/portcullis/jwks.json"
        || path.starts_with("/pkg/")
        || path.starts_with("/api/")
        || path.starts_with("/scim/")
}

/// Every page but the public ones needs a session: without one, go to `/login`
/// and come back afterwards.
pub async fn require_session_for_pages(req: Request, next: Next) -> Response {
    let signed_in = req.extensions().get::<SignedIn>().is_some();
    let path = req.uri().path();
    let is_page_load = matches!(*req.method(), Method::GET | Method::HEAD);
    if signed_in && path == "/login" {
        return Redirect::to("/").into_response();
    }
    if signed_in || !is_page_load || is_public(path) {
        return next.run(req).await;
    }
    let here = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let target = if here == "/" { "/login".to_string() } else { format!("/login?next={}", encode(here)) };
    Redirect::to(&target).into_response()
}

/// Only same-site paths: an open redirect after sign-in would make phishing easy.
pub(crate) fn safe_next(next: Option<&str>) -> &str {
    match next {
        // Bounded: it is stored with the sign-in attempt.
        Some(n)
            if n.len() <= portcullis_domain::forward_auth::MAX_RETURN_URL
                && n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => "/",
    }
}

pub(crate) fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) fn signed_in_response(state: &AppState, session: NewSession, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    let cookie = cookies::session(state, &session.token, session.max_age.as_secs());
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref().filter(|n| !n.is_empty())).to_string();
    match state.services.accounts.sign_in(&form.email, &form.password, &client).await {
        Ok(session) => signed_in_response(&state, session, &next),
        Err(e) => {
            let (code, retry) = match &e {
                SignInError::InvalidCredentials => (SignInCode::Invalid, None),
                SignInError::Throttled { retry_after } => (SignInCode::Throttled, Some(retry_after.as_secs().max(1))),
                SignInError::Disabled => (SignInCode::Disabled, None),
                SignInError::LocalRestricted => (SignInCode::LocalRestricted, None),
                SignInError::Store(err) => {
                    tracing::error!(error = %err, "sign-in failed on the database");
                    (SignInCode::Server, None)
                }
            };
            let mut url = format!("/login?error={code}&email={}", encode(form.email.trim()));
            if let Some(retry) = retry {
                url.push_str(&format!("&retry={retry}"));
            }
            if next != "/" {
                url.push_str(&format!("&next={}", encode(&next)));
            }
            Redirect::to(&url).into_response()
        }
    }
}

pub async fn logout(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    user: Option<Extension<SignedIn>>,
) -> Response {
    let mut target = "/login?signed_out=1".to_string();
    if let Some(Extension(user)) = user {
        // Read before the session goes: RP-initiated logout needs its ID token.
        if let Some(url) = state.services.sso.end_session_url(&user).await {
            target = url;
        }
        if let Err(e) = state.services.accounts.sign_out(&user, &client).await {
            tracing::error!(error = %e, "could not end the session");
        }
    }
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookies::session(&state, "", 0));
    response
}

#[derive(Deserialize)]
pub struct SetupFormData {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn setup(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    Form(form): Form<SetupFormData>,
) -> Response {
    let expected = state.setup_token.get().await.unwrap_or_default();
    let result = state
        .services
        .accounts
        .complete_setup(
            &expected,
            SetupForm {
                token: &form.token,
                email: &form.email,
                display_name: &form.name,
                password: &form.password,
                password_confirm: &form.password_confirm,
            },
            &client,
        )
        .await;
    match result {
        Ok(session) => {
            state.setup_token.consume().await;
            tracing::info!(email = %session.user.email, "setup completed: first admin created");
            signed_in_response(&state, session, "/")
        }
        Err(e) => {
            let code = match &e {
                SetupError::BadToken => SetupCode::BadToken,
                SetupError::AlreadyDone => SetupCode::AlreadyDone,
                SetupError::Input(InputError::InvalidEmail) => SetupCode::InvalidEmail,
                SetupError::Input(InputError::PasswordTooShort) => SetupCode::PasswordShort,
                SetupError::Input(InputError::PasswordTooLong) => SetupCode::PasswordLong,
                SetupError::Input(InputError::PasswordMismatch) => SetupCode::PasswordMismatch,
                SetupError::Input(InputError::NameTooLong) => SetupCode::NameLong,
                SetupError::Store(err) => {
                    tracing::error!(error = %err, "setup failed on the database");
                    SetupCode::Server
                }
            };
            let url =
                format!("/setup?error={code}&email={}&name={}", encode(form.email.trim()), encode(form.name.trim()));
            Redirect::to(&url).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/audit?x=1")), "/audit?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
