//! Directory sync benchmark against the Okta simulator.
//!
//! ```sh
//! cargo run --release -p portcullis-domain --features bench --bin bench
//! cargo run --release -p portcullis-domain --features bench --bin bench -- --sizes 10000x500 --latency-ms 20
//! ```
//!
//! For each org size it starts the simulator in a child process (its memory is not ours),
//! then runs each measurement in a fresh child process so peak RSS (VmHWM) is that run's:
//! the floor (the same pages downloaded by a bare HTTP loop, sequential and with the
//! sync's concurrency), a full sync into an empty SQLite file, a full sync with nothing
//! changed, and an incremental sync after 1 % of the users changed.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Read, Write},
    process::{Command, Stdio},
    sync::Mutex,
    time::Instant,
};

use portcullis_domain::{
    crypto::SecretBox,
    outbound::{parse_allow_list, Outbound, OutboundConfig},
    providers::service::secret_context,
    store::{now_ms, ProviderRow, Store},
    sync::{RunKind, SyncService, Trigger},
};
use serde_json::{json, Value};

const PROVIDER_ID: &str = "bench-provider";
const SEED: u64 = 1;
const USAGE: &str = "bench [--sizes 10000x500,100000x5000] [--latency-ms N] [--out FILE]";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("__sim") => serve_sim(&args[1..]).await,
        Some("__floor") => floor(&args[1..]).await,
        Some("__sync") => sync(&args[1..]).await,
        _ => orchestrate(&args).await,
    };
    if let Err(e) = result {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, String> {
    args.get(i).and_then(|a| a.parse().ok()).ok_or_else(|| format!("missing or bad {what}"))
}

/// Peak resident set size of this process, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

// ---------- the simulator child ----------

async fn serve_sim(args: &[String]) -> Result<(), String> {
    let users: usize = arg(args, 0, "users")?;
    let groups: usize = arg(args, 1, "groups")?;
    let latency: u64 = arg(args, 2, "latency")?;
    let fixture = okta_sim::generate(users, groups, SEED);
    let mut switches = fixture.switches.clone();
    // Throughput, not Okta's budget: 600 a minute would make a 100k org a 10-minute wait.
    switches.rate_limit_per_minute = 100_000_000;
    switches.latency_ms = latency;
    let sim = okta_sim::Sim::start_local(fixture, okta_sim::Options { switches: Some(switches), ..Default::default() })
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", sim.base_url());
    std::io::stdout().flush().ok();
    // Serve until the parent closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .ok();
    Ok(())
}

// ---------- the floor: a bare HTTP loop ----------

fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers.get_all("link").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (url, rel) = v.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

struct Bare {
    client: reqwest::Client,
    token: String,
    requests: std::sync::atomic::AtomicU64,
}

impl Bare {
    /// Every page from `url` on; returns the bodies only when asked to keep them.
    async fn pages(&self, url: String, keep: bool) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        let mut next = Some(url);
        while let Some(url) = next {
            let r = self
                .client
                .get(&url)
                .header("Authorization", format!("SSWS {}", self.token))
                .header("Accept", "application/json")
                .send()
                .await
                .map_err(|e| e.to_string())?;
            self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !r.status().is_success() {
                return Err(format!("{url}: HTTP {}", r.status()));
            }
            next = next_link(r.headers());
            let body = r.bytes().await.map_err(|e| e.to_string())?;
            if keep {
                out.push(body.to_vec());
            }
        }
        Ok(out)
    }
}

async fn floor(args: &[String]) -> Result<(), String> {
    let base: String = arg(args, 0, "url")?;
    let concurrency: usize = arg(args, 1, "concurrency")?;
    let bare = Bare {
        client: reqwest::Client::builder().build().map_err(|e| e.to_string())?,
        token: okta_sim::sample::API_TOKEN.to_string(),
        requests: Default::default(),
    };
    let started = Instant::now();
    let users = async { bare.pages(format!("{base}/api/v1/users?limit=200"), false).await.map(|_| ()) };
    let groups_and_members = async {
        let pages = bare.pages(format!("{base}/api/v1/groups?limit=1000"), true).await?;
        let mut queue = VecDeque::new();
        for body in pages {
            let groups: Vec<Value> = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            for g in groups {
                if g["type"] != "BUILT_IN" {
                    queue.push_back(g["id"].as_str().unwrap_or_default().to_string());
                }
            }
        }
        let queue = Mutex::new(queue);
        let workers = (0..concurrency.max(1)).map(|_| async {
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(g) = next else { break };
                bare.pages(format!("{base}/api/v1/groups/{g}/users?limit=1000"), false).await?;
            }
            Ok::<(), String>(())
        });
        futures_util::future::try_join_all(workers).await.map(|_| ())
    };
    if concurrency > 1 {
        tokio::try_join!(users, groups_and_members)?;
    } else {
        users.await?;
        groups_and_members.await?;
    }
    let out = json!({
        "wall_ms": started.elapsed().as_millis() as u64,
        "requests": bare.requests.load(std::sync::atomic::Ordering::Relaxed),
        "rss_kib": peak_rss_kib(),
    });
    println!("{out}");
    Ok(())
}

// ---------- a sync run ----------

async fn sync(args: &[String]) -> Result<(), String> {
    let kind = match args.first().map(String::as_str) {
        Some("full") => RunKind::Full,
        Some("incremental") => RunKind::Incremental,
        _ => return Err("kind must be full or incremental".into()),
    };
    let base: String = arg(args, 1, "url")?;
    let db: String = arg(args, 2, "database path")?;
    let store = Store::open(&format!("sqlite://{db}")).await.map_err(|e| e.to_string())?;
    let secrets = SecretBox::from_key(&[9u8; 32]);
    if store.provider(PROVIDER_ID).await.map_err(|e| e.to_string())?.is_none() {
        let now = now_ms();
        let row = ProviderRow {
            id: PROVIDER_ID.into(),
            kind: "okta".into(),
            name: "Bench".into(),
            base_url: base.clone(),
            issuer: base.clone(),
            auth_server: None,
            client_id: "bench".into(),
            client_secret_sealed: secrets.seal(&secret_context(PROVIDER_ID, "client_secret"), "x"),
            scopes: "openid".into(),
            groups_claim: "groups".into(),
            pkce: true,
            directory_mode: "api_token".into(),
            directory_client_id: None,
            directory_secret_sealed: Some(
                secrets.seal(&secret_context(PROVIDER_ID, "directory_secret"), okta_sim::sample::API_TOKEN),
            ),
            enabled: true,
            discovery: None,
            last_test_at: None,
            last_test_ok: None,
            last_test_summary: None,
            last_test_report: None,
            created_at: now,
            updated_at: now,
        };
        store.save_provider(&row, &[], "wizard").await.map_err(|e| e.to_string())?;
    }
    let outbound = Outbound::new(OutboundConfig { allow: parse_allow_list("127.0.0.1")?, ..Default::default() })?;
    let svc = SyncService::new(store.clone(), secrets, outbound);
    let started = Instant::now();
    let s = svc.sync_now(PROVIDER_ID, kind, Trigger::Schedule).await.map_err(|e| e.to_string())?;
    let wall_ms = started.elapsed().as_millis() as u64;
    let (users, groups, memberships) = store.directory_counts(PROVIDER_ID).await.map_err(|e| e.to_string())?;
    let out = json!({
        "wall_ms": wall_ms,
        "status": s.run.status,
        "error": s.run.error,
        "mode": s.run.mode,
        "requests": s.run.requests,
        "created": s.run.created, "updated": s.run.updated, "disabled": s.run.disabled, "unchanged": s.run.unchanged,
        "memberships_added": s.run.memberships_added, "memberships_removed": s.run.memberships_removed,
        "users": users, "groups": groups, "memberships": memberships,
        "rss_kib": peak_rss_kib(),
    });
    println!("{out}");
    Ok(())
}

// ---------- the parent ----------

struct SimChild {
    child: std::process::Child,
    url: String,
}

impl SimChild {
    fn start(users: usize, groups: usize, latency: u64) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["__sim", &users.to_string(), &groups.to_string(), &latency.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        Ok(Self { child, url: line.trim().to_string() })
    }
}

impl Drop for SimChild {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn run_child(args: &[&str]) -> Result<Value, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe).args(args).stderr(Stdio::inherit()).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{args:?} failed"));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default()).map_err(|e| format!("{args:?}: {e}: {text}"))
}

async fn control(http: &reqwest::Client, base: &str, op: Value) -> Result<Value, String> {
    let r = http.post(format!("{base}/__sim/control")).json(&op).send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let v: Value = r.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("control {op}: {v}"));
    }
    Ok(v)
}

async fn sim_requests(http: &reqwest::Client, base: &str) -> Result<u64, String> {
    let v: Value = http.get(format!("{base}/__sim/state")).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
    Ok(v["requestCount"].as_u64().unwrap_or(0))
}

/// 1 % of the users change: 0.9 % edited, 0.05 % deactivated, 0.05 % new (each joining a
/// team), and one user in 5,000 moves between two teams.
async fn change_one_percent(http: &reqwest::Client, base: &str, users: usize, groups: usize) -> Result<String, String> {
    let f = okta_sim::generate(users, groups, SEED);
    let n = (users / 100).max(1);
    let (edits, deactivations, added) = (n * 90 / 100, n * 5 / 100, n * 5 / 100);
    let moves = (users / 5000).max(1);
    let active: Vec<&okta_sim::fixture::UserDef> =
        f.users.iter().skip(1).filter(|u| u.status == okta_sim::fixture::UserStatus::Active).collect();
    let teams: Vec<&okta_sim::fixture::GroupDef> = f.groups.iter().skip(11).collect();
    for u in active.iter().take(edits) {
        control(http, base, json!({"op": "update_user_profile", "user_id": u.id, "profile": {"lastName": "Changed", "title": "Moved"}})).await?;
    }
    for u in active.iter().skip(edits).take(deactivations) {
        control(http, base, json!({"op": "deactivate_user", "user_id": u.id})).await?;
    }
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| e.to_string())?;
    for i in 0..added {
        let id = format!("00ubench{i:012}");
        let login = format!("new.hire{i}@example.com");
        let user = json!({
            "id": id, "status": "ACTIVE", "created": now, "activated": now, "lastUpdated": now,
            "profile": {"login": login, "email": login, "firstName": "New", "lastName": format!("Hire {i}")},
        });
        control(http, base, json!({"op": "add_user", "user": user})).await?;
        if !teams.is_empty() {
            control(http, base, json!({"op": "add_membership", "group_id": teams[i % teams.len()].id, "user_id": id})).await?;
        }
    }
    let mut moved = 0;
    for (i, t) in teams.iter().enumerate() {
        if moved == moves {
            break;
        }
        let (Some(u), Some(to)) = (t.members.first(), teams.get((i + 7) % teams.len())) else { continue };
        if to.members.contains(u) {
            continue;
        }
        control(http, base, json!({"op": "remove_membership", "group_id": t.id, "user_id": u})).await?;
        control(http, base, json!({"op": "add_membership", "group_id": to.id, "user_id": u})).await?;
        moved += 1;
    }
    Ok(format!("{edits} edited, {deactivations} deactivated, {added} added, {moved} moved between teams"))
}

fn secs(ms: f64) -> String {
    format!("{:.1} s", ms / 1000.0)
}

fn mib(kib: f64) -> String {
    format!("{:.0} MB", kib / 1024.0)
}

async fn orchestrate(args: &[String]) -> Result<(), String> {
    let mut sizes = vec![(10_000usize, 500usize), (100_000, 5_000)];
    let mut latency = 0u64;
    let mut out_file: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                let v = it.next().ok_or(USAGE)?;
                sizes = v
                    .split(',')
                    .map(|s| {
                        let (u, g) = s.split_once('x').ok_or(USAGE)?;
                        Ok((u.parse().map_err(|_| USAGE)?, g.parse().map_err(|_| USAGE)?))
                    })
                    .collect::<Result<_, &str>>()?;
            }
            "--latency-ms" => latency = it.next().and_then(|v| v.parse().ok()).ok_or(USAGE)?,
            "--out" => out_file = Some(it.next().ok_or(USAGE)?.clone()),
            _ => return Err(USAGE.into()),
        }
    }
    let http = reqwest::Client::new();
    let mut table = String::from(
        "| Org | Run | Wall time | Requests | Peak RSS | × floor |\n|---|---|---:|---:|---:|---:|\n",
    );
    let mut notes = Vec::new();
    for (users, groups) in sizes {
        eprintln!("== {users} users / {groups} groups: starting the simulator");
        let sim = SimChild::start(users, groups, latency)?;
        let url = sim.url.clone();
        let dir = tempfile_dir()?;
        let db = format!("{dir}/bench.db");
        let org = format!("{}k / {}", users / 1000, groups);
        let mut floor_ms = 0.0;
        let mut row = |run: &str, r: &Value, requests: u64, floor: f64| {
            let ms = r["wall_ms"].as_f64().unwrap_or(0.0);
            let ratio = if floor > 0.0 { format!("{:.2}", ms / floor) } else { "—".into() };
            table.push_str(&format!(
                "| {org} | {run} | {} | {requests} | {} | {ratio} |\n",
                secs(ms),
                mib(r["rss_kib"].as_f64().unwrap_or(0.0))
            ));
        };
        let phases: [(&str, Vec<String>); 5] = [
            ("floor: bare HTTP loop, one request at a time", vec!["__floor".into(), url.clone(), "1".into()]),
            ("floor: bare HTTP loop, the sync's concurrency", vec!["__floor".into(), url.clone(), "4".into()]),
            ("full sync, empty directory", vec!["__sync".into(), "full".into(), url.clone(), db.clone()]),
            ("full sync, nothing changed", vec!["__sync".into(), "full".into(), url.clone(), db.clone()]),
            ("incremental sync, 1 % changed", vec!["__sync".into(), "incremental".into(), url.clone(), db.clone()]),
        ];
        let mut full_ms = 0.0;
        for (name, phase_args) in phases {
            if name.starts_with("incremental") {
                let what = change_one_percent(&http, &url, users, groups).await?;
                notes.push(format!("{org}: {what}"));
            }
            control(&http, &url, json!({"op": "reset_request_count"})).await?;
            eprintln!("   {name}…");
            let args: Vec<&str> = phase_args.iter().map(String::as_str).collect();
            let r = run_child(&args)?;
            let requests = sim_requests(&http, &url).await?;
            if r.get("status").is_some_and(|s| s != "succeeded") {
                return Err(format!("{name}: {r}"));
            }
            eprintln!("   {r}");
            let ms = r["wall_ms"].as_f64().unwrap_or(0.0);
            if name.starts_with("floor: bare HTTP loop, one") {
                floor_ms = ms;
            }
            if name == "full sync, empty directory" {
                full_ms = ms;
                notes.push(format!(
                    "{org}: stored {} users, {} groups, {} memberships",
                    r["users"], r["groups"], r["memberships"]
                ));
            }
            let reference = if name.starts_with("incremental") { 0.0 } else { floor_ms };
            row(name, &r, requests, if name.starts_with("floor: bare HTTP loop, one") { 0.0 } else { reference });
            if name.starts_with("incremental") && full_ms > 0.0 {
                notes.push(format!("{org}: incremental = {:.1} % of the full sync's time", ms * 100.0 / full_ms));
            }
        }
        drop(sim);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut text = table;
    text.push('\n');
    for n in notes {
        text.push_str(&format!("- {n}\n"));
    }
    println!("{text}");
    if let Some(path) = out_file {
        std::fs::write(&path, &text).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn tempfile_dir() -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir.display().to_string())
}
