//! `/login`, `/setup` and `/auth/error`: the pages before a session.

pub mod login;
pub mod refusal;
pub mod setup;
