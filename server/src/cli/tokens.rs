//! `portcullis api-token create|list|revoke`: for bootstrapping (the first token, before anyone
//! signed in) and for automation on the server's machine. Whoever can run this can read the
//! database, so it acts as an Admin, audited as "command line".

use clap::Subcommand;
use portcullis_domain::{
    api_tokens::{ApiTokens, NewToken},
    audit::{Actor, Caller},
    Role, Settings, Store,
};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (only it) on stdout.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Days until it expires (1 to 366).
        #[arg(long, default_value_t = portcullis_domain::api_tokens::DEFAULT_EXPIRY_DAYS)]
        expires_days: u32,
        /// An address range it may be used from; repeat for several. None: any address.
        #[arg(long = "allow-cidr")]
        allow_cidr: Vec<String>,
    },
    /// List tokens: prefix, name, role, state, created, last used, expiry.
    List,
    /// Revoke a token by its prefix (pcat_…).
    Revoke { prefix: String },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(&text.to_ascii_lowercase()).ok_or_else(|| "admin, editor or viewer".to_string())
}

/// A time as the command line prints it (UTC, to the minute).
pub(crate) fn date(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp(ms / 1000).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

/// Runs the command; the error is one line for stderr.
pub async fn run(command: TokenCommand, settings: &Settings) -> Result<(), String> {
    let store = Store::open(&settings.database_url).await.map_err(|e| format!("PORTCULLIS_DATABASE_URL: {e}"))?;
    let tokens = ApiTokens::new(store);
    let by = Caller { actor: Actor::CommandLine, role: Role::Admin, ip: None };
    match command {
        TokenCommand::Create { name, role, expires_days, allow_cidr } => {
            let new = NewToken { name, role: Some(role), expires_days: Some(expires_days), allowed_cidrs: allow_cidr };
            let (token, view) = tokens.create(&by, new).await.map_err(|e| e.to_string())?;
            eprintln!(
                "Created {} ({}, {}), expires {} UTC. It is shown this once.",
                view.prefix,
                view.name,
                view.role.label(),
                date(view.expires_at)
            );
            println!("{token}");
        }
        TokenCommand::List => {
            let now = portcullis_domain::store::now_ms();
            println!(
                "{:<14} {:<24} {:<7} {:<8} {:<17} {:<17} EXPIRES",
                "PREFIX", "NAME", "ROLE", "STATE", "CREATED", "LAST USED"
            );
            for t in tokens.list().await.map_err(|e| e.to_string())? {
                let name: String = t.name.chars().take(24).collect();
                println!(
                    "{:<14} {:<24} {:<7} {:<8} {:<17} {:<17} {}",
                    t.prefix,
                    name,
                    t.role.as_str(),
                    t.state(now),
                    date(t.created_at),
                    t.last_used_at.map(date).unwrap_or_else(|| "never".into()),
                    date(t.expires_at)
                );
            }
        }
        TokenCommand::Revoke { prefix } => {
            let view = tokens.revoke(&by, &prefix).await.map_err(|e| e.to_string())?;
            eprintln!("Revoked {} ({}).", view.prefix, view.name);
        }
    }
    Ok(())
}
