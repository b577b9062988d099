//! What admins paste into "Base URL", made into the issuer we expect, with
//! every change said out loud so the admin learns what Portcullis used.

use url::Url;

use super::{AuthServer, ProviderKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The Base URL as Portcullis stores it: for Okta the org URL, else the issuer.
    pub base_url: String,
    /// The authorization server, for Okta (possibly taken from a pasted URL).
    pub auth_server: AuthServer,
    /// The issuer the discovery document must state, exactly.
    pub issuer: String,
    /// What was changed, in words.
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("Enter the Base URL, e.g. https://dev-123456.okta.com")]
    Empty,
    #[error("'{0}' is not a URL. Enter it like https://dev-123456.okta.com")]
    NotAUrl(String),
    #[error("'{0}' must start with https://")]
    Scheme(String),
    #[error("'{0}' must not carry a query or fragment")]
    QueryOrFragment(String),
}

const DISCOVERY_SUFFIXES: [&str; 2] = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"];

/// Normalises a typed Base URL. `auth_server` is the admin's choice for Okta;
/// a custom server found in the pasted path overrides it (and says so).
pub fn normalize(kind: ProviderKind, input: &str, auth_server: &AuthServer) -> Result<Normalized, NormalizeError> {
    let mut changes = Vec::new();
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(NormalizeError::Empty);
    }
    if trimmed != input {
        changes.push("Removed spaces around the URL.".to_string());
    }
    let mut text = trimmed.to_string();
    if !text.contains("://") {
        text = format!("https://{text}");
        changes.push("Added https://.".to_string());
    }
    let mut url = Url::parse(&text).map_err(|_| NormalizeError::NotAUrl(trimmed.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(NormalizeError::Scheme(trimmed.to_string()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(NormalizeError::QueryOrFragment(trimmed.to_string()));
    }

    let mut path = url.path().to_string();
    let mut stripped_suffix = false;
    for suffix in DISCOVERY_SUFFIXES {
        if let Some(stripped) = path.strip_suffix(suffix).or_else(|| path.strip_suffix(&format!("{suffix}/"))) {
            path = stripped.to_string();
            stripped_suffix = true;
            changes.push(format!("Removed {suffix}: Portcullis finds the discovery document itself."));
        }
    }
    // The url crate gives a bare host the path "/": only a typed slash counts as a change.
    let typed_slash = trimmed.ends_with('/');
    if (path.len() > 1 && path.ends_with('/')) || (path == "/" && typed_slash && !stripped_suffix) {
        path = path.trim_end_matches('/').to_string();
        changes.push("Removed the trailing slash.".to_string());
    }
    url.set_path(if path.is_empty() { "/" } else { &path });

    let mut auth_server = auth_server.clone();
    if kind == ProviderKind::Okta {
        if let Some(host) = url.host_str().map(str::to_string) {
            // The admin console's address, dev-123-admin.okta.com, is not the org's.
            if let Some((first, rest)) = host.split_once('.') {
                if let Some(org) = first.strip_suffix("-admin") {
                    let fixed = format!("{org}.{rest}");
                    let _ = url.set_host(Some(&fixed));
                    changes.push(format!("Used {fixed} instead of the admin console's address {host}."));
                }
            }
        }
        // A pasted custom server URL: keep the org URL, take the server from the path.
        let segments: Vec<String> = url.path_segments().map(|s| s.map(str::to_string).collect()).unwrap_or_default();
        match segments.as_slice() {
            [oauth2, id] if oauth2 == "oauth2" && !id.is_empty() && id != "v1" => {
                let found = AuthServer::Custom(id.clone());
                if found != auth_server {
                    changes.push(format!(
                        "The URL names the custom authorization server '{id}': using it, with the org URL as Base URL."
                    ));
                }
                auth_server = found;
                url.set_path("/");
            }
            [oauth2] if oauth2 == "oauth2" => {
                url.set_path("/");
                changes.push("Removed /oauth2: the org authorization server's issuer is the org URL.".to_string());
            }
            _ => {}
        }
    }

    let base_url = url.as_str().trim_end_matches('/').to_string();
    let issuer = match (kind, &auth_server) {
        (ProviderKind::Okta, AuthServer::Custom(id)) => format!("{base_url}/oauth2/{id}"),
        _ => base_url.clone(),
    };
    Ok(Normalized { base_url, auth_server, issuer, changes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn okta(input: &str, server: AuthServer) -> Normalized {
        normalize(ProviderKind::Okta, input, &server).unwrap()
    }

    #[test]
    fn a_clean_org_url_is_kept_as_is() {
        let n = okta("https://dev-123.okta.com", AuthServer::Org);
        assert_eq!(n.issuer, "https://dev-123.okta.com");
        assert!(n.changes.is_empty());
    }

    #[test]
    fn spaces_trailing_slash_and_a_pasted_discovery_url_are_removed_and_said() {
        let n = okta("  https://dev-123.okta.com/.well-known/openid-configuration ", AuthServer::Org);
        assert_eq!(n.base_url, "https://dev-123.okta.com");
        assert_eq!(n.changes.len(), 2, "{:?}", n.changes);
        let n = okta("https://dev-123.okta.com/", AuthServer::Org);
        assert_eq!(n.base_url, "https://dev-123.okta.com");
        assert_eq!(n.changes, vec!["Removed the trailing slash.".to_string()]);
    }

    #[test]
    fn the_admin_console_host_becomes_the_org_host() {
        let n = okta("https://dev-123-admin.okta.com", AuthServer::Org);
        assert_eq!(n.issuer, "https://dev-123.okta.com");
        assert!(n.changes[0].contains("admin console"));
    }

    #[test]
    fn a_custom_server_in_the_path_becomes_the_authorization_server() {
        let n = okta("https://dev-123.okta.com/oauth2/default/", AuthServer::Org);
        assert_eq!(n.auth_server, AuthServer::Custom("default".into()));
        assert_eq!(n.base_url, "https://dev-123.okta.com");
        assert_eq!(n.issuer, "https://dev-123.okta.com/oauth2/default");
        let n = okta("https://dev-123.okta.com", AuthServer::Custom("aus1".into()));
        assert_eq!(n.issuer, "https://dev-123.okta.com/oauth2/aus1");
    }

    #[test]
    fn a_missing_scheme_gets_https() {
        let n = okta("dev-123.okta.com", AuthServer::Org);
        assert_eq!(n.issuer, "https://dev-123.okta.com");
    }

    #[test]
    fn generic_providers_keep_their_path() {
        let n = normalize(ProviderKind::Oidc, "https://login.example.com/realms/main/", &AuthServer::Org).unwrap();
        assert_eq!(n.issuer, "https://login.example.com/realms/main");
    }

    #[test]
    fn nonsense_is_refused_with_an_example() {
        assert_eq!(normalize(ProviderKind::Okta, "  ", &AuthServer::Org), Err(NormalizeError::Empty));
        assert!(matches!(
            normalize(ProviderKind::Okta, "ftp://x.okta.com", &AuthServer::Org),
            Err(NormalizeError::Scheme(_))
        ));
        assert!(matches!(
            normalize(ProviderKind::Okta, "https://x.okta.com/?a=1", &AuthServer::Org),
            Err(NormalizeError::QueryOrFragment(_))
        ));
    }
}
