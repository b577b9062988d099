//! okta-sim: a local Okta org over real HTTP, for the console's tests, benchmarks and a
//! no-account demo. Faithful to `shared/okta-api.md`; what that document marks unconfirmed
//! is a [`Switches`] field.
//!
//! ```no_run
//! # async fn demo() -> Result<(), okta_sim::SimError> {
//! let sim = okta_sim::Sim::start_local(okta_sim::Fixture::sample(), okta_sim::Options::default()).await?;
//! println!("{}", sim.base_url());
//! sim.control().rotate_keys().ok();
//! # Ok(()) }
//! ```

// Handlers return `Result<_, Response>`: the error is the HTTP answer, built once on a cold path.
#![allow(clippy::result_large_err)]

mod api;
pub mod control;
mod dpop;
mod errors;
mod filter;
pub mod fixture;
mod generate;
pub mod keys;
mod oauth;
mod ratelimit;
mod resource;
pub mod scim_client;
mod server;
mod state;
mod store;
pub mod switches;
pub mod testkit;
mod tls;
mod util;

pub use control::{Control, ControlError, ControlOp};
pub use fixture::{sample, Credentials, Fixture};
pub use generate::generate;
pub use server::{Options, Sim};
pub use switches::{IdTokenDefect, Switches};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("fixture: {0}")]
    Fixture(String),
    #[error("signing keys: {0}")]
    Key(String),
    #[error("tls: {0}")]
    Tls(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
