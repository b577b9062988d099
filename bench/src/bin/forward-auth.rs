//! Forward-auth benchmark: `/verify` against a bare handler on the same server, measured
//! with wrk. See docs/forward-auth-benchmark.md.
//!
//! cargo run --release -p portcullis-bench --bin forward-auth -- [--seconds 10] [--connections 32] [--postgres URL] [--out FILE]
//!
//! With `--postgres` (or under scripts/with-postgres.sh) also on PostgreSQL: one replica, and
//! two replicas in this process behind Debian's nginx in round robin.

use std::{collections::BTreeMap, net::SocketAddr, process::Command, time::Instant};

use axum::{routing::get, Router};
use portcullis_domain::{
    audit::Actor,
    forward_auth::app_cookie_name,
    policies::{Action, ApplicationInput, GroupRef, HostRule, PolicyInput, Rules, Selector},
    store::{access::NewAccessSession, new_id, now_ms, policies::PersonRow, GroupInput, IdentityRow, ProviderRow},
    Settings,
};
use rand::{rngs::StdRng, Rng, SeedableRng};

const USERS: usize = 10_000;
const GROUPS: usize = 1_000;
const APPS: usize = 20;
const POLICIES_PER_APP: usize = 10;

struct Args {
    seconds: u32,
    connections: u32,
    out: Option<String>,
    /// A PostgreSQL server: also measured on it, with one and two replicas.
    postgres: Option<String>,
}

fn args() -> Args {
    let postgres = std::env::var("TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    let mut a = Args { seconds: 10, connections: 32, out: None, postgres };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--seconds" => a.seconds = value.parse().unwrap_or(10),
            "--connections" => a.connections = value.parse().unwrap_or(32),
            "--out" => a.out = Some(value),
            "--postgres" => a.postgres = Some(value),
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

/// Requests/s and the latency percentiles wrk reports.
struct Measured {
    rps: f64,
    p50: String,
    p90: String,
    p99: String,
    requests: u64,
    non_2xx: u64,
}

fn wrk(url: &str, headers: &[(&str, String)], a: &Args) -> Measured {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{}", a.connections), &format!("-d{}s", a.seconds), "--latency"]);
    for (k, v) in headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    cmd.arg(url);
    let out = cmd.output().expect("wrk from Debian (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let find = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let number = |prefix: &str| -> u64 {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Measured {
        rps: text
            .lines()
            .find(|l| l.starts_with("Requests/sec:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        p50: find("50%"),
        p90: find("90%"),
        p99: find("99%"),
        requests,
        non_2xx: number("Non-2xx or 3xx responses"),
    }
}

const SECRET_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A console on `database` (SQLite in a temporary folder when `None`), not yet serving.
async fn console(dir: &std::path::Path, database: Option<&str>, replica: &str) -> portcullis_server::AppState {
    let mut env: BTreeMap<String, String> = [
        ("PORTCULLIS_LISTEN", "127.0.0.1:0".to_string()),
        ("PORTCULLIS_PUBLIC_URL", "http://console.example.test".to_string()),
        ("PORTCULLIS_DATA_DIR", dir.display().to_string()),
        ("PORTCULLIS_SITE_DIR", dir.join("site").display().to_string()),
        ("PORTCULLIS_ADMIN_EMAIL", "bench@example.test".to_string()),
        ("PORTCULLIS_ADMIN_PASSWORD", "benchmark-password".to_string()),
        ("PORTCULLIS_SECRET_KEY", SECRET_KEY.to_string()),
        ("PORTCULLIS_REPLICA_ID", replica.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(url) = database {
        env.insert("PORTCULLIS_DATABASE_URL".into(), url.to_string());
    }
    let settings = Settings::load(&env).expect("settings");
    portcullis_server::prepare(settings).await.expect("prepare")
}

/// The directory, applications and policies, and the measured person's application session:
/// the `Cookie` and `X-Original-URL` headers of their requests, and how long seeding took.
async fn seed(state: &portcullis_server::AppState) -> (Vec<(&'static str, String)>, std::time::Duration) {
    let s = state.services.clone();
    let store = &state.store;
    let mut rng = StdRng::seed_from_u64(7);
    let started = Instant::now();

    // A provider with 1,000 groups, 10,000 people, each in one department and 0–4 teams.
    let provider_id = new_id();
    let now = now_ms();
    let row = ProviderRow::new_okta(&provider_id, "Bench Okta", "https://bench.okta.example", "bench", "unused".into());
    let groups: Vec<GroupInput> = (0..GROUPS)
        .map(|i| GroupInput {
            external_id: format!("00g{i:06}"),
            name: format!("Group {i}"),
            description: None,
            kind: "OKTA_GROUP".into(),
            last_updated: None,
        })
        .collect();
    store.save_provider(&row, &groups, "sync").await.expect("provider");
    let group_rows = store.provider_groups(&provider_id).await.expect("groups");
    let mut by_external: Vec<(String, String)> =
        group_rows.iter().map(|g| (g.external_id.clone(), g.id.clone())).collect();
    by_external.sort();
    for i in 0..USERS {
        let person = PersonRow {
            id: new_id(),
            provider_id: provider_id.clone(),
            external_id: format!("00u{i:06}"),
            email: format!("user{i}@example.test"),
            display_name: format!("User {i}"),
            state: "active".into(),
            okta_status: "ACTIVE".into(),
            email_verified: true,
        };
        store.insert_directory_person_fixture(&person, now).await.expect("person");
        let mut mine = vec![i % 50];
        for _ in 0..rng.gen_range(0..=4) {
            mine.push(50 + rng.gen_range(0..GROUPS - 50));
        }
        mine.sort_unstable();
        mine.dedup();
        for g in mine {
            store.insert_membership_fixture(&by_external[g].1, &person.id, now).await.expect("membership");
        }
    }

    // 200 policies: 20 applications of 10 each, Block first, then Allows over groups, domains and people.
    let admin = Actor::System;
    let group =
        |i: usize| Selector::Group(GroupRef { provider_id: provider_id.clone(), external_id: format!("00g{i:06}") });
    let mut app_ids = Vec::new();
    for app in 0..APPS {
        let created = s
            .policies
            .create_application(
                &admin,
                None,
                &ApplicationInput {
                    name: format!("App {app}"),
                    hosts: vec![HostRule { hostname: format!("app{app}.example.test"), path_prefix: "/".into() }],
                    session_duration_minutes: 480,
                },
            )
            .await
            .expect("application");
        app_ids.push(created.id.clone());
        for p in 0..POLICIES_PER_APP {
            let (action, rules) = match p {
                0 => (Action::Block, Rules { include: vec![group(900 + app)], require: vec![], exclude: vec![] }),
                _ => (
                    Action::Allow,
                    Rules {
                        include: (0..3).map(|k| group(50 + (app * 37 + p * 11 + k * 101) % 850)).collect(),
                        require: vec![Selector::EmailDomain { domain: "example.test".into() }],
                        exclude: vec![group(950 + p)],
                    },
                ),
            };
            s.policies
                .create_policy(
                    &admin,
                    None,
                    &created.id,
                    &PolicyInput { name: format!("Policy {p}"), action, rules, enabled: true },
                )
                .await
                .expect("policy");
        }
    }

    // The person whose requests are measured: let in by App 7's last Allow policy, so each
    // decision walks the Block policy and every Allow before it. Signed in through the
    // provider, with an access session.
    let subject_index = 4242;
    let last_allow_group = 50 + (7 * 37 + (POLICIES_PER_APP - 1) * 11) % 850;
    let person_id = store
        .person_by_external(&provider_id, &format!("00u{subject_index:06}"))
        .await
        .expect("person")
        .expect("seeded person")
        .id;
    let _ = store.insert_membership_fixture(&by_external[last_allow_group].1, &person_id, now).await;
    let user = store
        .insert_user(&new_id(), &format!("user{subject_index}@example.test"), "User", None, None)
        .await
        .expect("user");
    let identity = IdentityRow {
        id: new_id(),
        user_id: user.id.clone(),
        provider_id: provider_id.clone(),
        subject: format!("00u{subject_index:06}"),
        email: user.email.clone(),
        groups: "[]".into(),
        created_at: now,
        last_login_at: now,
        email_verified: true,
    };
    store.insert_identity(&identity).await.expect("identity");
    let token = portcullis_domain::accounts::random_token();
    let token_id = hex_sha256(&token);
    let app7 = &app_ids[7];
    let session = NewAccessSession {
        id: &token_id,
        user_id: &user.id,
        identity_id: Some(&identity.id),
        session_id: "bench",
        application_id: Some(app7),
        expires_at: now + 3_600_000,
    };
    store.insert_access_session(&session, now).await.expect("access session");

    let seeded = started.elapsed();
    let headers = vec![
        ("Cookie", format!("{}={token}", app_cookie_name(app7, false))),
        ("X-Original-URL", "http://app7.example.test/docs/page?x=1".to_string()),
    ];
    (headers, seeded)
}

/// Serves the console (and a bare handler beside it) on a free port.
async fn serve(state: portcullis_server::AppState) -> SocketAddr {
    let bare = Router::new().route("/bare", get(|| async { "ok" }));
    let app = portcullis_server::router_with(state, bare).into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The first decision (it reads the person from the database): its status, whether it
/// carried the signed assertion, and how many group names it named.
async fn first_decision(addr: SocketAddr, headers: &[(&str, String)]) -> (reqwest::StatusCode, bool, usize) {
    let first = reqwest::Client::new()
        .get(format!("http://{addr}/verify"))
        .header("Cookie", &headers[0].1)
        .header("X-Original-URL", &headers[1].1)
        .send()
        .await
        .expect("verify");
    let groups = first.headers().get("x-portcullis-groups").and_then(|v| v.to_str().ok()).unwrap_or("");
    let groups = groups.split(',').filter(|g| !g.is_empty()).count();
    (first.status(), first.headers().contains_key("x-portcullis-jwt-assertion"), groups)
}

/// Debian's nginx on a free port, round robin over `upstreams`, passing requests on as they came.
fn nginx(dir: &std::path::Path, upstreams: &[SocketAddr]) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let servers: String = upstreams.iter().map(|a| format!("    server {a};\n")).collect();
    let conf = dir.join(format!("nginx-{port}.conf"));
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx-{port}.pid;\nerror_log {d}/nginx-error.log warn;\n\
             events {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\n  upstream portcullis {{\n{servers}    keepalive 64;\n  }}\n\
             server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://portcullis;\n\
             proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n",
            d = dir.display()
        ),
    )
    .expect("nginx.conf");
    let child = Command::new("/usr/sbin/nginx")
        .args(["-p", &dir.display().to_string(), "-c", &conf.display().to_string()])
        .spawn()
        .expect("nginx from Debian (apt-get install nginx)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (child, port)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut table = String::from(
        "| Backend | Endpoint | Requests/s | p50 | p90 | p99 | Requests | Non-2xx |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut row = |backend: &str, name: &str, m: &Measured| {
        table.push_str(&format!(
            "| {backend} | {name} | {:.0} | {} | {} | {} | {} | {} |\n",
            m.rps, m.p50, m.p90, m.p99, m.requests, m.non_2xx
        ));
    };

    let sqlite_dir = dir.path().join("sqlite");
    let state = console(&sqlite_dir, None, "bench").await;
    let (headers, seeded) = seed(&state).await;
    let addr = serve(state).await;
    let (status, has_assertion, groups) = first_decision(addr, &headers).await;
    let bare_m = tokio::task::block_in_place(|| wrk(&format!("http://{addr}/bare"), &headers, &a));
    let verify_m = tokio::task::block_in_place(|| wrk(&format!("http://{addr}/verify"), &headers, &a));
    row("SQLite", "bare axum handler (`/bare`)", &bare_m);
    row("SQLite", "forward auth (`/verify`)", &verify_m);
    let mut notes = format!(
        "- {USERS} users, {GROUPS} groups, {APPS} applications × {POLICIES_PER_APP} policies = {} policies; seeded in {:.1} s\n\
         - wrk -t2 -c{} -d{}s, server and wrk on the same {}-core machine; first /verify answered {status} (an Allow by the 10th policy of its application), groups header: {groups} names, signed assertion: {has_assertion}\n\
         - /verify throughput is {:.0}% of the bare handler's; ratio of p50: {}\n",
        APPS * POLICIES_PER_APP,
        seeded.as_secs_f64(),
        a.connections,
        a.seconds,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        100.0 * verify_m.rps / bare_m.rps.max(1.0),
        ratio(&verify_m.p50, &bare_m.p50),
    );

    if let Some(server) = &a.postgres {
        let url = portcullis_domain::store::fresh_postgres_database(server).await.expect("a PostgreSQL database");
        let first = console(&dir.path().join("pg-a"), Some(&url), "pg-a").await;
        let store = first.store.clone();
        let (headers, seeded) = seed(&first).await;
        let a_addr = serve(first).await;
        let (status, ..) = first_decision(a_addr, &headers).await;
        let verify_pg = tokio::task::block_in_place(|| wrk(&format!("http://{a_addr}/verify"), &headers, &a));
        row("PostgreSQL", "forward auth (`/verify`), one replica", &verify_pg);
        let second = console(&dir.path().join("pg-b"), Some(&url), "pg-b").await;
        let b_addr = serve(second).await;
        let (b_status, ..) = first_decision(b_addr, &headers).await;
        let (mut one, one_port) = nginx(dir.path(), &[a_addr]);
        let (mut two, two_port) = nginx(dir.path(), &[a_addr, b_addr]);
        let bare_one = tokio::task::block_in_place(|| wrk(&format!("http://127.0.0.1:{one_port}/bare"), &headers, &a));
        let via_one = tokio::task::block_in_place(|| wrk(&format!("http://127.0.0.1:{one_port}/verify"), &headers, &a));
        let via_two = tokio::task::block_in_place(|| wrk(&format!("http://127.0.0.1:{two_port}/verify"), &headers, &a));
        row("PostgreSQL", "nginx → bare handler, one replica", &bare_one);
        row("PostgreSQL", "nginx → `/verify`, one replica", &via_one);
        row("PostgreSQL", "nginx → `/verify`, two replicas (round robin)", &via_two);
        let _ = (one.kill(), two.kill(), one.wait(), two.wait());

        // What following the other replicas costs: the poll every 500 ms, timed here back to back.
        let polls = 2_000;
        let t = Instant::now();
        for _ in 0..polls {
            store.refresh_change_number().await.expect("change number");
        }
        let poll_us = t.elapsed().as_secs_f64() * 1e6 / polls as f64;
        notes.push_str(&format!(
            "- PostgreSQL 15 (durable settings when run under TEST_POSTGRES_DURABLE=1), on the same machine; seeded in {:.1} s; first /verify answered {status} on replica A and {b_status} on replica B\n\
             - both replicas run in this process (one tokio runtime), nginx has one worker: the two cores are shared by wrk, nginx, both replicas and PostgreSQL, so two replicas measure the overhead of spreading, not added capacity\n\
             - following the other replicas' changes: one poll of the shared change number takes {poll_us:.0} µs; at two a second that is {:.3} % of one core per replica\n",
            seeded.as_secs_f64(),
            poll_us * 2.0 / 1e4,
        ));
    }
    println!("{table}\n{notes}");
    if let Some(out) = a.out {
        std::fs::write(&out, format!("{table}\n{notes}")).expect("write --out");
    }
}

fn hex_sha256(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// wrk prints `123.45us` or `1.20ms`.
fn micros(v: &str) -> Option<f64> {
    if let Some(n) = v.strip_suffix("us") {
        n.parse().ok()
    } else if let Some(n) = v.strip_suffix("ms") {
        n.parse::<f64>().ok().map(|x| x * 1000.0)
    } else if let Some(n) = v.strip_suffix('s') {
        n.parse::<f64>().ok().map(|x| x * 1_000_000.0)
    } else {
        None
    }
}

fn ratio(a: &str, b: &str) -> String {
    match (micros(a), micros(b)) {
        (Some(x), Some(y)) if y > 0.0 => format!("{:.2}×", x / y),
        _ => "?".into(),
    }
}
