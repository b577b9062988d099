//! The messages behind the short codes that form handlers put in redirect URLs.
//! Codes, not text, travel in URLs so that nobody can craft a link that makes
//! the console display words of their choosing.

/// The sign-in page's `?error=` codes.
pub fn sign_in_error(code: &str, retry_after: Option<&str>) -> Option<String> {
    Some(match code {
        "invalid" => "Email or password is incorrect.".into(),
        "throttled" => format!(
            "Too many failed sign-ins. Try again in {} seconds.",
            retry_after.filter(|s| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty()).unwrap_or("a few")
        ),
        "disabled" => "This account is disabled. Ask another admin to enable it.".into(),
        "expired" => "Your session has ended. Sign in again.".into(),
        "forbidden" => "That request came from another site and was refused. Sign in from this page.".into(),
        "server" => "The server could not sign you in. Details are in its log.".into(),
        _ => return None,
    })
}

/// The setup page's `?error=` codes.
pub fn setup_error(code: &str) -> Option<&'static str> {
    Some(match code {
        "bad_token" => "The setup token is not right. Copy it from the log of the server's start.",
        "already_done" => "Setup is already done: an admin exists. Sign in instead.",
        "invalid_email" => "Enter an email address such as admin@example.com.",
        "password_short" => "Use a password of at least 12 characters.",
        "password_long" => "Use a password of at most 512 characters.",
        "password_mismatch" => "The two passwords differ.",
        "name_long" => "Enter a name of at most 200 characters.",
        "server" => "The server could not complete setup. Details are in its log.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_show_nothing() {
        assert_eq!(sign_in_error("<script>", None), None);
        assert_eq!(setup_error("whatever"), None);
    }

    #[test]
    fn the_retry_delay_must_be_a_number() {
        assert!(sign_in_error("throttled", Some("12")).unwrap().contains("12 seconds"));
        assert!(sign_in_error("throttled", Some("call 555")).unwrap().contains("a few seconds"));
    }
}
