//! `portcullis scim-token create|list --provider ID`: the token Okta's provisioning uses, for
//! setting up from the server's machine. Acts as an Admin, audited as "command line".

use clap::Subcommand;

use super::tokens::date;
use portcullis_domain::{
    audit::{Actor, Caller},
    scim::{ScimTokens, DEFAULT_GRACE_MINUTES},
    store::now_ms,
    Role, Settings, Store,
};

#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Generate the provider's SCIM token and print it (only it) on stdout. The previous
    /// tokens keep working for the grace period.
    Create {
        /// The provider's id (Settings → External identity providers, or `GET /api/v1/providers`).
        #[arg(long)]
        provider: String,
        /// Minutes the previous tokens keep working (0 to 10080).
        #[arg(long, default_value_t = DEFAULT_GRACE_MINUTES)]
        grace_minutes: u32,
    },
    /// List the provider's tokens: prefix, created, by whom, last used, valid until.
    List {
        #[arg(long)]
        provider: String,
    },
}

pub async fn run(command: ScimTokenCommand, settings: &Settings) -> Result<(), String> {
    let store = Store::open(&settings.database_url).await.map_err(|e| format!("PORTCULLIS_DATABASE_URL: {e}"))?;
    let tokens = ScimTokens::new(store);
    match command {
        ScimTokenCommand::Create { provider, grace_minutes } => {
            let by = Caller { actor: Actor::CommandLine, role: Role::Admin, ip: None };
            let (token, view) =
                tokens.generate(&by, &provider, Some(grace_minutes)).await.map_err(|e| e.to_string())?;
            eprintln!(
                "Generated {}; the previous tokens keep working for {grace_minutes} minutes. It is shown this once.",
                view.prefix
            );
            println!("{token}");
        }
        ScimTokenCommand::List { provider } => {
            let now = now_ms();
            println!("{:<14} {:<17} {:<24} {:<17} VALID", "PREFIX", "CREATED", "BY", "LAST USED");
            for t in tokens.list(&provider).await.map_err(|e| e.to_string())? {
                let valid = match t.expires_at {
                    None => "current".to_string(),
                    Some(at) if at > now => format!("until {} UTC", date(at)),
                    Some(_) => "expired".to_string(),
                };
                let by: String = t.created_by.chars().take(24).collect();
                println!(
                    "{:<14} {:<17} {:<24} {:<17} {valid}",
                    t.prefix,
                    date(t.created_at),
                    by,
                    t.last_used_at.map(date).unwrap_or_else(|| "never".into()),
                );
            }
        }
    }
    Ok(())
}
