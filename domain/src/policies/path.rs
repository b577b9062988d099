//! Request paths as upstream servers read them.
//!
//! Routing must place a request under the application whose prefix the upstream serves it
//! from. Servers disagree on escapes, separators and dot segments, so [`canonical_path`]
//! refuses every path whose meaning depends on the reader (an encoded `/` or `\`, a `\`,
//! `;` parameters, `://`, control characters, bad or double escapes, encoded dot segments,
//! escapes that are not UTF-8) and otherwise gives one form: unreserved escapes decoded,
//! other escapes in upper case, dot segments resolved, repeated and trailing slashes
//! dropped. [`read`] gives the other readings routing checks it against.

use std::borrow::Cow;

/// Why a path is refused: servers would read it differently.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PathError {
    #[error("ambiguous path: it must start with '/'")]
    NotAbsolute,
    #[error("ambiguous path: a '#' has no place in a request")]
    Fragment,
    #[error("ambiguous path: an encoded '/' (%2F) reads differently on different servers")]
    EncodedSlash,
    #[error("ambiguous path: an encoded '\\' (%5C) reads differently on different servers")]
    EncodedBackslash,
    #[error("ambiguous path: some servers read '\\' as '/', others do not")]
    Backslash,
    #[error("ambiguous path: some servers drop a ';' parameter from a segment, others keep it")]
    PathParameter,
    #[error("ambiguous path: some servers read '://' inside a path as a new address")]
    EmbeddedUrl,
    #[error("ambiguous path: it contains a control character or NUL")]
    ControlCharacter,
    #[error("ambiguous path: a '%' is not followed by two hex digits")]
    InvalidEscape,
    #[error("ambiguous path: a double-encoded escape (%25 then hex) depends on how often a server decodes")]
    DoubleEncoding,
    #[error("ambiguous path: a '.' or '..' segment written with %2E is resolved by some servers only")]
    EncodedDotSegment,
    #[error("ambiguous path: its escapes do not decode to UTF-8 text")]
    NotUtf8,
    #[error("ambiguous path: servers disagree on which application this path belongs to")]
    Disagreement,
}

/// The path of a request target (path plus optional `?query`; the query is dropped) in
/// canonical form, or why servers would not agree on it. Borrowed when already canonical.
///
/// A trailing slash is dropped (`/admin/` → `/admin`): prefixes never end in one, so
/// routing is the same either way.
pub fn canonical_path(path_and_query: &str) -> Result<Cow<'_, str>, PathError> {
    let (path, query) = split_query(path_and_query);
    if query.contains('#') {
        return Err(PathError::Fragment);
    }
    let b = path.as_bytes();
    if b.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    // One pass: refuse, and note whether the path differs from its canonical form. Plain
    // bytes are skipped through a table: this runs for every request.
    let mut rewrite = false;
    let mut non_ascii_escape = false;
    let mut escaped_segment = false;
    let mut segment = 1;
    let mut i = 1;
    loop {
        while i < b.len() && !SPECIAL[usize::from(b[i])] {
            i += 1;
        }
        let end = i == b.len();
        if end || b[i] == b'/' {
            let s = &b[segment..i];
            match s {
                b"" => rewrite |= !end,
                b"." | b".." => rewrite = true,
                _ if escaped_segment && is_dot_segment(s) => return Err(PathError::EncodedDotSegment),
                _ => {}
            }
            if end {
                break;
            }
            if b.get(i + 1) == Some(&b'/') && after_colon(b, i) {
                return Err(PathError::EmbeddedUrl);
            }
            escaped_segment = false;
            segment = i + 1;
            i += 1;
            continue;
        }
        match b[i] {
            b'%' => {
                let v = escape(b, i).ok_or(PathError::InvalidEscape)?;
                match v {
                    b'/' => return Err(PathError::EncodedSlash),
                    b'\\' => return Err(PathError::EncodedBackslash),
                    b';' => return Err(PathError::PathParameter),
                    0..=0x1F | 0x7F => return Err(PathError::ControlCharacter),
                    b'%' if double_encoded(b, i + 3) => return Err(PathError::DoubleEncoding),
                    _ => {}
                }
                rewrite |= is_unreserved(v) || b[i + 1].is_ascii_lowercase() || b[i + 2].is_ascii_lowercase();
                non_ascii_escape |= v >= 0x80;
                escaped_segment = true;
                i += 3;
            }
            b'\\' => return Err(PathError::Backslash),
            b';' => return Err(PathError::PathParameter),
            b'#' => return Err(PathError::Fragment),
            // A C1 control (U+0080..U+009F) in UTF-8.
            0xC2 if matches!(b.get(i + 1), Some(0x80..=0x9F)) => return Err(PathError::ControlCharacter),
            0xC2 => i += 1,
            _ => return Err(PathError::ControlCharacter),
        }
    }
    if non_ascii_escape {
        let decoded = percent_encoding::percent_decode(b).collect::<Vec<u8>>();
        let text = std::str::from_utf8(&decoded).map_err(|_| PathError::NotUtf8)?;
        if text.chars().any(char::is_control) {
            return Err(PathError::ControlCharacter);
        }
    }
    if !rewrite {
        return Ok(Cow::Borrowed(match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        }));
    }
    let mut out = String::with_capacity(path.len());
    for s in path[1..].split('/') {
        match s {
            "" | "." => {}
            ".." => out.truncate(out.rfind('/').unwrap_or(0)),
            s => {
                out.push('/');
                push_normalised(&mut out, s);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// How a server resolves dot segments and repeated slashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dots {
    /// RFC 3986 §5.2.4: empty segments are kept, so `/a//..` is `/a/` (Envoy, most URL
    /// libraries).
    Rfc3986,
    /// Repeated slashes merged first, then dots resolved (nginx with `merge_slashes on`).
    MergeSlashes,
    /// Not resolved at all: `/admin/../x` is under `/admin` (Express-style routers).
    Literal,
}

impl Dots {
    pub(crate) const ALL: [Dots; 3] = [Dots::Rfc3986, Dots::MergeSlashes, Dots::Literal];
}

/// The path (no query) of a target [`canonical_path`] accepted, as a server that resolves it
/// with `dots` reads it, after percent-decoding it once when `decode` (nginx, WSGI servers)
/// or as sent (Envoy, Express). Trailing slashes may differ from server to server; routing
/// does not depend on them.
pub(crate) fn read(path_and_query: &str, dots: Dots, decode: bool) -> Cow<'_, str> {
    let path = split_query(path_and_query).0;
    let path =
        if decode { percent_encoding::percent_decode_str(path).decode_utf8_lossy() } else { Cow::Borrowed(path) };
    match dots {
        Dots::Literal => path,
        Dots::Rfc3986 => Cow::Owned(resolve(&path, true)),
        Dots::MergeSlashes => Cow::Owned(resolve(&path, false)),
    }
}

fn resolve(path: &str, keep_empty: bool) -> String {
    let mut out: Vec<&str> = Vec::new();
    for s in path.split('/').skip(1) {
        match s {
            "." => {}
            ".." => {
                out.pop();
            }
            "" if !keep_empty => {}
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Bytes the scan in [`canonical_path`] stops at.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[0x7F] = true;
    t[0xC2] = true;
    t[b'/' as usize] = true;
    t[b'%' as usize] = true;
    t[b'\\' as usize] = true;
    t[b';' as usize] = true;
    t[b'#' as usize] = true;
    t
};

/// Whether a ':' (raw or `%3A`) ends right before `i`.
fn after_colon(b: &[u8], i: usize) -> bool {
    b[i - 1] == b':' || (i >= 4 && b[i - 3] == b'%' && b[i - 2] == b'3' && b[i - 1] | 0x20 == b'a')
}

pub(crate) fn split_query(target: &str) -> (&str, &str) {
    target.split_at(target.find('?').unwrap_or(target.len()))
}

fn escape(b: &[u8], i: usize) -> Option<u8> {
    let hex = |c: u8| (c as char).to_digit(16);
    let hi = hex(*b.get(i + 1)?)?;
    let lo = hex(*b.get(i + 2)?)?;
    Some((hi * 16 + lo) as u8)
}

/// Whether the two characters at `i` (raw or escaped) are hex digits: then a `%25` before
/// them decodes to another escape.
fn double_encoded(b: &[u8], i: usize) -> bool {
    let unit = |k: usize| match *b.get(k)? {
        b'%' => escape(b, k).map(|v| (v, 3)),
        c => Some((c, 1)),
    };
    matches!(unit(i), Some((x, n)) if x.is_ascii_hexdigit()
        && matches!(unit(i + n), Some((y, _)) if y.is_ascii_hexdigit()))
}

/// `.` or `..`, each dot raw or `%2E`.
fn is_dot_segment(s: &[u8]) -> bool {
    let (mut dots, mut i) = (0, 0);
    while i < s.len() {
        if s[i] == b'.' {
            i += 1;
        } else if s[i..].len() >= 3 && s[i] == b'%' && s[i + 1] == b'2' && s[i + 2] | 0x20 == b'e' {
            i += 3;
        } else {
            return false;
        }
        dots += 1;
    }
    (1..=2).contains(&dots)
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// A segment with unreserved escapes decoded and the others in upper case.
fn push_normalised(out: &mut String, s: &str) {
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        out.push_str(&s[start..i]);
        // Accepted paths only have valid escapes.
        let v = escape(b, i).unwrap_or(b'%');
        if is_unreserved(v) {
            out.push(v as char);
        } else {
            out.push('%');
            out.push(b[i + 1].to_ascii_uppercase() as char);
            out.push(b[i + 2].to_ascii_uppercase() as char);
        }
        i += 3;
        start = i;
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &str) -> PathError {
        canonical_path(path).expect_err(path)
    }

    #[test]
    fn every_refusal_says_the_path_is_ambiguous() {
        for e in [PathError::NotAbsolute, PathError::EncodedSlash, PathError::DoubleEncoding, PathError::Disagreement] {
            assert!(e.to_string().starts_with("ambiguous path: "), "{e}");
        }
    }

    #[test]
    fn a_target_must_be_an_absolute_path_without_fragment() {
        assert_eq!(refused(""), PathError::NotAbsolute);
        assert_eq!(refused("admin"), PathError::NotAbsolute);
        assert_eq!(refused("?x=1"), PathError::NotAbsolute);
        assert_eq!(refused("https://example.com/admin"), PathError::NotAbsolute);
        assert_eq!(refused("*"), PathError::NotAbsolute);
        assert_eq!(refused("/admin#x"), PathError::Fragment);
        assert_eq!(refused("/admin?x#y"), PathError::Fragment);
    }

    #[test]
    fn encoded_separators_are_refused_in_either_case() {
        for p in ["/a%2Fb", "/a%2fb", "/admin/x/..%2F..%2Fpublic"] {
            assert_eq!(refused(p), PathError::EncodedSlash, "{p}");
        }
        for p in ["/a%5Cb", "/a%5cb", "/admin/x%5C..%5C..%5Cpublic"] {
            assert_eq!(refused(p), PathError::EncodedBackslash, "{p}");
        }
        assert_eq!(refused("/a\\b"), PathError::Backslash);
        assert_eq!(refused("\\admin"), PathError::NotAbsolute);
    }

    #[test]
    fn path_parameters_are_refused_raw_or_encoded() {
        assert_eq!(refused("/admin;x/users"), PathError::PathParameter);
        assert_eq!(refused("/admin/..;/public"), PathError::PathParameter);
        assert_eq!(refused("/admin%3bx"), PathError::PathParameter);
        assert_eq!(refused("/admin%3Bx"), PathError::PathParameter);
    }

    #[test]
    fn an_address_inside_the_path_is_refused() {
        assert_eq!(refused("/admin/x://y/public"), PathError::EmbeddedUrl);
        assert_eq!(refused("/x%3A//y"), PathError::EmbeddedUrl);
        assert_eq!(refused("/x%3a//y"), PathError::EmbeddedUrl);
        assert!(canonical_path("/x:/y").is_ok());
        assert!(canonical_path("/x:y//z").is_ok());
    }

    #[test]
    fn control_characters_are_refused_raw_or_encoded() {
        for p in ["/a\0b", "/a\nb", "/a\x7fb", "/a\u{85}b", "/a%00b", "/a%0Ab", "/a%0d", "/a%1F", "/a%7f", "/a%C2%85"] {
            assert_eq!(refused(p), PathError::ControlCharacter, "{p:?}");
        }
    }

    #[test]
    fn bad_escapes_are_refused() {
        for p in ["/a%zz", "/a%", "/a%4", "/a%4/b", "/%%41"] {
            assert_eq!(refused(p), PathError::InvalidEscape, "{p}");
        }
        for p in ["/a%2561", "/a%252F", "/a%25%32%46", "/a%2525"] {
            assert_eq!(refused(p), PathError::DoubleEncoding, "{p}");
        }
        // A literal '%' that decodes to nothing further.
        assert_eq!(canonical_path("/100%25").unwrap(), "/100%25");
        assert_eq!(canonical_path("/100%25zz").unwrap(), "/100%25zz");
        assert_eq!(refused("/a%FF"), PathError::NotUtf8);
        assert_eq!(refused("/a%C0%AE"), PathError::NotUtf8);
    }

    #[test]
    fn encoded_dot_segments_are_refused() {
        for p in ["/%2e", "/%2E%2E/admin", "/a/.%2e/b", "/a/%2e./b", "/a/%2e"] {
            assert_eq!(refused(p), PathError::EncodedDotSegment, "{p}");
        }
        assert_eq!(canonical_path("/a/%2Ex").unwrap(), "/a/.x");
        assert_eq!(canonical_path("/a/%2E%2E%2E").unwrap(), "/a/...");
    }

    #[test]
    fn the_canonical_form_resolves_dots_and_slashes_and_drops_the_query() {
        for (p, want) in [
            ("/", "/"),
            ("/?x", "/"),
            ("/admin/users?x=1", "/admin/users"),
            ("/admin/", "/admin"),
            ("//admin//x/", "/admin/x"),
            ("/./admin/.", "/admin"),
            ("/public/../admin", "/admin"),
            ("/../../", "/"),
            ("/a/b/../../..", "/"),
            ("/%61dmin", "/admin"),
            ("/%7e%2D", "/~-"),
            ("/a%20b", "/a%20b"),
            ("/a%3f%c3%a9", "/a%3F%C3%A9"),
            ("/caf\u{e9}", "/caf\u{e9}"),
        ] {
            assert_eq!(canonical_path(p).as_deref(), Ok(want), "{p}");
        }
    }

    #[test]
    fn a_canonical_path_is_borrowed() {
        for p in ["/", "/admin", "/admin/users?x=1", "/admin/", "/a%20b", "/A/b.c"] {
            assert!(matches!(canonical_path(p), Ok(Cow::Borrowed(_))), "{p}");
        }
        assert!(matches!(canonical_path("/a//b"), Ok(Cow::Owned(_))));
    }

    #[test]
    fn readers_resolve_dots_and_slashes_their_own_way() {
        let r = |p, dots, decode| read(p, dots, decode).into_owned();
        assert_eq!(r("/admin//../public?x", Dots::Rfc3986, false), "/admin/public");
        assert_eq!(r("/admin//../public", Dots::MergeSlashes, false), "/public");
        assert_eq!(r("/admin/../public", Dots::Literal, false), "/admin/../public");
        assert_eq!(r("/%61/x/..", Dots::MergeSlashes, true), "/a");
        assert_eq!(r("/%61/x/..", Dots::Literal, false), "/%61/x/..");
    }
}
