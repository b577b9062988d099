//! API tokens for `/api/v1`: made by an Admin (console or command line), shown once, kept as a
//! SHA-256 hash, listed by prefix, revocable, bounded by a role, an expiry and optionally the
//! addresses they may be used from.
//!
//! Format: `pcat_` + 32 random base62 characters + a 6-character base62 CRC32 of them, as
//! GitHub's tokens are: a secret scanner finds `pcat_` tokens with a regex and can verify the
//! checksum offline, and a mistyped token is refused before any database lookup.

use std::net::IpAddr;

use ipnet::IpNet;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    audit::{Action, Actor, Audit, AuditLimiter, Caller, Event},
    error::{Classify, Fault},
    store::{new_id, now_ms, ApiTokenRow, Store, StoreError},
    Role,
};

pub const TOKEN_PREFIX: &str = "pcat_";
const RANDOM_CHARS: usize = 32;
const CHECKSUM_CHARS: usize = 6;
/// What lists show and `revoke` takes: `pcat_` and the first random characters.
const SHOWN_CHARS: usize = 8;
pub const TOKEN_LEN: usize = TOKEN_PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;
pub const DEFAULT_EXPIRY_DAYS: u32 = 90;
pub const MAX_EXPIRY_DAYS: u32 = 366;
const MAX_NAME_CHARS: usize = 100;
const MAX_CIDRS: usize = 32;
const DAY_MS: i64 = 86_400_000;
/// How often a token's last use is written: once a minute at most.
const LAST_USED_EVERY_MS: i64 = 60_000;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62_fixed(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn checksum(random: &str) -> String {
    base62_fixed(u64::from(crc32fast::hash(random.as_bytes())), CHECKSUM_CHARS)
}

/// A new token: prefix, random part, checksum.
pub fn generate() -> String {
    generate_with(TOKEN_PREFIX)
}

/// A new token of this kind (`pcat_` API, `pcst_` SCIM): prefix, 32 random base62
/// characters, a 6-character CRC-32 checksum.
pub fn generate_with(prefix: &str) -> String {
    let mut rng = rand::rngs::OsRng;
    let random: String = (0..RANDOM_CHARS).map(|_| BASE62[rng.gen_range(0..62)] as char).collect();
    format!("{prefix}{random}{}", checksum(&random))
}

/// Whether `token` has the shape and checksum of a token: what a secret scanner checks.
pub fn well_formed(token: &str) -> bool {
    well_formed_with(TOKEN_PREFIX, token)
}

pub fn well_formed_with(prefix: &str, token: &str) -> bool {
    let Some(rest) = token.strip_prefix(prefix) else { return false };
    if rest.len() != RANDOM_CHARS + CHECKSUM_CHARS || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, sum) = rest.split_at(RANDOM_CHARS);
    checksum(random) == sum
}

/// The part of a token lists show and revoke takes.
pub fn shown_prefix(token: &str) -> String {
    token.chars().take(TOKEN_PREFIX.len() + SHOWN_CHARS).collect()
}

/// What is stored of a token: its SHA-256.
pub(crate) fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("Enter a name of 1 to {MAX_NAME_CHARS} characters.")]
    BadName,
    #[error("Choose an expiry of 1 to {MAX_EXPIRY_DAYS} days.")]
    BadExpiry,
    #[error("'{0}' is not an address range such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32.")]
    BadCidr(String),
    #[error("Give at most {MAX_CIDRS} address ranges.")]
    TooManyCidrs,
    #[error("Only an Admin can manage API tokens.")]
    AdminOnly,
    #[error("No API token has the prefix '{0}'.")]
    NotFound(String),
    #[error("The API token {0} is revoked already.")]
    AlreadyRevoked(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Classify for TokenError {
    fn fault(&self) -> Fault {
        match self {
            TokenError::BadName | TokenError::BadExpiry | TokenError::BadCidr(_) | TokenError::TooManyCidrs => {
                Fault::Invalid
            }
            TokenError::AdminOnly => Fault::Forbidden,
            TokenError::NotFound(_) => Fault::NotFound,
            TokenError::AlreadyRevoked(_) => Fault::Conflict,
            TokenError::Store(_) => Fault::Internal,
        }
    }
}

/// Why a bearer token did not authenticate. All are 401; the words tell a script's author
/// which it was (none reveals anything an attacker could not learn from the token itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Send an API token: Authorization: Bearer pcat_…")]
    Missing,
    #[error("This is not a Portcullis API token (pcat_…): check that it was copied whole.")]
    Malformed,
    #[error("This API token is not known here.")]
    Unknown,
    #[error("This API token has expired: create a new one.")]
    Expired,
    #[error("This API token was revoked.")]
    Revoked,
    #[error("This API token may not be used from this address.")]
    SourceRefused,
}

impl Refusal {
    /// The stable code in the problem's `type`.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Missing => "token-missing",
            Refusal::Malformed => "token-malformed",
            Refusal::Unknown => "token-unknown",
            Refusal::Expired => "token-expired",
            Refusal::Revoked => "token-revoked",
            Refusal::SourceRefused => "token-source-refused",
        }
    }
}

/// What the form or the command line asks for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    pub name: String,
    pub role: Option<Role>,
    /// Days until it expires; `None`: the default (90).
    pub expires_days: Option<u32>,
    /// Address ranges it may be used from; empty: any.
    pub allowed_cidrs: Vec<String>,
}

pub use portcullis_types::api::TokenView;

fn view(row: ApiTokenRow) -> TokenView {
    TokenView {
        role: Role::parse(&row.role).unwrap_or(Role::Viewer),
        allowed_cidrs: serde_json::from_str(&row.allowed_cidrs).unwrap_or_default(),
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        created_by: row.created_by,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        last_used_ip: row.last_used_ip,
        revoked_at: row.revoked_at,
    }
}

/// A range as typed: `10.0.0.0/8`, or one address (`192.0.2.7` is `192.0.2.7/32`).
pub fn parse_cidr(text: &str) -> Result<IpNet, TokenError> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| TokenError::BadCidr(text.chars().take(60).collect()))
}

/// The actor a token's changes are audited as.
pub fn actor(view: &TokenView) -> Actor {
    Actor::Token { id: view.id.clone(), label: format!("API token {} ({})", view.prefix, view.name) }
}

#[derive(Clone, Debug)]
pub struct ApiTokens {
    store: Store,
    audit: Audit,
    /// Refusals are audited once a minute per reason and address: anyone can cause them.
    refusals: AuditLimiter,
}

impl ApiTokens {
    pub fn new(store: Store) -> Self {
        Self { audit: Audit::new(store.clone()), store, refusals: AuditLimiter::default() }
    }

    /// A refused token in the audit log: the reason, the address, and the prefix when the token
    /// has our shape (what lists show; never more of it).
    async fn refuse(&self, token: &str, ip: Option<&str>, refusal: Refusal) -> Result<Refusal, StoreError> {
        let Some(suppressed) = self.refusals.admit(&[refusal.code(), ip.unwrap_or("")], now_ms()) else {
            return Ok(refusal);
        };
        let mut event =
            Event::new(Actor::Anonymous, Action::ApiTokenRefused).failed().ip(ip).detail("reason", refusal.code());
        if refusal != Refusal::Malformed {
            event = event.target(shown_prefix(token));
        }
        if suppressed > 0 {
            event = event.detail(
                "and_more",
                format!("and {suppressed} more refusals for this reason from this address in the minute before"),
            );
        }
        self.audit.record(event).await?;
        Ok(refusal)
    }

    /// Makes a token; the returned string is the only time it exists outside the caller's hands.
    pub async fn create(&self, by: &Caller, input: NewToken) -> Result<(String, TokenView), TokenError> {
        if by.role < Role::Admin {
            return Err(TokenError::AdminOnly);
        }
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(TokenError::BadName);
        }
        let days = input.expires_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
        if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
            return Err(TokenError::BadExpiry);
        }
        let ranges: Vec<&str> = input.allowed_cidrs.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect();
        if ranges.len() > MAX_CIDRS {
            return Err(TokenError::TooManyCidrs);
        }
        let cidrs = ranges.into_iter().map(|c| parse_cidr(c).map(|n| n.to_string())).collect::<Result<Vec<_>, _>>()?;
        let role = input.role.unwrap_or(Role::Viewer);
        let token = generate();
        let now = now_ms();
        let row = ApiTokenRow {
            id: new_id(),
            name: name.to_string(),
            prefix: shown_prefix(&token),
            hash: hash(&token),
            role: role.as_str().to_string(),
            allowed_cidrs: serde_json::Value::from(cidrs.clone()).to_string(),
            created_by: by.actor.label(),
            created_at: now,
            expires_at: now + i64::from(days) * DAY_MS,
            last_used_at: None,
            last_used_ip: None,
            revoked_at: None,
        };
        self.store.insert_api_token(&row).await?;
        self.audit
            .record(
                Event::new(by.actor.clone(), Action::ApiTokenCreated)
                    .target(&row.prefix)
                    .ip(by.ip())
                    .detail("name", name)
                    .detail("role", role.as_str())
                    .detail("expires_days", days)
                    .detail("allowed_cidrs", cidrs.join(", ")),
            )
            .await?;
        Ok((token, view(row)))
    }

    pub async fn list(&self) -> Result<Vec<TokenView>, TokenError> {
        Ok(self.store.api_tokens().await?.into_iter().map(view).collect())
    }

    /// Revokes by prefix (`pcat_AbCd1234`) or id.
    pub async fn revoke(&self, by: &Caller, prefix: &str) -> Result<TokenView, TokenError> {
        if by.role < Role::Admin {
            return Err(TokenError::AdminOnly);
        }
        let prefix = prefix.trim();
        let shown: String = prefix.chars().take(60).collect();
        let row = self.store.api_token_by_prefix(prefix).await?.ok_or_else(|| TokenError::NotFound(shown.clone()))?;
        if !self.store.revoke_api_token(&row.id, now_ms()).await? {
            return Err(TokenError::AlreadyRevoked(row.prefix));
        }
        self.audit
            .record(
                Event::new(by.actor.clone(), Action::ApiTokenRevoked)
                    .target(&row.prefix)
                    .ip(by.ip())
                    .detail("name", row.name.as_str()),
            )
            .await?;
        let mut revoked = view(row);
        revoked.revoked_at = Some(now_ms());
        Ok(revoked)
    }

    /// The caller behind a bearer token, from `ip`. Store failures are errors, not refusals:
    /// a database outage must not read as a bad token.
    pub async fn authenticate(&self, token: &str, ip: Option<&str>) -> Result<Result<Caller, Refusal>, StoreError> {
        match self.check(token, ip).await? {
            Ok(caller) => Ok(Ok(caller)),
            Err(refusal) => Ok(Err(self.refuse(token, ip, refusal).await?)),
        }
    }

    async fn check(&self, token: &str, ip: Option<&str>) -> Result<Result<Caller, Refusal>, StoreError> {
        if !well_formed(token) {
            return Ok(Err(Refusal::Malformed));
        }
        let Some(row) = self.store.api_token_by_hash(&hash(token)).await? else {
            return Ok(Err(Refusal::Unknown));
        };
        let now = now_ms();
        let token = view(row);
        if token.revoked_at.is_some() {
            return Ok(Err(Refusal::Revoked));
        }
        if token.expires_at <= now {
            return Ok(Err(Refusal::Expired));
        }
        if !token.allowed_cidrs.is_empty() {
            let from: Option<IpAddr> = ip.and_then(|ip| ip.parse().ok());
            let allowed = from.is_some_and(|addr| {
                token.allowed_cidrs.iter().filter_map(|c| c.parse::<IpNet>().ok()).any(|net| net.contains(&addr))
            });
            if !allowed {
                return Ok(Err(Refusal::SourceRefused));
            }
        }
        // Last use is kept to the minute: most calls read and write nothing more (the write
        // would take SQLite's one write lock on every API call).
        if token.last_used_at.is_none_or(|at| at < now - LAST_USED_EVERY_MS) {
            self.store.touch_api_token(&token.id, now, ip).await?;
        }
        Ok(Ok(Caller { actor: actor(&token), role: token.role, ip: ip.map(str::to_string) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Caller {
        Caller { actor: Actor::System, role: Role::Admin, ip: None }
    }

    #[test]
    fn a_generated_token_has_the_prefix_and_a_checksum_that_catches_any_one_changed_character() {
        let token = generate();
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(token.starts_with("pcat_") && well_formed(&token));
        let bytes = token.as_bytes();
        for i in TOKEN_PREFIX.len()..bytes.len() {
            let mut typo = bytes.to_vec();
            typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
            assert!(!well_formed(&String::from_utf8_lossy(&typo)), "a typo at {i} passed");
        }
        assert!(!well_formed(&token[..token.len() - 1]));
        assert!(!well_formed(&format!("{token}x")));
        assert!(!well_formed(&token.replace("pcat_", "pcxt_")));
        assert!(!well_formed(""));
        assert!(!well_formed("pcat_ääääääääääääääääääääääääääääääääääääää"));
    }

    #[test]
    fn address_ranges_accept_single_addresses_and_refuse_words() {
        assert_eq!(parse_cidr("192.0.2.7").map(|n| n.to_string()).ok(), Some("192.0.2.7/32".into()));
        assert_eq!(parse_cidr(" 10.1.2.3/8 ").map(|n| n.to_string()).ok(), Some("10.0.0.0/8".into()));
        assert_eq!(parse_cidr("2001:db8::1/32").map(|n| n.to_string()).ok(), Some("2001:db8::/32".into()));
        assert!(parse_cidr("office").is_err());
        assert!(parse_cidr("10.0.0.0/33").is_err());
    }

    #[tokio::test]
    async fn a_token_authenticates_until_it_is_revoked_and_only_from_its_ranges() {
        let store = Store::in_memory().await.expect("store");
        let tokens = ApiTokens::new(store);
        let (token, view) = tokens
            .create(
                &admin(),
                NewToken {
                    name: "ci".into(),
                    role: Some(Role::Editor),
                    expires_days: Some(1),
                    allowed_cidrs: vec!["10.0.0.0/8".into()],
                },
            )
            .await
            .expect("created");
        assert_eq!(view.prefix, shown_prefix(&token));
        let caller = tokens.authenticate(&token, Some("10.2.3.4")).await.expect("store").expect("accepted");
        assert_eq!(caller.role, Role::Editor);
        let refusal = |t: String, ip: Option<&'static str>| {
            let tokens = tokens.clone();
            async move { tokens.authenticate(&t, ip).await.expect("store").err() }
        };
        assert_eq!(refusal(token.clone(), Some("192.0.2.1")).await, Some(Refusal::SourceRefused));
        assert_eq!(refusal(token.clone(), None).await, Some(Refusal::SourceRefused));
        assert_eq!(refusal(generate(), None).await, Some(Refusal::Unknown));
        assert_eq!(refusal("pcat_nope".into(), None).await, Some(Refusal::Malformed));
        let listed = tokens.list().await.expect("list");
        assert!(listed[0].last_used_at.is_some(), "use is recorded");
        tokens.revoke(&admin(), &view.prefix).await.expect("revoked");
        assert_eq!(refusal(token.clone(), Some("10.2.3.4")).await, Some(Refusal::Revoked));
        assert!(matches!(tokens.revoke(&admin(), &view.prefix).await, Err(TokenError::AlreadyRevoked(_))));
    }

    #[tokio::test]
    async fn only_an_admin_manages_tokens_and_expiry_is_bounded() {
        let tokens = ApiTokens::new(Store::in_memory().await.expect("store"));
        let editor = Caller { actor: Actor::System, role: Role::Editor, ip: None };
        let new = |days| NewToken { name: "x".into(), expires_days: days, ..NewToken::default() };
        assert!(matches!(tokens.create(&editor, new(None)).await, Err(TokenError::AdminOnly)));
        assert!(matches!(tokens.create(&admin(), new(Some(0))).await, Err(TokenError::BadExpiry)));
        assert!(matches!(tokens.create(&admin(), new(Some(367))).await, Err(TokenError::BadExpiry)));
        let (_, view) = tokens.create(&admin(), new(None)).await.expect("default expiry");
        assert_eq!(view.expires_at - view.created_at, 90 * DAY_MS);
        assert_eq!(view.role, Role::Viewer, "the least role unless asked");
    }
}
