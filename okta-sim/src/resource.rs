//! Access-token checks shared by `/userinfo` and the Management API: `Bearer` and `DPoP`
//! schemes, binding, `ath`, replay (okta-api.md §3.3, §3.4).

use axum::http::{header, HeaderMap, StatusCode};

use crate::dpop::{ath_of, check_proof};
use crate::state::{AccessRecord, AppState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    DPoP,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::DPoP => "DPoP",
        }
    }
}

#[derive(Debug)]
pub(crate) struct ResourceError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    pub scheme: Scheme,
}

impl ResourceError {
    fn new(status: StatusCode, error: &'static str, description: &str, scheme: Scheme) -> ResourceError {
        ResourceError { status, error, description: description.to_owned(), scheme }
    }
    pub fn invalid_token(description: &str, scheme: Scheme) -> ResourceError {
        ResourceError::new(StatusCode::UNAUTHORIZED, "invalid_token", description, scheme)
    }
}

/// `Authorization: <scheme> <credential>` split, scheme case-insensitive.
pub(crate) fn authorization(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, cred) = v.split_once(' ')?;
    Some((scheme.to_ascii_lowercase(), cred.trim().to_owned()))
}

/// Validates a `Bearer`/`DPoP` access token for a request to one of `htus` with `method`.
pub(crate) fn validate(
    st: &AppState,
    headers: &HeaderMap,
    scheme: Scheme,
    token: &str,
    method: &str,
    htus: &[String],
) -> Result<AccessRecord, ResourceError> {
    let now = st.clock.now_secs();
    let record = st.tokens().access.get(token).cloned();
    let Some(record) = record else {
        return Err(ResourceError::invalid_token("The access token is invalid.", scheme));
    };
    if record.revoked {
        return Err(ResourceError::invalid_token("The access token has been revoked.", scheme));
    }
    if record.exp <= now {
        return Err(ResourceError::invalid_token("The token has expired.", scheme));
    }
    match (scheme, &record.jkt) {
        (Scheme::Bearer, Some(_)) => Err(ResourceError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The resource request must use the DPoP authentication scheme when using a DPoP bound token.",
            Scheme::DPoP,
        )),
        (Scheme::Bearer, None) => Ok(record),
        (Scheme::DPoP, None) => {
            Err(ResourceError::invalid_token("The presented access_token is not DPoP bound.", scheme))
        }
        (Scheme::DPoP, Some(jkt)) => {
            let bad = |d: &str| ResourceError::new(StatusCode::BAD_REQUEST, "invalid_dpop_proof", d, Scheme::DPoP);
            let proof = match check_proof(headers, method, htus, now) {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Err(ResourceError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "The resource request requires a DPoP proof.",
                        Scheme::DPoP,
                    ))
                }
                Err(msg) => return Err(bad(msg)),
            };
            if proof.ath.as_deref() != Some(ath_of(token).as_str()) {
                return Err(bad("'ath' claim in the DPoP proof does not match the presented access_token."));
            }
            if proof.jkt != *jkt {
                return Err(bad("The access_token is not bound to the provided DPoP proof."));
            }
            let mut tokens = st.tokens();
            if tokens.dpop_jtis.contains_key(&proof.jti) {
                return Err(bad("The DPoP proof JWT has already been used."));
            }
            tokens.dpop_jtis.insert(proof.jti, now + 600);
            tokens.maybe_prune(now);
            Ok(record)
        }
    }
}

/// The request URL(s) a DPoP `htu` may name: the base URL and the `Host` actually used.
pub(crate) fn request_urls(st: &AppState, headers: &HeaderMap, path: &str) -> Vec<String> {
    let mut v = vec![format!("{}{path}", st.base_url)];
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        let scheme = if st.tls { "https" } else { "http" };
        v.push(format!("{scheme}://{host}{path}"));
    }
    v
}
