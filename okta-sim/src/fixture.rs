//! The org definition: users, groups, memberships, apps, API tokens. JSON on disk.

use std::fmt;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::switches::Switches;
use crate::util::{format_ts, okta_id};
use crate::SimError;

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Fixture {
    pub org: OrgDef,
    #[serde(default)]
    pub authorization_servers: Vec<AuthServerDef>,
    #[serde(default)]
    pub users: Vec<UserDef>,
    #[serde(default)]
    pub groups: Vec<GroupDef>,
    #[serde(default)]
    pub oidc_apps: Vec<OidcAppDef>,
    #[serde(default)]
    pub service_apps: Vec<ServiceAppDef>,
    #[serde(default)]
    pub api_tokens: Vec<ApiTokenDef>,
    #[serde(default)]
    pub switches: Switches,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct OrgDef {
    /// `00o…`; the ID token's `idp` claim.
    pub id: String,
    pub name: String,
    /// The default user type (`oty…`), shown as `type.id` on users.
    pub user_type_id: String,
    pub created: String,
}

/// A custom authorization server (`/oauth2/{id}`). The org server always exists.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct AuthServerDef {
    pub id: String,
    pub name: String,
    pub audience: String,
    /// Custom scopes, grantable to service apps with client credentials.
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    LockedOut,
    PasswordExpired,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Staged => "STAGED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Active => "ACTIVE",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Deprovisioned => "DEPROVISIONED",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct UserDef {
    pub id: String,
    pub status: UserStatus,
    pub created: String,
    #[serde(default)]
    pub activated: Option<String>,
    #[serde(default)]
    pub status_changed: Option<String>,
    #[serde(default)]
    pub last_login: Option<String>,
    pub last_updated: String,
    #[serde(default)]
    pub password_changed: Option<String>,
    /// `login`, `email`, `firstName`, `lastName` are required; anything else is allowed.
    pub profile: Map<String, Value>,
    /// Sign-in password for `/authorize` (simulator only; never returned by the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupType {
    OktaGroup,
    AppGroup,
    BuiltIn,
}

impl GroupType {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::OktaGroup => "OKTA_GROUP",
            GroupType::AppGroup => "APP_GROUP",
            GroupType::BuiltIn => "BUILT_IN",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct GroupDef {
    pub id: String,
    #[serde(rename = "type")]
    pub group_type: GroupType,
    pub created: String,
    pub last_updated: String,
    pub last_membership_updated: String,
    /// `name` is required; `description` and custom attributes are optional.
    pub profile: Map<String, Value>,
    /// The app an `APP_GROUP` was imported from (`source.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Member user ids. Ignored for the `BUILT_IN` Everyone group, which holds every user.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
    ClientSecretJwt,
    PrivateKeyJwt,
    None,
}

/// Groups claim of an OIDC app on the org server: a name and a "Matches regex" filter.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct GroupsClaimDef {
    #[serde(default = "default_groups_claim_name")]
    pub name: String,
    /// Matched against the whole group name, as Okta's "Matches regex" does.
    pub filter_regex: String,
}

fn default_groups_claim_name() -> String {
    "groups".to_owned()
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Assignments {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct OidcAppDef {
    pub client_id: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default = "default_oidc_grants")]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_method: ClientAuthMethod,
    #[serde(default)]
    pub pkce_required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<GroupsClaimDef>,
    /// "Require DPoP header in token requests" (`dpop_bound_access_tokens`).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// Refresh tokens rotate on use (otherwise persistent, Okta's web-app default).
    #[serde(default)]
    pub refresh_token_rotation: bool,
    /// Public keys for `private_key_jwt` apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Who may sign in. Absent means assigned to Everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignments: Option<Assignments>,
}

fn default_oidc_grants() -> Vec<String> {
    vec!["authorization_code".to_owned()]
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAppDef {
    pub client_id: String,
    pub label: String,
    /// The public JWK set registered on the app (`{"keys":[…]}`).
    pub jwks: Value,
    /// Okta API scopes granted on the "Okta API Scopes" tab, and custom-server scopes.
    pub granted_scopes: Vec<String>,
    /// "Require Demonstrating Proof of Possession (DPoP) header in token requests".
    #[serde(default = "yes")]
    pub dpop_required: bool,
    /// Whether an admin role is assigned; without one the API answers `403 E0000006`.
    #[serde(default = "yes")]
    pub admin_role: bool,
    #[serde(default = "default_service_auth")]
    pub token_endpoint_auth_method: ClientAuthMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The private key, kept only so the demo can print it. Never served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_jwk: Option<Value>,
}

fn yes() -> bool {
    true
}

fn default_service_auth() -> ClientAuthMethod {
    ClientAuthMethod::PrivateKeyJwt
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ApiTokenDef {
    pub name: String,
    pub token: String,
}

impl Fixture {
    /// Reads a JSON fixture file.
    pub fn load(path: impl AsRef<Path>) -> Result<Fixture, SimError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| SimError::Fixture(format!("{}: {e}", path.display())))?;
        Fixture::from_json(&text).map_err(|e| SimError::Fixture(format!("{}: {e}", path.display())))
    }

    pub fn from_json(text: &str) -> Result<Fixture, SimError> {
        serde_json::from_str(text).map_err(|e| SimError::Fixture(e.to_string()))
    }

    pub fn to_json_pretty(&self) -> String {
        // Serialising plain data cannot fail; an empty string would show up in any test.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The built-in sample org: 50 users, 8 groups, one OIDC app, three service apps, one API token.
    pub fn sample() -> Fixture {
        sample::build()
    }

    /// What an admin types into the console's wizard, for this fixture served at `base_url`.
    pub fn credentials(&self, base_url: &str) -> Credentials {
        let oidc = self.oidc_apps.first();
        let service = self.service_apps.iter().find(|a| a.dpop_required).or(self.service_apps.first());
        let service_no_dpop = self.service_apps.iter().find(|a| !a.dpop_required && a.private_jwk.is_some());
        let user = self.users.iter().find(|u| u.status == UserStatus::Active && u.password.is_some());
        Credentials {
            base_url: base_url.trim_end_matches('/').to_owned(),
            oidc_client_id: oidc.map(|a| a.client_id.clone()),
            oidc_client_secret: oidc.and_then(|a| a.client_secret.clone()),
            service_client_id: service.map(|a| a.client_id.clone()),
            service_dpop_required: service.map(|a| a.dpop_required).unwrap_or(false),
            service_no_dpop_client_id: service_no_dpop.map(|a| a.client_id.clone()),
            service_private_jwk: service.and_then(|a| a.private_jwk.clone()),
            api_token: self.api_tokens.first().map(|t| t.token.clone()),
            sign_in_login: user.and_then(|u| u.profile.get("login").and_then(Value::as_str).map(str::to_owned)),
            sign_in_password: user.and_then(|u| u.password.clone()),
        }
    }
}

/// The values printed by `okta-sim` at start-up.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub base_url: String,
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret: Option<String>,
    pub service_client_id: Option<String>,
    pub service_dpop_required: bool,
    pub service_no_dpop_client_id: Option<String>,
    pub service_private_jwk: Option<Value>,
    pub api_token: Option<String>,
    pub sign_in_login: Option<String>,
    pub sign_in_password: Option<String>,
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_owned());
        writeln!(f, "Base URL:                 {}", self.base_url)?;
        writeln!(f, "OIDC app Client ID:       {}", or(&self.oidc_client_id))?;
        writeln!(f, "OIDC app Client secret:   {}", or(&self.oidc_client_secret))?;
        writeln!(
            f,
            "Service app Client ID:    {}{}",
            or(&self.service_client_id),
            if self.service_dpop_required { "  (requires DPoP)" } else { "" }
        )?;
        if let Some(id) = &self.service_no_dpop_client_id {
            writeln!(f, "Service app without DPoP: {id}  (same private key)")?;
        }
        writeln!(f, "SSWS API token:           {}", or(&self.api_token))?;
        writeln!(f, "Sign in as:               {} / {}", or(&self.sign_in_login), or(&self.sign_in_password))?;
        if let Some(jwk) = &self.service_private_jwk {
            writeln!(f, "Service app private key (JWK):")?;
            writeln!(f, "{}", serde_json::to_string(jwk).unwrap_or_default())?;
        }
        Ok(())
    }
}

/// The sample org's fixed credentials, for tests that drive the console against it.
pub mod sample {
    use super::*;

    pub const ORG_ID: &str = "00ou8jzPde0IgxLd6Gnc";
    pub const USER_TYPE_ID: &str = "oty0uvSwMFLZDe1f8rES";
    pub const CUSTOM_AS_ID: &str = "ausAkWvj7FAc9QeWJKY4";
    pub const OIDC_CLIENT_ID: &str = "0oafBAepfJBd0Kh8oOOL";
    pub const OIDC_CLIENT_SECRET: &str = "c7Tvo_hBKqFYY_kv5ZJr3J1TWDtkwtDDb-xHKas1";
    /// Service app that requires DPoP (Okta's default for new API service apps since 2024).
    pub const SERVICE_CLIENT_ID: &str = "0oa8dKLzdocJ2isAjIhK";
    /// The same app without DPoP.
    pub const SERVICE_NO_DPOP_CLIENT_ID: &str = "0oatJ0RlgLKOmxgJTeKd";
    /// Granted only `okta.users.read` (no `okta.groups.read`, no `okta.apps.read`), no DPoP.
    pub const SERVICE_MISSING_SCOPE_CLIENT_ID: &str = "0oaNnFRIBXuDL7DxtpYl";
    /// The app that `APP_GROUP`s were imported from ("Active Directory").
    pub const DIRECTORY_APP_ID: &str = "0oaSXpfKtHF4vUCsMehG";
    pub const SERVICE_KEY_ID: &str = "9MKSS9Xb2esNp5Mz4xcLS_B2WQbeFh4vqu1BqgZ9OY8";
    /// The three service apps' private key, as the Admin Console's "Generate new key" shows it.
    pub const SERVICE_PRIVATE_JWK: &str = include_str!("../fixtures/sample-service-app-key.json");
    pub const API_TOKEN: &str = "00VOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGSU8po-79";
    pub const EVERYONE_GROUP_ID: &str = "00gQedUStPKR0CsTy4Qw";
    /// An ACTIVE user in "Portcullis Admins".
    pub const SIGN_IN_LOGIN: &str = "ada.lovelace@example.com";
    /// Every sample user has this password.
    pub const SIGN_IN_PASSWORD: &str = "Portcullis-Demo-1";
    /// An ACTIVE user in no admin group.
    pub const SECOND_LOGIN: &str = "alan.turing@example.com";
    pub const REDIRECT_URIS: [&str; 2] = ["http://127.0.0.1:3000/auth/callback", "http://localhost:3000/auth/callback"];
    pub const POST_LOGOUT_REDIRECT_URIS: [&str; 2] = ["http://127.0.0.1:3000/login", "http://localhost:3000/login"];
    const SERVICE_KEY_N: &str = "p5wvsFjVtZmk5D7Fq_X5fdLmCE1i-fYvuxiY09VuU3JhzSTFkofqzDUVT9BfXMKttUeo-rHE_LSdOK3PZmYwID8XWRuegw6lSZwBWbvMxT31GOUfA4Vn1PuWiJp22B6ODUMaEdTl_-Qhw3N057zRjNq_2W7I4tymZ5aiD8ZA7Z0xYdlFRJf_Sqb-XJbLv17xO7DdEPn2LGz6ZqextnO9mfQHIQ8Us7zMV48Cu22l8NlAzcEdLpqtWuZ0yhydFH5OM0cR0flXFcyqx3jq1SR5fse5xzW-vdTCm7wTPvgKqKqpnl3umgB2gIjIiuhunJM22I7DVo73_dIAcmU30hjfTw";

    /// The public half of [`SERVICE_PRIVATE_JWK`], as registered on the service apps.
    pub fn service_public_jwks() -> Value {
        json!({"keys": [{
            "kty": "RSA", "kid": SERVICE_KEY_ID, "use": "sig", "alg": "RS256", "e": "AQAB", "n": SERVICE_KEY_N
        }]})
    }

    /// [`SERVICE_PRIVATE_JWK`] parsed.
    pub fn service_private_jwk() -> Value {
        serde_json::from_str(SERVICE_PRIVATE_JWK).unwrap_or(Value::Null)
    }

    // first, last, department, title
    const PEOPLE: [(&str, &str, &str, &str); 50] = [
        ("Ada", "Lovelace", "IT", "Director of IT"),
        ("Alan", "Turing", "Engineering", "Principal Engineer"),
        ("Grace", "Hopper", "Engineering", "Engineering Manager"),
        ("Katherine", "Johnson", "Engineering", "Staff Engineer"),
        ("Linus", "Torvalds", "Engineering", "Senior Engineer"),
        ("Margaret", "Hamilton", "Engineering", "Senior Engineer"),
        ("Dennis", "Ritchie", "Engineering", "Software Engineer"),
        ("Barbara", "Liskov", "Engineering", "Software Engineer"),
        ("Ken", "Thompson", "Engineering", "Software Engineer"),
        ("Frances", "Allen", "Engineering", "Software Engineer"),
        ("Donald", "Knuth", "Engineering", "Software Engineer"),
        ("Radia", "Perlman", "IT", "Network Engineer"),
        ("Vint", "Cerf", "IT", "Systems Administrator"),
        ("Hedy", "Lamarr", "IT", "Security Engineer"),
        ("Tim", "Berners-Lee", "IT", "IT Support Specialist"),
        ("Annie", "Easley", "Finance", "Controller"),
        ("John", "Napier", "Finance", "Accountant"),
        ("Mary", "Somerville", "Finance", "Financial Analyst"),
        ("Luca", "Pacioli", "Finance", "Accountant"),
        ("Emmy", "Noether", "Finance", "Financial Analyst"),
        ("Carl", "Gauss", "Sales", "VP Sales"),
        ("Sophie", "Germain", "Sales", "Account Executive"),
        ("Leonhard", "Euler", "Sales", "Account Executive"),
        ("Maryam", "Mirzakhani", "Sales", "Account Executive"),
        ("Srinivasa", "Ramanujan", "Sales", "Sales Engineer"),
        ("Hypatia", "Alexandria", "Sales", "Sales Development Rep"),
        ("Blaise", "Pascal", "Sales", "Sales Development Rep"),
        ("Rosalind", "Franklin", "Marketing", "Marketing Director"),
        ("Marie", "Curie", "Marketing", "Product Marketing Manager"),
        ("Nikola", "Tesla", "Marketing", "Content Strategist"),
        ("Chien-Shiung", "Wu", "Marketing", "Designer"),
        ("Dorothy", "Vaughan", "Marketing", "Marketing Analyst"),
        ("Edsger", "Dijkstra", "Engineering", "Software Engineer"),
        ("John", "McCarthy", "Engineering", "Software Engineer"),
        ("Shafi", "Goldwasser", "Engineering", "Security Engineer"),
        ("Whitfield", "Diffie", "IT", "Security Architect"),
        ("Martin", "Hellman", "IT", "Security Engineer"),
        ("Adele", "Goldberg", "Engineering", "Software Engineer"),
        ("Alan", "Kay", "Engineering", "Software Engineer"),
        ("Jean", "Bartik", "Support", "Support Lead"),
        ("Betty", "Holberton", "Support", "Support Engineer"),
        ("Kathleen", "Booth", "Support", "Support Engineer"),
        ("Joan", "Clarke", "Support", "Support Engineer"),
        ("Claude", "Shannon", "Engineering", "Data Engineer"),
        ("Evelyn", "Berezin", "HR", "HR Director"),
        ("Lynn", "Conway", "HR", "Recruiter"),
        ("Karen", "Sparck Jones", "HR", "People Partner"),
        ("Tony", "Hoare", "Engineering", "Software Engineer"),
        ("Niklaus", "Wirth", "Engineering", "Software Engineer"),
        ("Sister Mary", "Keller", "Finance", "Payroll Specialist"),
    ];

    /// Statuses by index; everyone else is ACTIVE.
    fn status_for(i: usize) -> UserStatus {
        match i {
            44 => UserStatus::Staged,
            45 => UserStatus::Provisioned,
            46 => UserStatus::Suspended,
            47 => UserStatus::LockedOut,
            48 => UserStatus::PasswordExpired,
            49 => UserStatus::Deprovisioned,
            _ => UserStatus::Active,
        }
    }

    const DAY_MS: i64 = 86_400_000;
    /// 2022-03-01T09:00:00Z, the sample org's birthday.
    const ORG_CREATED_MS: i64 = 1_646_125_200_000;

    pub(crate) fn build() -> Fixture {
        // Fixed seed: the ids below are the same on every machine.
        let mut rng = ChaCha8Rng::seed_from_u64(0x0c7a_5a3e);
        let mut users = Vec::with_capacity(PEOPLE.len());
        for (i, (first, last, dept, title)) in PEOPLE.iter().enumerate() {
            let status = status_for(i);
            let login = format!(
                "{}.{}@example.com",
                first.to_lowercase().replace(' ', ""),
                last.to_lowercase().replace([' ', '-'], "")
            );
            let created = ORG_CREATED_MS + (i as i64) * 3 * DAY_MS;
            let activated = (status != UserStatus::Staged).then_some(created + 3_600_000);
            let status_changed = activated.map(|a| if i >= 46 { a + 400 * DAY_MS } else { a });
            let last_updated = created + 500 * DAY_MS + (i as i64) * 7_000;
            let mut profile = Map::new();
            profile.insert("firstName".into(), json!(first));
            profile.insert("lastName".into(), json!(last));
            profile.insert("email".into(), json!(login));
            profile.insert("login".into(), json!(login));
            profile.insert("department".into(), json!(dept));
            profile.insert("title".into(), json!(title));
            profile.insert("employeeNumber".into(), json!(format!("{}", 1001 + i)));
            profile.insert("mobilePhone".into(), Value::Null);
            profile.insert("secondEmail".into(), Value::Null);
            profile.insert("locale".into(), json!("en_US"));
            profile.insert("timezone".into(), json!("America/Los_Angeles"));
            let active = status == UserStatus::Active;
            users.push(UserDef {
                id: okta_id(&mut rng, "00u"),
                status,
                created: format_ts(created),
                activated: activated.map(format_ts),
                status_changed: status_changed.map(format_ts),
                last_login: active.then(|| format_ts(last_updated + 30 * DAY_MS)),
                last_updated: format_ts(last_updated),
                password_changed: activated.map(|a| format_ts(a + 60_000)),
                profile,
                password: Some(SIGN_IN_PASSWORD.to_owned()),
            });
        }

        let by_dept = |d: &str| -> Vec<String> {
            PEOPLE.iter().zip(&users).filter(|((_, _, dept, _), _)| *dept == d).map(|(_, u)| u.id.clone()).collect()
        };
        let group = |rng: &mut ChaCha8Rng, name: &str, desc: &str, t: GroupType, members: Vec<String>, day: i64| {
            let mut profile = Map::new();
            profile.insert("name".into(), json!(name));
            profile.insert("description".into(), json!(desc));
            GroupDef {
                id: okta_id(rng, "00g"),
                group_type: t,
                created: format_ts(ORG_CREATED_MS + day * DAY_MS),
                last_updated: format_ts(ORG_CREATED_MS + (day + 10) * DAY_MS),
                last_membership_updated: format_ts(ORG_CREATED_MS + (day + 600) * DAY_MS),
                profile,
                source: (t == GroupType::AppGroup).then(|| DIRECTORY_APP_ID.to_owned()),
                members,
            }
        };
        let mut everyone = group(&mut rng, "Everyone", "All users in your organization", GroupType::BuiltIn, vec![], 0);
        everyone.id = EVERYONE_GROUP_ID.to_owned();
        let admins = vec![users[0].id.clone(), users[11].id.clone(), users[13].id.clone()];
        let vpn: Vec<String> =
            [1, 2, 4, 11, 12, 13, 14, 20, 21, 27, 35, 36].iter().map(|&i| users[i].id.clone()).collect();
        let groups = vec![
            everyone,
            group(&mut rng, "Engineering", "Product engineering", GroupType::OktaGroup, by_dept("Engineering"), 1),
            group(&mut rng, "Sales", "Sales and sales engineering", GroupType::OktaGroup, by_dept("Sales"), 2),
            group(&mut rng, "Marketing", "Marketing and design", GroupType::OktaGroup, by_dept("Marketing"), 3),
            group(&mut rng, "Finance", "Finance and payroll", GroupType::OktaGroup, by_dept("Finance"), 4),
            group(&mut rng, "IT", "IT operations and security", GroupType::OktaGroup, by_dept("IT"), 5),
            group(
                &mut rng,
                "Portcullis Admins",
                "Administrators of the Portcullis console",
                GroupType::OktaGroup,
                admins,
                6,
            ),
            group(&mut rng, "VPN Users", "Imported from Active Directory", GroupType::AppGroup, vpn, 7),
        ];

        let private = service_private_jwk();
        let service = |id: &str, label: &str, scopes: &[&str], dpop: bool, with_key: bool| ServiceAppDef {
            client_id: id.to_owned(),
            label: label.to_owned(),
            jwks: service_public_jwks(),
            granted_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            dpop_required: dpop,
            admin_role: true,
            token_endpoint_auth_method: ClientAuthMethod::PrivateKeyJwt,
            client_secret: None,
            private_jwk: with_key.then(|| private.clone()),
        };
        let all_scopes = ["okta.users.read", "okta.groups.read", "okta.apps.read"];

        Fixture {
            org: OrgDef {
                id: ORG_ID.to_owned(),
                name: "Acme Corp (okta-sim)".to_owned(),
                user_type_id: USER_TYPE_ID.to_owned(),
                created: format_ts(ORG_CREATED_MS),
            },
            authorization_servers: vec![
                AuthServerDef {
                    id: "default".to_owned(),
                    name: "default".to_owned(),
                    audience: "api://default".to_owned(),
                    scopes: vec![],
                },
                AuthServerDef {
                    id: CUSTOM_AS_ID.to_owned(),
                    name: "Portcullis API".to_owned(),
                    audience: "api://portcullis".to_owned(),
                    scopes: vec!["portcullis.read".to_owned()],
                },
            ],
            users,
            groups,
            oidc_apps: vec![OidcAppDef {
                client_id: OIDC_CLIENT_ID.to_owned(),
                label: "Portcullis Console".to_owned(),
                client_secret: Some(OIDC_CLIENT_SECRET.to_owned()),
                redirect_uris: REDIRECT_URIS.iter().map(|s| (*s).to_owned()).collect(),
                post_logout_redirect_uris: POST_LOGOUT_REDIRECT_URIS.iter().map(|s| (*s).to_owned()).collect(),
                grant_types: vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
                token_endpoint_auth_method: ClientAuthMethod::ClientSecretBasic,
                pkce_required: true,
                groups_claim: Some(GroupsClaimDef { name: "groups".to_owned(), filter_regex: ".*".to_owned() }),
                dpop_bound_access_tokens: false,
                refresh_token_rotation: false,
                jwks: None,
                assignments: Some(Assignments { users: vec![], groups: vec![EVERYONE_GROUP_ID.to_owned()] }),
            }],
            service_apps: vec![
                service(SERVICE_CLIENT_ID, "Portcullis Directory Sync", &all_scopes, true, true),
                service(SERVICE_NO_DPOP_CLIENT_ID, "Portcullis Directory Sync (no DPoP)", &all_scopes, false, true),
                service(
                    SERVICE_MISSING_SCOPE_CLIENT_ID,
                    "Portcullis Directory Sync (users only)",
                    &all_scopes[..1],
                    false,
                    true,
                ),
            ],
            api_tokens: vec![ApiTokenDef { name: "Portcullis demo token".to_owned(), token: API_TOKEN.to_owned() }],
            switches: Switches::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_fixture_file_matches_the_built_in_sample() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample-org.json");
        let built = Fixture::sample().to_json_pretty();
        if std::env::var_os("OKTA_SIM_WRITE_FIXTURES").is_some() {
            std::fs::write(path, format!("{built}\n")).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap();
        assert_eq!(on_disk.trim_end(), built, "run with OKTA_SIM_WRITE_FIXTURES=1 to regenerate");
    }

    #[test]
    fn the_sample_has_fifty_users_eight_groups_and_the_promised_apps() {
        let f = Fixture::sample();
        assert_eq!(f.users.len(), 50);
        assert_eq!(f.groups.len(), 8);
        assert_eq!(f.oidc_apps.len(), 1);
        assert!(f.groups.iter().any(|g| g.group_type == GroupType::BuiltIn && g.profile["name"] == "Everyone"));
        assert!(f.groups.iter().any(|g| g.group_type == GroupType::AppGroup));
        let dpop: Vec<bool> = f.service_apps.iter().map(|a| a.dpop_required).collect();
        assert_eq!(dpop, vec![true, false, false]);
        assert_eq!(f.service_apps[2].granted_scopes, vec!["okta.users.read"]);
        assert_eq!(sample::service_private_jwk()["kid"], sample::SERVICE_KEY_ID);
        assert_eq!(sample::service_private_jwk()["n"], sample::service_public_jwks()["keys"][0]["n"]);
        let creds = f.credentials("http://127.0.0.1:1");
        assert_eq!(creds.sign_in_login.as_deref(), Some(sample::SIGN_IN_LOGIN));
        assert_eq!(creds.service_client_id.as_deref(), Some(sample::SERVICE_CLIENT_ID));
        assert!(creds.service_dpop_required);
    }

    #[test]
    fn the_key_file_holds_the_sample_private_key() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample-service-app-key.json");
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(v, sample::service_private_jwk());
        for field in ["kty", "kid", "use", "alg", "n", "e", "d", "p", "q", "dp", "dq", "qi"] {
            assert!(v.get(field).is_some(), "missing {field}");
        }
    }
}
