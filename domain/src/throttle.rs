//! Slows down password guessing, per account and per client address.
//!
//! Each key gets a few free failures inside a window; past that every further
//! failure doubles a wait (capped) during which attempts are refused without
//! checking the password. The state is in the database so that several
//! replicas share it.

use crate::store::{Store, StoreError, ThrottleRow};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub free_failures: i64,
    pub window_ms: i64,
    pub max_block_ms: i64,
}

/// Per account: 5 free failures in 15 minutes, then 1 s, 2 s, 4 s … up to 15 minutes.
pub const ACCOUNT: Limits = Limits { free_failures: 5, window_ms: 15 * 60_000, max_block_ms: 15 * 60_000 };
/// Per address: more room (offices share an address), the same growth.
pub const ADDRESS: Limits = Limits { free_failures: 20, window_ms: 15 * 60_000, max_block_ms: 15 * 60_000 };

pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

pub fn address_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Milliseconds left before `key` may try again; 0 when it may now.
pub async fn wait_ms(store: &Store, key: &str, now: i64) -> Result<i64, StoreError> {
    Ok(store.throttle_get(key).await?.map(|r| (r.blocked_until - now).max(0)).unwrap_or(0))
}

/// The longest window of any key: a row older than this with no block running counts as none.
const LONGEST_WINDOW_MS: i64 =
    if ACCOUNT.window_ms > ADDRESS.window_ms { ACCOUNT.window_ms } else { ADDRESS.window_ms };

/// Removes rows that no longer count (each write does it, so anonymous callers cannot grow the table without bound).
pub async fn purge(store: &Store, now: i64) -> Result<u64, StoreError> {
    store.throttle_purge(now - LONGEST_WINDOW_MS, now).await
}

/// Counts one failure and returns the new row.
pub async fn record_failure(store: &Store, key: &str, limits: Limits, now: i64) -> Result<ThrottleRow, StoreError> {
    purge(store, now).await?;
    let prev = store.throttle_get(key).await?;
    let row = next_state(prev.as_ref(), key, limits, now);
    store.throttle_put(&row).await?;
    Ok(row)
}

/// The pure step, tested on its own.
pub fn next_state(prev: Option<&ThrottleRow>, key: &str, limits: Limits, now: i64) -> ThrottleRow {
    let (failures, window_started_at) = match prev {
        // A window that ended with no block running starts afresh.
        Some(p) if now - p.window_started_at < limits.window_ms || p.blocked_until > now => {
            (p.failures + 1, p.window_started_at)
        }
        _ => (1, now),
    };
    let over = failures - limits.free_failures;
    let blocked_until = if over > 0 {
        let exp = (over - 1).min(30) as u32;
        now + (1000i64 << exp).min(limits.max_block_ms)
    } else {
        0
    };
    ThrottleRow { key: key.to_string(), failures, window_started_at, blocked_until }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits { free_failures: 3, window_ms: 60_000, max_block_ms: 8_000 };

    fn run(n: usize, now: i64) -> ThrottleRow {
        let mut row: Option<ThrottleRow> = None;
        for _ in 0..n {
            row = Some(next_state(row.as_ref(), "k", L, now));
        }
        row.unwrap()
    }

    #[test]
    fn free_failures_do_not_block() {
        assert_eq!(run(3, 1000).blocked_until, 0);
    }

    #[test]
    fn each_failure_past_the_free_ones_doubles_the_wait_up_to_the_cap() {
        assert_eq!(run(4, 0).blocked_until, 1000);
        assert_eq!(run(5, 0).blocked_until, 2000);
        assert_eq!(run(6, 0).blocked_until, 4000);
        assert_eq!(run(7, 0).blocked_until, 8000);
        assert_eq!(run(20, 0).blocked_until, 8000);
    }

    #[test]
    fn an_old_window_starts_again() {
        let old = ThrottleRow { key: "k".into(), failures: 10, window_started_at: 0, blocked_until: 0 };
        let next = next_state(Some(&old), "k", L, 120_000);
        assert_eq!(next.failures, 1);
        assert_eq!(next.blocked_until, 0);
    }

    #[tokio::test]
    async fn failures_are_counted_in_the_database() {
        let store = Store::in_memory().await.unwrap();
        for _ in 0..4 {
            record_failure(&store, "k", L, 10_000).await.unwrap();
        }
        assert_eq!(wait_ms(&store, "k", 10_500).await.unwrap(), 500);
        assert_eq!(wait_ms(&store, "k", 11_000).await.unwrap(), 0);
        store.throttle_clear("k").await.unwrap();
        assert_eq!(wait_ms(&store, "k", 10_000).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn rows_whose_window_and_block_are_over_are_purged_on_the_next_write() {
        let store = Store::in_memory().await.unwrap();
        record_failure(&store, "old", ACCOUNT, 0).await.unwrap();
        // Blocked far past its window: kept while the block runs.
        let blocked = ThrottleRow {
            key: "blocked".into(),
            failures: 99,
            window_started_at: 0,
            blocked_until: 10 * LONGEST_WINDOW_MS,
        };
        store.throttle_put(&blocked).await.unwrap();
        record_failure(&store, "new", ACCOUNT, LONGEST_WINDOW_MS + 1).await.unwrap();
        assert!(store.throttle_get("old").await.unwrap().is_none(), "an expired row is purged");
        assert!(store.throttle_get("blocked").await.unwrap().is_some(), "a running block is kept");
        assert!(store.throttle_get("new").await.unwrap().is_some());
    }
}
