//! Cross-site request forgery protection for every state-changing request.
//!
//! Browsers label each request with where it came from (`Sec-Fetch-Site`, and
//! `Origin` on every POST); a forged request from another site cannot hide
//! that. This is the check Go 1.25's `http.CrossOriginProtection` makes, and
//! needs no token in forms or server-function calls. Requests carrying
//! neither header do not come from a browser, so they carry no ambient cookie
//! risk.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{header, HeaderMap, Method, StatusCode};

use crate::AppState;

pub async fn cross_origin_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The verify endpoints change nothing, and proxies forward them with the method and headers of
    // whatever request they are deciding on.
    // `/.portcullis/sign_out` is posted from the application's own host, not the console's.
    let path = req.uri().path();
    // `/api/v1` authenticates with bearer tokens only, never cookies: nothing ambient to forge;
    // Universal Logout with the provider's signed JWT, posted by the provider's servers; SCIM
    // with its own bearer tokens.
    let exempt = matches!(path, "/verify" | "/verify/forward" | "/.portcullis/sign_out")
        || path.starts_with("/api/v1/")
        || path.starts_with("/okta/universal-logout/")
        || path.starts_with("/scim/");
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || exempt {
        return next.run(req).await;
    }
    let public_origin = state.services.settings.public_url.origin().ascii_serialization();
    if is_same_origin(req.headers(), &public_origin) {
        next.run(req).await
    } else {
        tracing::warn!(path = %req.uri().path(), "refused a cross-origin request");
        (
            StatusCode::FORBIDDEN,
            "Refused: this request came from another site. Reload the Portcullis page and try again.",
        )
            .into_response()
    }
}

fn is_same_origin(headers: &HeaderMap, public_origin: &str) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match get(header::ORIGIN.as_str()) {
        // Older browsers: Origin must be our public URL or the host the request was sent to.
        Some(origin) => {
            origin == public_origin
                || get(header::HOST.as_str()).is_some_and(|host| {
                    origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
                })
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    const PUBLIC: &str = "https://pc.example.com";

    #[test]
    fn same_origin_fetch_metadata_passes() {
        assert!(is_same_origin(&headers(&[("sec-fetch-site", "same-origin")]), PUBLIC));
        assert!(is_same_origin(&headers(&[("sec-fetch-site", "none")]), PUBLIC));
    }

    #[test]
    fn cross_site_fetch_metadata_is_refused_whatever_the_origin_says() {
        let h = headers(&[("sec-fetch-site", "cross-site"), ("origin", PUBLIC)]);
        assert!(!is_same_origin(&h, PUBLIC));
        assert!(!is_same_origin(&headers(&[("sec-fetch-site", "same-site")]), PUBLIC));
    }

    #[test]
    fn origin_must_match_the_public_url_or_the_host() {
        assert!(is_same_origin(&headers(&[("origin", PUBLIC)]), PUBLIC));
        assert!(is_same_origin(&headers(&[("origin", "http://127.0.0.1:3000"), ("host", "127.0.0.1:3000")]), PUBLIC));
        assert!(!is_same_origin(&headers(&[("origin", "https://evil.example"), ("host", "pc.example.com")]), PUBLIC));
        assert!(!is_same_origin(&headers(&[("origin", "null")]), PUBLIC));
    }

    #[test]
    fn non_browser_clients_pass() {
        assert!(is_same_origin(&headers(&[]), PUBLIC));
    }
}
