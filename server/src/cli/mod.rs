//! `portcullis <command>`: serving (no command), API and SCIM tokens against the configured
//! database, and configuration as code against a running console's API.

pub mod config;
pub mod scim;
pub mod tokens;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about = "Portcullis: identity-aware access for the proxies you run.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the console (the default).
    Serve,
    /// API tokens for /api/v1, in the database PORTCULLIS_DATABASE_URL names.
    #[command(name = "api-token", subcommand)]
    ApiToken(tokens::TokenCommand),
    /// Configuration as code against a running console's API.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// SCIM provisioning tokens of a provider, in the database PORTCULLIS_DATABASE_URL names.
    #[command(name = "scim-token", subcommand)]
    ScimToken(scim::ScimTokenCommand),
}
