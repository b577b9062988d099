//! What the console's own pages need from sign-in: an account's sign-in methods, and the
//! providers and groups the role mapping picker offers.

use super::*;

/// A console account's ways to sign in, for Settings → Your account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInMethods {
    /// (provider name, email at the provider)
    pub linked: Vec<(String, String)>,
    /// (provider id, name): enabled providers not linked yet.
    pub linkable: Vec<(String, String)>,
    pub has_password: bool,
}

/// What the role mapping picker offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingChoices {
    /// (provider id, name)
    pub providers: Vec<(String, String)>,
    /// (provider id, group id, group name): the groups Portcullis knows of each.
    pub groups: Vec<(String, String, String)>,
}

impl SsoService {
    pub async fn sign_in_methods(&self, user_id: &str) -> Result<SignInMethods, StoreError> {
        let providers = self.store.providers().await?;
        let identities = self.store.identities_of_user(user_id).await?;
        let name_of = |id: &str| providers.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_default();
        let linked = identities.iter().map(|i| (name_of(&i.provider_id), i.email.clone())).collect();
        let linkable = self
            .sign_in_options()
            .await?
            .into_iter()
            .filter(|(id, _)| !identities.iter().any(|i| &i.provider_id == id))
            .collect();
        let has_password = self.store.user_by_id(user_id).await?.is_some_and(|u| u.password_hash.is_some());
        Ok(SignInMethods { linked, linkable, has_password })
    }

    pub async fn mapping_choices(&self) -> Result<MappingChoices, StoreError> {
        let providers: Vec<(String, String)> =
            self.store.providers().await?.into_iter().map(|p| (p.id, p.name)).collect();
        let mut groups = Vec::new();
        for (id, _) in &providers {
            for (group_id, name) in self.known_groups(id).await? {
                groups.push((id.clone(), group_id, name));
            }
        }
        Ok(MappingChoices { providers, groups })
    }
}
