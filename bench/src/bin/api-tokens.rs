//! Checking an API token, which every `/api/v1` request does first: a valid token (checksum,
//! SHA-256, one lookup by the unique hash index, the at-most-once-a-minute last-use write), an
//! unknown one (the same lookup, then a refusal that the audit limiter mostly counts), a
//! malformed one (no lookup), each beside its floor: one `SELECT 1` through the same pool.
//!
//! ```sh
//! cargo run --release -p portcullis-bench --bin api-tokens
//! cargo run --release -p portcullis-bench --bin api-tokens -- --tokens 10000 --calls 20000
//! ```

use std::time::Instant;

use portcullis_domain::{
    api_tokens::{generate, ApiTokens, NewToken},
    audit::{Actor, Caller},
    Role, Store,
};

const USAGE: &str = "api-tokens [--tokens N] [--calls N] [--out FILE]";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut tokens, mut calls, mut out) = (10_000usize, 20_000usize, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--tokens", Some(v)) => tokens = v.parse().unwrap_or(tokens),
            ("--calls", Some(v)) => calls = v.parse().unwrap_or(calls).max(1),
            ("--out", Some(v)) => out = Some(v.clone()),
            _ => {
                eprintln!("usage: {USAGE}");
                std::process::exit(2);
            }
        }
    }
    match run(tokens, calls).await {
        Ok(report) => {
            print!("{report}");
            if let Some(path) = out {
                if let Err(e) = std::fs::write(&path, &report) {
                    eprintln!("could not write {path}: {e}");
                }
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

/// Median and 99th percentile of `calls` sequential calls, in microseconds.
async fn measure<F, Fut>(calls: usize, mut f: F) -> Result<(f64, f64), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        f().await?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times[calls / 2], times[(calls * 99 / 100).min(calls - 1)]))
}

async fn run(count: usize, calls: usize) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::open(&url).await.map_err(|e| e.to_string())?;
    let tokens = ApiTokens::new(store.clone());
    let admin = Caller { actor: Actor::CommandLine, role: Role::Admin, ip: None };
    let mut valid = String::new();
    for i in 0..count.max(1) {
        let new = NewToken { name: format!("token {i}"), role: Some(Role::Viewer), ..NewToken::default() };
        valid = tokens.create(&admin, new).await.map_err(|e| e.to_string())?.0;
    }
    let unknown = generate();
    let ip = Some("192.0.2.10");
    let floor = measure(calls, || async { store.ping().await.map_err(|e| e.to_string()) }).await?;
    let ok = measure(calls, || async {
        match tokens.authenticate(&valid, ip).await {
            Ok(Ok(_)) => Ok(()),
            other => Err(format!("the valid token was refused: {other:?}")),
        }
    })
    .await?;
    let refused = measure(calls, || async {
        match tokens.authenticate(&unknown, ip).await {
            Ok(Err(_)) => Ok(()),
            other => Err(format!("the unknown token was not refused: {other:?}")),
        }
    })
    .await?;
    let malformed = measure(calls, || async {
        match tokens.authenticate("pcat_not-a-token", ip).await {
            Ok(Err(_)) => Ok(()),
            other => Err(format!("the malformed token was not refused: {other:?}")),
        }
    })
    .await?;
    let mut report = format!(
        "{count} tokens stored, {calls} sequential calls each (SQLite file, WAL)\n\n| what | median µs | p99 µs |\n|---|---:|---:|\n"
    );
    for (what, (median, p99)) in [
        ("floor: `SELECT 1` through the pool", floor),
        ("a valid token", ok),
        ("an unknown token (refused, audit limited)", refused),
        ("a malformed token (no lookup)", malformed),
    ] {
        report.push_str(&format!("| {what} | {median:.1} | {p99:.1} |\n"));
    }
    Ok(report)
}
