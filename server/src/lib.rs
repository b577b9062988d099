#![recursion_limit = "256"]
//! The Portcullis HTTP server: start-up, the router and its middleware.
//! Handlers stay thin; the work happens in `portcullis_domain`.

mod api;
mod api_errors;
mod auth;
pub mod cli;
mod cookies;
mod csrf;
mod downloads;
mod forward;
mod health;
mod scim;
mod sso;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use axum::{extract::FromRef, middleware, routing::get, Router};
use http::{header, HeaderValue};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use portcullis_app::{api::ssr::Services, shell, App};
use portcullis_domain::{
    accounts::random_token,
    assertion::Assertions,
    audit::Audit,
    crypto::SecretBox,
    directory::DirectoryService,
    forward_auth::ForwardAuth,
    outbound::{Outbound, OutboundConfig},
    policies::PolicyService,
    providers::service::ProviderService,
    replica::Replica,
    sso::{roles::RoleMappings, SsoService},
    store::Backend,
    sync::SyncService,
    Accounts, SessionPolicy, Settings, Store, StoreError,
};
use tokio::sync::Mutex;
use tower_http::{limit::RequestBodyLimitLayer, set_header::SetResponseHeaderLayer, trace::TraceLayer};

/// The largest request body any route takes (forms, server functions, a policy import),
/// checked before sessions or anything else read it: larger is 413.
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;

pub use cookies::SESSION_COOKIE;

/// Why the server could not start. Each prints as one line naming the setting involved.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("PORTCULLIS_DATABASE_URL: {0}")]
    Database(#[from] StoreError),
    #[error("PORTCULLIS_ADMIN_EMAIL/PORTCULLIS_ADMIN_PASSWORD: {0}")]
    Admin(#[from] portcullis_domain::accounts::SetupError),
    #[error("PORTCULLIS_SECRET_KEY: {0}")]
    Secrets(#[from] portcullis_domain::crypto::CryptoError),
    #[error("PORTCULLIS_CA_FILE: {0}")]
    Outbound(String),
    #[error("PORTCULLIS_SECRET_KEY: the assertion signing keys: {0}")]
    Assertions(#[from] portcullis_domain::assertion::AssertionError),
    #[error("PORTCULLIS_DATA_DIR: cannot write {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
}

/// The one-time token that guards `/setup` while no admin exists.
#[derive(Clone, Debug, Default)]
pub struct SetupToken {
    inner: Arc<Mutex<Option<String>>>,
    file: Option<PathBuf>,
    /// Where the token is shared with the other replicas (sealed), until setup is done.
    store: Option<Store>,
}

impl SetupToken {
    pub async fn get(&self) -> Option<String> {
        self.inner.lock().await.clone()
    }

    /// Forgets the token once setup is done, here, on disk and in the database.
    pub async fn consume(&self) {
        self.inner.lock().await.take();
        if let Some(file) = &self.file {
            let _ = std::fs::remove_file(file);
        }
        if let Some(store) = &self.store {
            if let Err(e) = store.delete_console_setting(SETUP_TOKEN_KEY).await {
                tracing::warn!(error = %e, "could not forget the shared setup token");
            }
        }
    }
}

const SETUP_TOKEN_KEY: &str = "setup_token";

/// One setup token for every replica on the database: the first to start makes it, sealed with
/// the shared secret key; the others open it, so /setup works through any of them.
async fn shared_setup_token(store: &Store, secrets: &SecretBox) -> Result<String, StartError> {
    let fresh = random_token();
    let stored = store.console_setting_or_insert(SETUP_TOKEN_KEY, &secrets.seal(SETUP_TOKEN_KEY, &fresh)).await?;
    match secrets.open(SETUP_TOKEN_KEY, &stored) {
        Ok(token) => Ok(token.expose().to_string()),
        // Sealed with another key (it changed before setup was done): start over.
        Err(_) => {
            store.set_console_setting(SETUP_TOKEN_KEY, &secrets.seal(SETUP_TOKEN_KEY, &fresh)).await?;
            Ok(fresh)
        }
    }
}

/// Everything a request handler may need.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub services: Services,
    /// For readiness only: handlers and server functions go through the services.
    pub store: Store,
    pub setup_token: SetupToken,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Opens the database, creates the first admin from the settings if asked,
/// or prepares the setup token.
pub async fn prepare(settings: Settings) -> Result<AppState, StartError> {
    let store = Store::open(&settings.database_url).await?;
    let policy = SessionPolicy { idle: settings.session_idle, lifetime: settings.session_lifetime };
    let accounts = Accounts::new(store.clone(), policy);

    if let (Some(email), Some(password)) = (&settings.admin_email, &settings.admin_password) {
        if accounts.ensure_admin_from_settings(email, password.expose()).await? {
            tracing::info!(%email, "created the first admin from PORTCULLIS_ADMIN_EMAIL");
        }
    }

    let secrets = SecretBox::load(settings.secret_key.as_ref(), &settings.data_dir)?;
    let setup_token = if accounts.needs_setup().await? {
        let token = shared_setup_token(&store, &secrets).await?;
        let file = settings.data_dir.join("setup-token");
        write_private(&file, &token).map_err(|source| StartError::DataDir { path: file.clone(), source })?;
        tracing::warn!(
            setup_token = %token,
            "no admin exists yet: open {}/setup and enter this setup token (also in {})",
            settings.public_base(),
            file.display()
        );
        SetupToken { inner: Arc::new(Mutex::new(Some(token))), file: Some(file), store: Some(store.clone()) }
    } else {
        SetupToken::default()
    };

    let leptos = LeptosOptions::builder()
        .output_name("portcullis")
        .site_root(settings.site_dir.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(settings.listen)
        .build();
    let outbound = Outbound::new(OutboundConfig {
        allow: settings.outbound_allow.clone(),
        extra_ca_pem: settings.ca_file.as_ref().map(|(_, pem)| pem.clone()),
        ..OutboundConfig::default()
    })
    .map_err(StartError::Outbound)?;
    let redirect_uri = format!("{}/auth/callback", settings.public_base());
    let providers = ProviderService::new(store.clone(), secrets.clone(), outbound.clone(), redirect_uri);
    let sync = SyncService::new(store.clone(), secrets.clone(), outbound.clone());
    // Before anything scheduled: whether this replica is the background runner.
    let replica = Replica::new(settings.replica_id.clone());
    replica.start(store.clone()).await;
    sync.set_replica(replica.clone());
    if store.backend() == Backend::Postgres {
        tracing::info!(
            replica = replica.id(),
            runner = replica.is_runner(),
            "PostgreSQL: running as one of several replicas"
        );
        spawn_change_follower(store.clone());
    }
    let assertions = Assertions::load(store.clone(), secrets.clone(), &settings.public_base()).await?;
    let sso = SsoService::new(store.clone(), secrets, outbound, &settings.public_base(), policy);
    let roles = RoleMappings::new(store.clone());
    let policies = PolicyService::new(store.clone());
    let forward_auth = ForwardAuth::new(store.clone(), policies.clone(), assertions.clone());
    let config = portcullis_domain::config::ConfigService::new(
        store.clone(),
        providers.clone(),
        sync.clone(),
        roles.clone(),
        policies.clone(),
    );
    let services = Services {
        settings: Arc::new(settings),
        accounts,
        audit: Audit::new(store.clone()),
        directory: DirectoryService::new(store.clone()),
        overview: portcullis_domain::overview::OverviewService::new(store.clone()),
        providers,
        sync,
        sso,
        roles,
        policies,
        forward_auth,
        tokens: portcullis_domain::api_tokens::ApiTokens::new(store.clone()),
        config,
        scim: portcullis_domain::scim::ScimService::new(store.clone()),
        replica: replica.clone(),
    };
    spawn_key_rotation(assertions, replica);
    Ok(AppState { leptos, services, store, setup_token })
}

/// Signing keys rotate on their own (the background runner makes them), and keys another
/// replica made are picked up.
fn spawn_key_rotation(assertions: Assertions, replica: Replica) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(300));
        every.tick().await;
        loop {
            every.tick().await;
            let done = if replica.is_runner() { assertions.refresh().await } else { assertions.reload().await };
            if let Err(e) = done {
                tracing::warn!(error = %e, "could not rotate the assertion signing keys");
            }
        }
    });
}

/// How often a replica looks whether another one changed what forward auth caches.
const CHANGE_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Forward auth's caches follow changes made on other replicas: one indexed one-row read
/// every [`CHANGE_POLL`] (see docs/replicas-benchmark.md for its cost).
fn spawn_change_follower(store: Store) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHANGE_POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = store.refresh_change_number().await {
                tracing::debug!(error = %e, "cannot read the shared change number");
            }
        }
    });
}

/// The setup token file is readable by its owner only.
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

/// The application's routes, generated once per process. Generating them sets a process-wide
/// flag that parks any resource first polled meanwhile forever (leptos-rs/leptos#4773), so a
/// second router (tests, benchmarks) built while another serves pages must not generate again.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole console as an axum router.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The console with `extra` routes behind the same middleware (the benchmark's bare handler).
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let routes = route_list();
    let services = state.services.clone();
    let context = move || provide_context(services.clone());

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/login", axum::routing::post(auth::login))
        .route("/logout", axum::routing::post(auth::logout))
        .route("/setup", axum::routing::post(auth::setup))
        .route("/auth/start", axum::routing::post(sso::start))
        .route("/auth/callback", get(sso::callback))
        .route("/okta/universal-logout/{provider_id}", axum::routing::post(sso::universal_logout))
        .route("/auth/access", get(forward::access))
        .route("/verify", axum::routing::any(forward::verify))
        .route("/verify/forward", axum::routing::any(forward::verify_forward))
        .route("/.portcullis/callback", get(forward::app_callback))
        .route("/.portcullis/sign_out", get(forward::app_sign_out).post(forward::app_sign_out))
        .route("/.portcullis/jwks.json", get(forward::jwks))
        .route("/.well-known/portcullis/jwks.json", get(forward::jwks))
        .route("/policies/apps/{id}/export.json", get(downloads::policy_export))
        .route("/audit/{format}", get(downloads::audit_export))
        .merge(api::router())
        .merge(scim::router())
        .merge(extra)
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        // Outermost last: trace, headers, cross-origin guard, session, page gate.
        .layer(middleware::from_fn(api_errors::malformed_arguments_are_400))
        .layer(middleware::from_fn(auth::require_session_for_pages))
        .layer(middleware::from_fn_with_state(state.clone(), auth::resolve_session))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::cross_origin_guard))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'; base-uri 'self'; object-src 'none'"),
        ))
        // Outside the session and page gate, so an anonymous caller's body is bounded before any
        // work: the header check answers 413 at once, a longer streamed body fails when read.
        // Extractors (forms) get the same bound instead of axum's 2 MB default; server functions
        // read the body themselves and are bounded by the layer alone.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
        // The path only: query strings carry one-time codes (sign-in callbacks) that must not be logged.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &http::Request<axum::body::Body>| {
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}

/// Serves until ctrl-c or SIGTERM, finishing requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let accounts = state.services.accounts.clone();
    let replica = state.services.replica.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            // Housekeeping is the background runner's.
            if !replica.is_runner() {
                continue;
            }
            match accounts.purge_expired_sessions().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(sessions = n, "removed expired sessions"),
                Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
            }
        }
    });
    // Scheduled directory synchronization for every provider that has it.
    let scheduler = state.services.sync.spawn_scheduler();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await;
    scheduler.abort();
    served
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
