//! Forward auth over HTTP. `/verify` answers nginx `auth_request`, `/verify/forward` Caddy
//! `forward_auth` and Traefik `ForwardAuth`, each reading only the headers its proxy sets.
//! `/auth/access` (console host) hands a signed-in person to an application; the
//! `/.portcullis/` routes live on every application's host, routed here by the proxy. The
//! decisions are in `portcullis_domain::forward_auth`.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
    Extension,
};
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use portcullis_domain::{
    forward_auth::{self, sso_cookie_name, AccessError, Answer, HeaderError, OriginalRequest, SsoSession},
    sso::Purpose,
    ClientInfo, SignedIn,
};
use serde::Deserialize;

use crate::{auth::encode, cookies, AppState};

/// Header values carry what the directory holds: control characters are dropped.
fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_bytes(s.as_bytes()).unwrap_or_else(|_| {
        let clean: String = s.chars().filter(|c| !c.is_control()).collect();
        HeaderValue::from_bytes(clean.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static(""))
    })
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = (status, text.to_string()).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Which proxy is asking: it decides which headers are read and how sign-in is answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proxy {
    /// nginx: 401 with a `Location` that the snippet's `error_page` turns into a redirect.
    Nginx,
    /// Caddy, Traefik: the answer goes to the browser as it is, so a 302.
    Forwarded,
}

/// `/verify`: nginx `auth_request`.
pub async fn verify(state: State<AppState>, req: axum::extract::Request) -> Response {
    decide(state, req, Proxy::Nginx).await
}

/// `/verify/forward`: Caddy `forward_auth`, Traefik `ForwardAuth`.
pub async fn verify_forward(state: State<AppState>, req: axum::extract::Request) -> Response {
    decide(state, req, Proxy::Forwarded).await
}

/// `?app=<application id>`: the endpoint answers for that application's hosts only.
fn pinned(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|p| p.strip_prefix("app=")).filter(|v| !v.is_empty())
}

async fn decide(State(state): State<AppState>, req: axum::extract::Request, proxy: Proxy) -> Response {
    // Read in place: this handler is on every request to every protected application.
    let headers = req.headers();
    let original = match proxy {
        Proxy::Nginx => forward_auth::request::from_nginx(headers),
        Proxy::Forwarded => forward_auth::request::from_forwarded(headers),
    };
    let original: OriginalRequest = match original {
        Ok(o) => o,
        Err(e) => return bad_headers(&e),
    };
    // Already the client's address: X-Forwarded-For counts from trusted proxies only.
    let ip = req.extensions().get::<ClientInfo>().and_then(|c| c.ip.as_deref());
    let cookie = |is: &dyn Fn(&str) -> bool| cookies::find(headers, is);
    let answer = state.services.forward_auth.decide(&original, cookie, ip, pinned(req.uri().query())).await;
    match answer {
        Ok(Answer::Allow { identity, assertion }) => {
            let mut r = StatusCode::OK.into_response();
            let h = r.headers_mut();
            h.insert(HeaderName::from_static("x-portcullis-user"), header_value(&identity.user));
            h.insert(HeaderName::from_static("x-portcullis-email"), header_value(&identity.email));
            h.insert(HeaderName::from_static("x-portcullis-groups"), header_value(&identity.groups));
            h.insert(HeaderName::from_static("x-portcullis-jwt-assertion"), header_value(&assertion));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Ok(Answer::Bypass) => plain(StatusCode::OK, ""),
        Ok(Answer::SignIn { back }) => {
            let url = format!("{}/auth/access?rd={}", state.services.settings.public_base(), encode(&back));
            sign_in_answer(&url, proxy)
        }
        Ok(Answer::Deny { application }) => {
            plain(StatusCode::FORBIDDEN, &format!("Access to {application} is denied by its policies."))
        }
        Ok(Answer::NoApplication) => {
            plain(StatusCode::FORBIDDEN, "No application protected by Portcullis has this address.")
        }
        Ok(Answer::NotPinned) => plain(
            StatusCode::FORBIDDEN,
            "This endpoint is pinned to another application (?app=): its hosts do not include this one.",
        ),
        Err(AccessError::Path(e)) => plain(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "forward auth failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "Portcullis could not decide; try again shortly.")
        }
    }
}

fn bad_headers(e: &HeaderError) -> Response {
    plain(StatusCode::BAD_REQUEST, &format!("Portcullis cannot read the proxy's request: {e}."))
}

/// The way to sign in: nginx gets 401 (its `error_page` redirects), the others a 302.
fn sign_in_answer(url: &str, proxy: Proxy) -> Response {
    let status = match proxy {
        Proxy::Nginx => StatusCode::UNAUTHORIZED,
        Proxy::Forwarded => StatusCode::FOUND,
    };
    let body = format!(
        "<!doctype html><meta http-equiv=\"refresh\" content=\"0;url={url}\"><a href=\"{url}\">Sign in to continue</a>",
        url = html(url)
    );
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(url) {
        h.insert(header::LOCATION, v);
    }
    r
}

fn found(url: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Deserialize)]
pub struct AccessQuery {
    #[serde(default)]
    rd: String,
}

/// `/auth/access?rd=…` (console host): someone with a session here is handed to the
/// application at once; anyone else signs in at the identity provider first (no console
/// role needed), then comes back.
pub async fn access(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Option<Extension<SignedIn>>,
    Query(q): Query<AccessQuery>,
) -> Response {
    let fa = &state.services.forward_auth;
    if let Err(e) = fa.application_for_url(&q.rd).await {
        return access_failed(e);
    }
    if let Some(Extension(user)) = user {
        return hand_off(&state, &SsoSession::from(&user), &q.rd, None).await;
    }
    let secure = state.services.settings.secure_cookies();
    if let Some(token) = cookies::read(&headers, sso_cookie_name(secure)) {
        match fa.sso_session(token).await {
            Ok(Some(session)) => return hand_off(&state, &session, &q.rd, None).await,
            Ok(None) => {}
            Err(e) => return access_failed(e.into()),
        }
    }
    let providers = match state.services.sso.sign_in_options().await {
        Ok(p) => p,
        Err(e) => return access_failed(e.into()),
    };
    match providers.as_slice() {
        // Local accounts only: the console's sign-in page, then back here.
        [] => {
            let here = format!("/auth/access?rd={}", encode(&q.rd));
            Redirect::to(&format!("/login?next={}", encode(&here))).into_response()
        }
        [(id, _)] => {
            let existing = cookies::read_login(&state, &headers);
            match state.services.sso.start(id, Purpose::Access, &q.rd, existing).await {
                Ok(started) => {
                    let mut r = Redirect::to(&started.authorize_url).into_response();
                    r.headers_mut().insert(header::SET_COOKIE, cookies::login(&state, &started.browser_cookie));
                    r
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not start a sign-in for an application");
                    plain(StatusCode::SERVICE_UNAVAILABLE, "Portcullis could not start the sign-in; try again shortly.")
                }
            }
        }
        several => {
            let buttons: String = several
                .iter()
                .map(|(id, name)| {
                    format!(
                        "<form method=\"post\" action=\"/auth/start\"><input type=\"hidden\" name=\"provider\" value=\"{}\">\
                         <input type=\"hidden\" name=\"purpose\" value=\"access\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
                         <button type=\"submit\">Continue with {}</button></form>",
                        html(id),
                        html(&q.rd),
                        html(name)
                    )
                })
                .collect();
            let body = format!("<!doctype html><title>Sign in</title><h1>Sign in to continue</h1>{buttons}");
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            r
        }
    }
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn access_failed(e: AccessError) -> Response {
    match e {
        AccessError::UnknownApplication(_) => plain(
            StatusCode::BAD_REQUEST,
            "This address is not an application Portcullis protects, so Portcullis will not send you there.",
        ),
        e => {
            tracing::error!(error = %e, "could not issue an access session");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Portcullis could not sign you in to the application; try again shortly.",
            )
        }
    }
}

/// To the application's `/.portcullis/callback` with a one-time code; `set_cookie` carries a
/// single sign-on cookie just made.
async fn hand_off(state: &AppState, from: &SsoSession, rd: &str, set_cookie: Option<HeaderValue>) -> Response {
    match state.services.forward_auth.hand_off(from, rd).await {
        Ok(callback) => {
            let mut r = found(&callback);
            if let Some(c) = set_cookie {
                r.headers_mut().insert(header::SET_COOKIE, c);
            }
            r
        }
        Err(e) => access_failed(e),
    }
}

/// After a sign-in for the applications: a single sign-on session on this host, then the
/// application's cookie on its own.
pub(crate) async fn finish_access(state: &AppState, user_id: &str, identity_id: &str, rd: &str) -> Response {
    let settings = &state.services.settings;
    let lifetime = i64::try_from(settings.session_lifetime.as_millis()).unwrap_or(i64::MAX);
    match state.services.forward_auth.start_sso(user_id, Some(identity_id), lifetime).await {
        Ok((token, session)) => {
            let secure = settings.secure_cookies();
            let cookie = cookies::set(sso_cookie_name(secure), &token, (lifetime / 1000).max(1), secure);
            hand_off(state, &session, rd, Some(cookie)).await
        }
        Err(e) => access_failed(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    code: String,
}

/// `/.portcullis/callback?code=…` on an application's host: the application's own cookie,
/// then the page the person asked for.
pub async fn app_callback(State(state): State<AppState>, Query(q): Query<CallbackQuery>) -> Response {
    match state.services.forward_auth.redeem(&q.code).await {
        Ok(Some(s)) => {
            let mut r = found(&s.return_to);
            r.headers_mut()
                .insert(header::SET_COOKIE, cookies::set(&s.cookie_name, &s.token, s.max_age_secs, s.secure));
            r
        }
        Ok(None) => page(
            StatusCode::BAD_REQUEST,
            "Sign-in link expired",
            "This sign-in link has expired or was already used. Open the application again to sign in.",
        ),
        Err(e) => access_failed(e),
    }
}

/// `/.portcullis/sign_out` on an application's host (or the console's): every session of
/// the person behind this host's cookies ends, on every application and on the console.
pub async fn app_sign_out(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    headers: HeaderMap,
) -> Response {
    let ours: Vec<(&str, &str)> = cookies::all(&headers)
        .filter(|(k, _)| forward_auth::is_app_cookie(k) || *k == sso_cookie_name(false) || *k == sso_cookie_name(true))
        .collect();
    let tokens: Vec<&str> = ours.iter().map(|(_, v)| *v).collect();
    match state.services.forward_auth.sign_out_tokens(&tokens).await {
        Ok(users) => {
            for user in &users {
                tracing::info!(user_id = %user, ip = ?client.ip, "signed out of every application");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "could not sign out");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "Portcullis could not sign you out; try again shortly.");
        }
    }
    let mut r = page(StatusCode::OK, "Signed out", "You are signed out of every application protected by Portcullis.");
    for (name, _) in &ours {
        r.headers_mut().append(header::SET_COOKIE, cookies::set(name, "", 0, name.starts_with("__Host-")));
    }
    r
}

/// `/.well-known/portcullis/jwks.json` and `/.portcullis/jwks.json`: the keys upstreams
/// verify `X-Portcullis-Jwt-Assertion` with.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut r = (StatusCode::OK, state.services.forward_auth.jwks().to_string()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{t}</title><body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
         <h1 style=\"font-size:1.5rem\">{t}</h1><p>{x}</p></body></html>",
        t = html(title),
        x = html(text)
    );
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_headers_drop_control_characters() {
        assert_eq!(header_value("Ada\r\nX-Evil: 1"), HeaderValue::from_static("AdaX-Evil: 1"));
        assert_eq!(header_value("Zoë").as_bytes(), "Zoë".as_bytes());
    }

    #[test]
    fn the_pinned_application_comes_from_the_query() {
        assert_eq!(pinned(Some("app=0190-a")), Some("0190-a"));
        assert_eq!(pinned(Some("x=1&app=b")), Some("b"));
        assert_eq!(pinned(Some("app=")), None);
        assert_eq!(pinned(None), None);
    }

    #[test]
    fn nginx_is_told_401_and_the_others_302() {
        assert_eq!(sign_in_answer("https://pc.test/auth/access", Proxy::Nginx).status(), StatusCode::UNAUTHORIZED);
        let r = sign_in_answer("https://pc.test/auth/access", Proxy::Forwarded);
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(r.headers()[header::LOCATION], "https://pc.test/auth/access");
    }
}
