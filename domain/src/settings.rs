//! Start-up settings: `PORTCULLIS_*` environment variables over an optional `portcullis.toml`.
//!
//! A bad value stops start-up with one line that names the setting, so every
//! field is parsed here, once, into a typed value.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;
use url::Url;

pub use crate::credentials::redact_url_credentials;

pub use crate::trusted_proxies::TrustedProxies;

/// What is wrong with one setting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{setting}: {problem}")]
pub struct SettingsError {
    pub setting: String,
    pub problem: String,
}

impl SettingsError {
    fn new(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { setting: setting.into(), problem: problem.into() }
    }
}

/// The settings the console runs with.
#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// The external URL, origin only (no path), without a trailing slash.
    pub public_url: Url,
    pub database_url: String,
    pub data_dir: PathBuf,
    /// Where the built browser assets live (`pkg/`, favicon).
    pub site_dir: PathBuf,
    pub admin_email: Option<String>,
    /// Never printed: `Debug` of `Settings` redacts it.
    pub admin_password: Option<Secret>,
    pub session_idle: Duration,
    pub session_lifetime: Duration,
    pub log: String,
    /// Hosts, host:port and CIDRs the console may reach over http and at non-public addresses.
    pub outbound_allow: Vec<crate::outbound::AllowEntry>,
    /// Extra trusted CAs for talking to identity providers (PEM, already read).
    pub ca_file: Option<(PathBuf, Vec<u8>)>,
    /// The key for secrets at rest; when unset, a key file in the data folder.
    pub secret_key: Option<Secret>,
    /// Peers whose `X-Forwarded-For` is believed (the reverse proxies in front of the console).
    pub trusted_proxies: TrustedProxies,
    /// Where the settings file was read from, if one was.
    pub config_file: Option<PathBuf>,
    /// This process among several on one database: shown on the Settings page, recorded with
    /// the sync runs it runs. Default: the host name and the port it listens on.
    pub replica_id: String,
}

/// A string that does not print itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The file form: the same names as the variables, lower case, without the prefix.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    public_url: Option<String>,
    database_url: Option<String>,
    data_dir: Option<String>,
    site_dir: Option<String>,
    admin_email: Option<String>,
    admin_password: Option<String>,
    session_idle_minutes: Option<u64>,
    session_lifetime_hours: Option<u64>,
    log: Option<String>,
    outbound_allow: Option<String>,
    ca_file: Option<String>,
    secret_key: Option<String>,
    trusted_proxies: Option<String>,
    replica_id: Option<String>,
    /// Removed: named so that the file gives the same clear error as the variable.
    access_cookie_domain: Option<String>,
}

/// Each setting: its variable name and its key in the file.
const KEYS: &[(&str, &str)] = &[
    ("PORTCULLIS_LISTEN", "listen"),
    ("PORTCULLIS_PUBLIC_URL", "public_url"),
    ("PORTCULLIS_DATABASE_URL", "database_url"),
    ("PORTCULLIS_DATA_DIR", "data_dir"),
    ("PORTCULLIS_SITE_DIR", "site_dir"),
    ("PORTCULLIS_ADMIN_EMAIL", "admin_email"),
    ("PORTCULLIS_ADMIN_PASSWORD", "admin_password"),
    ("PORTCULLIS_SESSION_IDLE_MINUTES", "session_idle_minutes"),
    ("PORTCULLIS_SESSION_LIFETIME_HOURS", "session_lifetime_hours"),
    ("PORTCULLIS_LOG", "log"),
    ("PORTCULLIS_OUTBOUND_ALLOW", "outbound_allow"),
    ("PORTCULLIS_CA_FILE", "ca_file"),
    ("PORTCULLIS_SECRET_KEY", "secret_key"),
    ("PORTCULLIS_TRUSTED_PROXIES", "trusted_proxies"),
    ("PORTCULLIS_REPLICA_ID", "replica_id"),
    ("PORTCULLIS_ACCESS_COOKIE_DOMAIN", "access_cookie_domain"),
];

/// Variables that are read elsewhere or only select the file.
/// Read by the command line (`portcullis config …`), not the server.
const OTHER_VARIABLES: &[&str] = &["PORTCULLIS_CONFIG", "PORTCULLIS_URL", "PORTCULLIS_TOKEN"];

impl Settings {
    /// Reads the process environment and, if present, the settings file
    /// (`PORTCULLIS_CONFIG`, else `./portcullis.toml`).
    pub fn from_env() -> Result<Self, SettingsError> {
        let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("PORTCULLIS_")).collect();
        Self::load(&env)
    }

    /// Loads from the given variables; the file is found as [`Settings::from_env`] does.
    pub fn load(env: &BTreeMap<String, String>) -> Result<Self, SettingsError> {
        for name in env.keys() {
            let known = KEYS.iter().any(|(var, _)| var == name) || OTHER_VARIABLES.contains(&name.as_str());
            if !known {
                return Err(SettingsError::new(name.clone(), "unknown setting (see the README for the list)"));
            }
        }
        let (file, config_file) = match env.get("PORTCULLIS_CONFIG") {
            Some(path) => (Some(read_file(Path::new(path))?), Some(PathBuf::from(path))),
            None => {
                let default = Path::new("portcullis.toml");
                if default.exists() {
                    (Some(read_file(default)?), Some(default.to_path_buf()))
                } else {
                    (None, None)
                }
            }
        };
        let file = file.unwrap_or_default();
        let file_value = |key: &str| -> Option<String> {
            match key {
                "listen" => file.listen.clone(),
                "public_url" => file.public_url.clone(),
                "database_url" => file.database_url.clone(),
                "data_dir" => file.data_dir.clone(),
                "site_dir" => file.site_dir.clone(),
                "admin_email" => file.admin_email.clone(),
                "admin_password" => file.admin_password.clone(),
                "session_idle_minutes" => file.session_idle_minutes.map(|v| v.to_string()),
                "session_lifetime_hours" => file.session_lifetime_hours.map(|v| v.to_string()),
                "log" => file.log.clone(),
                "outbound_allow" => file.outbound_allow.clone(),
                "ca_file" => file.ca_file.clone(),
                "secret_key" => file.secret_key.clone(),
                "replica_id" => file.replica_id.clone(),
                "trusted_proxies" => file.trusted_proxies.clone(),
                "access_cookie_domain" => file.access_cookie_domain.clone(),
                _ => None,
            }
        };
        // The environment wins over the file; empty values count as unset.
        let get = |var: &str| -> Option<(String, String)> {
            let key = KEYS.iter().find(|(v, _)| *v == var).map(|(_, k)| *k)?;
            if let Some(v) = env.get(var).filter(|v| !v.trim().is_empty()) {
                return Some((var.to_string(), v.trim().to_string()));
            }
            file_value(key).map(|v| (format!("{key} (in the settings file)"), v.trim().to_string()))
        };

        let listen = match get("PORTCULLIS_LISTEN") {
            Some((name, v)) => v.parse::<SocketAddr>().map_err(|_| {
                SettingsError::new(name, format!("'{v}' is not an address and port such as 127.0.0.1:3000"))
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };

        let public_url = match get("PORTCULLIS_PUBLIC_URL") {
            Some((name, v)) => parse_public_url(&v).map_err(|p| SettingsError::new(name, p))?,
            None => {
                parse_public_url("http://127.0.0.1:3000").map_err(|p| SettingsError::new("PORTCULLIS_PUBLIC_URL", p))?
            }
        };

        let data_dir = match get("PORTCULLIS_DATA_DIR") {
            Some((_, v)) => PathBuf::from(v),
            None => PathBuf::from("data"),
        };

        let database_url = match get("PORTCULLIS_DATABASE_URL") {
            Some((name, v)) => check_database_url(&v).map_err(|p| SettingsError::new(name, p))?,
            None => format!("sqlite://{}", data_dir.join("portcullis.db").display()),
        };

        let site_dir = match get("PORTCULLIS_SITE_DIR") {
            Some((_, v)) => PathBuf::from(v),
            None => default_site_dir(),
        };

        let admin_email = match get("PORTCULLIS_ADMIN_EMAIL") {
            Some((name, v)) => {
                Some(crate::credentials::normalize_email(&v).map_err(|e| SettingsError::new(name, e.to_string()))?)
            }
            None => None,
        };
        let admin_password = get("PORTCULLIS_ADMIN_PASSWORD").map(|(_, v)| Secret::new(v));
        match (&admin_email, &admin_password) {
            (Some(_), None) => {
                return Err(SettingsError::new(
                    "PORTCULLIS_ADMIN_PASSWORD",
                    "must be set together with PORTCULLIS_ADMIN_EMAIL",
                ))
            }
            (None, Some(_)) => {
                return Err(SettingsError::new(
                    "PORTCULLIS_ADMIN_EMAIL",
                    "must be set together with PORTCULLIS_ADMIN_PASSWORD",
                ))
            }
            (Some(_), Some(p)) => {
                crate::credentials::check_password_strength(p.expose())
                    .map_err(|e| SettingsError::new("PORTCULLIS_ADMIN_PASSWORD", e.to_string()))?;
            }
            (None, None) => {}
        }

        let session_idle = minutes(get("PORTCULLIS_SESSION_IDLE_MINUTES"), 60, 1, 7 * 24 * 60)?;
        let session_lifetime_hours = number(get("PORTCULLIS_SESSION_LIFETIME_HOURS"), 12, 1, 24 * 90)?;
        let session_lifetime = Duration::from_secs(session_lifetime_hours * 3600);

        let log = get("PORTCULLIS_LOG").map(|(_, v)| v).unwrap_or_else(|| "info".to_string());

        let outbound_allow = match get("PORTCULLIS_OUTBOUND_ALLOW") {
            Some((name, v)) => crate::outbound::parse_allow_list(&v).map_err(|p| SettingsError::new(name, p))?,
            None => Vec::new(),
        };
        let ca_file = match get("PORTCULLIS_CA_FILE") {
            Some((name, v)) => {
                let path = PathBuf::from(&v);
                let pem = std::fs::read(&path)
                    .map_err(|e| SettingsError::new(name.clone(), format!("cannot read {v}: {e}")))?;
                if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                    return Err(SettingsError::new(name, format!("{v} holds no PEM certificate")));
                }
                Some((path, pem))
            }
            None => None,
        };
        let secret_key = match get("PORTCULLIS_SECRET_KEY") {
            Some((name, v)) => {
                use base64::Engine;
                let ok =
                    base64::engine::general_purpose::STANDARD.decode(v.trim()).map(|k| k.len() == 32).unwrap_or(false);
                if !ok {
                    return Err(SettingsError::new(
                        name,
                        "must be 32 bytes encoded as base64 (e.g. `openssl rand -base64 32`)",
                    ));
                }
                Some(Secret::new(v))
            }
            None => None,
        };
        if secret_key.is_none() && crate::store::is_postgres_url(&database_url) {
            return Err(SettingsError::new(
                "PORTCULLIS_SECRET_KEY",
                "must be set with PostgreSQL: every replica seals and opens secrets with this one key \
                 (e.g. `openssl rand -base64 32`, the same value on each)",
            ));
        }
        let replica_id = match get("PORTCULLIS_REPLICA_ID") {
            Some((name, v)) => {
                let ok = !v.is_empty()
                    && v.len() <= 64
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
                if !ok {
                    return Err(SettingsError::new(name, "must be 1 to 64 letters, digits, '.', '-', '_' or ':'"));
                }
                v
            }
            None => format!("{}:{}", host_name(), listen.port()),
        };

        // Per-application cookies replaced the shared parent-domain cookie: a leftover value
        // would suggest a protection that no longer exists.
        if let Some((name, _)) = get("PORTCULLIS_ACCESS_COOKIE_DOMAIN") {
            return Err(SettingsError::new(
                name,
                "was removed: each application now gets its own cookie on its own host through /.portcullis/ (see the README's proxy snippets); unset it",
            ));
        }
        let trusted_proxies = match get("PORTCULLIS_TRUSTED_PROXIES") {
            Some((name, v)) => TrustedProxies::parse(&v).map_err(|p| SettingsError::new(name, p))?,
            None => TrustedProxies::default(),
        };

        Ok(Self {
            trusted_proxies,
            listen,
            public_url,
            database_url,
            data_dir,
            site_dir,
            admin_email,
            admin_password,
            session_idle,
            session_lifetime,
            log,
            outbound_allow,
            ca_file,
            secret_key,
            config_file,
            replica_id,
        })
    }

    /// Cookies get `Secure` when the console is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The public URL without a trailing slash, for building links.
    pub fn public_base(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_string()
    }

    /// The database URL as every settings view shows it: without credentials.
    pub fn database_url_redacted(&self) -> String {
        redact_url_credentials(&self.database_url)
    }
}

/// `Debug` (start-up and error logs) shows no credential: the database URL is redacted and the
/// secrets print as `Secret(…)`.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("database_url", &self.database_url_redacted())
            .field("data_dir", &self.data_dir)
            .field("site_dir", &self.site_dir)
            .field("admin_email", &self.admin_email)
            .field("admin_password", &self.admin_password)
            .field("session_idle", &self.session_idle)
            .field("session_lifetime", &self.session_lifetime)
            .field("log", &self.log)
            .field("outbound_allow", &self.outbound_allow)
            .field("ca_file", &self.ca_file.as_ref().map(|(path, _)| path))
            .field("secret_key", &self.secret_key)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("config_file", &self.config_file)
            .finish()
    }
}

fn read_file(path: &Path) -> Result<FileSettings, SettingsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SettingsError::new("PORTCULLIS_CONFIG", format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        // toml's message spans several lines; the first says what is wrong.
        let msg = e.message().lines().next().unwrap_or("invalid TOML").to_string();
        SettingsError::new(format!("{}", path.display()), msg)
    })
}

fn parse_public_url(v: &str) -> Result<Url, String> {
    let url =
        Url::parse(v).map_err(|e| format!("'{v}' is not a URL ({e}); use e.g. https://portcullis.example.com"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("'{v}' must start with https:// (or http:// for local use)"));
    }
    if url.host().is_none() {
        return Err(format!("'{v}' has no host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("'{v}' must be an origin only, without a path (the console is served from /)"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("'{v}' must not contain a user name or password"));
    }
    Ok(url)
}

fn check_database_url(v: &str) -> Result<String, String> {
    if v.starts_with("sqlite:") {
        Ok(v.to_string())
    } else if crate::store::is_postgres_url(v) {
        match url::Url::parse(v) {
            Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) && u.path().len() > 1 => Ok(v.to_string()),
            _ => Err(format!(
                "'{}' names no server and database; use postgres://user:password@host:5432/portcullis",
                redact_url_credentials(v)
            )),
        }
    } else {
        Err(format!(
            "'{}' is not a database URL; use sqlite://path/to/portcullis.db or postgres://user:password@host/portcullis",
            redact_url_credentials(v)
        ))
    }
}

/// The machine's name, for the default replica id.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| {
            h.trim().chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(48).collect()
        })
        .filter(|h: &String| !h.is_empty())
        .unwrap_or_else(|| "portcullis".into())
}

fn number(value: Option<(String, String)>, default: u64, min: u64, max: u64) -> Result<u64, SettingsError> {
    match value {
        None => Ok(default),
        Some((name, v)) => match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(SettingsError::new(name, format!("'{v}' must be a whole number from {min} to {max}"))),
        },
    }
}

fn minutes(value: Option<(String, String)>, default: u64, min: u64, max: u64) -> Result<Duration, SettingsError> {
    number(value, default, min, max).map(|m| Duration::from_secs(m * 60))
}

/// `target/site` in a checkout; beside the binary (`site/`) in a deployment.
fn default_site_dir() -> PathBuf {
    let in_checkout = PathBuf::from("target/site");
    if in_checkout.is_dir() {
        return in_checkout;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("site")))
        .filter(|p| p.is_dir())
        .unwrap_or(in_checkout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_match_the_readme() {
        let s = Settings::load(&env(&[])).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(s.database_url, "sqlite://data/portcullis.db");
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert!(!s.secure_cookies());
        assert_eq!(s.public_base(), "http://127.0.0.1:3000");
    }

    #[test]
    fn database_url_credentials_are_redacted_in_every_view() {
        for (url, shown) in [
            ("sqlite://data/portcullis.db", "sqlite://data/portcullis.db"),
            ("sqlite://data/portcullis.db?mode=rwc", "sqlite://data/portcullis.db?mode=rwc"),
            ("postgres://app:s3cret@db.example.com:5432/pc", "postgres://app:****@db.example.com:5432/pc"),
            ("postgres://app:p@ss/w?rd#x@db.example.com/pc", "postgres://app:****@db.example.com/pc"),
            ("sqlite://data/pc.db?mode=rwc&password=s3cret", "sqlite://data/pc.db?mode=rwc&password=****"),
            (
                "postgres://db/pc?user=app&Password=s3cret&sslpassword=s3cret",
                "postgres://db/pc?user=app&Password=****&sslpassword=****",
            ),
            ("sqlite:pc.db?key=s3cret", "sqlite:pc.db?key=****"),
        ] {
            assert_eq!(redact_url_credentials(url), shown, "{url}");
        }

        let s =
            Settings::load(&env(&[("PORTCULLIS_DATABASE_URL", "sqlite://u:s3cret@x/pc.db?password=s3cret")])).unwrap();
        assert!(!s.database_url_redacted().contains("s3cret"), "{}", s.database_url_redacted());
        assert!(!format!("{s:?}").contains("s3cret"), "Debug of the settings: {s:?}");
        let err = Settings::load(&env(&[("PORTCULLIS_DATABASE_URL", "mysql://u:s3cret@db/pc")])).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn a_bad_listen_address_names_the_setting() {
        let err = Settings::load(&env(&[("PORTCULLIS_LISTEN", "localhost")])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_LISTEN");
        assert!(err.to_string().starts_with("PORTCULLIS_LISTEN: 'localhost' is not an address"));
    }

    #[test]
    fn a_public_url_with_a_path_is_refused() {
        let err = Settings::load(&env(&[("PORTCULLIS_PUBLIC_URL", "https://example.com/console")])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_PUBLIC_URL");
    }

    #[test]
    fn https_public_url_turns_on_secure_cookies() {
        let s = Settings::load(&env(&[("PORTCULLIS_PUBLIC_URL", "https://pc.example.com/")])).unwrap();
        assert!(s.secure_cookies());
        assert_eq!(s.public_base(), "https://pc.example.com");
    }

    #[test]
    fn unknown_variables_are_an_error() {
        let err = Settings::load(&env(&[("PORTCULLIS_LISTNE", "127.0.0.1:1")])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_LISTNE");
    }

    #[test]
    fn the_database_defaults_into_the_data_dir() {
        let s = Settings::load(&env(&[("PORTCULLIS_DATA_DIR", "/var/lib/portcullis")])).unwrap();
        assert_eq!(s.database_url, "sqlite:///var/lib/portcullis/portcullis.db");
    }

    #[test]
    fn postgres_needs_a_server_a_database_and_the_shared_secret_key() {
        let err = Settings::load(&env(&[("PORTCULLIS_DATABASE_URL", "postgres://x")])).unwrap_err();
        assert!(err.problem.contains("names no server and database"), "{}", err.problem);
        let url = ("PORTCULLIS_DATABASE_URL", "postgres://pc:s3cret@db.internal:5432/portcullis");
        let err = Settings::load(&env(&[url])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_SECRET_KEY");
        let key = ("PORTCULLIS_SECRET_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
        let s = Settings::load(&env(&[url, key])).unwrap();
        assert_eq!(s.database_url, url.1);
        assert!(!s.database_url_redacted().contains("s3cret"));
    }

    #[test]
    fn the_replica_id_defaults_to_host_and_port_and_is_checked() {
        let s = Settings::load(&env(&[("PORTCULLIS_LISTEN", "127.0.0.1:3001")])).unwrap();
        assert!(s.replica_id.ends_with(":3001"), "{}", s.replica_id);
        let s = Settings::load(&env(&[("PORTCULLIS_REPLICA_ID", "pc-a")])).unwrap();
        assert_eq!(s.replica_id, "pc-a");
        let err = Settings::load(&env(&[("PORTCULLIS_REPLICA_ID", "a b")])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_REPLICA_ID");
    }

    #[test]
    fn admin_email_needs_a_password_and_a_strong_one() {
        let err = Settings::load(&env(&[("PORTCULLIS_ADMIN_EMAIL", "a@example.com")])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_ADMIN_PASSWORD");
        let err = Settings::load(&env(&[
            ("PORTCULLIS_ADMIN_EMAIL", "a@example.com"),
            ("PORTCULLIS_ADMIN_PASSWORD", "short"),
        ]))
        .unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_ADMIN_PASSWORD");
        let s = Settings::load(&env(&[
            ("PORTCULLIS_ADMIN_EMAIL", "A@Example.com"),
            ("PORTCULLIS_ADMIN_PASSWORD", "correct horse battery"),
        ]))
        .unwrap();
        assert_eq!(s.admin_email.as_deref(), Some("a@example.com"));
        assert!(!format!("{s:?}").contains("correct horse"));
    }

    #[test]
    fn the_file_is_read_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:4000\"\npublic_url = \"https://file.example.com\"\n").unwrap();
        let s = Settings::load(&env(&[
            ("PORTCULLIS_CONFIG", path.to_str().unwrap()),
            ("PORTCULLIS_PUBLIC_URL", "https://env.example.com"),
        ]))
        .unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(s.public_url.as_str(), "https://env.example.com/");
        assert_eq!(s.config_file.as_deref(), Some(path.as_path()));
    }

    #[test]
    fn unknown_keys_in_the_file_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:4000\"\n").unwrap();
        let err = Settings::load(&env(&[("PORTCULLIS_CONFIG", path.to_str().unwrap())])).unwrap_err();
        assert!(err.problem.contains("unknown field `lisen`"), "{err}");
    }

    #[test]
    fn outbound_allow_and_secret_key_are_checked_at_start() {
        let s = Settings::load(&env(&[("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.1:9000, okta.test")])).unwrap();
        assert_eq!(s.outbound_allow.len(), 2);
        let err = Settings::load(&env(&[("PORTCULLIS_OUTBOUND_ALLOW", "not a host")])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_OUTBOUND_ALLOW");
        let err = Settings::load(&env(&[("PORTCULLIS_SECRET_KEY", "c2hvcnQ=")])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_SECRET_KEY");
        let err = Settings::load(&env(&[("PORTCULLIS_CA_FILE", "/no/such/file.pem")])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_CA_FILE");
    }

    #[test]
    fn trusted_proxies_default_to_loopback_and_the_removed_cookie_domain_is_refused() {
        let s = Settings::load(&env(&[])).unwrap();
        assert!(s.trusted_proxies.trusts("127.0.0.1".parse().unwrap()));
        assert!(!s.trusted_proxies.trusts("10.0.0.1".parse().unwrap()));
        let s = Settings::load(&env(&[("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/8")])).unwrap();
        assert!(s.trusted_proxies.trusts("10.0.0.1".parse().unwrap()));
        let err = Settings::load(&env(&[("PORTCULLIS_TRUSTED_PROXIES", "everyone")])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_TRUSTED_PROXIES");
        let err = Settings::load(&env(&[("PORTCULLIS_ACCESS_COOKIE_DOMAIN", "example.com")])).unwrap_err();
        assert!(err.problem.contains("was removed"), "{err}");
    }

    #[test]
    fn session_minutes_must_be_in_range() {
        let err = Settings::load(&env(&[("PORTCULLIS_SESSION_IDLE_MINUTES", "0")])).unwrap_err();
        assert_eq!(err.setting, "PORTCULLIS_SESSION_IDLE_MINUTES");
    }
}
