//! A console on a real socket, with fresh data, for the tests that drive it over HTTP.

use std::collections::BTreeMap;

use portcullis_domain::Settings;
use reqwest::{redirect::Policy, Client};

pub const PASSWORD: &str = "correct horse battery staple";

/// The key every test server on PostgreSQL seals secrets with (the command line needs it too).
pub const TEST_SECRET_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub struct TestServer {
    pub base: String,
    pub data: tempfile::TempDir,
    pub client: Client,
    pub setup_token: Option<String>,
    pub store: portcullis_domain::Store,
    pub state: portcullis_server::AppState,
    pub database_url: String,
}

pub async fn start(extra: &[(&str, &str)]) -> TestServer {
    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut env: BTreeMap<String, String> = [
        ("PORTCULLIS_LISTEN", addr.to_string()),
        ("PORTCULLIS_PUBLIC_URL", format!("http://{addr}")),
        ("PORTCULLIS_DATA_DIR", data.path().display().to_string()),
        ("PORTCULLIS_SITE_DIR", data.path().join("site").display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // `make test` runs this suite on PostgreSQL too: a database of its own per server.
    if let Ok(server) = std::env::var("TEST_POSTGRES_URL") {
        if !server.is_empty() {
            let url = portcullis_domain::store::fresh_postgres_database(&server).await.unwrap();
            env.insert("PORTCULLIS_DATABASE_URL".into(), url);
            env.insert("PORTCULLIS_SECRET_KEY".into(), TEST_SECRET_KEY.into());
        }
    }
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let settings = Settings::load(&env).unwrap();
    let database_url = settings.database_url.clone();
    let state = portcullis_server::prepare(settings).await.unwrap();
    let setup_token = state.setup_token.get().await;
    let store = state.store.clone();
    tokio::spawn(portcullis_server::serve(listener, state.clone()));
    let client = Client::builder().redirect(Policy::none()).build().unwrap();
    TestServer { base: format!("http://{addr}"), data, client, setup_token, store, state, database_url }
}
