//! Forward auth for reverse proxies: `/verify` answers nginx `auth_request`, Caddy
//! `forward_auth` and Traefik `ForwardAuth`; `/auth/access` turns a console session into
//! an access cookie for the applications and sends the person back. The decisions are in
//! `portcullis_domain::forward_auth`.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
    Extension,
};
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use portcullis_domain::{
    forward_auth::{AccessError, Answer, ACCESS_COOKIE},
    sso::{Purpose, LOGIN_COOKIE},
    ClientInfo, SignedIn,
};
use serde::Deserialize;

use crate::{
    auth::{encode, read_cookie},
    AppState,
};

/// The request as the person made it: `X-Original-URL` (nginx), or the `X-Forwarded-*` set.
fn original(headers: &HeaderMap) -> Option<(String, String, String)> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    if let Some(url) = get("x-original-url").and_then(|u| url::Url::parse(u).ok()) {
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str()?),
            None => url.host_str()?.to_string(),
        };
        let mut uri = url.path().to_string();
        if let Some(q) = url.query() {
            uri.push('?');
            uri.push_str(q);
        }
        return Some((url.scheme().to_string(), host, uri));
    }
    let host = get("x-forwarded-host")?.split(',').next()?.trim().to_string();
    let scheme = get("x-forwarded-proto").and_then(|p| p.split(',').next()).unwrap_or("https").trim().to_string();
    let uri = get("x-forwarded-uri").unwrap_or("/").to_string();
    Some((scheme, host, uri))
}

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

/// `/verify`: 200 with `X-Portcullis-User`, `-Email`, `-Groups`; 401 to sign in; 403 denied.
pub async fn verify(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    // Read in place: this handler is on every request to every protected application.
    let headers = req.headers();
    let redirect = req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "redirect" || p.starts_with("redirect=")));
    let client_ip = req.extensions().get::<ClientInfo>().and_then(|c| c.ip.as_deref());
    let Some((scheme, host, uri)) = original(headers) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "Portcullis /verify needs the original request: X-Original-URL, or X-Forwarded-Host and X-Forwarded-Uri. See the README's proxy snippets.",
        );
    };
    let token = read_cookie(headers, ACCESS_COOKIE);
    // The proxy's address is the client here; the person's is in X-Forwarded-For.
    let ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .or(client_ip);
    let answer = state.services.forward_auth.decide(token, &scheme, &host, &uri, ip).await;
    match answer {
        Ok(Answer::Allow(who)) => {
            let mut r = StatusCode::OK.into_response();
            let h = r.headers_mut();
            h.insert(HeaderName::from_static("x-portcullis-user"), header_value(&who.user));
            h.insert(HeaderName::from_static("x-portcullis-email"), header_value(&who.email));
            h.insert(HeaderName::from_static("x-portcullis-groups"), header_value(&who.groups));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Ok(Answer::Bypass) => plain(StatusCode::OK, ""),
        Ok(Answer::SignIn { back }) => {
            let url = format!("{}/auth/access?rd={}", state.services.settings.public_base(), encode(&back));
            sign_in_answer(&url, redirect)
        }
        Ok(Answer::Deny { application }) => {
            plain(StatusCode::FORBIDDEN, &format!("Access to {application} is denied by its policies."))
        }
        Ok(Answer::NoApplication) => plain(StatusCode::FORBIDDEN, "No application protected by Portcullis has this address."),
        Err(e) => {
            tracing::error!(error = %e, "forward auth failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "Portcullis could not decide; try again shortly.")
        }
    }
}

/// 401 with the way to sign in (nginx turns it into a redirect), or, with `?redirect=1` (for
/// proxies that pass the answer on to the browser: Caddy, Traefik), a redirect outright.
fn sign_in_answer(url: &str, redirect: bool) -> Response {
    if redirect {
        return Redirect::to(url).into_response();
    }
    let body = format!(
        "<!doctype html><meta http-equiv=\"refresh\" content=\"0;url={url}\"><a href=\"{url}\">Sign in to continue</a>",
        url = url.replace('"', "%22").replace('<', "%3C")
    );
    let mut r = (StatusCode::UNAUTHORIZED, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(url) {
        h.insert(header::LOCATION, v);
    }
    r
}

#[derive(Deserialize)]
pub struct AccessQuery {
    #[serde(default)]
    rd: String,
}

/// `/auth/access?rd=…`: the access cookie for someone signed in to the console; anyone else
/// signs in at the identity provider first (no console role needed), then comes back to `rd`.
pub async fn access(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Option<Extension<SignedIn>>,
    Query(q): Query<AccessQuery>,
) -> Response {
    let fa = &state.services.forward_auth;
    if let Err(e) = fa.application_lifetime(&q.rd).await {
        return access_failed(e);
    }
    if let Some(Extension(user)) = user {
        return match fa.issue(&user, &q.rd).await {
            Ok((token, max_age)) => to_application(&state, &token, max_age, &q.rd),
            Err(e) => access_failed(e),
        };
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
            let existing = read_cookie(&headers, LOGIN_COOKIE);
            match state.services.sso.start(id, Purpose::Access, &q.rd, existing).await {
                Ok(started) => {
                    let mut r = Redirect::to(&started.authorize_url).into_response();
                    r.headers_mut().insert(header::SET_COOKIE, crate::sso::login_cookie(&state, &started.browser_cookie));
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
            plain(StatusCode::SERVICE_UNAVAILABLE, "Portcullis could not sign you in to the application; try again shortly.")
        }
    }
}

/// The access cookie, on the applications' parent domain when one is set, and back to the application.
pub(crate) fn to_application(state: &AppState, token: &str, max_age: i64, rd: &str) -> Response {
    let settings = &state.services.settings;
    let mut cookie = format!("{ACCESS_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}");
    if let Some(domain) = &settings.access_cookie_domain {
        cookie.push_str(&format!("; Domain={domain}"));
    }
    if rd.starts_with("https://") || settings.secure_cookies() {
        cookie.push_str("; Secure");
    }
    let mut r = Redirect::to(rd).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// After a sign-in for the applications: the access session, then the application.
pub(crate) async fn finish_access(state: &AppState, user_id: &str, identity_id: &str, rd: &str) -> Response {
    match state.services.forward_auth.issue_for(user_id, Some(identity_id), None, None, rd).await {
        Ok((token, max_age)) => to_application(state, &token, max_age, rd),
        Err(e) => access_failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_request_comes_from_x_original_url_or_the_forwarded_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-original-url", HeaderValue::from_static("http://wiki.example.test:8080/a?b=1"));
        assert_eq!(original(&h), Some(("http".into(), "wiki.example.test:8080".into(), "/a?b=1".into())));
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-host", HeaderValue::from_static("wiki.example.test"));
        h.insert("x-forwarded-uri", HeaderValue::from_static("/x"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(original(&h), Some(("https".into(), "wiki.example.test".into(), "/x".into())));
        assert_eq!(original(&HeaderMap::new()), None);
    }

    #[test]
    fn identity_headers_drop_control_characters() {
        assert_eq!(header_value("Ada\r\nX-Evil: 1"), HeaderValue::from_static("AdaX-Evil: 1"));
        assert_eq!(header_value("Zoë").as_bytes(), "Zoë".as_bytes());
    }
}
