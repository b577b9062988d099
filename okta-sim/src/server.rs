//! The HTTP server: routes, the cross-cutting layer (request id, `Date`, latency, injected
//! errors, rate limits), and the running [`Sim`].

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::control::{self, Control};
use crate::errors::{OAuthError, OktaError};
use crate::fixture::Fixture;
use crate::keys::KeyRing;
use crate::oauth::{authorize, discovery, token, userinfo};
use crate::ratelimit::bucket_for;
use crate::state::AppState;
use crate::store::Store;
use crate::switches::Switches;
use crate::util::{http_date, request_id};
use crate::{api, tls, SimError};

/// How to run the simulator.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Serve HTTPS with a generated CA ([`Sim::ca_pem`]).
    pub tls: bool,
    /// Public base URL, when not `http(s)://<listen address>` (e.g. `http://localhost:PORT`).
    pub base_url: Option<String>,
    /// Overrides the fixture's `switches`.
    pub switches: Option<Switches>,
    /// Seed for injected-error randomness.
    pub seed: u64,
}

/// A running simulator. Dropping it stops the server.
pub struct Sim {
    base_url: String,
    ca_pem: Option<String>,
    control: Control,
    local_addr: std::net::SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Sim {
    pub async fn start(listener: TcpListener, fixture: Fixture, options: Options) -> Result<Sim, SimError> {
        let local_addr = listener.local_addr()?;
        let scheme = if options.tls { "https" } else { "http" };
        let base_url = options
            .base_url
            .clone()
            .map(|b| b.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("{scheme}://{local_addr}"));
        let store = Store::from_fixture(&fixture)?;
        let keys = KeyRing::new().map_err(|e| SimError::Key(e.to_string()))?;
        let switches = options.switches.clone().unwrap_or_else(|| fixture.switches.clone());
        let st = Arc::new(AppState::new(base_url.clone(), store, keys, switches, options.seed, options.tls));
        let app = router(st.clone());

        let mut tasks = Vec::new();
        let ca_pem = if options.tls {
            let extra: Vec<String> =
                url::Url::parse(&base_url).ok().and_then(|u| u.host_str().map(str::to_owned)).into_iter().collect();
            let material = tls::generate(&extra)?;
            let (listener, accept_task) = tls::TlsListener::start(listener, material.acceptor)?;
            tasks.push(accept_task);
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
            Some(material.ca_pem)
        } else {
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
            None
        };
        tracing::info!(%base_url, tls = options.tls, "okta-sim serving");
        Ok(Sim { base_url, ca_pem, control: Control { st }, local_addr, tasks })
    }

    /// Binds `127.0.0.1:0` and starts.
    pub async fn start_local(fixture: Fixture, options: Options) -> Result<Sim, SimError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Sim::start(listener, fixture, options).await
    }

    /// The org's base URL, which is also the org authorization server's issuer.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `{base}/oauth2/default`, the developer-org default custom server's issuer.
    pub fn default_issuer(&self) -> String {
        format!("{}/oauth2/default", self.base_url)
    }

    /// The CA certificate (PEM) that signed the server certificate, with `tls`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local_addr
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }

    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub(crate) fn router(st: Arc<AppState>) -> Router {
    let api_routes = Router::new()
        .route("/api/v1/users", get(api::list_users))
        .route("/api/v1/users/{id}", get(api::get_user))
        .route("/api/v1/users/{id}/groups", get(api::user_groups))
        .route("/api/v1/groups", get(api::list_groups))
        .route("/api/v1/groups/{id}", get(api::get_group))
        .route("/api/v1/groups/{id}/users", get(api::group_users))
        .route("/api/v1/apps/{id}/users", get(api::app_users))
        .route("/api/v1/apps/{id}/groups", get(api::app_groups))
        .route("/api/v1/{*rest}", get(api::not_found).post(api::not_found).put(api::not_found).delete(api::not_found));

    let oauth_routes = Router::new()
        .route("/.well-known/openid-configuration", get(discovery::oidc))
        .route("/.well-known/oauth-authorization-server", get(discovery::oauth))
        .route("/oauth2/v1/keys", get(discovery::keys))
        .route("/oauth2/v1/authorize", get(authorize::handler).post(authorize::handler))
        .route("/oauth2/v1/token", post(token::handler))
        .route("/oauth2/v1/userinfo", get(userinfo::handler).post(userinfo::handler))
        .route("/oauth2/v1/revoke", post(token::revoke_handler))
        .route("/oauth2/v1/introspect", post(token::introspect_handler))
        .route("/oauth2/v1/logout", get(authorize::logout_handler).post(authorize::logout_handler))
        .route("/oauth2/{as}/.well-known/openid-configuration", get(discovery::oidc))
        .route("/oauth2/{as}/.well-known/oauth-authorization-server", get(discovery::oauth))
        .route("/oauth2/{as}/v1/keys", get(discovery::keys))
        .route("/oauth2/{as}/v1/authorize", get(authorize::handler).post(authorize::handler))
        .route("/oauth2/{as}/v1/token", post(token::handler))
        .route("/oauth2/{as}/v1/userinfo", get(userinfo::handler).post(userinfo::handler))
        .route("/oauth2/{as}/v1/revoke", post(token::revoke_handler))
        .route("/oauth2/{as}/v1/introspect", post(token::introspect_handler))
        .route("/oauth2/{as}/v1/logout", get(authorize::logout_handler).post(authorize::logout_handler))
        .route("/login/signin", post(authorize::sign_in))
        .route("/", get(authorize::landing));

    Router::new()
        .merge(api_routes)
        .merge(oauth_routes)
        .route("/__sim/control", post(control::http_control))
        .route("/__sim/state", get(control::http_state))
        .route("/__sim/scim", post(control::http_scim))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(st.clone(), sim_layer))
        .with_state(st)
}

async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        OktaError::path_not_found().into_response()
    } else {
        (StatusCode::NOT_FOUND, "Not Found").into_response()
    }
}

async fn method_not_allowed(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        OktaError::method_not_allowed().into_response()
    } else {
        StatusCode::METHOD_NOT_ALLOWED.into_response()
    }
}

fn injected_error(path: &str, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if path.starts_with("/api/") {
        let mut e = OktaError::internal();
        e.status = status;
        e.into_response()
    } else {
        OAuthError::new(
            status,
            "server_error",
            "The authorization server encountered an unexpected condition that prevented it from fulfilling the request.",
        )
        .into_response()
    }
}

fn rate_limited(path: &str) -> Response {
    if path.starts_with("/api/") {
        OktaError::rate_limited().into_response()
    } else {
        OktaError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "You exceeded the maximum number of requests. Try again in a while.",
        )
        .into_response()
    }
}

/// Runs around every request.
async fn sim_layer(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().as_str().to_owned();
    let mut resp = if path.starts_with("/__sim/") {
        next.run(req).await
    } else {
        st.request_count.fetch_add(1, Ordering::Relaxed);
        let sw = st.switches();
        if sw.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(sw.latency_ms)).await;
        }
        let decision = bucket_for(&method, &path)
            .map(|(m, t)| st.limiter.check(&format!("{m} {t}"), sw.rate_limit_for(&m, &t), st.clock.now_ms()));
        let inject = sw.error_rate > 0.0
            && path.starts_with(sw.error_path_prefix.as_str())
            && st.rng().gen_bool(sw.error_rate.clamp(0.0, 1.0));
        let mut resp = if decision.is_some_and(|d| !d.allowed) {
            rate_limited(&path)
        } else if inject {
            injected_error(&path, sw.error_status)
        } else {
            next.run(req).await
        };
        if let Some(d) = decision {
            let h = resp.headers_mut();
            h.insert(HeaderName::from_static("x-rate-limit-limit"), HeaderValue::from(d.limit));
            h.insert(HeaderName::from_static("x-rate-limit-remaining"), HeaderValue::from(d.remaining));
            h.insert(HeaderName::from_static("x-rate-limit-reset"), HeaderValue::from(d.reset));
        }
        resp
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert(HeaderName::from_static("x-okta-request-id"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(st.clock.now_secs())) {
        h.insert(header::DATE, v);
    }
    resp
}
