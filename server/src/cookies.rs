//! The cookies this server reads and sets: the console session, the sign-in binding cookie,
//! the single sign-on cookie and the applications' own. Parsing and the `Set-Cookie` shape
//! are the domain's ([`portcullis_domain::cookies`]); this is their HTTP side.

use http::{header, HeaderMap, HeaderValue};
use portcullis_domain::{cookies, sso::login_cookie_name};

use crate::AppState;

/// The session cookie. With an https public URL it gets the `__Host-` prefix,
/// which browsers accept only with `Secure`, `Path=/` and no `Domain`.
pub const SESSION_COOKIE: &str = "portcullis_session";
const SECURE_SESSION_COOKIE: &str = "__Host-portcullis_session";

fn session_name(state: &AppState) -> &'static str {
    if state.services.settings.secure_cookies() {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// Every `name=value` pair of the request's cookies.
pub(crate) fn all(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(cookies::pairs)
}

/// The first cookie whose name passes `is`.
pub(crate) fn find<'a>(headers: &'a HeaderMap, is: &dyn Fn(&str) -> bool) -> Option<&'a str> {
    all(headers).find(|(k, _)| is(k)).map(|(_, v)| v)
}

pub(crate) fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    find(headers, &|k| k == name)
}

/// A `Set-Cookie` header as every Portcullis cookie has it ([`cookies::set_cookie`]).
pub(crate) fn set(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    // Tokens are URL-safe base64 and the rest is ours: always a valid header.
    HeaderValue::from_str(&cookies::set_cookie(name, value, max_age_secs, secure))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The console session's cookie as the browser sent it.
pub(crate) fn read_session<'a>(state: &AppState, headers: &'a HeaderMap) -> Option<&'a str> {
    read(headers, session_name(state))
}

/// Sets (or with an empty value and 0, clears) the console session's cookie.
pub(crate) fn session(state: &AppState, value: &str, max_age_secs: u64) -> HeaderValue {
    let max_age = i64::try_from(max_age_secs).unwrap_or(i64::MAX);
    set(session_name(state), value, max_age, state.services.settings.secure_cookies())
}

/// The sign-in binding cookie: ties a provider's callback to the browser that started it.
pub(crate) fn login(state: &AppState, value: &str) -> HeaderValue {
    let secure = state.services.settings.secure_cookies();
    set(login_cookie_name(secure), value, 600, secure)
}

/// The binding cookie the browser sent, under the name this console uses.
pub(crate) fn read_login<'a>(state: &AppState, headers: &'a HeaderMap) -> Option<&'a str> {
    read(headers, login_cookie_name(state.services.settings.secure_cookies()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others_and_across_headers() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; portcullis_session=abc"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(read(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(read(&h, "b"), Some("2"));
        assert_eq!(read(&h, "missing"), None);
    }

    #[test]
    fn the_sign_in_binding_cookie_is_host_only_on_https() {
        assert_eq!(login_cookie_name(true), "__Host-portcullis_login");
        assert_eq!(login_cookie_name(false), "portcullis_login");
        let set = set(login_cookie_name(true), "v", 600, true);
        let set = set.to_str().unwrap();
        // What browsers demand of a __Host- cookie: Secure, Path=/, no Domain.
        assert!(set.starts_with("__Host-portcullis_login=v;"), "{set}");
        assert!(
            set.contains("; Secure") && set.contains("; Path=/;") && !set.to_ascii_lowercase().contains("domain="),
            "{set}"
        );
    }
}
