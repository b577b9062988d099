//! Who the ID token (and the directory) says the person is: email, name, groups.

use super::*;

impl SsoService {
    /// The person from the claims, completed by userinfo, with groups from the claim or,
    /// when it is missing, from the directory API.
    pub(super) async fn person(
        &self,
        row: &ProviderRow,
        d: &Discovery,
        mut claims: Map<String, Value>,
        access_token: &str,
    ) -> Result<Person, (SsoCode, String)> {
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_string();
        let lacks = |c: &Map<String, Value>| !c.contains_key("email") || !c.contains_key(&row.groups_claim);
        if lacks(&claims) {
            if let Some(endpoint) = d.userinfo_endpoint.as_deref() {
                match self
                    .outbound
                    .send(endpoint, SMALL_BODY, |c, u| {
                        c.get(u).bearer_auth(access_token).header(reqwest::header::ACCEPT, "application/json")
                    })
                    .await
                {
                    Ok(f) if f.status.is_success() => {
                        let info: Map<String, Value> =
                            f.json().map_err(|e| (SsoCode::UserinfoInvalid, e.to_string()))?;
                        if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                            return Err((
                                SsoCode::UserinfoSubject,
                                "userinfo names another subject than the ID token".into(),
                            ));
                        }
                        for (k, v) in info {
                            claims.entry(k).or_insert(v);
                        }
                    }
                    Ok(f) => tracing::info!(status = %f.status, "userinfo refused; using the ID token's claims"),
                    Err(e) => tracing::info!(error = %e, "userinfo unreachable; using the ID token's claims"),
                }
            }
        }
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .or_else(|| claims.get("preferred_username").and_then(Value::as_str).filter(|u| u.contains('@')))
            .map(crate::accounts::fold_email)
            .unwrap_or_default();
        if email.is_empty() {
            return Err((
                SsoCode::NoEmail,
                "neither the ID token nor userinfo has an email: add the `email` scope".into(),
            ));
        }
        let email_verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => Some(s == "true"),
            _ => None,
        };
        let name = claims.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| email.clone());

        let claim_groups: Option<Vec<String>> = match claims.get(&row.groups_claim) {
            Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).map(str::to_string).collect()),
            Some(Value::String(one)) => Some(vec![one.clone()]),
            _ => None,
        };
        // Azure-style overage markers: the claim was left out because there were too many.
        let overage = claims.contains_key("_claim_names") || claims.contains_key("hasgroups");
        // The directory API's ids come first when the provider has directory credentials: a
        // claim carries names, and names can be shared or chosen to look like another group.
        let has_directory = row.directory_mode != "off";
        let mut ambiguous = Vec::new();
        let (groups, source) = match claim_groups {
            Some(names) if !overage => {
                let api = if has_directory { self.groups_from_directory(row, &subject).await } else { None };
                match api {
                    Some(api) => (api, "directory"),
                    None => {
                        let known = match self.store.directory_groups_by_names(&row.id, &names).await {
                            Ok(k) => k,
                            Err(e) => return Err((SsoCode::Server, e.to_string())),
                        };
                        let mut groups = Vec::with_capacity(names.len());
                        for name in names {
                            if known.ambiguous.contains(&name) {
                                continue;
                            }
                            match known.resolved.iter().find(|(v, _, _)| *v == name) {
                                Some((_, id, n)) => groups.push((id.clone(), n.clone())),
                                // Unknown to the directory: a name, never an id (see roles::covers).
                                None => groups.push((String::new(), name)),
                            }
                        }
                        ambiguous = known.ambiguous;
                        (groups, "claim")
                    }
                }
            }
            _ => match self.groups_from_directory(row, &subject).await {
                Some(groups) => (groups, "directory"),
                None => (Vec::new(), "none"),
            },
        };
        Ok(Person { subject, email, email_verified, name, groups, ambiguous, groups_source: source, claims })
    }

    /// A claim named groups that several of the provider's groups share: granted nothing, said so.
    pub(super) async fn audit_ambiguous(&self, row: &ProviderRow, person: &Person, client: &ClientInfo) {
        if person.ambiguous.is_empty() {
            return;
        }
        let names: Vec<&str> = person.ambiguous.iter().map(String::as_str).take(20).collect();
        self.audit
            .record_or_log(
                Event::new(Actor::Anonymous, Action::SsoSignInFailed)
                    .failed()
                    .target(person.email.clone())
                    .ip(client.ip.as_deref())
                    .detail("reason", "ambiguous group name")
                    .detail("provider", row.name.clone())
                    .detail("subject", person.subject.clone())
                    .detail(
                        "detail",
                        format!(
                            "ambiguous group name: several groups of this provider are named {}; the name grants no role and no group. Rename the groups at the provider or give the provider directory credentials.",
                            names.join(", ")
                        ),
                    ),
            )
            .await;
    }

    /// The person's groups through the Okta API, when directory credentials exist.
    pub(super) async fn groups_from_directory(
        &self,
        row: &ProviderRow,
        subject: &str,
    ) -> Option<Vec<(String, String)>> {
        let auth = stored_directory(row, &self.secrets).ok()??;
        let credentials = auth.credentials().ok()?;
        let client = OktaClient::new(self.outbound.clone(), &row.base_url, credentials, Patience::CHECK)
            .with_scopes(DIRECTORY_SCOPES);
        let path = format!("/api/v1/users/{}/groups", encode(subject));
        let mut url = client.url(&path);
        let mut groups = Vec::new();
        for _ in 0..50 {
            let page = match client.page::<OktaGroup>(&url).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the person's groups from the directory API");
                    return None;
                }
            };
            groups.extend(page.items.into_iter().map(|g| (g.id, g.profile.name)));
            match page.next {
                Some(next) => url = next,
                None => break,
            }
        }
        Some(groups)
    }
}
