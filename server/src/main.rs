//! `portcullis`: the console's server. Settings come from `PORTCULLIS_*`
//! variables and an optional `portcullis.toml`; see the README.

use std::process::ExitCode;

use clap::Parser;
use portcullis_domain::Settings;
use portcullis_server::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Serve) => serve(),
        Some(Command::Config(command)) => block_on(portcullis_server::cli::config::run(command)),
        Some(Command::ApiToken(command)) => with_settings(|settings| async move {
            portcullis_server::cli::tokens::run(command, &settings).await.map(|()| 0)
        }),
        Some(Command::ScimToken(command)) => {
            with_settings(
                |settings| async move { portcullis_server::cli::scim::run(command, &settings).await.map(|()| 0) },
            )
        }
    }
}

/// Runs a command's future; its `Ok` is the exit code, its error one line on stderr.
fn block_on(work: impl std::future::Future<Output = Result<u8, String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(work) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("portcullis: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A command against the configured database: the settings first, as serving reads them.
fn with_settings<F, Fut>(command: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: std::future::Future<Output = Result<u8, String>>,
{
    match Settings::from_env() {
        Ok(settings) => block_on(command(settings)),
        Err(e) => fail(&e.to_string()),
    }
}

fn serve() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let filter = match EnvFilter::try_new(&settings.log) {
        Ok(f) => f,
        Err(e) => {
            return fail(&format!("PORTCULLIS_LOG: '{}' is not a log filter such as info or debug ({e})", settings.log))
        }
    };
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();

    let assets = settings.site_dir.join("pkg").join("portcullis.js");
    if !assets.is_file() {
        return fail(&format!(
            "PORTCULLIS_SITE_DIR: no browser assets in {} (run `make release`, or point it at the site folder)",
            settings.site_dir.display()
        ));
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let listen = settings.listen;
        let public = settings.public_base();
        let state = match portcullis_server::prepare(settings).await {
            Ok(s) => s,
            Err(e) => return fail(&e.to_string()),
        };
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => return fail(&format!("PORTCULLIS_LISTEN: cannot listen on {listen}: {e}")),
        };
        tracing::info!("Portcullis is listening on {listen}; open {public}");
        match portcullis_server::serve(listener, state).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&format!("server stopped: {e}")),
        }
    })
}

/// One line on stderr, non-zero exit.
fn fail(message: &str) -> ExitCode {
    eprintln!("portcullis: cannot start: {message}");
    ExitCode::from(2)
}
