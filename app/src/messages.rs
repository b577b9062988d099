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
        "local_restricted" => {
            "Sign in with your identity provider: password sign-in is kept for the break-glass account.".into()
        }
        _ => return None,
    })
}

/// `/auth/error?code=`: what happened when signing in with an identity provider, and what to do.
pub fn sso_error(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "no_role" => (
            "You have no access to this console",
            "You signed in, but none of your groups is mapped to a console role. Ask a Portcullis administrator to map one of your groups to a role.",
        ),
        "access_denied" => (
            "The identity provider denied the sign-in",
            "You cancelled, or the provider does not let you use this application. In Okta, the console's app must be assigned to you or to one of your groups.",
        ),
        "login_required" => ("The identity provider needs you to sign in", "Start again from the sign-in page."),
        "provider_error" => (
            "The identity provider reported an error",
            "The provider could not complete the sign-in. Try again; if it persists an admin will find the provider's message in the audit log.",
        ),
        "state_missing" | "state_invalid" => (
            "This sign-in link is not valid",
            "It was used already, or it did not come from a sign-in started here. Start again from the sign-in page.",
        ),
        "state_expired" => ("This sign-in took too long", "Sign-ins must finish within 10 minutes. Start again."),
        "browser_mismatch" => (
            "This sign-in was started in another browser",
            "For your safety a sign-in must finish in the browser that started it. Start again from the sign-in page here.",
        ),
        "issuer_mismatch" => (
            "The answer came from another identity provider",
            "The callback names an issuer other than the provider you chose, so it was refused. Start again.",
        ),
        "code_missing" | "code_rejected" => (
            "The identity provider did not accept the sign-in code",
            "The code was used already, expired, or does not belong to this sign-in. Start again from the sign-in page.",
        ),
        "client_rejected" => (
            "The identity provider refused Portcullis' credentials",
            "An admin should run Test connection on the provider: the Client ID or Client secret is no longer accepted.",
        ),
        "token_error" | "no_id_token" => (
            "The identity provider's answer was not usable",
            "The token endpoint did not return an ID token. An admin should check the scopes (openid is required) with Test connection.",
        ),
        "provider_unreachable" => ("The identity provider cannot be reached", "Try again in a moment; an admin can run Test connection."),
        "provider_gone" | "provider_disabled" | "provider_not_ready" => (
            "This identity provider is not available",
            "It was disabled, deleted or never passed its checks. Choose another way to sign in.",
        ),
        "token_malformed" | "token_algorithm" | "token_signature" | "token_unknown_key" | "token_issuer"
        | "token_audience" | "token_nonce" | "token_expired" | "token_iat_future" | "token_at_hash" | "token_invalid" => (
            "The identity provider's ID token was refused",
            "The token failed verification (signature, issuer, audience, nonce or time). Nothing was signed in. An admin will find the exact reason in the audit log.",
        ),
        "userinfo_subject" | "userinfo_invalid" => (
            "The identity provider's user information did not match",
            "The userinfo answer describes another person than the ID token. Nothing was signed in.",
        ),
        "no_email" => ("The identity provider sent no email address", "An admin should add the email scope to the provider."),
        "email_unverified" => (
            "Your email address is not verified at the identity provider",
            "An account with this email exists here; it is linked to a provider sign-in only when the provider says the address is verified.",
        ),
        "link_admin" => (
            "An admin account with this email exists",
            "Admin accounts are never linked automatically. Sign in with the password, then link the identity provider in Settings → Your account.",
        ),
        "identity_taken" => ("This identity is linked to another account", "Sign in with that account instead."),
        "account_disabled" => ("This account is disabled", "Ask an admin to enable it."),
        "server" => ("The server could not sign you in", "Details are in its log. Try again shortly."),
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
        assert_eq!(sso_error("<b>hi</b>"), None);
    }

    #[test]
    fn the_retry_delay_must_be_a_number() {
        assert!(sign_in_error("throttled", Some("12")).unwrap().contains("12 seconds"));
        assert!(sign_in_error("throttled", Some("call 555")).unwrap().contains("a few seconds"));
    }
}
