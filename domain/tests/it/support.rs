//! Fixtures every integration test module builds the same way: the people acting, a database
//! file, a provider row, an outbound client that may reach the simulator on loopback.

use std::time::Duration;

use portcullis_domain::{
    audit::{Actor, Caller},
    outbound::{parse_allow_list, Outbound, OutboundConfig},
    store::{GroupInput, ProviderRow, Store},
};

/// The administrator who acts in the tests (`root@example.com`, as the audit log shows them).
pub fn admin() -> Actor {
    Actor::User { id: "admin-1".into(), email: "root@example.com".into() }
}

/// An Editor: may change policies, not what decides roles.
pub fn editor() -> Actor {
    Actor::User { id: "editor-1".into(), email: "ed@example.com".into() }
}

/// The administrator as a request from the console brings them: with their address.
pub fn admin_caller() -> Caller {
    Caller { actor: admin(), role: portcullis_domain::Role::Admin, ip: Some("192.0.2.10".into()) }
}

/// The Editor, likewise.
pub fn editor_caller() -> Caller {
    Caller { actor: editor(), role: portcullis_domain::Role::Editor, ip: Some("192.0.2.20".into()) }
}

/// A database file, as in production (a cancelled query closes its connection; several
/// connections really run at once). Keep the directory alive as long as the store.
/// With `TEST_POSTGRES_URL` set, a new database on that server instead.
pub async fn file_store() -> (tempfile::TempDir, Store) {
    let (dir, store, _) = store_with_url().await;
    (dir, store)
}

/// [`file_store`] and the database's URL, for reading past the store.
pub async fn store_with_url() -> (tempfile::TempDir, Store, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = match std::env::var("TEST_POSTGRES_URL") {
        Ok(server) if !server.is_empty() => portcullis_domain::store::fresh_postgres_database(&server).await.unwrap(),
        _ => format!("sqlite://{}/portcullis.db", dir.path().display()),
    };
    let store = Store::open(&url).await.unwrap();
    (dir, store, url)
}

/// Runs a statement past the store, as an operator with a database shell would.
pub async fn raw_execute(url: &str, sql: &str) {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// The rows of a table, read past the store.
pub async fn raw_count(url: &str, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let n = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let n = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }
}

/// An Okta provider row with the given directory mode and sealed client secret.
pub fn okta_provider(id: &str, name: &str, base_url: &str, directory_mode: &str, secret_sealed: String) -> ProviderRow {
    ProviderRow {
        directory_mode: directory_mode.into(),
        ..ProviderRow::new_okta(id, name, base_url, "0oaclient", secret_sealed)
    }
}

/// A group as a directory sync stores it.
pub fn group_input(external_id: &str, name: &str, kind: &str) -> GroupInput {
    GroupInput {
        external_id: external_id.into(),
        name: name.into(),
        description: None,
        kind: kind.into(),
        last_updated: None,
    }
}

/// The simulator listens on loopback over http: allowed explicitly, as an admin would.
pub fn loopback_outbound(timeout: Option<Duration>) -> Outbound {
    let mut config = OutboundConfig { allow: parse_allow_list("127.0.0.1").unwrap(), ..Default::default() };
    if let Some(timeout) = timeout {
        config.timeout = timeout;
    }
    Outbound::new(config).unwrap()
}
