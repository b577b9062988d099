//! The real router on a real socket, driven over HTTP.
use reqwest::{header, Response, StatusCode};

use crate::server::{start, TestServer, PASSWORD};

fn location(r: &Response) -> String {
    r.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// The `name=value` part of the session cookie a response sets.
fn session_cookie(r: &Response) -> Option<(String, String)> {
    r.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let pair = c.split(';').next()?.trim().to_string();
        pair.contains("portcullis_session=").then(|| (pair, c.to_string()))
    })
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.send().await.unwrap()
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Response {
        let mut req = self.client.post(self.url(path)).form(form);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.send().await.unwrap()
    }

    async fn setup_admin(&self, email: &str) -> String {
        let token = self.setup_token.clone().expect("a setup token while no admin exists");
        let r = self
            .post_form(
                "/setup",
                &[
                    ("token", &token),
                    ("email", email),
                    ("name", "Ada Admin"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/");
        session_cookie(&r).expect("setup signs the admin in").0
    }

    async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.post_form("/login", &[("email", email), ("password", password)], None).await
    }
}

#[tokio::test]
async fn health_and_readiness_answer_json() {
    let s = start(&[]).await;
    let r = s.get("/healthz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    let r = s.get("/readyz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.json::<serde_json::Value>().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_login_with_the_return_path() {
    let s = start(&[]).await;
    for path in ["/", "/settings/identity-providers", "/directory", "/policies", "/audit", "/settings"] {
        let r = s.get(path, None).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let to = location(&r);
        assert!(to.starts_with("/login"), "{path} -> {to}");
    }
    assert_eq!(location(&s.get("/audit?action=x", None).await), "/login?next=%2Faudit%3Faction%3Dx");
    let r = s.get("/login", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Sign in to Portcullis"));
    assert!(html.contains(r#"name="email""#) && html.contains(r#"name="password""#));
}

#[tokio::test]
async fn replicas_on_one_database_share_one_setup_token_and_setup_through_either_closes_it_on_both() {
    let key = ("PORTCULLIS_SECRET_KEY", crate::server::TEST_SECRET_KEY);
    let a = start(&[key]).await;
    let b = start(&[key, ("PORTCULLIS_DATABASE_URL", &a.database_url)]).await;
    assert!(a.setup_token.is_some());
    assert_eq!(a.setup_token, b.setup_token, "the replica started second opened the first one's token");
    // Through the other replica than the one whose log showed the token.
    let cookie = b.setup_admin("ada@example.com").await;
    assert_eq!(b.get("/", Some(&cookie)).await.status(), StatusCode::OK);
    let token = a.setup_token.clone().unwrap();
    let r = a
        .post_form(
            "/setup",
            &[("token", &token), ("email", "eve@example.com"), ("password", PASSWORD), ("password_confirm", PASSWORD)],
            None,
        )
        .await;
    assert!(location(&r).starts_with("/setup?error=already_done"), "{}", location(&r));
    assert_eq!(a.get("/", Some(&cookie)).await.status(), StatusCode::OK, "signed in on both");
}

#[tokio::test]
async fn first_run_setup_needs_the_one_time_token_and_signs_the_admin_in() {
    let s = start(&[]).await;
    let token_file = s.data.path().join("setup-token");
    let on_disk = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(Some(on_disk.trim().to_string()), s.setup_token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let r = s
        .post_form(
            "/setup",
            &[("token", "nope"), ("email", "ada@example.com"), ("password", PASSWORD), ("password_confirm", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/setup?error=bad_token&email=ada%40example.com"), "{}", location(&r));
    assert!(session_cookie(&r).is_none());

    let cookie = s.setup_admin("ada@example.com").await;
    assert!(!token_file.exists(), "the token file is removed once used");
    let r = s.get("/", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("ada@example.com"));

    // The token worked once; setup is closed now.
    let token = s.setup_token.clone().unwrap();
    let r = s
        .post_form(
            "/setup",
            &[("token", &token), ("email", "eve@example.com"), ("password", PASSWORD), ("password_confirm", PASSWORD)],
            None,
        )
        .await;
    assert!(location(&r).starts_with("/setup?error=already_done"), "{}", location(&r));
}

#[tokio::test]
async fn sign_in_sets_an_httponly_lax_cookie_and_sign_out_ends_the_session() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    assert!(s.setup_token.is_none(), "an admin from the settings closes setup");

    let r =
        s.post_form("/login", &[("email", "ada@example.com"), ("password", PASSWORD), ("next", "/audit")], None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/audit");
    let (cookie, full) = session_cookie(&r).unwrap();
    assert!(full.contains("HttpOnly") && full.contains("SameSite=Lax") && full.contains("Path=/"), "{full}");
    assert!(!full.contains("Secure"), "http public URL: no Secure flag");

    let r = s.get("/audit", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Signed in"), "the sign-in is in the audit log");

    let r = s.post_form("/logout", &[], Some(&cookie)).await;
    assert_eq!(location(&r), "/login?signed_out=1");
    assert!(session_cookie(&r).unwrap().1.contains("Max-Age=0"));
    let r = s.get("/audit", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the old cookie no longer works");
}

#[tokio::test]
async fn an_https_public_url_makes_the_cookie_secure_and_host_only() {
    let s = start(&[
        ("PORTCULLIS_PUBLIC_URL", "https://portcullis.example.com"),
        ("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"),
        ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD),
    ])
    .await;
    let r = s.sign_in("ada@example.com", PASSWORD).await;
    let (cookie, full) = session_cookie(&r).unwrap();
    assert!(cookie.starts_with("__Host-portcullis_session="), "{cookie}");
    assert!(full.contains("; Secure"), "{full}");
}

#[tokio::test]
async fn a_wrong_password_redirects_with_an_error_and_is_audited() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let r = s.sign_in("ada@example.com", "not the password").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?error=invalid&email=ada%40example.com");
    assert!(session_cookie(&r).is_none());

    let html = s.get("/login?error=invalid&email=ada%40example.com", None).await.text().await.unwrap();
    assert!(html.contains("Email or password is incorrect."));
    assert!(html.contains(r#"value="ada@example.com""#), "the typed email is kept");

    let (cookie, _) = session_cookie(&s.sign_in("ada@example.com", PASSWORD).await).unwrap();
    let html = s.get("/audit?action=auth.sign_in_failed", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("Sign-in failed"));
    assert!(html.contains("127.0.0.1"), "the client address is recorded");
    assert!(!html.contains("not the password"), "the typed password is never recorded");
}

/// Building the route list parks any page resource first polled meanwhile (leptos#4773); a
/// router built while another serves (every test, a benchmark) must not stall a page.
#[tokio::test]
async fn building_another_router_never_stalls_a_page_being_rendered() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let state = s.state.clone();
    let building = std::thread::spawn(move || {
        for _ in 0..40 {
            drop(portcullis_server::router(state.clone()));
        }
    });
    for _ in 0..40 {
        let page = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            s.get("/login", None).await.text().await.unwrap()
        });
        let html = page.await.expect("the sign-in page finished while another router was built");
        assert!(html.contains("Sign in to Portcullis"));
    }
    building.join().unwrap();
}

#[tokio::test]
async fn repeated_failures_are_slowed_down() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    for _ in 0..6 {
        s.sign_in("ada@example.com", "wrong wrong wrong").await;
    }
    let r = s.sign_in("ada@example.com", PASSWORD).await;
    assert!(location(&r).starts_with("/login?error=throttled&email=ada%40example.com&retry="), "{}", location(&r));
    assert!(session_cookie(&r).is_none());
}

#[tokio::test]
async fn cross_origin_posts_are_refused() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let form = [("email", "ada@example.com"), ("password", PASSWORD)];
    let r = s.client.post(s.url("/login")).header("Origin", "https://evil.example").form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = s.client.post(s.url("/login")).header("Sec-Fetch-Site", "cross-site").form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = s.client.post(s.url("/login")).header("Origin", s.base.as_str()).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "our own origin passes");

    let (cookie, _) = session_cookie(&r).unwrap();
    let r = s
        .client
        .post(s.url("/logout"))
        .header(header::COOKIE, &cookie)
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.get("/audit", Some(&cookie)).await.status(), StatusCode::OK, "a forged sign-out did nothing");
}

#[tokio::test]
async fn server_functions_refuse_callers_without_a_session() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let r = s.client.post(s.url("/api/audit_events")).form(&[("before", "")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s.client.post(s.url("/api/console_settings")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let (cookie, _) = session_cookie(&s.sign_in("ada@example.com", PASSWORD).await).unwrap();
    let r = s.client.post(s.url("/api/console_settings")).header(header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(body.contains("PORTCULLIS_PUBLIC_URL"));
    assert!(!body.contains(PASSWORD), "the admin password from the settings is never shown");
}

#[tokio::test]
async fn roles_are_enforced_by_every_server_function_not_only_by_hidden_buttons() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let hash = portcullis_domain::accounts::hash_password(PASSWORD).unwrap();
    for (email, role) in [("vera@example.com", "viewer"), ("ed@example.com", "editor")] {
        s.store.insert_user(&portcullis_domain::store::new_id(), email, "", Some(&hash), Some(role)).await.unwrap();
    }
    let call = |path: &'static str, cookie: String, form: Vec<(&'static str, &'static str)>| {
        let req = s.client.post(s.url(path)).header(header::COOKIE, cookie).form(&form);
        async move { req.send().await.unwrap().status() }
    };
    let (viewer, _) = session_cookie(&s.sign_in("vera@example.com", PASSWORD).await).unwrap();
    let (editor, _) = session_cookie(&s.sign_in("ed@example.com", PASSWORD).await).unwrap();
    let (admin, _) = session_cookie(&s.sign_in("ada@example.com", PASSWORD).await).unwrap();

    // A Viewer reads, but calling an Editor function is 403.
    assert_eq!(call("/api/role_mappings", viewer.clone(), vec![]).await, StatusCode::OK);
    assert_eq!(call("/api/providers/test", viewer.clone(), vec![("id", "any")]).await, StatusCode::FORBIDDEN);
    assert_eq!(
        call("/api/providers/set_enabled", viewer.clone(), vec![("id", "any"), ("enabled", "false")]).await,
        StatusCode::FORBIDDEN
    );
    // An Editor configures providers, but role mappings (who becomes an admin) are for admins.
    let status = call("/api/providers/test", editor.clone(), vec![("id", "any")]).await;
    assert!(status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED, "{status}");
    assert_eq!(
        call("/api/add_role_mapping", editor.clone(), vec![("provider_id", "p"), ("group", "g"), ("role", "admin")])
            .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(call("/api/set_break_glass", editor, vec![]).await, StatusCode::FORBIDDEN);
    // The admin gets past the role check to the domain's own answer (no such provider).
    let r = s
        .client
        .post(s.url("/api/add_role_mapping"))
        .header(header::COOKIE, admin)
        .form(&[("provider_id", "p"), ("group", "g"), ("role", "admin")])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("no longer exists"));
}

#[tokio::test]
async fn password_sign_in_can_be_kept_for_a_break_glass_admin() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let hash = portcullis_domain::accounts::hash_password(PASSWORD).unwrap();
    s.store
        .insert_user(&portcullis_domain::store::new_id(), "ed@example.com", "", Some(&hash), Some("editor"))
        .await
        .unwrap();
    let (admin, _) = session_cookie(&s.sign_in("ada@example.com", PASSWORD).await).unwrap();
    let r = s
        .client
        .post(s.url("/api/set_break_glass"))
        .header(header::COOKIE, &admin)
        .form(&[("email", "ed@example.com")])
        .send()
        .await
        .unwrap();
    assert!(
        r.text().await.unwrap().contains("must be an enabled admin"),
        "an editor cannot be the break-glass account"
    );
    let r = s
        .client
        .post(s.url("/api/set_break_glass"))
        .header(header::COOKIE, &admin)
        .form(&[("email", "ada@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let refused = s.sign_in("ed@example.com", PASSWORD).await;
    assert!(location(&refused).contains("error=local_restricted"));
    assert!(session_cookie(&refused).is_none());
    assert!(session_cookie(&s.sign_in("ada@example.com", PASSWORD).await).is_some());
}

#[tokio::test]
async fn sign_in_callbacks_without_a_started_sign_in_are_refused_without_a_session() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    for query in ["", "?code=abc&state=forged", "?error=access_denied&state=forged"] {
        let r = s.get(&format!("/auth/callback{query}"), None).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(location(&r).starts_with("/auth/error?code=state_"), "{query}: {}", location(&r));
        assert!(session_cookie(&r).is_none());
    }
    let page = s.get("/auth/error?code=state_invalid", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("This sign-in link is not valid"));
    // Starting a test sign-in needs a session.
    let r = s.post_form("/auth/start", &[("provider", "x"), ("purpose", "test")], None).await;
    assert!(location(&r).starts_with("/login"));
}

#[tokio::test]
async fn a_signed_in_admin_is_sent_from_login_to_the_console() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let (cookie, _) = session_cookie(&s.sign_in("ada@example.com", PASSWORD).await).unwrap();
    let r = s.get("/login", Some(&cookie)).await;
    assert_eq!(location(&r), "/");
}

#[tokio::test]
async fn unknown_pages_are_404_for_signed_in_admins() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let (cookie, _) = session_cookie(&s.sign_in("ada@example.com", PASSWORD).await).unwrap();
    let r = s.get("/no-such-page", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("This page does not exist"));
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let s = start(&[]).await;
    let r = s.get("/login", None).await;
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy() {
    for (trusted, believed) in [("127.0.0.1", true), ("none", false)] {
        let s = start(&[
            ("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"),
            ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD),
            ("PORTCULLIS_TRUSTED_PROXIES", trusted),
        ])
        .await;
        // What the client wrote itself ("6.6.6.6") is left of what the proxy appended.
        let r = s
            .client
            .post(s.url("/login"))
            .header("x-forwarded-for", "6.6.6.6, 203.0.113.9")
            .form(&[("email", "ada@example.com"), ("password", "not the password")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (cookie, _) = session_cookie(&s.sign_in("ada@example.com", PASSWORD).await).unwrap();
        let html = s.get("/audit?action=auth.sign_in_failed", Some(&cookie)).await.text().await.unwrap();
        assert_eq!(html.contains("203.0.113.9"), believed, "trusted {trusted}: the proxy's word");
        assert!(!html.contains("6.6.6.6"), "an address the client wrote is never believed");
    }
}

#[tokio::test]
async fn each_verify_endpoint_reads_only_its_proxys_headers_and_refuses_bad_ones_with_400() {
    let s = start(&[]).await;
    let ask = |path: &str, headers: &[(&'static str, &'static str)]| {
        let mut req = s.client.get(s.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "wiki.example.test"),
        ("x-forwarded-uri", "/"),
        ("x-forwarded-method", "GET"),
    ];
    // nginx's endpoint does not fall back to headers a client can send through nginx.
    let r = ask("/verify", &forwarded).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("X-Original-URL is missing"));
    let r = ask("/verify", &[("x-original-url", "http://x%y/secret")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Caddy's and Traefik's endpoint ignores X-Original-URL, which Caddy passes through.
    let r = ask("/verify/forward", &[("x-original-url", "https://wiki.example.test/")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let mut repeated = forwarded.to_vec();
    repeated.push(("x-forwarded-host", "public.example.test"));
    let r = ask("/verify/forward", &repeated).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("X-Forwarded-Host was sent more than once"));
    // Well-formed, but no application has the address: refused, not a 500.
    assert_eq!(ask("/verify/forward", &forwarded).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        ask("/verify", &[("x-original-url", "https://wiki.example.test/")]).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_assertion_keys_are_published_and_a_bad_callback_code_is_a_400() {
    let s = start(&[]).await;
    for path in ["/.well-known/portcullis/jwks.json", "/.portcullis/jwks.json"] {
        let r = s.get(path, None).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let jwks: serde_json::Value = r.json().await.unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(
            (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
            (Some("EC"), Some("P-256"), Some("ES256"))
        );
        assert!(key.get("d").is_none(), "never the private part");
    }
    let r = s.get("/.portcullis/callback?code=made-up", None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
    let r = s.get("/.portcullis/sign_out", None).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413_before_authentication() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let big = "x".repeat(portcullis_server::MAX_REQUEST_BODY + 1);
    for path in ["/api/audit_events", "/api/console_settings", "/login", "/auth/start", "/setup"] {
        let r = s
            .client
            .post(s.url(path))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("a={big}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    // A body within the limit reaches the route (and its session check).
    let r = s.client.post(s.url("/api/audit_events")).form(&[("before", "")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_over_long_sign_in_email_stores_nothing() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let long = format!("{}@example.com", "a".repeat(5000));
    let r = s.sign_in(&long, "whatever").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let key = portcullis_domain::throttle::account_key(&long);
    assert!(s.store.throttle_get(&key).await.unwrap().is_none(), "no throttle row keyed on an impossible address");
}

#[tokio::test]
async fn bad_input_to_server_functions_is_a_4xx_that_shows_the_message_not_a_500() {
    use portcullis_domain::store::ProviderRow;
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    s.store
        .save_provider(
            &ProviderRow::new_okta("okta", "Okta", "https://acme.okta.test", "0oa1", "sealed".into()),
            &[],
            "test",
        )
        .await
        .unwrap();
    let (admin, _) = session_cookie(&s.sign_in("ada@example.com", PASSWORD).await).unwrap();
    let form =
        |path: &str, form: &[(&str, &str)]| s.client.post(s.url(path)).header(header::COOKIE, &admin).form(form).send();
    let json = |path: &str, body: serde_json::Value| {
        s.client.post(s.url(path)).header(header::COOKIE, &admin).json(&body).send()
    };
    let app = |hostname: &str| {
        serde_json::json!({ "form": {
            "name": format!("App {hostname}"),
            "hosts": [{ "hostname": hostname, "path_prefix": "" }],
            "session_duration_minutes": "480",
        }})
    };

    for (what, r, status, says) in [
        (
            "an empty group name",
            form("/api/add_role_mapping", &[("provider_id", "okta"), ("group", "  "), ("role", "admin")]).await.unwrap(),
            StatusCode::BAD_REQUEST,
            "Choose a group",
        ),
        (
            "a mapping at a provider that is gone",
            form("/api/add_role_mapping", &[("provider_id", "gone"), ("group", "Admins"), ("role", "admin")]).await.unwrap(),
            StatusCode::NOT_FOUND,
            "no longer exists",
        ),
        (
            "a URL with a path as the hostname",
            json("/api/policies/create_application", app("https://wiki.example.com/admin")).await.unwrap(),
            StatusCode::BAD_REQUEST,
            "put the path in Path prefix",
        ),
        (
            "a session duration that is not a number",
            json(
                "/api/policies/create_application",
                serde_json::json!({ "form": { "name": "Wiki", "hosts": [{ "hostname": "wiki.example.com", "path_prefix": "" }], "session_duration_minutes": "eight hours" }}),
            )
            .await
            .unwrap(),
            StatusCode::BAD_REQUEST,
            "whole number of minutes",
        ),
        (
            "a malformed import",
            json("/api/policies/import", serde_json::json!({ "application_id": null, "document": "{\"policies\": [", "replace": false })).await.unwrap(),
            StatusCode::BAD_REQUEST,
            "This is not a policy export",
        ),
        (
            "an empty import",
            json("/api/policies/import", serde_json::json!({ "application_id": null, "document": " ", "replace": false })).await.unwrap(),
            StatusCode::BAD_REQUEST,
            "Paste an exported policy document",
        ),
        (
            "an import into an application that is gone",
            json("/api/policies/import", serde_json::json!({ "application_id": "gone", "document": "{\"format\": \"portcullis.policies\", \"version\": 1, \"policies\": []}", "replace": false }))
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "No such application",
        ),
    ] {
        let status_seen = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status_seen, status, "{what}: {body}");
        assert!(body.contains(says), "{what}: the message is shown: {body}");
    }

    // A hostname pasted as a URL names one host: taken as that host.
    let r = json("/api/policies/create_application", app("https://Wiki.example.com/")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = json("/api/policies/create_application", app("wiki.example.com")).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT, "the pasted URL was stored as the host");
    assert!(r.text().await.unwrap().contains("already belongs to the application"));
    // Arguments that cannot be read at all are the caller's mistake too.
    let r = s
        .client
        .post(s.url("/api/policies/import"))
        .header(header::COOKIE, &admin)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"document\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Testing a provider that does not exist is a 404.
    let r = form("/api/providers/test", &[("id", "nope")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_policy_export_downloads_as_a_file_for_any_signed_in_role() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    let hash = portcullis_domain::accounts::hash_password(PASSWORD).unwrap();
    let id = portcullis_domain::store::new_id();
    s.store.insert_user(&id, "vera@example.com", "", Some(&hash), Some("viewer")).await.unwrap();
    let app = portcullis_domain::policies::PolicyService::new(s.store.clone())
        .create_application(
            &portcullis_domain::audit::Actor::System,
            None,
            &portcullis_domain::policies::ApplicationInput {
                name: "Team Wiki".into(),
                hosts: vec![portcullis_domain::policies::HostRule::new("wiki.example.test", "/")],
                session_duration_minutes: 60,
            },
        )
        .await
        .unwrap();
    let path = format!("/policies/apps/{}/export.json", app.id);

    let anonymous = s.get(&path, None).await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "no session: sign in first");

    let (viewer, _) = session_cookie(&s.sign_in("vera@example.com", PASSWORD).await).unwrap();
    let r = s.get(&path, Some(&viewer)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_DISPOSITION], "attachment; filename=\"team-wiki.policies.json\"");
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    let doc: serde_json::Value = r.json().await.unwrap();
    assert_eq!(doc["format"], "portcullis.policies");
    assert_eq!(doc["application"]["name"], "Team Wiki");

    let missing = s.get("/policies/apps/no-such-app/export.json", Some(&viewer)).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_audit_log_filters_and_exports_its_rows_as_csv_and_json() {
    let s = start(&[("PORTCULLIS_ADMIN_EMAIL", "ada@example.com"), ("PORTCULLIS_ADMIN_PASSWORD", PASSWORD)]).await;
    // Anyone can put a target in the log: a typed sign-in email that a spreadsheet would run.
    s.sign_in("=HYPERLINK(\"https://evil.example\")@x.example", "guess").await;
    let (cookie, _) = session_cookie(&s.sign_in("ada@example.com", PASSWORD).await).unwrap();

    let r = s.get("/audit/export.csv", None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "no session, no export");
    assert!(location(&r).starts_with("/login?next="), "{}", location(&r));

    let r = s.get("/audit/export.csv?action=auth.sign_in_failed&target=hyperlink", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"portcullis-audit-"));
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 2, "the header and the one failed sign-in: {csv}");
    assert!(csv.contains(r#","'=hyperlink("#), "a formula is kept as text: {csv}");

    let r = s.get("/audit/export.json?actor=ADA&action=auth.sign_in", Some(&cookie)).await;
    let doc: serde_json::Value = r.json().await.unwrap();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{doc}");
    assert_eq!(entries[0]["actor"], "ada@example.com");
    assert_eq!(entries[0]["outcome"], "success");

    let r = s.get("/audit/export.json?from=yesterday", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("YYYY-MM-DD"));

    let html = s.get("/audit?target=hyperlink&from=2000-01-01", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains(r#"data-action="auth.sign_in_failed""#), "the failed sign-in is shown");
    assert!(!html.contains(r#"data-action="auth.sign_in""#), "the page shows the filtered rows only");
    assert!(html.contains("/audit/export.csv?target=hyperlink&amp;from=2000-01-01"), "export links keep the filters");
    let html = s.get("/audit?to=1999-12-31", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("No entries match these filters."));
    let r = s.get("/audit?from=2026-13-45", Some(&cookie)).await;
    assert!(r.text().await.unwrap().contains("is not a date"), "a bad date says what to type");
}
