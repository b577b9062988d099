//! Integration tests, one binary per crate: linking one test executable instead of one per
//! file is most of a test build's time on two cores.
#![allow(clippy::unwrap_used)] // a test that panics on a bad value is a failing test

mod directory_sync;
mod forward_auth;
mod policies;
mod providers;
mod sso;
mod store_concurrency;
mod store_schema;
mod support;
