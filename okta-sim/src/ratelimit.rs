//! Per-bucket, per-minute rate limits with Okta's headers (okta-api.md §5). A window opens
//! with a bucket's first request and lasts 60 s; it is not aligned to wall-clock minutes.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub(crate) struct RateLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

struct Window {
    start_ms: i64,
    count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// UTC epoch seconds at which the window resets.
    pub reset: i64,
}

const WINDOW_MS: i64 = 60_000;

impl RateLimiter {
    pub fn check(&self, bucket: &str, limit: u32, now_ms: i64) -> Decision {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let w = windows.entry(bucket.to_owned()).or_insert(Window { start_ms: now_ms, count: 0 });
        if now_ms >= w.start_ms + WINDOW_MS || now_ms < w.start_ms {
            *w = Window { start_ms: now_ms, count: 0 };
        }
        let reset = (w.start_ms + WINDOW_MS + 999).div_euclid(1000);
        if w.count >= limit {
            return Decision { allowed: false, limit, remaining: 0, reset };
        }
        w.count += 1;
        Decision { allowed: true, limit, remaining: limit - w.count, reset }
    }

    pub fn reset(&self) {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The bucket a request counts against: `"METHOD template"`, or `None` for unlimited paths
/// (discovery and `/keys` are exempt; the control endpoint is not Okta's).
pub(crate) fn bucket_for(method: &str, path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let template = match segs.as_slice() {
        ["api", "v1", "users"] => "/api/v1/users".to_owned(),
        ["api", "v1", "users", _] => "/api/v1/users/{id}".to_owned(),
        ["api", "v1", "groups", _] => "/api/v1/groups/{id}".to_owned(),
        ["api", "v1", "groups", ..] => "/api/v1/groups".to_owned(),
        ["api", "v1", "apps", ..] => "/api/v1/apps".to_owned(),
        ["api", "v1", ..] => "/api/v1".to_owned(),
        ["oauth2", "v1", ep] if !matches!(*ep, "keys") => format!("/oauth2/v1/{ep}"),
        ["oauth2", _, "v1", ep] if !matches!(*ep, "keys") => format!("/oauth2/{{authServerId}}/v1/{ep}"),
        _ => return None,
    };
    Some((method.to_owned(), template))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_runs_out_and_comes_back_after_the_window() {
        let rl = RateLimiter::default();
        let a = rl.check("b", 2, 1_000);
        assert_eq!((a.allowed, a.remaining, a.reset), (true, 1, 61));
        assert!(rl.check("b", 2, 2_000).allowed);
        let c = rl.check("b", 2, 3_000);
        assert_eq!((c.allowed, c.remaining), (false, 0));
        assert!(rl.check("other", 2, 3_000).allowed);
        assert!(rl.check("b", 2, 61_000).allowed);
    }

    #[test]
    fn buckets_follow_okta_paths_and_exempt_metadata() {
        assert_eq!(bucket_for("GET", "/api/v1/users").unwrap().1, "/api/v1/users");
        assert_eq!(bucket_for("GET", "/api/v1/users/00u1").unwrap().1, "/api/v1/users/{id}");
        assert_eq!(bucket_for("GET", "/api/v1/users/00u1/groups").unwrap().1, "/api/v1");
        assert_eq!(bucket_for("GET", "/api/v1/groups/00g1/users").unwrap().1, "/api/v1/groups");
        assert_eq!(bucket_for("GET", "/api/v1/groups/00g1").unwrap().1, "/api/v1/groups/{id}");
        assert_eq!(bucket_for("POST", "/oauth2/v1/token").unwrap().1, "/oauth2/v1/token");
        assert!(bucket_for("GET", "/oauth2/v1/keys").is_none());
        assert!(bucket_for("GET", "/oauth2/default/v1/keys").is_none());
        assert!(bucket_for("GET", "/.well-known/openid-configuration").is_none());
        assert!(bucket_for("GET", "/oauth2/default/.well-known/openid-configuration").is_none());
        assert!(bucket_for("POST", "/__sim/control").is_none());
    }
}
