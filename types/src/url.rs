//! Percent-encoding for query values, one rule on both sides of the wire: everything but
//! RFC 3986's unreserved characters is encoded, so a space is `%20`. A `+` would read as a
//! space to a form decoder but as a plus to `decodeURIComponent`, which the browser side uses.

/// `a b&c` → `a%20b%26c`: safe as a query value, a path segment or a fragment.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn only_unreserved_characters_pass_unencoded() {
        assert_eq!(encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(encode("a b+c&d=e/f?g#h%"), "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25");
    }

    #[test]
    fn non_ascii_is_encoded_byte_by_byte_as_utf8() {
        assert_eq!(encode("é"), "%C3%A9");
        assert_eq!(encode(""), "");
    }
}
