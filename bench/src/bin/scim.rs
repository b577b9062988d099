//! SCIM provisioning as the directory grows: Okta's lookup before each assign (`userName eq`,
//! case-insensitive), a read by id, a deactivation and its reactivation (the write path, sessions
//! ended, the burst check), a membership added to and removed from a large pushed group, and a
//! page of the listing Okta's import reads, each beside its floor: one `SELECT 1` through the
//! same pool. The directory is filled through the same `create_user` Okta's pushes call.
//!
//! ```sh
//! cargo run --release -p portcullis-bench --bin scim -- [--users 50000] [--calls 2000] [--out FILE]
//! ```

use std::time::Instant;

use portcullis_domain::{
    audit::{Actor, Caller},
    scim::{Endpoint, ListQuery, ScimService},
    store::{new_id, ProviderRow},
    Role, Store,
};
use serde_json::json;

const USAGE: &str = "scim [--users N] [--calls N] [--out FILE]";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut users, mut calls, mut out) = (50_000usize, 2_000usize, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--users", Some(v)) => users = v.parse().unwrap_or(users).max(1_000),
            ("--calls", Some(v)) => calls = v.parse().unwrap_or(calls).max(1),
            ("--out", Some(v)) => out = Some(v.clone()),
            _ => {
                eprintln!("usage: {USAGE}");
                std::process::exit(2);
            }
        }
    }
    match run(users, calls).await {
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
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls {
        let started = Instant::now();
        f(i).await?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times[calls / 2], times[(calls * 99 / 100).min(calls - 1)]))
}

fn ok<T>(r: Result<T, portcullis_domain::scim::ScimError>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

async fn run(count: usize, calls: usize) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::open(&url).await.map_err(|e| e.to_string())?;
    let provider = ProviderRow::new_okta(&new_id(), "Okta", "https://bench.okta.com", "0oa1", String::new());
    store.save_provider(&provider, &[], "wizard").await.map_err(|e| e.to_string())?;
    let scim = ScimService::new(store.clone());
    let admin = Caller { actor: Actor::CommandLine, role: Role::Admin, ip: None };
    scim.set_enabled(&admin, &provider.id, true).await.map_err(|e| e.to_string())?;
    let (token, _) = scim.tokens().generate(&admin, &provider.id, None).await.map_err(|e| e.to_string())?;
    let token = ok(scim.authorize(&provider.id, Some(&format!("Bearer {token}"))).await)?;
    let at = Endpoint { provider_id: provider.id.clone(), base: format!("https://console/scim/{}/v2", provider.id) };

    let started = Instant::now();
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let body = json!({
            "userName": format!("person{i}@example.com"), "externalId": format!("00u{i:017}"),
            "name": {"givenName": "Person", "familyName": format!("{i}")},
            "emails": [{"primary": true, "value": format!("person{i}@example.com"), "type": "work"}],
            "active": true, "password": "never-kept",
        });
        let made = ok(scim.create_user(&at, &token, &body).await)?;
        ids.push(made.body.and_then(|b| b["id"].as_str().map(str::to_string)).unwrap_or_default());
    }
    let create_us = started.elapsed().as_secs_f64() * 1e6 / count as f64;
    let members: Vec<_> = ids.iter().take(1_000).map(|id| json!({"value": id})).collect();
    let group = ok(scim.create_group(&at, &token, &json!({"displayName": "Large", "members": members})).await)?;
    let group_id = group.body.and_then(|b| b["id"].as_str().map(str::to_string)).unwrap_or_default();

    let floor = measure(calls, |_| async { store.ping().await.map_err(|e| e.to_string()) }).await?;
    // Writes have their own floor: one committed one-row UPDATE.
    let write_floor = measure(calls, |i| {
        let (store, id) = (&store, token.id.clone());
        async move { store.touch_scim_token(&id, i as i64).await.map_err(|e| e.to_string()) }
    })
    .await?;
    let lookup = measure(calls, |i| {
        let q = ListQuery {
            filter: Some(format!("userName eq \"PERSON{}@EXAMPLE.COM\"", (i * 7919) % count)),
            start_index: Some(1),
            count: Some(100),
            ..ListQuery::default()
        };
        let (scim, at) = (&scim, &at);
        async move {
            let found = ok(scim.list_users(at, &q).await)?;
            match found.body.as_ref().and_then(|b| b["totalResults"].as_i64()) {
                Some(1) => Ok(()),
                other => Err(format!("the lookup found {other:?}")),
            }
        }
    })
    .await?;
    let read = measure(calls, |i| {
        let (scim, at, id) = (&scim, &at, ids[(i * 7919) % count].clone());
        async move { ok(scim.get_user(at, &id, &ListQuery::default()).await).map(drop) }
    })
    .await?;
    let rename = measure(calls, |i| {
        let (scim, at, token, id) = (&scim, &at, &token, ids[(i * 7919) % count].clone());
        let body = json!({"Operations": [{"op": "replace", "value": {"displayName": format!("Name {i}")}}]});
        async move { ok(scim.patch_user(at, token, &id, &body).await).map(drop) }
    })
    .await?;
    let off = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
    let on = json!({"Operations": [{"op": "replace", "value": {"active": true}}]});
    let toggle = measure(calls, |i| {
        let (scim, at, token, id) = (&scim, &at, &token, ids[(i * 7919) % count].clone());
        let body = if i % 2 == 0 { off.clone() } else { on.clone() };
        let id = if i % 2 == 0 { id } else { ids[((i - 1) * 7919) % count].clone() };
        async move { ok(scim.patch_user(at, token, &id, &body).await).map(drop) }
    })
    .await?;
    let membership = measure(calls, |i| {
        let (scim, at, token, group_id) = (&scim, &at, &token, &group_id);
        let member = &ids[2_000 + (i / 2) % (count - 2_000)];
        let body = if i % 2 == 0 {
            json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}]})
        } else {
            json!({"Operations": [{"op": "remove", "path": format!("members[value eq \"{member}\"]")}]})
        };
        async move { ok(scim.patch_group(at, token, group_id, &body).await).map(drop) }
    })
    .await?;
    let page = measure(calls.min(500), |i| {
        let q =
            ListQuery { start_index: Some(1 + ((i * 100) % count) as i64), count: Some(100), ..ListQuery::default() };
        let (scim, at) = (&scim, &at);
        async move { ok(scim.list_users(at, &q).await).map(drop) }
    })
    .await?;

    let mut report = format!(
        "{count} people pushed ({create_us:.0} µs each, one transaction with its audit entry), a pushed group of 1,000; \
         {calls} sequential calls each (SQLite file, WAL)\n\n| what | median µs | p99 µs |\n|---|---:|---:|\n"
    );
    for (what, (median, p99)) in [
        ("floor: `SELECT 1` through the pool", floor),
        ("write floor: a one-row `UPDATE`, committed", write_floor),
        ("`userName eq` in another case (Okta's lookup before an assign)", lookup),
        ("`GET /Users/{id}`", read),
        ("PATCH `displayName` (a profile change, audited)", rename),
        ("PATCH `active` false / true (sessions ended, burst check, audit)", toggle),
        ("PATCH add / remove one member of the 1,000-member group", membership),
        ("a page of 100 (Okta's import), anywhere in the list", page),
    ] {
        report.push_str(&format!("| {what} | {median:.1} | {p99:.1} |\n"));
    }
    Ok(report)
}
