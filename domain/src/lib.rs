//! Portcullis' domain: everything that is not UI. Tested with plain `cargo test`.
//!
//! - [`settings`]: start-up configuration.
//! - [`store`]: the database; every SQL statement lives there.
//! - [`accounts`]: the first admin, local sign-in, sessions, roles.
//! - [`audit`]: the audit log's vocabulary and write path.
//! - [`throttle`]: slowing down password guessing.
//! - [`crypto`]: secrets at rest.
//! - [`outbound`]: the guarded HTTP client for identity providers.
//! - [`providers`]: identity providers and the checks that prove their settings.
//! - [`sync`]: directory synchronization (users, groups, memberships from Okta).

pub mod accounts;
pub mod audit;
pub mod crypto;
pub mod okta;
pub mod outbound;
pub mod providers;
pub mod settings;
pub mod store;
pub mod sync;
pub mod throttle;

pub use accounts::{Accounts, ClientInfo, NewSession, Role, SessionPolicy, SignedIn};
pub use settings::{Settings, SettingsError};
pub use store::{Store, StoreError};
