//! Step 2's checks: prove directory synchronization by doing it in small:
//! obtain a token, fetch every group (all pages), count the users.

use std::{collections::HashSet, time::Instant};

use super::report::{skipped, Report, Timer};
use crate::{
    okta::{parse_private_key, Credentials, OktaClient, OktaError, OktaGroup, OktaUser, Patience},
    outbound::Outbound,
    settings::Secret,
};

/// What the admin typed in step 2.
#[derive(Debug, Clone)]
pub enum DirectoryAuth {
    ServiceApp { client_id: String, private_key: Secret },
    ApiToken(Secret),
}

impl DirectoryAuth {
    /// The Management API credentials; the error says what is wrong with the stored key.
    pub fn credentials(&self) -> Result<Credentials, String> {
        match self {
            DirectoryAuth::ServiceApp { client_id, private_key } => {
                if client_id.trim().is_empty() {
                    return Err("The Directory Sync Client ID is empty.".into());
                }
                let key = parse_private_key(private_key.expose()).map_err(|e| e.to_string())?;
                Ok(Credentials::ServiceApp { client_id: client_id.trim().to_string(), key })
            }
            DirectoryAuth::ApiToken(token) if token.expose().trim().is_empty() => Err("The API token is empty.".into()),
            DirectoryAuth::ApiToken(token) => Ok(Credentials::ApiToken(Secret::new(token.expose().trim()))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DirectoryCheckOutcome {
    pub report: Report,
    pub groups: Vec<OktaGroup>,
    pub user_count: Option<u64>,
}

/// Which of `ids` are users of the org. A configuration document may name people of a provider
/// it connects in the same change, before any sync stored them: each is looked up by id.
pub async fn find_users(
    outbound: &Outbound,
    org: &str,
    auth: &DirectoryAuth,
    ids: &[String],
) -> Result<HashSet<String>, OktaError> {
    let credentials = auth.credentials().map_err(OktaError::BadResponse)?;
    let client = OktaClient::new(outbound.clone(), org, credentials, Patience::CHECK);
    let mut found = HashSet::new();
    for id in ids {
        // Okta's ids are alphanumeric; anything else is no id of its (and stays out of the path).
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        match client.get(&client.url(&format!("/api/v1/users/{id}"))).await {
            Ok(_) => {
                found.insert(id.clone());
            }
            Err(OktaError::Unexpected { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// How many group names the report shows.
const SHOWN_GROUPS: usize = 10;

pub async fn check_directory(outbound: &Outbound, org: &str, auth: &DirectoryAuth) -> DirectoryCheckOutcome {
    let started = Instant::now();
    let mut checks = Vec::new();
    let done = |checks, groups, user_count| DirectoryCheckOutcome {
        report: Report { checks, total_ms: started.elapsed().as_millis() as u64 },
        groups,
        user_count,
    };

    // The credentials as typed.
    let timer = Timer::start("directory_credentials", "Directory credentials");
    let credentials = match auth {
        DirectoryAuth::ServiceApp { client_id, private_key } => {
            if client_id.trim().is_empty() {
                checks.push(timer.failed(
                    "The Directory Sync Client ID is empty.",
                    "Copy the Client ID of the API service app from its General tab in Okta.",
                ));
                return done(checks, Vec::new(), None);
            }
            match parse_private_key(private_key.expose()) {
                Ok(key) => {
                    let kid = key.kid.clone().map(|k| format!(", key ID {k}")).unwrap_or_default();
                    checks.push(timer.passed(format!("A {:?} private key{kid}.", key.alg)));
                    Credentials::ServiceApp { client_id: client_id.trim().to_string(), key }
                }
                Err(e) => {
                    checks.push(timer.failed(
                        e.to_string(),
                        "In Okta: the API service app → General → Public keys → Add key → Generate new key, then copy the private key (JSON) shown once.",
                    ));
                    return done(checks, Vec::new(), None);
                }
            }
        }
        DirectoryAuth::ApiToken(token) => {
            if token.expose().trim().is_empty() {
                checks.push(
                    timer.failed(
                        "The API token is empty.",
                        "Create one in Okta: Security → API → Tokens → Create token.",
                    ),
                );
                return done(checks, Vec::new(), None);
            }
            checks.push(timer.passed("An API token (SSWS)."));
            Credentials::ApiToken(Secret::new(token.expose().trim()))
        }
    };

    let is_service_app = matches!(credentials, Credentials::ServiceApp { .. });
    let client = OktaClient::new(outbound.clone(), org, credentials, Patience::CHECK);

    if is_service_app {
        let timer = Timer::start("directory_token", "Access token (private_key_jwt)");
        match client.authenticate().await {
            Ok(true) => checks.push(timer.passed(
                "Okta issued a DPoP-bound access token for okta.users.read okta.groups.read (the app requires DPoP; Portcullis proves possession of its key on every call).",
            )),
            Ok(false) => checks.push(timer.passed("Okta issued an access token for okta.users.read okta.groups.read.")),
            Err(e) => {
                checks.push(timer.failed(e.to_string(), e.fix()));
                checks.push(skipped("directory_groups", "Groups (okta.groups.read)", "no access token"));
                checks.push(skipped("directory_users", "Users (okta.users.read)", "no access token"));
                return done(checks, Vec::new(), None);
            }
        }
    }

    // Groups: every page, as a sync would.
    let timer = Timer::start("directory_groups", "Groups (okta.groups.read)");
    let mut groups: Vec<OktaGroup> = Vec::new();
    let mut next = Some(client.url("/api/v1/groups?limit=200"));
    while let Some(url) = next {
        match client.page::<OktaGroup>(&url).await {
            Ok(page) => {
                groups.extend(page.items);
                next = page.next;
            }
            Err(e) => {
                checks.push(timer.failed(explain(&e, "okta.groups.read"), e.fix()));
                checks.push(skipped("directory_users", "Users (okta.users.read)", "fetching groups failed"));
                return done(checks, Vec::new(), None);
            }
        }
    }
    let mut names: Vec<&str> = groups.iter().map(|g| g.profile.name.as_str()).collect();
    names.sort_unstable_by_key(|n| n.to_lowercase());
    let shown = names.iter().take(SHOWN_GROUPS).copied().collect::<Vec<_>>().join(", ");
    let more =
        if names.len() > SHOWN_GROUPS { format!(" and {} more", names.len() - SHOWN_GROUPS) } else { String::new() };
    checks.push(timer.passed(format!("{} groups: {shown}{more}.", groups.len())));

    // Users: count every page.
    let timer = Timer::start("directory_users", "Users (okta.users.read)");
    let mut count = 0u64;
    let mut next = Some(client.url("/api/v1/users?limit=200"));
    while let Some(url) = next {
        match client.page::<OktaUser>(&url).await {
            Ok(page) => {
                count += page.items.len() as u64;
                next = page.next;
            }
            Err(e) => {
                checks.push(timer.failed(explain(&e, "okta.users.read"), e.fix()));
                return done(checks, groups, None);
            }
        }
    }
    checks.push(timer.passed(format!("{count} users.")));
    done(checks, groups, Some(count))
}

/// The failure in Okta's terms, naming the scope the call needed.
fn explain(e: &OktaError, scope: &str) -> String {
    match e {
        OktaError::Forbidden { code, summary, .. } => {
            format!("Okta answered 403 ({code}): {summary} This call needs the scope {scope} and an admin role.")
        }
        OktaError::RateLimited { reset_in_seconds } => {
            format!("Okta answered 429: the rate limit is used up; it resets in {reset_in_seconds} seconds.")
        }
        other => other.to_string(),
    }
}
