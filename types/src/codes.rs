//! The short codes that travel in redirect URLs (`/login?error=`, `/setup?error=`,
//! `/auth/error?code=`). Codes, not text, so nobody can craft a link that makes the console
//! show words of their choosing; enums, so a new code is one variant and the compiler points
//! at the message it still lacks.

/// A closed set of URL codes: each variant with the exact string it travels as.
macro_rules! codes {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// `None` for a string that is not a code: a hand-made link shows nothing.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Tests and logs compare with the string a URL carries.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

codes! {
    /// Why the password sign-in form came back: `/login?error=`.
    SignInCode {
        Invalid = "invalid",
        Throttled = "throttled",
        Disabled = "disabled",
        /// The session ended, or a step needed one (a test sign-in, linking).
        Expired = "expired",
        /// A cross-site form post was refused.
        Forbidden = "forbidden",
        Server = "server",
        LocalRestricted = "local_restricted",
    }
}

codes! {
    /// Why first-run setup came back: `/setup?error=`.
    SetupCode {
        BadToken = "bad_token",
        AlreadyDone = "already_done",
        InvalidEmail = "invalid_email",
        PasswordShort = "password_short",
        PasswordLong = "password_long",
        PasswordMismatch = "password_mismatch",
        NameLong = "name_long",
        Server = "server",
    }
}

codes! {
    /// Why a sign-in with an identity provider ended without a session: `/auth/error?code=`.
    SsoCode {
        NoRole = "no_role",
        AccessDenied = "access_denied",
        LoginRequired = "login_required",
        ProviderError = "provider_error",
        StateMissing = "state_missing",
        StateInvalid = "state_invalid",
        StateExpired = "state_expired",
        BrowserMismatch = "browser_mismatch",
        IssuerMismatch = "issuer_mismatch",
        CodeMissing = "code_missing",
        CodeRejected = "code_rejected",
        ClientRejected = "client_rejected",
        TokenError = "token_error",
        NoIdToken = "no_id_token",
        ProviderUnreachable = "provider_unreachable",
        ProviderGone = "provider_gone",
        ProviderDisabled = "provider_disabled",
        ProviderNotReady = "provider_not_ready",
        /// The page to come back to after signing in was too long to keep.
        ReturnTooLong = "return_too_long",
        TokenMalformed = "token_malformed",
        TokenAlgorithm = "token_algorithm",
        TokenSignature = "token_signature",
        TokenUnknownKey = "token_unknown_key",
        TokenIssuer = "token_issuer",
        TokenAudience = "token_audience",
        TokenNonce = "token_nonce",
        TokenExpired = "token_expired",
        TokenIatFuture = "token_iat_future",
        TokenAtHash = "token_at_hash",
        TokenInvalid = "token_invalid",
        UserinfoSubject = "userinfo_subject",
        UserinfoInvalid = "userinfo_invalid",
        NoEmail = "no_email",
        EmailUnverified = "email_unverified",
        LinkAdmin = "link_admin",
        IdentityTaken = "identity_taken",
        AccountDisabled = "account_disabled",
        Server = "server",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_from_its_string_and_serializes_as_it() {
        for c in SsoCode::ALL {
            assert_eq!(SsoCode::parse(c.as_str()), Some(*c));
            assert_eq!(serde_json::to_value(c).ok(), Some(serde_json::Value::from(c.as_str())));
        }
        for c in SignInCode::ALL {
            assert_eq!(SignInCode::parse(c.as_str()), Some(*c));
        }
        for c in SetupCode::ALL {
            assert_eq!(SetupCode::parse(c.as_str()), Some(*c));
        }
    }

    #[test]
    fn strings_that_are_not_codes_are_none() {
        assert_eq!(SsoCode::parse("<b>hi</b>"), None);
        assert_eq!(SignInCode::parse("No_role"), None);
        assert_eq!(SetupCode::parse(""), None);
    }
}
