//! SCIM provisioning tokens from the command line, against the console's database.

use okta_sim::{Fixture, Options, Sim};
use portcullis_domain::{scim::SCIM_TOKEN_PREFIX, Role};

use crate::{api::api, config::configure};

#[tokio::test]
async fn scim_token_create_prints_only_the_token_and_a_new_one_retires_the_old_after_its_grace() {
    let sim = Sim::start_local(Fixture::sample(), Options::default()).await.unwrap();
    let a = api(&[("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.1")]).await;
    let admin = a.token(Role::Admin).await;
    let provider = configure(&a, &admin, &sim).await;
    let data = a.server.data.path().display().to_string();
    let cli = move |args: Vec<String>| {
        let data = data.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
                    .args(&args)
                    .env("PORTCULLIS_DATA_DIR", &data)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let create = |grace: &str| {
        ["scim-token", "create", "--provider", &provider, "--grace-minutes", grace].map(String::from).to_vec()
    };

    let first = cli(create("60")).await;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let first = String::from_utf8(first.stdout).unwrap();
    assert_eq!(first.lines().count(), 1, "only the token on stdout: {first}");
    let first = first.trim().to_string();
    assert!(first.starts_with(SCIM_TOKEN_PREFIX));
    let tokens = portcullis_domain::scim::ScimTokens::new(a.server.store.clone());
    assert!(tokens.authenticate(&provider, &first).await.unwrap().is_some());

    let second = cli(create("0")).await;
    let second = String::from_utf8(second.stdout).unwrap().trim().to_string();
    assert!(tokens.authenticate(&provider, &second).await.unwrap().is_some());
    assert!(tokens.authenticate(&provider, &first).await.unwrap().is_none(), "no grace asked: retired at once");

    let list = cli(["scim-token", "list", "--provider", &provider].map(String::from).to_vec()).await;
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.contains("current") && list.contains("expired"), "{list}");
    assert!(!list.contains(&second), "lists never show a token");

    let unknown = cli(["scim-token", "create", "--provider", "nope"].map(String::from).to_vec()).await;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("No such provider"));
    let (_, log) = a.get("/audit?action=scim.token_generated", &admin).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 2);
}
