//! Server functions by area, and the data they return. Thin: each asks [`ssr::caller`] who
//! calls, calls one domain service, and maps its result (errors through [`ssr::fail`]).
//! The endpoints are named explicitly, so moving a function between files changes no URL.

pub mod console;
pub mod directory;
pub mod policies;
pub mod providers;
pub mod scim;
pub mod sso;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod tokens;
