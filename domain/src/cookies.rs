//! Cookies as every Portcullis cookie is: one reader of the `Cookie` header and one shape of
//! `Set-Cookie`, for the server's handlers and the console's server functions alike.

/// Every `name=value` pair of one `Cookie` header value.
pub fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|pair| pair.trim().split_once('='))
}

/// A `Set-Cookie` value: host-only (no `Domain`), HttpOnly, Lax, on `/`; `Secure` with an
/// https public URL. Lax: providers send the browser back with a top-level GET, which carries
/// it; a cross-site POST does not.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_split_and_trimmed_and_values_keep_their_equals_signs() {
        let all: Vec<_> = pairs("a=1; b=x=y ;junk; c=").collect();
        assert_eq!(all, [("a", "1"), ("b", "x=y"), ("c", "")]);
    }

    #[test]
    fn a_secure_cookie_says_so_and_never_names_a_domain() {
        let c = set_cookie("__Host-x", "v", 60, true);
        assert_eq!(c, "__Host-x=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        assert!(!set_cookie("x", "v", 0, false).contains("Secure"));
    }
}
