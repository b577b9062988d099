//! SCIM provisioning tokens, per provider: `pcst_` + 32 random characters + a checksum, shown
//! once, kept as a SHA-256. Generating a new one keeps the previous ones valid for a grace
//! period, so Okta keeps provisioning until its app is saved with the new token.

use crate::{
    accounts::Role,
    api_tokens::{generate_with, hash, well_formed_with},
    audit::{Action, Actor, Audit, Caller, Event},
    store::{new_id, now_ms, ScimTokenRow, Store, StoreError},
};

pub const SCIM_TOKEN_PREFIX: &str = "pcst_";
/// How long the previous tokens stay valid after a new one, unless the administrator says.
pub const DEFAULT_GRACE_MINUTES: u32 = 60;
/// At most a week: an old token is a credential someone may still hold.
pub const MAX_GRACE_MINUTES: u32 = 7 * 24 * 60;
/// How often a token's last use is written.
const LAST_USED_EVERY_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum ScimTokenError {
    #[error("Only an Admin can generate SCIM tokens: a token can create and remove people.")]
    AdminOnly,
    #[error("No such provider: it may have been deleted.")]
    UnknownProvider,
    #[error("The grace period is 0 to {MAX_GRACE_MINUTES} minutes.")]
    BadGrace,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::error::Classify for ScimTokenError {
    fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            ScimTokenError::AdminOnly => Fault::Forbidden,
            ScimTokenError::UnknownProvider => Fault::NotFound,
            ScimTokenError::BadGrace => Fault::Invalid,
            ScimTokenError::Store(_) => Fault::Internal,
        }
    }
}

/// A token as lists show it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimTokenView {
    pub id: String,
    pub provider_id: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: i64,
    /// `None`: the current token; else when it stops working (or stopped).
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl From<ScimTokenRow> for ScimTokenView {
    fn from(r: ScimTokenRow) -> Self {
        Self {
            id: r.id,
            provider_id: r.provider_id,
            prefix: r.prefix,
            created_by: r.created_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
        }
    }
}

impl ScimTokenView {
    /// How the audit log names what a SCIM request changed.
    pub fn actor(&self) -> Actor {
        Actor::Token { id: self.id.clone(), label: format!("SCIM token {}", self.prefix) }
    }
}

#[derive(Clone, Debug)]
pub struct ScimTokens {
    store: Store,
    audit: Audit,
}

impl ScimTokens {
    pub fn new(store: Store) -> Self {
        Self { audit: Audit::new(store.clone()), store }
    }

    /// A new current token for the provider, printed or shown once; the previous ones stay
    /// valid for `grace_minutes` (default an hour).
    pub async fn generate(
        &self,
        by: &Caller,
        provider_id: &str,
        grace_minutes: Option<u32>,
    ) -> Result<(String, ScimTokenView), ScimTokenError> {
        if by.role < Role::Admin {
            return Err(ScimTokenError::AdminOnly);
        }
        let grace = grace_minutes.unwrap_or(DEFAULT_GRACE_MINUTES);
        if grace > MAX_GRACE_MINUTES {
            return Err(ScimTokenError::BadGrace);
        }
        let provider = self.store.provider(provider_id).await?.ok_or(ScimTokenError::UnknownProvider)?;
        let token = generate_with(SCIM_TOKEN_PREFIX);
        let now = now_ms();
        let row = ScimTokenRow {
            id: new_id(),
            provider_id: provider.id.clone(),
            token_hash: hash(&token),
            prefix: token.chars().take(SCIM_TOKEN_PREFIX.len() + 8).collect(),
            created_by: by.actor.label(),
            created_at: now,
            expires_at: None,
            last_used_at: None,
        };
        self.store.rotate_scim_token(&row, now + i64::from(grace) * 60_000).await?;
        self.audit
            .record_or_log(
                Event::new(by.actor.clone(), Action::ScimTokenGenerated)
                    .ip(by.ip())
                    .target(provider.name)
                    .detail("provider_id", provider.id)
                    .detail("prefix", row.prefix.clone())
                    .detail("previous_valid_minutes", grace),
            )
            .await;
        Ok((token, row.into()))
    }

    pub async fn list(&self, provider_id: &str) -> Result<Vec<ScimTokenView>, StoreError> {
        Ok(self.store.scim_tokens(provider_id).await?.into_iter().map(Into::into).collect())
    }

    /// The token, if `presented` is a valid one of this provider's (current, or in its grace
    /// period). A malformed token is refused before any lookup.
    pub async fn authenticate(&self, provider_id: &str, presented: &str) -> Result<Option<ScimTokenView>, StoreError> {
        if !well_formed_with(SCIM_TOKEN_PREFIX, presented) {
            return Ok(None);
        }
        let Some(row) = self.store.scim_token_by_hash(&hash(presented)).await? else {
            return Ok(None);
        };
        let now = now_ms();
        // Another provider's token is no token here.
        if row.provider_id != provider_id || row.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        if row.last_used_at.is_none_or(|at| at < now - LAST_USED_EVERY_MS) {
            self.store.touch_scim_token(&row.id, now).await?;
        }
        Ok(Some(row.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ProviderRow;

    fn admin() -> Caller {
        Caller { actor: Actor::CommandLine, role: Role::Admin, ip: None }
    }

    async fn with_provider() -> (Store, String) {
        let store = Store::in_memory().await.unwrap();
        let row = ProviderRow::new_okta(&new_id(), "Okta", "https://example.okta.com", "0oa1", String::new());
        store.save_provider(&row, &[], "wizard").await.unwrap();
        (store, row.id)
    }

    #[tokio::test]
    async fn a_new_token_keeps_the_previous_one_for_the_grace_period_only() {
        let (store, provider) = with_provider().await;
        let tokens = ScimTokens::new(store.clone());
        let (first, view) = tokens.generate(&admin(), &provider, None).await.unwrap();
        assert!(first.starts_with(SCIM_TOKEN_PREFIX) && well_formed_with(SCIM_TOKEN_PREFIX, &first));
        assert_eq!(view.expires_at, None);
        assert!(tokens.authenticate(&provider, &first).await.unwrap().is_some());

        let (second, _) = tokens.generate(&admin(), &provider, Some(60)).await.unwrap();
        assert!(tokens.authenticate(&provider, &second).await.unwrap().is_some());
        let old = tokens.authenticate(&provider, &first).await.unwrap().expect("valid in its grace period");
        assert!(old.expires_at.is_some_and(|at| at > now_ms() + 59 * 60_000));

        // Without a grace period the previous tokens stop at once.
        let (third, _) = tokens.generate(&admin(), &provider, Some(0)).await.unwrap();
        assert!(tokens.authenticate(&provider, &first).await.unwrap().is_none());
        assert!(tokens.authenticate(&provider, &second).await.unwrap().is_none());
        assert!(tokens.authenticate(&provider, &third).await.unwrap().is_some());
        assert_eq!(tokens.list(&provider).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_token_is_refused_for_another_provider_malformed_or_by_a_non_admin() {
        let (store, provider) = with_provider().await;
        let tokens = ScimTokens::new(store);
        let (token, _) = tokens.generate(&admin(), &provider, None).await.unwrap();
        assert!(tokens.authenticate("another-provider", &token).await.unwrap().is_none());
        let mut typo = token.clone();
        typo.replace_range(10..11, if &token[10..11] == "a" { "b" } else { "a" });
        assert!(tokens.authenticate(&provider, &typo).await.unwrap().is_none());
        assert!(tokens.authenticate(&provider, "pcat_notascimtoken").await.unwrap().is_none());
        let editor = Caller { role: Role::Editor, ..admin() };
        assert!(matches!(tokens.generate(&editor, &provider, None).await, Err(ScimTokenError::AdminOnly)));
        assert!(matches!(
            tokens.generate(&admin(), &provider, Some(MAX_GRACE_MINUTES + 1)).await,
            Err(ScimTokenError::BadGrace)
        ));
        assert!(matches!(tokens.generate(&admin(), "nope", None).await, Err(ScimTokenError::UnknownProvider)));
    }
}
