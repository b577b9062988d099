//! `portcullis config export|plan|apply FILE --url URL --token TOKEN`: configuration as code
//! against a running console, for CI pipelines. `plan` exits 2 when the console differs from the
//! file (as `terraform plan -detailed-exitcode`). Secret references in the file
//! (`${env:NAME}`, `${file:PATH}`) are resolved here, on the machine running the pipeline: the
//! console never reads its own environment or files on a document's say-so.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use portcullis_domain::config::{ConfigDocument, DirectoryConfig, Plan, Syntax};

#[derive(Debug, Args)]
pub struct Target {
    /// The console's public URL.
    #[arg(long, env = "PORTCULLIS_URL")]
    pub url: String,
    /// An API token (pcat_…); export and plan need Viewer, apply Admin.
    #[arg(long, env = "PORTCULLIS_TOKEN", hide_env_values = true)]
    pub token: String,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write the console's configuration to FILE (`-` or none: stdout); `.json` is JSON, else YAML.
    Export {
        file: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Show what applying FILE would change; exit 2 when it would change anything.
    Plan {
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Apply FILE; `--prune` deletes what the file lacks.
    Apply {
        file: PathBuf,
        #[arg(long)]
        prune: bool,
        #[command(flatten)]
        target: Target,
    },
}

/// How the command ended: 0 done, 2 a plan with changes.
pub type Exit = u8;

fn syntax_of(path: &Path) -> Syntax {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => Syntax::Json,
        _ => Syntax::Yaml,
    }
}

fn read(path: &Path) -> Result<ConfigDocument, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    ConfigDocument::parse(&text, syntax_of(path)).map_err(|e| format!("{}: {e}", path.display()))
}

/// `${env:NAME}` or `${file:PATH}`: the value; anything else as it is.
fn resolve(value: &str) -> Result<String, String> {
    let v = value.trim();
    let Some(inner) = v.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else { return Ok(value.to_string()) };
    if let Some(name) = inner.strip_prefix("env:") {
        return std::env::var(name).map_err(|_| format!("the environment variable {name} is not set ({v})"));
    }
    if let Some(path) = inner.strip_prefix("file:") {
        return std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("cannot read {path} ({v}): {e}"));
    }
    Err(format!("{v} is not a reference this command knows: use ${{env:NAME}} or ${{file:PATH}}"))
}

/// Resolves every secret reference, for apply. A provider the console has already keeps its
/// stored secrets when the variable is not set, so a pipeline needs secrets only to connect.
fn resolve_secrets(doc: &mut ConfigDocument, existing: &[String]) -> Result<(), String> {
    for p in &mut doc.providers {
        let known = existing.iter().any(|n| n.eq_ignore_ascii_case(p.name.trim()));
        let one = |field: &mut Option<String>| -> Result<(), String> {
            if let Some(v) = field.as_deref() {
                match resolve(v) {
                    Ok(value) => *field = Some(value),
                    Err(_) if known => *field = None,
                    Err(e) => return Err(format!("provider '{}': {e}", p.name)),
                }
            }
            Ok(())
        };
        one(&mut p.client_secret)?;
        match &mut p.directory {
            DirectoryConfig::ServiceApp { private_key, .. } => one(private_key)?,
            DirectoryConfig::ApiToken { api_token } => one(api_token)?,
            DirectoryConfig::Off => {}
        }
    }
    Ok(())
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(target: &Target) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(600))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Self { http, base: target.url.trim_end_matches('/').to_string(), token: target.token.trim().to_string() })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<String, String> {
        let response = req.bearer_auth(&self.token).send().await.map_err(|e| format!("{}: {e}", self.base))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("{}: {e}", self.base))?;
        if status.is_success() {
            return Ok(text);
        }
        let detail = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|p| p.get("detail").and_then(|d| d.as_str()).map(str::to_string))
            .unwrap_or(text);
        Err(format!("the console answered {status}: {detail}"))
    }

    async fn export(&self) -> Result<ConfigDocument, String> {
        let text = self.send(self.http.get(format!("{}/api/v1/config", self.base))).await?;
        serde_json::from_str(&text).map_err(|e| format!("the console's document could not be read: {e}"))
    }

    async fn plan_or_apply(&self, doc: &ConfigDocument, apply: Option<bool>) -> Result<Plan, String> {
        let req = match apply {
            None => self.http.post(format!("{}/api/v1/config/plan", self.base)),
            Some(prune) => self.http.put(format!("{}/api/v1/config?prune={prune}", self.base)),
        };
        let text = self.send(req.json(doc)).await?;
        serde_json::from_str(&text).map_err(|e| format!("the console's plan could not be read: {e}"))
    }
}

pub async fn run(command: ConfigCommand) -> Result<Exit, String> {
    match command {
        ConfigCommand::Export { file, target } => {
            let doc = Client::new(&target)?.export().await?;
            match file.filter(|f| f.as_os_str() != "-") {
                None => print!("{}", doc.to_yaml()),
                Some(path) => {
                    let text = match syntax_of(&path) {
                        Syntax::Json => doc.to_json() + "\n",
                        Syntax::Yaml => doc.to_yaml(),
                    };
                    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    eprintln!("Wrote {}.", path.display());
                }
            }
            Ok(0)
        }
        ConfigCommand::Plan { file, target } => {
            let doc = read(&file)?;
            let plan = Client::new(&target)?.plan_or_apply(&doc, None).await?;
            print!("{}", plan.to_text());
            Ok(if plan.is_empty() { 0 } else { 2 })
        }
        ConfigCommand::Apply { file, prune, target } => {
            let mut doc = read(&file)?;
            let client = Client::new(&target)?;
            let existing: Vec<String> = client.export().await?.providers.into_iter().map(|p| p.name).collect();
            resolve_secrets(&mut doc, &existing)?;
            let plan = client.plan_or_apply(&doc, Some(prune)).await?;
            print!("{}", plan.to_text());
            if !plan.is_empty() {
                eprintln!("Applied.");
            }
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_from_the_environment_and_files_and_others_pass_through() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-file\n").expect("write");
        assert_eq!(resolve(&format!("${{file:{}}}", file.display())).ok(), Some("from-file".into()));
        assert_eq!(resolve("literal").ok(), Some("literal".into()));
        assert!(resolve("${env:PORTCULLIS_TEST_SURELY_UNSET_VARIABLE}").is_err());
        assert!(resolve("${vault:x}").is_err());
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(resolve("${env:PATH}").ok(), Some(path));
    }
}
