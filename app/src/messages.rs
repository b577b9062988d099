//! The messages behind the short codes that form handlers put in redirect URLs
//! ([`portcullis_types::codes`]). Every match is exhaustive: a new code does not compile
//! until it has its message here.

use portcullis_types::codes::{SetupCode, SignInCode, SsoCode};

/// The sign-in page's `?error=` codes.
pub fn sign_in_error(code: &str, retry_after: Option<&str>) -> Option<String> {
    Some(match SignInCode::parse(code)? {
        SignInCode::Invalid => "Email or password is incorrect.".into(),
        SignInCode::Throttled => format!(
            "Too many failed sign-ins. Try again in {} seconds.",
            retry_after.filter(|s| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty()).unwrap_or("a few")
        ),
        SignInCode::Disabled => "This account is disabled. Ask another admin to enable it.".into(),
        SignInCode::Expired => "Your session has ended. Sign in again.".into(),
        SignInCode::Forbidden => "That request came from another site and was refused. Sign in from this page.".into(),
        SignInCode::Server => "The server could not sign you in. Details are in its log.".into(),
        SignInCode::LocalRestricted => {
            "Sign in with your identity provider: password sign-in is kept for the break-glass account.".into()
        }
    })
}

/// `/auth/error?code=`: what happened when signing in with an identity provider, and what to do.
pub fn sso_error(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match SsoCode::parse(code)? {
        SsoCode::NoRole => (
            "You have no access to this console",
            "You signed in, but none of your groups is mapped to a console role. Ask a Portcullis administrator to map one of your groups to a role.",
        ),
        SsoCode::AccessDenied => (
            "The identity provider denied the sign-in",
            "You cancelled, or the provider does not let you use this application. In Okta, the console's app must be assigned to you or to one of your groups.",
        ),
        SsoCode::LoginRequired => ("The identity provider needs you to sign in", "Start again from the sign-in page."),
        SsoCode::ProviderError => (
            "The identity provider reported an error",
            "The provider could not complete the sign-in. Try again; if it persists an admin will find the provider's message in the audit log.",
        ),
        SsoCode::StateMissing | SsoCode::StateInvalid => (
            "This sign-in link is not valid",
            "It was used already, or it did not come from a sign-in started here. Start again from the sign-in page.",
        ),
        SsoCode::StateExpired => ("This sign-in took too long", "Sign-ins must finish within 10 minutes. Start again."),
        SsoCode::BrowserMismatch => (
            "This sign-in was started in another browser",
            "For your safety a sign-in must finish in the browser that started it. Start again from the sign-in page here.",
        ),
        SsoCode::IssuerMismatch => (
            "The answer came from another identity provider",
            "The callback names an issuer other than the provider you chose, so it was refused. Start again.",
        ),
        SsoCode::CodeMissing | SsoCode::CodeRejected => (
            "The identity provider did not accept the sign-in code",
            "The code was used already, expired, or does not belong to this sign-in. Start again from the sign-in page.",
        ),
        SsoCode::ClientRejected => (
            "The identity provider refused Portcullis' credentials",
            "An admin should run Test connection on the provider: the Client ID or Client secret is no longer accepted.",
        ),
        SsoCode::TokenError | SsoCode::NoIdToken => (
            "The identity provider's answer was not usable",
            "The token endpoint did not return an ID token. An admin should check the scopes (openid is required) with Test connection.",
        ),
        SsoCode::ProviderUnreachable => ("The identity provider cannot be reached", "Try again in a moment; an admin can run Test connection."),
        SsoCode::ProviderGone | SsoCode::ProviderDisabled | SsoCode::ProviderNotReady => (
            "This identity provider is not available",
            "It was disabled, deleted or never passed its checks. Choose another way to sign in.",
        ),
        SsoCode::TokenMalformed | SsoCode::TokenAlgorithm | SsoCode::TokenSignature | SsoCode::TokenUnknownKey | SsoCode::TokenIssuer
        | SsoCode::TokenAudience | SsoCode::TokenNonce | SsoCode::TokenExpired | SsoCode::TokenIatFuture | SsoCode::TokenAtHash | SsoCode::TokenInvalid => (
            "The identity provider's ID token was refused",
            "The token failed verification (signature, issuer, audience, nonce or time). Nothing was signed in. An admin will find the exact reason in the audit log.",
        ),
        SsoCode::UserinfoSubject | SsoCode::UserinfoInvalid => (
            "The identity provider's user information did not match",
            "The userinfo answer describes another person than the ID token. Nothing was signed in.",
        ),
        SsoCode::NoEmail => ("The identity provider sent no email address", "An admin should add the email scope to the provider."),
        SsoCode::EmailUnverified => (
            "Your email address is not verified at the identity provider",
            "An account with this email exists here; it is linked to a provider sign-in only when the provider says the address is verified.",
        ),
        SsoCode::LinkAdmin => (
            "An admin account with this email exists",
            "Admin accounts are never linked automatically. Sign in with the password, then link the identity provider in Settings → Your account.",
        ),
        SsoCode::IdentityTaken => ("This identity is linked to another account", "Sign in with that account instead."),
        SsoCode::AccountDisabled => ("This account is disabled", "Ask an admin to enable it."),
        SsoCode::ReturnTooLong => (
            "The page to come back to is too long",
            "The address you started from could not be kept through the sign-in. Sign in from the console's sign-in page.",
        ),
        SsoCode::Server => ("The server could not sign you in", "Details are in its log. Try again shortly."),
    })
}

/// The setup page's `?error=` codes.
pub fn setup_error(code: &str) -> Option<&'static str> {
    Some(match SetupCode::parse(code)? {
        SetupCode::BadToken => "The setup token is not right. Copy it from the log of the server's start.",
        SetupCode::AlreadyDone => "Setup is already done: an admin exists. Sign in instead.",
        SetupCode::InvalidEmail => "Enter an email address such as admin@example.com.",
        SetupCode::PasswordShort => "Use a password of at least 12 characters.",
        SetupCode::PasswordLong => "Use a password of at most 512 characters.",
        SetupCode::PasswordMismatch => "The two passwords differ.",
        SetupCode::NameLong => "Enter a name of at most 200 characters.",
        SetupCode::Server => "The server could not complete setup. Details are in its log.",
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
    fn every_code_has_its_message() {
        assert!(SsoCode::ALL.iter().all(|c| sso_error(c.as_str()).is_some()));
        assert!(SignInCode::ALL.iter().all(|c| sign_in_error(c.as_str(), None).is_some()));
        assert!(SetupCode::ALL.iter().all(|c| setup_error(c.as_str()).is_some()));
    }

    #[test]
    fn the_retry_delay_must_be_a_number() {
        assert!(sign_in_error("throttled", Some("12")).unwrap().contains("12 seconds"));
        assert!(sign_in_error("throttled", Some("call 555")).unwrap().contains("a few seconds"));
    }
}
