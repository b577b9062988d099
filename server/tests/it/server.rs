//! A console on a real socket, with fresh data, for the tests that drive it over HTTP.

use std::collections::BTreeMap;

use portcullis_domain::Settings;
use reqwest::{redirect::Policy, Client};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestServer {
    pub base: String,
    pub data: tempfile::TempDir,
    pub client: Client,
    pub setup_token: Option<String>,
    pub store: portcullis_domain::Store,
    pub state: portcullis_server::AppState,
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
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let settings = Settings::load(&env).unwrap();
    let state = portcullis_server::prepare(settings).await.unwrap();
    let setup_token = state.setup_token.get().await;
    let store = state.store.clone();
    tokio::spawn(portcullis_server::serve(listener, state.clone()));
    let client = Client::builder().redirect(Policy::none()).build().unwrap();
    TestServer { base: format!("http://{addr}"), data, client, setup_token, store, state }
}
