//! The audit log's read paths on a large log: the Overview's 24-hour counts, the first page
//! with each filter, and an export, each beside its floor (the unfiltered first page, which
//! reads 51 rows from the primary key).
//!
//! ```sh
//! cargo run --release -p portcullis-bench --bin audit-log
//! cargo run --release -p portcullis-bench --bin audit-log -- --sizes 100000,1000000 --repeat 5
//! ```
//!
//! Rows are spread over 90 days (newest now), 1,000 actors, 5,000 targets, mostly access
//! decisions as a busy console's log is.

use std::time::{Duration, Instant};

use portcullis_domain::{
    audit::{Action, Audit, AuditFilter},
    overview::OverviewService,
    store::{new_id, now_ms, AuditRecord, Store},
};
use rand::{rngs::StdRng, Rng, SeedableRng};

const USAGE: &str = "audit-log [--sizes 100000,1000000] [--repeat N] [--out FILE]";
const DAY_MS: i64 = 86_400_000;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut sizes = vec![100_000usize, 1_000_000];
    let mut repeat = 5usize;
    let mut out = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = it.next();
        match (a.as_str(), value) {
            ("--sizes", Some(v)) => sizes = v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
            ("--repeat", Some(v)) => repeat = v.parse().unwrap_or(5).max(1),
            ("--out", Some(v)) => out = Some(v.clone()),
            _ => {
                eprintln!("usage: {USAGE}");
                std::process::exit(2);
            }
        }
    }
    let mut report = String::from("| rows | what | median | rows returned |\n|---:|---|---:|---:|\n");
    for size in sizes {
        match run(size, repeat).await {
            Ok(lines) => report.push_str(&lines),
            Err(e) => {
                eprintln!("{size} rows: {e}");
                std::process::exit(1);
            }
        }
    }
    print!("{report}");
    if let Some(path) = out {
        if let Err(e) = std::fs::write(&path, &report) {
            eprintln!("could not write {path}: {e}");
        }
    }
}

async fn run(size: usize, repeat: usize) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("bench.db");
    let store = Store::open(&format!("sqlite://{}", db.display())).await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    fill(&store, size).await?;
    eprintln!("{size} rows written in {:.1} s", started.elapsed().as_secs_f64());

    let audit = Audit::new(store.clone());
    let overview = OverviewService::new(store.clone());
    let cases: Vec<(&str, AuditFilter)> = vec![
        ("first page, no filter (floor)", AuditFilter::default()),
        ("first page, one action", AuditFilter { action: Some("auth.sign_in".into()), ..Default::default() }),
        ("first page, who contains (common)", AuditFilter { actor: Some("user-1".into()), ..Default::default() }),
        (
            "first page, who contains (no match)",
            AuditFilter { actor: Some("nobody-at-all".into()), ..Default::default() },
        ),
        (
            "first page, target contains (rare)",
            AuditFilter { target: Some("target-4999.".into()), ..Default::default() },
        ),
        (
            "first page, 30 days ago to 29 days ago",
            AuditFilter { from: Some(day(30)), to: Some(day(30)), ..Default::default() },
        ),
    ];
    let mut lines = String::new();
    for (name, f) in &cases {
        let (median, rows) = time(repeat, || async {
            audit.page(f, None, 50).await.map(|p| p.records.len()).map_err(|e| e.to_string())
        })
        .await?;
        lines.push_str(&format!("| {size} | {name} | {} | {rows} |\n", ms(median)));
    }
    let (median, _) = time(repeat, || async { overview.get().await.map(|_| 0).map_err(|e| e.to_string()) }).await?;
    lines.push_str(&format!("| {size} | Overview (its two 24-hour counts and the rest) | {} | – |\n", ms(median)));
    let export = AuditFilter { action: Some("auth.sign_in_failed".into()), ..Default::default() };
    let (median, rows) = time(repeat.min(3), || async {
        let e = audit.export(&export).await.map_err(|e| e.to_string())?;
        Ok(e.to_csv().len().min(1) * e.records.len())
    })
    .await?;
    lines.push_str(&format!("| {size} | export CSV, one action (all its rows) | {} | {rows} |\n", ms(median)));
    Ok(lines)
}

/// `YYYY-MM-DD` of `days` ago, UTC.
fn day(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    t.date().to_string()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn time<F, Fut>(repeat: usize, f: F) -> Result<(Duration, usize), String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<usize, String>>,
{
    let mut times = Vec::with_capacity(repeat);
    let mut rows = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        rows = f().await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok((times[times.len() / 2], rows))
}

/// `size` rows, oldest first (ids are time-ordered), as the console writes them.
async fn fill(store: &Store, size: usize) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(1);
    let now = now_ms();
    let weighted = [
        (Action::AccessAllowed, 60),
        (Action::AccessBlocked, 15),
        (Action::SignIn, 10),
        (Action::SignInFailed, 5),
        (Action::SyncSucceeded, 3),
        (Action::DirectoryUsersUpdated, 3),
        (Action::PolicyUpdated, 2),
        (Action::SignOut, 2),
    ];
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..size {
        let mut pick = rng.gen_range(0..total);
        let action = weighted
            .iter()
            .find(|(_, w)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map_or(Action::AccessAllowed, |(a, _)| *a);
        let at = now - 90 * DAY_MS + (i as i64 * 90 * DAY_MS) / size as i64;
        batch.push(AuditRecord {
            id: new_id(),
            at,
            actor_id: None,
            actor: format!("user-{}@example.com", rng.gen_range(0..1000)),
            action: action.as_str().into(),
            target: Some(format!("target-{}.example.com", rng.gen_range(0..5000))),
            outcome: "success".into(),
            ip: Some("192.0.2.1".into()),
            details: r#"{"path":"/","reason":"matched policy Engineers"}"#.into(),
        });
        if batch.len() == 1000 {
            store.insert_audit_batch(&batch).await.map_err(|e| e.to_string())?;
            batch.clear();
        }
    }
    store.insert_audit_batch(&batch).await.map_err(|e| e.to_string())
}
