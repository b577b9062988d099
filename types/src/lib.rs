//! The types that cross the wire between the console's browser code and the server, and that
//! the REST API will publish. One enum per closed set of values: adding a variant is the one
//! change, and every `match` that must show or handle it stops compiling until it does.
//!
//! Only serde here: no Leptos, no sqlx, nothing that would not build for `wasm32`.

mod role;

pub use role::Role;
pub mod api;
pub mod codes;
pub mod policy;
pub mod provider;
pub mod sso;
pub mod sync;
pub mod url;

pub use policy::{ExportedProvider, GroupRef, ProviderMatch, ProviderMatchKind, ProviderOption, Selector, UserRef};
pub use sync::{RunKind, RunStatus};
