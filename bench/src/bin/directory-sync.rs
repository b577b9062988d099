//! Directory sync benchmark against the Okta simulator.
//!
//! ```sh
//! cargo run --release -p portcullis-bench --bin directory-sync
//! cargo run --release -p portcullis-bench --bin directory-sync -- --sizes 10000x500 --latency-ms 20
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
    store::{ProviderRow, Store},
    sync::{RunKind, SyncService, Trigger},
};
use serde_json::{json, Value};

const PROVIDER_ID: &str = "bench-provider";
const SEED: u64 = 1;
const USAGE: &str =
    "bench [--sizes 10000x500,100000x5000] [--latency-ms N] [--repeat N] [--postgres SERVER_URL] [--out FILE]";

#[tokio::main]
async fn main() {
    // RUST_LOG=portcullis_domain=debug shows where a run spends its time.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
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
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time this process used (user + system), in ms; /proc counts in 1/100 s.
fn cpu_ms() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .map_or(0, |ticks| ticks * 10)
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
        "cpu_ms": cpu_ms(),
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
    let url = if db.starts_with("postgres") { db.clone() } else { format!("sqlite://{db}") };
    let store = Store::open(&url).await.map_err(|e| e.to_string())?;
    let secrets = SecretBox::from_key(&[9u8; 32]);
    if store.provider(PROVIDER_ID).await.map_err(|e| e.to_string())?.is_none() {
        let row = ProviderRow {
            directory_mode: "api_token".into(),
            directory_secret_sealed: Some(
                secrets.seal(&secret_context(PROVIDER_ID, "directory_secret"), okta_sim::sample::API_TOKEN),
            ),
            ..ProviderRow::new_okta(
                PROVIDER_ID,
                "Bench",
                &base,
                "bench",
                secrets.seal(&secret_context(PROVIDER_ID, "client_secret"), "x"),
            )
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
        "cpu_ms": cpu_ms(),
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
    let v: Value = http
        .get(format!("{base}/__sim/state"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    Ok(v["requestCount"].as_u64().unwrap_or(0))
}

/// 1 % of the users change: 0.9 % edited (name and title), 0.05 % deactivated, 0.05 % new,
/// each joining one team picked at random; and one user in 5,000 moves between two random
/// teams. An incremental run lists the changed users and every group, then the members of
/// each group whose membership changed.
async fn change_one_percent(
    http: &reqwest::Client,
    base: &str,
    users: usize,
    groups: usize,
    round: usize,
) -> Result<String, String> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED + round as u64);
    let f = okta_sim::generate(users, groups, SEED);
    let n = (users / 100).max(1);
    let (edits, deactivations, added) = (n * 90 / 100, n * 5 / 100, n * 5 / 100);
    let moves = (users / 5000).max(1);
    let active: Vec<&okta_sim::fixture::UserDef> =
        f.users.iter().skip(1).filter(|u| u.status == okta_sim::fixture::UserStatus::Active).collect();
    // Teams: every group but Everyone and the ten department groups.
    let teams: Vec<&okta_sim::fixture::GroupDef> = f.groups.iter().skip(11).collect();
    // Each round changes other people.
    let start = round * (edits + deactivations);
    for u in active.iter().skip(start).take(edits) {
        control(http, base, json!({"op": "update_user_profile", "user_id": u.id, "profile": {"lastName": format!("Changed {round}"), "title": "Moved"}})).await?;
    }
    for u in active.iter().skip(start + edits).take(deactivations) {
        control(http, base, json!({"op": "deactivate_user", "user_id": u.id})).await?;
    }
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| e.to_string())?;
    let mut touched = std::collections::HashSet::new();
    for i in 0..added {
        let id = format!("00ubench{round:02}{i:010}");
        let login = format!("new.hire{round}.{i}@example.com");
        let user = json!({
            "id": id, "status": "ACTIVE", "created": now, "activated": now, "lastUpdated": now,
            "profile": {"login": login, "email": login, "firstName": "New", "lastName": format!("Hire {i}")},
        });
        control(http, base, json!({"op": "add_user", "user": user})).await?;
        if !teams.is_empty() {
            let t = teams[rng.gen_range(0..teams.len())];
            touched.insert(t.id.clone());
            control(http, base, json!({"op": "add_membership", "group_id": t.id, "user_id": id})).await?;
        }
    }
    let mut moved = 0;
    while moved < moves && teams.len() > 1 {
        let (from, to) = (teams[rng.gen_range(0..teams.len())], teams[rng.gen_range(0..teams.len())]);
        let Some(u) = from.members.first() else { continue };
        if from.id == to.id || to.members.contains(u) {
            continue;
        }
        control(http, base, json!({"op": "remove_membership", "group_id": from.id, "user_id": u})).await?;
        control(http, base, json!({"op": "add_membership", "group_id": to.id, "user_id": u})).await?;
        touched.insert(from.id.clone());
        touched.insert(to.id.clone());
        moved += 1;
    }
    Ok(format!(
        "{edits} users edited, {deactivations} deactivated, {added} added (each to a random team), {moved} moved between random teams; {} groups' membership changed",
        touched.len()
    ))
}

fn secs(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

fn mib(kib: f64) -> String {
    format!("{:.0} MB", kib / 1024.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn orchestrate(args: &[String]) -> Result<(), String> {
    let mut sizes = vec![(10_000usize, 500usize), (100_000, 5_000)];
    let mut latency = 0u64;
    let mut repeat = 3usize;
    let mut out_file: Option<String> = None;
    // A PostgreSQL server (scripts/with-postgres.sh gives one): the syncs run on both backends.
    let mut postgres: Option<String> = std::env::var("TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty());
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
            "--repeat" => repeat = it.next().and_then(|v| v.parse().ok()).filter(|n: &usize| *n > 0).ok_or(USAGE)?,
            "--out" => out_file = Some(it.next().ok_or(USAGE)?.clone()),
            "--postgres" => postgres = Some(it.next().ok_or(USAGE)?.clone()),
            _ => return Err(USAGE.into()),
        }
    }
    let http = reqwest::Client::new();
    let mut table =
        String::from("| Org | Run | Wall time | Requests | Peak RSS | × floor |\n|---|---|---:|---:|---:|---:|\n");
    let mut notes = vec![format!(
        "median of {repeat} runs each; load average at start: {}; simulator latency {latency} ms per request",
        load_average()
    )];
    for (users, groups) in sizes {
        eprintln!("== {users} users / {groups} groups: starting the simulator");
        let sim = SimChild::start(users, groups, latency)?;
        let url = sim.url.clone();
        let dir = tempfile_dir()?;
        let org = format!("{}k / {}", users / 1000, groups);
        let measure = |args: Vec<String>| {
            let http = http.clone();
            let url = url.clone();
            async move {
                control(&http, &url, json!({"op": "reset_request_count"})).await?;
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                let r = run_child(&refs)?;
                if r.get("status").is_some_and(|s| s != "succeeded") {
                    return Err(format!("{args:?}: {r}"));
                }
                eprintln!("   {r}");
                let requests = sim_requests(&http, &url).await?;
                Ok::<(Value, u64), String>((r, requests))
            }
        };
        let ms = |r: &Value| r["wall_ms"].as_f64().unwrap_or(0.0);
        let median = |mut runs: Vec<(Value, u64)>| {
            runs.sort_by(|a, b| ms(&a.0).total_cmp(&ms(&b.0)));
            runs.swap_remove(runs.len() / 2)
        };
        let mut row = |run: &str, r: &Value, requests: u64, ratio: String| {
            table.push_str(&format!(
                "| {org} | {run} | {} | {requests} | {} | {ratio} |\n",
                secs(ms(r)),
                mib(r["rss_kib"].as_f64().unwrap_or(0.0))
            ));
        };

        eprintln!("   floor…");
        let mut runs = Vec::new();
        for _ in 0..repeat {
            runs.push(measure(vec!["__floor".into(), url.clone(), "1".into()]).await?);
        }
        let (floor, n) = median(runs);
        let floor_ms = ms(&floor);
        row("floor: bare HTTP loop, one request at a time", &floor, n, "1.00".into());
        let mut runs = Vec::new();
        for _ in 0..repeat {
            runs.push(measure(vec!["__floor".into(), url.clone(), "4".into()]).await?);
        }
        let (r, n) = median(runs);
        row("floor: bare HTTP loop, the sync's concurrency", &r, n, format!("{:.2}", ms(&r) / floor_ms));

        // The syncs on SQLite (a file), then on PostgreSQL when a server is given.
        let backends: Vec<(&str, Option<&String>)> =
            std::iter::once(("", None)).chain(postgres.as_ref().map(|s| (" (PostgreSQL)", Some(s)))).collect();
        let mut rounds_done = 0;
        for (suffix, server) in backends {
            // Each first sync into its own empty database; the last one is kept for the next runs.
            eprintln!("   full sync, empty directory…");
            let mut runs = Vec::new();
            let mut db = String::new();
            for i in 0..repeat {
                db = match server {
                    None => format!("{dir}/bench-{i}.db"),
                    Some(s) => portcullis_domain::store::fresh_postgres_database(s).await.map_err(|e| e.to_string())?,
                };
                runs.push(measure(vec!["__sync".into(), "full".into(), url.clone(), db.clone()]).await?);
            }
            let (full, n) = median(runs);
            row(&format!("full sync, empty directory{suffix}"), &full, n, format!("{:.2}", ms(&full) / floor_ms));
            notes.push(format!(
                "{org}{suffix}: stored {} users, {} groups, {} memberships",
                full["users"], full["groups"], full["memberships"]
            ));

            eprintln!("   full sync, nothing changed…");
            let mut runs = Vec::new();
            for _ in 0..repeat {
                runs.push(measure(vec!["__sync".into(), "full".into(), url.clone(), db.clone()]).await?);
            }
            let (again, n) = median(runs);
            row(&format!("full sync, nothing changed{suffix}"), &again, n, format!("{:.2}", ms(&again) / floor_ms));

            eprintln!("   incremental sync…");
            let mut runs = Vec::new();
            let mut what = String::new();
            for round in 0..repeat {
                what = change_one_percent(&http, &url, users, groups, round + rounds_done).await?;
                runs.push(measure(vec!["__sync".into(), "incremental".into(), url.clone(), db.clone()]).await?);
            }
            let (inc, n) = median(runs);
            row(&format!("incremental sync, 1 % changed{suffix}"), &inc, n, format!("{:.2}", ms(&inc) / floor_ms));
            rounds_done += repeat;
            notes.push(format!("{org}{suffix}: 1 % changed, each round = {what}"));
            notes.push(format!(
                "{org}{suffix}: incremental = {:.1} % of the first full sync, {:.1} % of a full sync with nothing changed",
                ms(&inc) * 100.0 / ms(&full),
                ms(&inc) * 100.0 / ms(&again)
            ));
        }
        drop(sim);
        let _ = std::fs::remove_dir_all(&dir);
    }
    notes.push(format!("load average at the end: {}", load_average()));
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
