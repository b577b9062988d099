//! The proxy configuration for one application, filled in with its hostnames: the same text
//! the README gives and the end-to-end tests run through nginx and Caddy (a test below holds
//! the two together), pinned to the application with `?app=<id>`.

use crate::policies::Application;

/// Where the protected application itself listens, until the administrator says otherwise.
pub const UPSTREAM: &str = "http://127.0.0.1:8080";

/// One proxy's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// `nginx`, `Caddy`, `Traefik`.
    pub proxy: &'static str,
    /// The code block's language: `nginx`, `caddy`, `yaml`.
    pub language: &'static str,
    pub text: String,
}

/// nginx, Caddy and Traefik configuration for `app`, with the console at `public_base`.
pub fn snippets(app: &Application, public_base: &str) -> Vec<Snippet> {
    let base = public_base.trim_end_matches('/');
    let hosts = by_host(app);
    let pin = Some(app.id.as_str());
    vec![
        Snippet {
            proxy: "nginx",
            language: "nginx",
            text: hosts.iter().map(|(h, prefixes)| nginx(h, prefixes, base, pin)).collect::<Vec<_>>().join("\n"),
        },
        Snippet {
            proxy: "Caddy",
            language: "caddy",
            text: hosts.iter().map(|(h, prefixes)| caddy(h, prefixes, base, pin)).collect::<Vec<_>>().join("\n"),
        },
        Snippet { proxy: "Traefik", language: "yaml", text: traefik(&slug(&app.name), &hosts, base, pin) },
    ]
}

/// Each hostname once, with its path prefixes in the application's order.
fn by_host(app: &Application) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for rule in &app.hosts {
        match out.iter_mut().find(|(h, _)| *h == rule.hostname) {
            Some((_, prefixes)) => prefixes.push(rule.path_prefix.clone()),
            None => out.push((rule.hostname.clone(), vec![rule.path_prefix.clone()])),
        }
    }
    out
}

fn query(pin: Option<&str>) -> String {
    pin.map(|id| format!("?app={id}")).unwrap_or_default()
}

/// `wiki-example-com`: what Traefik names routers and services by.
fn slug(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let s = s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    if s.is_empty() {
        "application".into()
    } else {
        s
    }
}

fn nginx(host: &str, prefixes: &[String], base: &str, pin: Option<&str>) -> String {
    let locations: String = prefixes
        .iter()
        .map(|prefix| {
            format!(
                r#"    location {prefix} {{
        auth_request /_portcullis;
        auth_request_set $portcullis_user $upstream_http_x_portcullis_user;
        auth_request_set $portcullis_email $upstream_http_x_portcullis_email;
        auth_request_set $portcullis_groups $upstream_http_x_portcullis_groups;
        auth_request_set $portcullis_jwt $upstream_http_x_portcullis_jwt_assertion;
        auth_request_set $portcullis_sign_in $upstream_http_location;
        # These replace whatever the client sent; empty ones (a Bypass) are not sent at all.
        proxy_set_header X-Portcullis-User $portcullis_user;
        proxy_set_header X-Portcullis-Email $portcullis_email;
        proxy_set_header X-Portcullis-Groups $portcullis_groups;
        proxy_set_header X-Portcullis-Jwt-Assertion $portcullis_jwt;
        proxy_set_header Host $host;
        error_page 401 = @portcullis_sign_in;
        proxy_pass {UPSTREAM};
    }}

"#
            )
        })
        .collect();
    let q = query(pin);
    format!(
        r#"server {{
    listen 443 ssl;
    server_name {host};
    ssl_certificate     /etc/ssl/{host}/fullchain.pem;
    ssl_certificate_key /etc/ssl/{host}/privkey.pem;

    # portcullis:nginx:begin
    # Portcullis's own pages on this host: sign-in callback, sign-out, keys. No auth_request here.
    location /.portcullis/ {{
        proxy_pass {base};
        proxy_ssl_server_name on;
        proxy_set_header X-Forwarded-For $remote_addr;
    }}

    # Asked before every request. $host and $server_port are what nginx routed by: never
    # $http_host, which a client can set to another application's name.
    location = /_portcullis {{
        internal;
        proxy_pass {base}/verify{q};
        proxy_ssl_server_name on;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URL $scheme://$host:$server_port$request_uri;
        proxy_set_header X-Original-Method $request_method;
        proxy_set_header X-Forwarded-For $remote_addr;
    }}

{locations}    location @portcullis_sign_in {{
        return 302 $portcullis_sign_in;
    }}
    # portcullis:nginx:end
}}
"#
    )
}

fn caddy(host: &str, prefixes: &[String], base: &str, pin: Option<&str>) -> String {
    let q = query(pin);
    let handles: String = prefixes
        .iter()
        .map(|prefix| {
            let matcher = if prefix == "/" { String::new() } else { format!(" {prefix}*") };
            format!(
                r#"	handle{matcher} {{
		route {{
			request_header -X-Portcullis-*
			forward_auth {base} {{
				uri /verify/forward{q}
				header_up Host {{upstream_hostport}}
				header_up -X-Original-URL
				header_up -X-Original-Method
				copy_headers X-Portcullis-User X-Portcullis-Email X-Portcullis-Groups X-Portcullis-Jwt-Assertion
			}}
			# Caddy 2.6 copies a header the answer lacks (a Bypass has none) as the text of its
			# placeholder: drop those.
			@no_identity header_regexp X-Portcullis-User ^\{{http\.
			request_header @no_identity -X-Portcullis-*
			reverse_proxy {UPSTREAM}
		}}
	}}
"#
            )
        })
        .collect();
    format!(
        r#"{host} {{
	# portcullis:caddy:begin
	# Portcullis's own pages on this host: sign-in callback, sign-out, keys. No forward_auth here.
	handle /.portcullis/* {{
		reverse_proxy {base} {{
			header_up Host {{upstream_hostport}}
		}}
	}}
{handles}	# portcullis:caddy:end
}}
"#
    )
}

fn traefik(name: &str, hosts: &[(String, Vec<String>)], base: &str, pin: Option<&str>) -> String {
    let q = query(pin);
    let mut routers = String::new();
    for (i, (host, prefixes)) in hosts.iter().enumerate() {
        let suffix = if hosts.len() > 1 { format!("-{}", i + 1) } else { String::new() };
        let rule = match prefixes.as_slice() {
            [only] if only == "/" => format!("Host(`{host}`)"),
            _ => format!(
                "Host(`{host}`) && ({})",
                prefixes.iter().map(|p| format!("PathPrefix(`{p}`)")).collect::<Vec<_>>().join(" || ")
            ),
        };
        routers.push_str(&format!(
            r#"    {name}{suffix}:
      rule: "{rule}"
      entryPoints: ["websecure"]
      tls: {{}}
      middlewares: ["portcullis-{name}"]
      service: {name}
    # Portcullis's own pages on the application's host, without the middleware.
    {name}{suffix}-portcullis:
      rule: "Host(`{host}`) && PathPrefix(`/.portcullis/`)"
      priority: 1000
      entryPoints: ["websecure"]
      tls: {{}}
      service: portcullis
"#
        ));
    }
    format!(
        r#"http:
  middlewares:
    portcullis-{name}:
      forwardAuth:
        address: "{base}/verify/forward{q}"
        trustForwardHeader: false
        authRequestHeaders: ["X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Uri", "X-Forwarded-Method", "X-Forwarded-For", "Cookie"]
        authResponseHeaders: ["X-Portcullis-User", "X-Portcullis-Email", "X-Portcullis-Groups", "X-Portcullis-Jwt-Assertion"]
  routers:
{routers}  services:
    {name}:
      loadBalancer:
        servers:
          - url: "{UPSTREAM}"
    portcullis:
      loadBalancer:
        passHostHeader: false
        servers:
          - url: "{base}"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::HostRule;

    fn wiki() -> Application {
        Application {
            id: "app-1".into(),
            name: "Wiki".into(),
            hosts: vec![HostRule::new("wiki.example.com", "/")],
            session_duration_minutes: 60,
            created_at: 0,
            updated_at: 0,
        }
    }

    /// The README's blocks are what the end-to-end tests run through real proxies: the
    /// generated ones must be the same text, but for the pin.
    #[test]
    fn the_generated_nginx_and_caddy_blocks_are_the_readmes_tested_text() {
        let readme = include_str!("../../../README.md");
        let unpinned = |text: &str| text.replace("?app=app-1", "");
        for s in snippets(&wiki(), "https://portcullis.example.com") {
            if s.proxy == "Traefik" {
                continue;
            }
            let text = unpinned(&s.text);
            assert!(readme.contains(text.trim_end()), "{} differs from the README:\n{text}", s.proxy);
        }
    }

    #[test]
    fn every_hostname_gets_its_block_and_the_endpoint_is_pinned() {
        let mut app = wiki();
        app.hosts.push(HostRule::new("docs.example.com", "/api/"));
        let all = snippets(&app, "https://pc.example.com/");
        let nginx = &all[0].text;
        assert!(nginx.contains("server_name wiki.example.com;") && nginx.contains("server_name docs.example.com;"));
        assert!(nginx.contains("location /api/ {"));
        assert!(nginx.contains("proxy_pass https://pc.example.com/verify?app=app-1;"));
        assert!(all[1].text.contains("handle /api/* {") && all[1].text.contains("uri /verify/forward?app=app-1"));
        assert!(all[2].text.contains("Host(`docs.example.com`) && (PathPrefix(`/api/`))"));
        assert!(all[2].text.contains("address: \"https://pc.example.com/verify/forward?app=app-1\""));
    }
}
