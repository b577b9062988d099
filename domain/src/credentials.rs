//! What makes a credential acceptable, and how one is kept out of sight: email and password
//! rules for console accounts and settings alike, and the redaction of credentials in URLs.
//! A leaf: settings, the store and accounts all use it, so it uses none of them.

/// What a person typed was not acceptable. Each message says what to change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    #[error("Enter an email address such as admin@example.com.")]
    InvalidEmail,
    #[error("Use a password of at least {MIN_PASSWORD_CHARS} characters.")]
    PasswordTooShort,
    #[error("Use a password of at most {MAX_PASSWORD_CHARS} characters.")]
    PasswordTooLong,
    #[error("The two passwords differ.")]
    PasswordMismatch,
    #[error("Enter a name of at most 200 characters.")]
    NameTooLong,
}

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 512;

/// The longest email address (RFC 5321 path limit): longer input is never stored or keyed on.
pub const MAX_EMAIL_LEN: usize = 254;

/// Case folding for email comparison that cannot turn one address into another: only ASCII
/// letters are lower-cased; every other character stays as it is (full Unicode lower-casing
/// maps the Kelvin sign U+212A to 'k', so "\u{212A}im@corp.com" would become "kim@corp.com").
pub fn fold_email(input: &str) -> String {
    input.trim().to_ascii_lowercase()
}

/// Lower-cases and checks the shape of an email address.
pub fn normalize_email(input: &str) -> Result<String, InputError> {
    let email = fold_email(input);
    let (local, domain) = email.split_once('@').ok_or(InputError::InvalidEmail)?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(email)
    } else {
        Err(InputError::InvalidEmail)
    }
}

pub fn check_password_strength(password: &str) -> Result<(), InputError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Err(InputError::PasswordTooShort)
    } else if n > MAX_PASSWORD_CHARS {
        Err(InputError::PasswordTooLong)
    } else {
        Ok(())
    }
}

/// Written where a credential was.
const REDACTED: &str = "****";

/// Query parameters whose values are credentials, in the spellings database drivers use.
fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token"].iter().any(|s| n.contains(s))
        || matches!(n.as_str(), "pwd" | "pass" | "key")
}

/// `url` fit to show: the password of its user part (`user:password@`) and the values of
/// credential query parameters (`password=`, …) become `****`; the rest stays as typed. Plain
/// text, not a URL parser, so that a malformed URL is redacted too; when in doubt it redacts more.
pub fn redact_url_credentials(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let rest = match url.split_once("://") {
        Some((scheme, rest)) => {
            out.push_str(scheme);
            out.push_str("://");
            // The last '@' ends the user part: a password may itself hold '@', '/', '?' or '#'.
            match rest.rsplit_once('@') {
                Some((userinfo, after)) if userinfo.contains(':') => {
                    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                    out.push_str(user);
                    out.push(':');
                    out.push_str(REDACTED);
                    out.push('@');
                    after
                }
                _ => rest,
            }
        }
        None => url,
    };
    match rest.split_once('?') {
        None => out.push_str(rest),
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if is_secret_param(name) => format!("{name}={REDACTED}"),
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
    }
    out
}
