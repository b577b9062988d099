//! Portcullis' domain: everything that is not UI. Tested with plain `cargo test`.
//!
//! - [`settings`]: start-up configuration.
//! - [`store`]: the database; every SQL statement lives there.
//! - [`accounts`]: the first admin, local sign-in, sessions, roles.
//! - [`api_tokens`]: bearer tokens for the REST API.
//! - [`config`]: the whole configuration as one document: export, plan, apply.
//! - [`audit`]: the audit log's vocabulary and write path.
//! - [`throttle`]: slowing down password guessing.
//! - [`trusted_proxies`]: whose `X-Forwarded-For` is believed.
//! - [`crypto`]: secrets at rest.
//! - [`error`]: how a domain error is classified for whoever answers the caller.
//! - [`outbound`]: the guarded HTTP client for identity providers.
//! - [`providers`]: identity providers and the checks that prove their settings.
//! - [`sync`]: directory synchronization (users, groups, memberships from Okta).
//! - [`assertion`]: the signed identity (JWT) sent to upstreams, and its rotating keys.
//! - [`forward_auth`]: decisions for reverse proxies, and access sessions.
//! - [`sso`]: signing in with identity providers, role mappings.
//! - [`policies`]: applications and their access policies; evaluation for forward auth.

pub mod accounts;
pub mod api_tokens;
pub mod assertion;
pub mod audit;
pub mod config;
pub mod cookies;
pub mod credentials;
pub mod crypto;
pub mod directory;
pub mod error;
pub mod forward_auth;
pub mod okta;
pub mod outbound;
pub mod overview;
pub mod policies;
pub mod providers;
pub mod replica;
pub mod scim;
pub mod settings;
pub mod sso;
pub mod store;
pub mod sync;
pub mod throttle;
pub mod trusted_proxies;

pub use accounts::{Accounts, ClientInfo, NewSession, Role, SessionPolicy, SignedIn};
pub use error::{Classify, Fault};
/// The codes that travel in redirect URLs; the wire types crate owns them.
pub use portcullis_types::codes;
pub use settings::{Settings, SettingsError};
pub use store::{Store, StoreError};
