//! Large orgs for benchmarks, deterministic for a seed. The sample's apps, API token and
//! sign-in user are kept, so the printed credentials work against a generated org too.

use std::collections::HashSet;

use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

use crate::fixture::{sample, Assignments, Fixture, GroupDef, GroupType, UserDef, UserStatus};
use crate::util::{format_ts, okta_id};

const FIRST: [&str; 48] = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Wei",
    "Aisha",
    "Mohammed",
    "Priya",
    "Hiroshi",
    "Olga",
    "Kwame",
    "Fatima",
    "Lucas",
    "Sofia",
    "Mateo",
    "Chloe",
    "Arjun",
    "Mei",
    "Ivan",
    "Amara",
    "Noah",
    "Emma",
    "Liam",
    "Olivia",
    "Yusuf",
    "Zara",
    "Diego",
    "Ingrid",
    "Tariq",
    "Leila",
    "Sven",
    "Nadia",
];
const LAST: [&str; 48] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyen",
    "Chen",
    "Kim",
    "Patel",
    "Singh",
    "Kowalski",
    "Novak",
    "Okafor",
    "Tanaka",
    "Silva",
    "Ivanova",
    "Haddad",
];
const DEPARTMENTS: [&str; 10] =
    ["Engineering", "Sales", "Marketing", "Finance", "IT", "HR", "Support", "Legal", "Operations", "Product"];
const TEAM_WORDS: [&str; 24] = [
    "Platform",
    "Payments",
    "Identity",
    "Growth",
    "Mobile",
    "Data",
    "Infra",
    "Security",
    "Billing",
    "Search",
    "Core",
    "Edge",
    "Analytics",
    "Partners",
    "Field",
    "Inside",
    "Brand",
    "Events",
    "Procurement",
    "Compliance",
    "Facilities",
    "Onboarding",
    "Reliability",
    "Design",
];
const REGIONS: [&str; 8] = ["EMEA", "APAC", "NA", "LATAM", "West", "East", "Central", "Global"];

const DAY_MS: i64 = 86_400_000;
/// 2019-01-01T00:00:00Z.
const EPOCH_MS: i64 = 1_546_300_800_000;

fn status_for(r: f64) -> UserStatus {
    match r {
        r if r < 0.88 => UserStatus::Active,
        r if r < 0.91 => UserStatus::Staged,
        r if r < 0.93 => UserStatus::Provisioned,
        r if r < 0.95 => UserStatus::Suspended,
        r if r < 0.96 => UserStatus::LockedOut,
        r if r < 0.97 => UserStatus::PasswordExpired,
        _ => UserStatus::Deprovisioned,
    }
}

/// An org with `users` users (the sample's sign-in user first) and `groups` groups besides
/// Everyone. Group sizes are heavy-tailed: a few large department groups, many small teams.
pub fn generate(users: usize, groups: usize, seed: u64) -> Fixture {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = Fixture::sample();
    let mut out = Fixture {
        org: base.org.clone(),
        authorization_servers: base.authorization_servers.clone(),
        users: Vec::with_capacity(users),
        groups: Vec::with_capacity(groups + 1),
        oidc_apps: base.oidc_apps.clone(),
        service_apps: base.service_apps.clone(),
        api_tokens: base.api_tokens.clone(),
        switches: base.switches.clone(),
    };

    let mut logins: HashSet<String> = HashSet::with_capacity(users);
    if users > 0 {
        let mut ada = base.users[0].clone();
        ada.status = UserStatus::Active;
        logins.insert(sample::SIGN_IN_LOGIN.to_owned());
        out.users.push(ada);
    }
    while out.users.len() < users {
        let i = out.users.len();
        let first = FIRST[rng.gen_range(0..FIRST.len())];
        let last = LAST[rng.gen_range(0..LAST.len())];
        let stem = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
        let mut login = format!("{stem}@example.com");
        if !logins.insert(login.clone()) {
            login = format!("{stem}{i}@example.com");
            logins.insert(login.clone());
        }
        let status = status_for(rng.gen::<f64>());
        let created = EPOCH_MS + rng.gen_range(0..1500) * DAY_MS + rng.gen_range(0..DAY_MS);
        let activated = (status != UserStatus::Staged).then(|| created + rng.gen_range(60_000..7 * DAY_MS));
        let last_updated = created + rng.gen_range(DAY_MS..400 * DAY_MS);
        let status_changed = activated.map(|a| if status == UserStatus::Active { a } else { last_updated });
        let dept = DEPARTMENTS[rng.gen_range(0..DEPARTMENTS.len())];
        let mut profile = Map::with_capacity(10);
        profile.insert("firstName".into(), json!(first));
        profile.insert("lastName".into(), json!(last));
        profile.insert("email".into(), json!(login));
        profile.insert("login".into(), Value::String(login));
        profile.insert("department".into(), json!(dept));
        profile.insert("title".into(), json!(format!("{dept} Specialist")));
        profile.insert("employeeNumber".into(), json!(format!("{}", 100_000 + i)));
        profile.insert("mobilePhone".into(), Value::Null);
        profile.insert("secondEmail".into(), Value::Null);
        out.users.push(UserDef {
            id: okta_id(&mut rng, "00u"),
            status,
            created: format_ts(created),
            activated: activated.map(format_ts),
            status_changed: status_changed.map(format_ts),
            last_login: (status == UserStatus::Active).then(|| format_ts(last_updated + rng.gen_range(0..30) * DAY_MS)),
            last_updated: format_ts(last_updated),
            password_changed: activated.map(format_ts),
            profile,
            password: Some(sample::SIGN_IN_PASSWORD.to_owned()),
        });
    }

    let everyone = base.groups.iter().find(|g| g.group_type == GroupType::BuiltIn).cloned();
    if let Some(e) = everyone {
        out.groups.push(e);
    }
    let mut names: HashSet<String> = HashSet::with_capacity(groups);
    for i in 0..groups {
        let name = if let Some(dept) = DEPARTMENTS.get(i) {
            (*dept).to_owned()
        } else {
            let n = format!(
                "{} {} {}",
                DEPARTMENTS[rng.gen_range(0..DEPARTMENTS.len())],
                TEAM_WORDS[rng.gen_range(0..TEAM_WORDS.len())],
                REGIONS[rng.gen_range(0..REGIONS.len())]
            );
            if names.contains(&n) {
                format!("{n} {i}")
            } else {
                n
            }
        };
        names.insert(name.clone());
        let app_group = i >= DEPARTMENTS.len() && rng.gen_bool(0.1);
        let created = EPOCH_MS + rng.gen_range(0..1200) * DAY_MS;
        let mut profile = Map::with_capacity(2);
        profile.insert("name".into(), Value::String(name));
        profile.insert(
            "description".into(),
            if app_group { json!("Imported from Active Directory") } else { json!("Generated by okta-sim") },
        );
        out.groups.push(GroupDef {
            id: okta_id(&mut rng, "00g"),
            group_type: if app_group { GroupType::AppGroup } else { GroupType::OktaGroup },
            created: format_ts(created),
            last_updated: format_ts(created + rng.gen_range(0..300) * DAY_MS),
            last_membership_updated: format_ts(created + rng.gen_range(300..900) * DAY_MS),
            profile,
            source: app_group.then(|| sample::DIRECTORY_APP_ID.to_owned()),
            members: Vec::new(),
        });
    }

    // Memberships: each user joins their department group plus a few teams, picked with
    // Zipf-like weights so some teams are large and most are small.
    let first_team = DEPARTMENTS.len().min(groups);
    let team_count = groups - first_team;
    let weights: Vec<f64> = (0..team_count).map(|k| 1.0 / ((k + 1) as f64).powf(0.9)).collect();
    let picker = WeightedIndex::new(&weights).ok();
    for u in 0..out.users.len() {
        let uid = out.users[u].id.clone();
        let dept = out.users[u].profile.get("department").and_then(Value::as_str).unwrap_or_default().to_owned();
        if let Some(d) = DEPARTMENTS.iter().position(|x| *x == dept).filter(|d| *d < first_team) {
            out.groups[1 + d].members.push(uid.clone());
        }
        if let Some(p) = &picker {
            let k = rng.gen_range(0..5usize);
            let mut chosen: Vec<usize> = Vec::with_capacity(k);
            for _ in 0..k {
                let t = p.sample(&mut rng);
                if !chosen.contains(&t) {
                    chosen.push(t);
                    out.groups[1 + first_team + t].members.push(uid.clone());
                }
            }
        }
    }

    if let Some(app) = out.oidc_apps.first_mut() {
        let everyone_id = out.groups.first().map(|g| g.id.clone()).unwrap_or_default();
        app.assignments = Some(Assignments { users: vec![], groups: vec![everyone_id] });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn the_same_seed_gives_the_same_org() {
        let a = generate(300, 40, 7);
        let b = generate(300, 40, 7);
        assert_eq!(a.to_json_pretty(), b.to_json_pretty());
        let c = generate(300, 40, 8);
        assert_ne!(a.users[1].id, c.users[1].id);
    }

    #[test]
    fn a_generated_org_loads_and_has_the_requested_size() {
        let f = generate(2000, 120, 1);
        assert_eq!(f.users.len(), 2000);
        assert_eq!(f.groups.len(), 121);
        assert_eq!(f.users[0].profile["login"], sample::SIGN_IN_LOGIN);
        let store = Store::from_fixture(&f).unwrap();
        let sizes: Vec<usize> = f.groups[1..].iter().map(|g| store.member_count(&g.id)).collect();
        let max = sizes.iter().copied().max().unwrap();
        let min = sizes.iter().copied().min().unwrap();
        assert!(max > 100 && min < max / 10, "sizes should be heavy-tailed: {min}..{max}");
        assert!(f.groups.iter().any(|g| g.group_type == GroupType::AppGroup));
        assert!(f.users.iter().any(|u| u.status == UserStatus::Deprovisioned));
    }

    #[test]
    fn tiny_orgs_are_fine() {
        assert_eq!(generate(0, 0, 1).users.len(), 0);
        let f = generate(3, 2, 1);
        Store::from_fixture(&f).unwrap();
    }
}
