//! DPoP proof checks with Okta's error texts (okta-api.md §3.4).

use axum::http::HeaderMap;
use serde_json::Value;

use crate::keys::{asymmetric_alg, jwk_thumbprint, ParsedJwt};
use crate::util::{percent_decode, sha256_b64url};

pub(crate) const DPOP_ALGS: &str = "RS256 RS384 RS512 ES256 ES384 ES512";

#[derive(Debug, Clone)]
pub(crate) struct Proof {
    pub jkt: String,
    pub jti: String,
    pub nonce: Option<String>,
    pub ath: Option<String>,
}

/// `htu` without query and fragment, percent-decoded (Okta compares decoded paths).
fn normalise_htu(htu: &str) -> String {
    let cut = htu.find(['?', '#']).map_or(htu, |i| &htu[..i]);
    percent_decode(cut)
}

/// Checks the `DPoP` header against the request. `Ok(None)` when there is no proof.
/// `expected_htus` are the URLs this endpoint may be called as (query stripped).
/// Errors are the `error_description` of a 400 `invalid_dpop_proof`.
pub(crate) fn check_proof(
    headers: &HeaderMap,
    method: &str,
    expected_htus: &[String],
    now_secs: i64,
) -> Result<Option<Proof>, &'static str> {
    let mut values = headers.get_all("dpop").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("Multiple DPoP proof JWT headers are not allowed.");
    }
    let raw = first.to_str().map_err(|_| "The DPoP proof JWT cannot be parsed.")?;
    let jwt = ParsedJwt::parse(raw.trim()).ok_or("The DPoP proof JWT cannot be parsed.")?;
    if jwt.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err("'typ' must be 'dpop+jwt' in the DPoP proof JWT.");
    }
    let alg = jwt.alg().and_then(asymmetric_alg).ok_or("The DPoP proof JWT signature algorithm is invalid.")?;
    let jwk = jwt.header.get("jwk").filter(|j| j.is_object()).ok_or("The DPoP proof JWT cannot be parsed.")?;
    if jwk.get("d").is_some() {
        // A private key in the header is a parse failure, not a usable key.
        return Err("The DPoP proof JWT cannot be parsed.");
    }
    let jkt = jwk_thumbprint(jwk).ok_or("The DPoP proof JWT cannot be parsed.")?;
    if !jwt.verify_with_jwk(alg, jwk) {
        return Err("The DPoP proof JWT signature is invalid.");
    }
    if jwt.claim_str("htm") != Some(method) {
        return Err("'htm' claim in the DPoP proof JWT is invalid.");
    }
    let htu = jwt.claim_str("htu").map(normalise_htu).ok_or("'htu' claim in the DPoP proof JWT is invalid.")?;
    if !expected_htus.iter().any(|e| normalise_htu(e) == htu) {
        return Err("'htu' claim in the DPoP proof JWT is invalid.");
    }
    let iat = jwt.claim_num("iat").ok_or("'iat' claim in the DPoP proof JWT is invalid.")?;
    if iat > now_secs + 60 {
        return Err("The DPoP proof JWT is issued in the future.");
    }
    if iat < now_secs - 300 {
        return Err("The DPoP proof JWT is issued more than five minutes in the past.");
    }
    let jti = jwt
        .claim_str("jti")
        .filter(|j| !j.is_empty())
        .ok_or("'jti' claim in the DPoP proof JWT is invalid.")?
        .to_owned();
    Ok(Some(Proof {
        jkt,
        jti,
        nonce: jwt.claim_str("nonce").map(str::to_owned),
        ath: jwt.claim_str("ath").map(str::to_owned),
    }))
}

/// `ath`: base64url(SHA-256(access token)).
pub(crate) fn ath_of(token: &str) -> String {
    sha256_b64url(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::DpopKey;
    use axum::http::HeaderValue;

    fn headers(proof: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("dpop", HeaderValue::from_str(proof).unwrap());
        h
    }

    fn now() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    }

    #[test]
    fn a_good_proof_yields_the_key_thumbprint() {
        let key = DpopKey::generate();
        let url = "http://127.0.0.1:1/oauth2/v1/token";
        let p = check_proof(&headers(&key.proof("POST", url, Some("n1"), None)), "POST", &[url.into()], now())
            .unwrap()
            .unwrap();
        assert_eq!(p.jkt, key.thumbprint());
        assert_eq!(p.nonce.as_deref(), Some("n1"));
    }

    #[test]
    fn htu_is_compared_after_percent_decoding_and_without_query() {
        let key = DpopKey::generate();
        let proof = key.proof("GET", "http://h/api/v1/users/a%40b.com/groups?limit=2", None, None);
        let ok = check_proof(&headers(&proof), "GET", &["http://h/api/v1/users/a@b.com/groups".into()], now());
        assert!(ok.unwrap().is_some());
        let bad = check_proof(&headers(&proof), "GET", &["http://h/api/v1/users".into()], now());
        assert_eq!(bad.unwrap_err(), "'htu' claim in the DPoP proof JWT is invalid.");
    }

    #[test]
    fn wrong_method_and_missing_header_are_reported() {
        let key = DpopKey::generate();
        let proof = key.proof("GET", "http://h/x", None, None);
        assert_eq!(
            check_proof(&headers(&proof), "POST", &["http://h/x".into()], now()).unwrap_err(),
            "'htm' claim in the DPoP proof JWT is invalid."
        );
        assert!(check_proof(&HeaderMap::new(), "POST", &[], now()).unwrap().is_none());
        assert_eq!(
            check_proof(&headers("not-a-jwt"), "POST", &[], now()).unwrap_err(),
            "The DPoP proof JWT cannot be parsed."
        );
    }

    #[test]
    fn an_old_proof_is_refused() {
        let key = DpopKey::generate();
        let proof = key.proof_at("GET", "http://h/x", None, None, now() - 301);
        assert_eq!(
            check_proof(&headers(&proof), "GET", &["http://h/x".into()], now()).unwrap_err(),
            "The DPoP proof JWT is issued more than five minutes in the past."
        );
    }
}
