//! Sign-in with identity providers: start, callback, and where each ends. The work is in
//! `portcullis_domain::sso`; these handlers move cookies and redirects.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
    Extension, Form,
};
use http::{header, HeaderMap};
use portcullis_domain::{
    codes::{SignInCode, SsoCode},
    sso::{CallbackInput, Finished, Purpose, StartError},
    ClientInfo, Role, SignedIn,
};
use serde::Deserialize;

use crate::{
    auth::{encode, safe_next, signed_in_response},
    cookies, AppState,
};

#[derive(Deserialize)]
pub struct StartForm {
    provider: String,
    /// `sign_in` (default), `test` (Test connection's test sign-in) or `link`.
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /auth/start`: a form button on the sign-in page, or Test connection's test sign-in.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Option<Extension<SignedIn>>,
    Form(form): Form<StartForm>,
) -> Response {
    let user = user.map(|Extension(u)| u);
    let purpose = match (form.purpose.as_str(), user) {
        ("test", Some(u)) if u.role >= Role::Editor => Purpose::DryRun { by: u },
        ("link", Some(u)) => Purpose::Link { by: u },
        ("test" | "link", _) => return Redirect::to(&format!("/login?error={}", SignInCode::Expired)).into_response(),
        ("access", _) => Purpose::Access,
        _ => Purpose::SignIn,
    };
    if purpose == Purpose::Access {
        let rd = form.next.clone().unwrap_or_default();
        if state.services.forward_auth.application_lifetime(&rd).await.is_err() {
            return Redirect::to(&format!("/auth/error?code={}", SsoCode::ProviderNotReady)).into_response();
        }
    }
    let return_to = match &purpose {
        Purpose::SignIn => safe_next(form.next.as_deref()).to_string(),
        // Checked above: an application's address.
        Purpose::Access => form.next.clone().unwrap_or_default(),
        Purpose::DryRun { .. } => "/settings/identity-providers".to_string(),
        Purpose::Link { .. } => "/settings?linked=1".to_string(),
    };
    let existing = cookies::read_login(&state, &headers);
    match state.services.sso.start(&form.provider, purpose, &return_to, existing).await {
        Ok(started) => {
            let mut response = Redirect::to(&started.authorize_url).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookies::login(&state, &started.browser_cookie));
            response
        }
        Err(e) => {
            let code = match e {
                StartError::NotFound => SsoCode::ProviderGone,
                StartError::Disabled => SsoCode::ProviderDisabled,
                StartError::NotReady => SsoCode::ProviderNotReady,
                StartError::ReturnTooLong => SsoCode::ReturnTooLong,
                StartError::Store(err) => {
                    tracing::error!(error = %err, "could not start a sign-in");
                    SsoCode::Server
                }
            };
            Redirect::to(&format!("/auth/error?code={code}")).into_response()
        }
    }
}

/// `GET /auth/callback`: the provider sends the browser back here.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(client): Extension<ClientInfo>,
    user: Option<Extension<SignedIn>>,
    Query(input): Query<CallbackInput>,
) -> Response {
    let browser = cookies::read_login(&state, &headers);
    let current = user.map(|Extension(u)| u);
    match state.services.sso.callback(&input, browser, current.as_ref(), &client).await {
        Ok(Finished::SignedIn { session, return_to }) => {
            tracing::info!(email = %session.user.email, role = session.user.role.as_str(), "signed in with an identity provider");
            signed_in_response(&state, session, safe_next(Some(&return_to)))
        }
        Ok(Finished::DryRun { outcome_id, provider_id }) => Redirect::to(&format!(
            "/settings/identity-providers/{}/test-sign-in?ref={}",
            encode(&provider_id),
            encode(&outcome_id)
        ))
        .into_response(),
        Ok(Finished::Linked { return_to }) => Redirect::to(safe_next(Some(&return_to))).into_response(),
        Ok(Finished::Access { user_id, identity_id, return_to }) => {
            crate::forward::finish_access(&state, &user_id, &identity_id, &return_to).await
        }
        Err(refused) => {
            let mut url = format!("/auth/error?code={}", refused.code);
            if let Some(id) = refused.outcome_id.filter(|_| refused.code == SsoCode::NoRole) {
                url.push_str(&format!("&ref={}", encode(&id)));
            }
            Redirect::to(&url).into_response()
        }
    }
}

/// `POST /okta/universal-logout/{provider_id}`: Okta's Universal Logout (Global Token
/// Revocation). Authenticated by the org's signed JWT, not by a session: 204 when the person's
/// sessions are ended, else the spec's status with an OAuth-style error.
pub async fn universal_logout(
    State(state): State<AppState>,
    axum::extract::Path(provider_id): axum::extract::Path<String>,
    Extension(client): Extension<ClientInfo>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let bearer = crate::api::extract::bearer(&headers);
    match state.services.sso.universal_logout(&provider_id, bearer, &body, client.ip.as_deref()).await {
        Ok(_) => http::StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            let status = http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
            if status.is_server_error() {
                tracing::error!(error = %e, "Universal Logout failed");
            }
            let description = if status.is_server_error() {
                "The request could not be carried out.".to_string()
            } else {
                e.to_string()
            };
            let mut response =
                (status, axum::Json(serde_json::json!({"error": e.code(), "error_description": description})))
                    .into_response();
            if status == http::StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer error=\"invalid_token\""));
            }
            response
        }
    }
}
