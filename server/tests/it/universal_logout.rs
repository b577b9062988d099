//! Universal Logout over real HTTP: requests signed by the simulator's org key, as Okta signs
//! them, end a person's console and application sessions; anything else is refused.

use okta_sim::{ControlOp, Fixture, Options, Sim};
use portcullis_domain::{
    store::{new_id, now_ms, IdentityRow, NewAccessSession, ProviderSessionInput, UserRow},
    Role,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    api::{api, Api},
    config::configure,
};

/// A change to the request the simulator signs (a defect).
type Tweak = Box<dyn FnOnce(&mut ControlOp)>;

struct Signed {
    token: String,
    body: Value,
}

fn request(sim: &Sim, audience: &str, user_id: &str, tweak: impl FnOnce(&mut ControlOp)) -> Signed {
    let mut op = ControlOp::UniversalLogoutRequest {
        audience: audience.to_string(),
        user_id: user_id.to_string(),
        format: None,
        expires_in: None,
        issuer: None,
        unpublished_key: false,
    };
    tweak(&mut op);
    let made = sim.control().apply(op).unwrap();
    Signed { token: made["token"].as_str().unwrap().to_string(), body: made["body"].clone() }
}

async fn post(a: &Api, url: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut req = a.server.client.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A person signed in through the provider: a console session and an application session.
async fn signed_in(a: &Api, provider_id: &str, subject: &str, email: &str) -> (String, String) {
    let store = &a.server.store;
    let now = now_ms();
    let user = UserRow {
        id: new_id(),
        email: email.to_string(),
        display_name: email.to_string(),
        password_hash: None,
        role: None,
        disabled_at: None,
        created_at: now,
        updated_at: now,
        email_verified: true,
    };
    let identity = IdentityRow {
        id: new_id(),
        user_id: user.id.clone(),
        provider_id: provider_id.to_string(),
        subject: subject.to_string(),
        email: email.to_string(),
        groups: "[]".into(),
        created_at: now,
        last_login_at: now,
        email_verified: true,
    };
    store.insert_user_with_identity(&user, &identity).await.unwrap();
    let (session, access) = (new_id(), new_id());
    let tokens = ProviderSessionInput {
        identity_id: &identity.id,
        refresh_token_sealed: Some("sealed refresh token"),
        id_token_sealed: None,
        tokens_expire_at: None,
        role: "viewer",
    };
    store.insert_session(&session, &user.id, now, now + 3_600_000, None, None, Some(&tokens)).await.unwrap();
    let app = NewAccessSession {
        id: &access,
        user_id: &user.id,
        identity_id: Some(&identity.id),
        session_id: &session,
        application_id: None,
        expires_at: now + 3_600_000,
    };
    store.insert_access_session(&app, now).await.unwrap();
    (session, access)
}

#[tokio::test]
async fn a_universal_logout_signed_by_the_org_ends_the_person_s_sessions_and_cannot_be_replayed() {
    let sim = Sim::start_local(Fixture::sample(), Options::default()).await.unwrap();
    let a = api(&[("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.1")]).await;
    let admin = a.token(Role::Admin).await;
    let provider_id = configure(&a, &admin, &sim).await;
    let endpoint = format!("{}/okta/universal-logout/{provider_id}", a.server.base);
    let (_, people) = a.get("/directory/users?state=active&limit=2", &admin).await;
    let (ada, bob) = (people["items"][0].clone(), people["items"][1].clone());
    let (ada_id, ada_email) = (ada["external_id"].as_str().unwrap(), ada["email"].as_str().unwrap());
    let (session, access) = signed_in(&a, &provider_id, ada_id, ada_email).await;
    let (other_session, _) =
        signed_in(&a, &provider_id, bob["external_id"].as_str().unwrap(), bob["email"].as_str().unwrap()).await;

    // By email, as Okta sends by default: 204, and the sessions are gone.
    let signed = request(&sim, &endpoint, ada_id, |_| {});
    assert_eq!(signed.body["sub_id"]["format"], "email");
    let (status, body) = post(&a, &endpoint, Some(&signed.token), &signed.body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let store = &a.server.store;
    assert!(store.session_with_user(&session).await.unwrap().is_none(), "the console session ended");
    assert!(store.access_session(&access).await.unwrap().is_none(), "the application session ended");
    assert!(store.session_with_user(&other_session).await.unwrap().is_some(), "nobody else was signed out");

    // The same request again is a replay.
    let (status, body) = post(&a, &endpoint, Some(&signed.token), &signed.body).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{body}");

    // By issuer and subject: a person known here, with nothing left to end, is still 204.
    let by_sub = request(&sim, &endpoint, ada_id, |op| {
        if let ControlOp::UniversalLogoutRequest { format, .. } = op {
            *format = Some("iss_sub".into());
        }
    });
    assert_eq!(post(&a, &endpoint, Some(&by_sub.token), &by_sub.body).await.0, StatusCode::NO_CONTENT);

    // Someone the provider does not have here: 404. A body that is no request: 400.
    let fresh = request(&sim, &endpoint, ada_id, |_| {});
    let nobody = json!({"sub_id": {"format": "iss_sub", "iss": sim.base_url(), "sub": "00unobody"}});
    assert_eq!(post(&a, &endpoint, Some(&fresh.token), &nobody).await.0, StatusCode::NOT_FOUND);
    let fresh = request(&sim, &endpoint, ada_id, |_| {});
    assert_eq!(
        post(&a, &endpoint, Some(&fresh.token), &json!({"sub_id": {"format": "phone"}})).await.0,
        StatusCode::BAD_REQUEST
    );
    let fresh = request(&sim, &endpoint, ada_id, |_| {});
    let other_iss = json!({"sub_id": {"format": "iss_sub", "iss": "https://evil.example.com", "sub": ada_id}});
    assert_eq!(post(&a, &endpoint, Some(&fresh.token), &other_iss).await.0, StatusCode::NOT_FOUND);

    // Requests not from the org, or not for this endpoint, are 401 and end nothing.
    let (bob_session, _) = signed_in(&a, &provider_id, "00ubob", "bob.again@example.com").await;
    let bob_body = json!({"sub_id": {"format": "email", "email": "bob.again@example.com"}});
    let refused: [(&str, Tweak); 4] = [
        (
            "another audience",
            Box::new(|op: &mut ControlOp| {
                if let ControlOp::UniversalLogoutRequest { audience, .. } = op {
                    *audience = "https://portcullis.example.com/okta/universal-logout/x".into();
                }
            }),
        ),
        (
            "expired",
            Box::new(|op: &mut ControlOp| {
                if let ControlOp::UniversalLogoutRequest { expires_in, .. } = op {
                    *expires_in = Some(-600);
                }
            }),
        ),
        (
            "another issuer",
            Box::new(|op: &mut ControlOp| {
                if let ControlOp::UniversalLogoutRequest { issuer, .. } = op {
                    *issuer = Some("https://evil.example.com".into());
                }
            }),
        ),
        (
            "a key the org does not publish",
            Box::new(|op: &mut ControlOp| {
                if let ControlOp::UniversalLogoutRequest { unpublished_key, .. } = op {
                    *unpublished_key = true;
                }
            }),
        ),
    ];
    for (what, tweak) in refused {
        let bad = request(&sim, &endpoint, ada_id, tweak);
        let (status, body) = post(&a, &endpoint, Some(&bad.token), &bob_body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    }
    assert_eq!(post(&a, &endpoint, None, &bob_body).await.0, StatusCode::UNAUTHORIZED, "no JWT");
    let (status, _) = post(&a, &endpoint, Some("not.a.jwt"), &bob_body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(store.session_with_user(&bob_session).await.unwrap().is_some(), "no refused request ended a session");

    // Another provider's endpoint is not this one: its audience differs, and an unknown id is 404.
    let unknown = format!("{}/okta/universal-logout/nope", a.server.base);
    let fresh = request(&sim, &unknown, ada_id, |_| {});
    assert_eq!(post(&a, &unknown, Some(&fresh.token), &fresh.body).await.0, StatusCode::NOT_FOUND);

    let (_, log) = a.get("/audit?action=session.universal_logout", &admin).await;
    let items = log["items"].as_array().unwrap();
    assert!(items.iter().any(|i| i["outcome"] == "success" && i["target"] == ada_email), "{log}");
    assert!(items.iter().any(|i| i["outcome"] == "failure"), "{log}");
}
