//! Small helpers: Okta-style ids, timestamps, base64url, HTML escaping.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `n` random alphanumeric characters.
pub(crate) fn random_alnum<R: Rng + ?Sized>(rng: &mut R, n: usize) -> String {
    (0..n).map(|_| ALNUM[rng.gen_range(0..ALNUM.len())] as char).collect()
}

/// A 20-character Okta object id with the given 3-character prefix (`00u`, `00g`, `0oa`, …).
pub(crate) fn okta_id<R: Rng + ?Sized>(rng: &mut R, prefix: &str) -> String {
    let mut id = String::with_capacity(20);
    id.push_str(prefix);
    id.push_str(&random_alnum(rng, 20usize.saturating_sub(prefix.len())));
    id
}

/// Opaque random token material (codes, refresh tokens, nonces), base64url.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

pub(crate) fn error_id() -> String {
    format!("oae{}", random_alnum(&mut rand::thread_rng(), 22))
}

pub(crate) fn request_id() -> String {
    random_alnum(&mut rand::thread_rng(), 26)
}

pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

pub(crate) fn sha256_b64url(input: &[u8]) -> String {
    b64url(&Sha256::digest(input))
}

/// `2013-06-24T16:39:18.000Z`: Okta's timestamp format (milliseconds, `Z`).
pub(crate) fn format_ts(ms: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Parses an ISO 8601 / RFC 3339 timestamp to epoch milliseconds.
pub(crate) fn parse_ts(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The HTTP `Date` format, `Mon, 02 Jan 2006 15:04:05 GMT`, which the Okta SDKs parse for 429 back-off.
pub(crate) fn http_date(epoch_secs: i64) -> String {
    let fmt = format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    OffsetDateTime::from_unix_timestamp(epoch_secs)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 GMT".to_owned())
}

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-decodes a URL path or string (`%40` → `@`); invalid escapes are kept as-is.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Constant-time comparison for secrets.
pub(crate) fn secure_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_okta_millisecond_format_and_round_trip() {
        let ms = 1_372_091_958_000;
        assert_eq!(format_ts(ms), "2013-06-24T16:39:18.000Z");
        assert_eq!(parse_ts("2013-06-24T16:39:18.000Z"), Some(ms));
        assert_eq!(parse_ts("not a date"), None);
    }

    #[test]
    fn http_date_matches_the_format_the_sdks_parse() {
        assert_eq!(http_date(1_136_214_245), "Mon, 02 Jan 2006 15:04:05 GMT");
    }

    #[test]
    fn okta_ids_have_twenty_characters_and_the_prefix() {
        let id = okta_id(&mut rand::thread_rng(), "00u");
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("00u"));
    }

    #[test]
    fn percent_decoding_turns_escapes_into_characters() {
        assert_eq!(percent_decode("/api/v1/users/a%40b.com/groups"), "/api/v1/users/a@b.com/groups");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
