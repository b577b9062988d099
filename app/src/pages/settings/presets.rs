//! Where each common OpenID Connect provider keeps the values the wizard asks for: the Base
//! URL's pattern, the client ID and secret, the redirect URI and the groups claim.

/// One provider's words for the Generic OpenID Connect wizard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Preset {
    pub key: &'static str,
    pub label: &'static str,
    pub base_url_placeholder: &'static str,
    pub base_url_help: &'static str,
    pub client_id_help: &'static str,
    pub client_secret_help: &'static str,
    /// Where to register the redirect URIs.
    pub register: &'static str,
    pub scopes: &'static str,
    pub groups_claim: &'static str,
    pub groups_help: &'static str,
}

pub(crate) const PRESETS: [Preset; 6] = [
    Preset {
        key: "entra",
        label: "Microsoft Entra ID",
        base_url_placeholder: "https://login.microsoftonline.com/<tenant ID>/v2.0",
        base_url_help: "https://login.microsoftonline.com/ followed by the Directory (tenant) ID from the app registration's Overview, then /v2.0.",
        client_id_help: "The Application (client) ID on the app registration's Overview (Entra admin center → App registrations).",
        client_secret_help: "Certificates & secrets → New client secret: copy its Value, not its Secret ID.",
        register: "In the Entra admin center: App registrations → your app → Authentication → Add a platform → Web. Register these URIs:",
        scopes: "openid profile email",
        groups_claim: "groups",
        groups_help: "Token configuration → Add groups claim (Security groups) puts the group object IDs in the groups claim; map roles by those IDs.",
    },
    Preset {
        key: "google",
        label: "Google",
        base_url_placeholder: "https://accounts.google.com",
        base_url_help: "Always https://accounts.google.com.",
        client_id_help: "Google Cloud console → APIs & Services → Credentials → Create credentials → OAuth client ID (Web application).",
        client_secret_help: "Shown with the client ID when the OAuth client is created, and on its Credentials page.",
        register: "In the Google Cloud console: the OAuth client's Authorized redirect URIs. Register these URIs:",
        scopes: "openid profile email",
        groups_claim: "groups",
        groups_help: "Google's ID tokens carry no groups: grant roles to people by email address or domain, and use a synced directory for groups.",
    },
    Preset {
        key: "keycloak",
        label: "Keycloak",
        base_url_placeholder: "https://keycloak.example.com/realms/<realm>",
        base_url_help: "Your Keycloak address followed by /realms/ and the realm's name.",
        client_id_help: "Clients → Create client (OpenID Connect, Client authentication on): its Client ID.",
        client_secret_help: "The client's Credentials tab: Client secret.",
        register: "In Keycloak: the client's Settings → Valid redirect URIs and Valid post logout redirect URIs. Register these URIs:",
        scopes: "openid profile email",
        groups_claim: "groups",
        groups_help: "Client scopes → the client's dedicated scope → Add mapper → Group Membership, token claim name groups, Full group path off.",
    },
    Preset {
        key: "auth0",
        label: "Auth0",
        base_url_placeholder: "https://<tenant>.auth0.com/",
        base_url_help: "Your tenant's domain (Applications → your app → Settings → Domain) with https://.",
        client_id_help: "Applications → your Regular Web Application → Settings → Client ID.",
        client_secret_help: "The same Settings page: Client Secret.",
        register: "In Auth0: the application's Settings → Allowed Callback URLs and Allowed Logout URLs. Register these URIs:",
        scopes: "openid profile email",
        groups_claim: "https://example.com/groups",
        groups_help: "Auth0 puts no groups in ID tokens by itself: add a Post Login Action that sets a namespaced claim such as https://example.com/groups, and enter that name here.",
    },
    Preset {
        key: "authentik",
        label: "authentik",
        base_url_placeholder: "https://authentik.example.com/application/o/<application slug>/",
        base_url_help: "Your authentik address followed by /application/o/ and the application's slug.",
        client_id_help: "Applications → Providers → your OAuth2/OpenID provider: Client ID.",
        client_secret_help: "The same provider: Client Secret (Client type Confidential).",
        register: "In authentik: the OAuth2/OpenID provider's Redirect URIs. Register these URIs:",
        scopes: "openid profile email",
        groups_claim: "groups",
        groups_help: "authentik's default profile scope mapping puts the user's group names in the groups claim.",
    },
    Preset {
        key: "other",
        label: "Another provider",
        base_url_placeholder: "https://login.example.com",
        base_url_help: "The provider's issuer URL: where /.well-known/openid-configuration is found. A pasted discovery URL is corrected.",
        client_id_help: "From the client (application) you registered at the provider for Portcullis.",
        client_secret_help: "From the same client; Portcullis authenticates with client_secret_basic or client_secret_post.",
        register: "At your provider, register these URIs for the client:",
        scopes: "openid profile email",
        groups_claim: "groups",
        groups_help: "The ID token claim that carries the groups, if your provider sends them.",
    },
];

pub(crate) fn preset(key: &str) -> Preset {
    PRESETS.iter().copied().find(|p| p.key == key).unwrap_or(PRESETS[PRESETS.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_has_a_unique_key_and_an_unknown_key_is_another_provider() {
        let keys: std::collections::HashSet<_> = PRESETS.iter().map(|p| p.key).collect();
        assert_eq!(keys.len(), PRESETS.len());
        assert_eq!(preset("nope").key, "other");
        assert_eq!(preset("entra").label, "Microsoft Entra ID");
    }
}
