//! `okta-sim --listen 127.0.0.1:PORT [--fixture FILE | --users N --groups M [--seed S]]
//!          [--tls] [--tls-ca-out FILE] [--base-url URL] [--key-out FILE] [--write-fixture FILE]`

use std::path::PathBuf;
use std::process::ExitCode;

use okta_sim::{generate, Fixture, Options, Sim};

const USAGE: &str = "\
okta-sim: a local Okta org over real HTTP

USAGE:
  okta-sim --listen 127.0.0.1:PORT [OPTIONS]

OPTIONS:
  --listen ADDR          address to listen on (default 127.0.0.1:8180)
  --fixture FILE         org definition (JSON); default: the built-in sample org
  --users N --groups M   generate a large org instead (deterministic)
  --seed S               generator seed (default 1)
  --tls                  serve HTTPS with a generated CA
  --tls-ca-out FILE      write that CA's certificate (PEM) here; implies --tls
  --base-url URL         public base URL if not http(s)://<listen address>
  --key-out FILE         where to write the service app's private key (JWK JSON)
  --write-fixture FILE   write the org as JSON and exit
  -h, --help             this text
";

#[derive(Default)]
struct Args {
    listen: Option<String>,
    fixture: Option<PathBuf>,
    users: Option<usize>,
    groups: Option<usize>,
    seed: u64,
    tls: bool,
    tls_ca_out: Option<PathBuf>,
    base_url: Option<String>,
    key_out: Option<PathBuf>,
    write_fixture: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { seed: 1, ..Args::default() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--listen" => a.listen = Some(value("--listen")?),
            "--fixture" => a.fixture = Some(value("--fixture")?.into()),
            "--users" => a.users = Some(value("--users")?.parse().map_err(|_| "--users needs a number")?),
            "--groups" => a.groups = Some(value("--groups")?.parse().map_err(|_| "--groups needs a number")?),
            "--seed" => a.seed = value("--seed")?.parse().map_err(|_| "--seed needs a number")?,
            "--tls" => a.tls = true,
            "--tls-ca-out" => {
                a.tls_ca_out = Some(value("--tls-ca-out")?.into());
                a.tls = true;
            }
            "--base-url" => a.base_url = Some(value("--base-url")?),
            "--key-out" => a.key_out = Some(value("--key-out")?.into()),
            "--write-fixture" => a.write_fixture = Some(value("--write-fixture")?.into()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.fixture.is_some() && (a.users.is_some() || a.groups.is_some()) {
        return Err("--fixture and --users/--groups exclude each other".into());
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if msg.is_empty() {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("okta-sim: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "okta_sim=info".into()),
        )
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("okta-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let fixture = match (&args.fixture, args.users, args.groups) {
        (Some(path), _, _) => Fixture::load(path)?,
        (None, None, None) => Fixture::sample(),
        (None, users, groups) => {
            let started = std::time::Instant::now();
            let f = generate(users.unwrap_or(1000), groups.unwrap_or(100), args.seed);
            eprintln!("generated {} users and {} groups in {:.2?}", f.users.len(), f.groups.len(), started.elapsed());
            f
        }
    };
    if let Some(path) = &args.write_fixture {
        std::fs::write(path, fixture.to_json_pretty())?;
        eprintln!("wrote {}", path.display());
        return Ok(());
    }
    let listen = args.listen.clone().unwrap_or_else(|| "127.0.0.1:8180".to_owned());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let options = Options { tls: args.tls, base_url: args.base_url.clone(), switches: None, seed: args.seed };
    let sim = Sim::start(listener, fixture.clone(), options).await?;

    if let (Some(path), Some(pem)) = (&args.tls_ca_out, sim.ca_pem()) {
        std::fs::write(path, pem)?;
    }
    let creds = fixture.credentials(sim.base_url());
    let key_path = args.key_out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("okta-sim-{}-service-app-key.json", sim.local_addr().port()))
    });
    if let Some(jwk) = &creds.service_private_jwk {
        std::fs::write(&key_path, serde_json::to_string_pretty(jwk)?)?;
    }

    println!("okta-sim is serving {} at {}", fixture.org.name, sim.base_url());
    println!();
    print!("{creds}");
    if creds.service_private_jwk.is_some() {
        println!("Private key file:         {}", key_path.display());
    }
    if let Some(path) = &args.tls_ca_out {
        println!("TLS CA certificate:       {}", path.display());
    } else if sim.ca_pem().is_some() {
        println!("TLS: on (pass --tls-ca-out FILE to save the CA certificate)");
    }
    println!("Control endpoint:         POST {}/__sim/control, GET {}/__sim/state", sim.base_url(), sim.base_url());
    println!();
    println!("Press Ctrl-C to stop.");

    tokio::signal::ctrl_c().await?;
    Ok(())
}
