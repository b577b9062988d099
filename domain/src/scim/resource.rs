//! The User and Group resources as Portcullis stores and serves them: only attributes it
//! keeps, so what a GET answers is what Okta may PUT back.

use serde_json::{json, Map, Value};

use super::{boolean, ScimError, GROUP_SCHEMA, USER_SCHEMA};

/// A person pushed by SCIM, as stored. `password` is never read, stored or answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserResource {
    /// Portcullis' id (the SCIM `id`).
    pub id: String,
    /// Okta's `00u…` id, which is also the person's sign-in `sub`.
    pub external_id: Option<String>,
    pub user_name: String,
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub email: String,
    /// The address's `primary`, as pushed.
    pub email_primary: Option<bool>,
    pub active: bool,
    /// Whether `active` was pushed (absent: the person is active, and none is answered).
    pub active_set: bool,
}

/// A group pushed by SCIM, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupResource {
    pub id: String,
    pub external_id: Option<String>,
    pub display_name: String,
    pub members: Vec<MemberRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The member's SCIM `id` here.
    pub value: String,
    pub display: Option<String>,
}

/// An attribute of a JSON object, its name compared without regard to case (RFC 7643 §2.1).
pub(crate) fn attribute<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn text(object: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    match attribute(object, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(ScimError::invalid_value(format!("{name} must be a string, not {other}."))),
    }
}

/// The address a resource's `emails` gives, and its `primary` flag: the primary one, else the
/// first work one, else the first.
pub(crate) fn primary_email(emails: &Value) -> Result<Option<(String, Option<bool>)>, ScimError> {
    let Value::Array(list) = emails else {
        return Err(ScimError::invalid_value("emails must be a list."));
    };
    fn value(e: &Value) -> Option<&str> {
        e.as_object().and_then(|o| attribute(o, "value")).and_then(Value::as_str).map(str::trim)
    }
    let primary =
        list.iter().find(|e| e.as_object().and_then(|o| attribute(o, "primary")).and_then(boolean).unwrap_or(false));
    let work = list.iter().find(|e| {
        e.as_object()
            .and_then(|o| attribute(o, "type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("work"))
    });
    let chosen = primary.or(work).or(list.first());
    let flag = chosen.and_then(|e| e.as_object()).and_then(|o| attribute(o, "primary")).and_then(boolean);
    Ok(chosen.and_then(value).filter(|v| !v.is_empty()).map(|v| (v.to_string(), flag)))
}

impl UserResource {
    /// Reads the whole resource of a POST or PUT. `id` is the caller's to set.
    pub fn from_body(body: &Value) -> Result<Self, ScimError> {
        let Some(object) = body.as_object() else {
            return Err(ScimError::invalid_syntax("The body must be a JSON object."));
        };
        let user_name = text(object, "userName")?.filter(|u| !u.is_empty());
        let Some(user_name) = user_name else {
            return Err(ScimError::invalid_value("userName is required."));
        };
        let mut user = UserResource { user_name, active: true, ..Self::default() };
        user.external_id = text(object, "externalId")?.filter(|e| !e.is_empty());
        if let Some(name) = attribute(object, "name") {
            let Some(name) = name.as_object() else {
                return Err(ScimError::invalid_value("name must be an object."));
            };
            user.given_name = text(name, "givenName")?.unwrap_or_default();
            user.family_name = text(name, "familyName")?.unwrap_or_default();
        }
        user.display_name = text(object, "displayName")?.unwrap_or_default();
        if let Some(emails) = attribute(object, "emails").filter(|e| !e.is_null()) {
            (user.email, user.email_primary) = primary_email(emails)?.unwrap_or_default();
        }
        if let Some(active) = attribute(object, "active").filter(|a| !a.is_null()) {
            user.active = boolean(active)
                .ok_or_else(|| ScimError::invalid_value(format!("active must be a boolean, not {active}.")))?;
            user.active_set = true;
        }
        Ok(user)
    }

    /// The display name and email the directory keeps: what was pushed, else the name and
    /// the userName (when it is an address).
    pub fn directory_defaults(&self) -> (String, String) {
        let mut display = self.display_name.clone();
        if display.is_empty() {
            display = format!("{} {}", self.given_name, self.family_name).trim().to_string();
        }
        if display.is_empty() {
            display = self.user_name.clone();
        }
        let mut email = self.email.to_lowercase();
        if email.is_empty() && self.user_name.contains('@') {
            email = self.user_name.to_lowercase();
        }
        (display, email)
    }

    /// The resource as answered; `location` is its URL.
    pub fn to_json(&self, location: &str) -> Value {
        let mut body = json!({
            "schemas": [USER_SCHEMA],
            "id": self.id,
            "userName": self.user_name,
            "meta": {"resourceType": "User", "location": location},
        });
        // What was not pushed is not answered: a GET gives back exactly what a PUT may send.
        let mut name = Map::new();
        if !self.given_name.is_empty() {
            name.insert("givenName".into(), self.given_name.clone().into());
        }
        if !self.family_name.is_empty() {
            name.insert("familyName".into(), self.family_name.clone().into());
        }
        if !name.is_empty() {
            body["name"] = Value::Object(name);
        }
        if !self.display_name.is_empty() {
            body["displayName"] = self.display_name.clone().into();
        }
        if !self.email.is_empty() {
            body["emails"] = match self.email_primary {
                Some(primary) => json!([{"value": self.email, "primary": primary}]),
                None => json!([{"value": self.email}]),
            };
        }
        if self.active_set {
            body["active"] = self.active.into();
        }
        if let Some(e) = &self.external_id {
            body["externalId"] = e.clone().into();
        }
        body
    }
}

impl GroupResource {
    /// Reads the whole resource of a POST or PUT: `members` is the full list.
    pub fn from_body(body: &Value) -> Result<Self, ScimError> {
        let Some(object) = body.as_object() else {
            return Err(ScimError::invalid_syntax("The body must be a JSON object."));
        };
        let Some(display_name) = text(object, "displayName")?.filter(|n| !n.is_empty()) else {
            return Err(ScimError::invalid_value("displayName is required."));
        };
        let members = match attribute(object, "members") {
            None | Some(Value::Null) => Vec::new(),
            Some(list) => members(list)?,
        };
        Ok(GroupResource {
            id: String::new(),
            external_id: text(object, "externalId")?.filter(|e| !e.is_empty()),
            display_name,
            members,
        })
    }

    pub fn to_json(&self, location: &str, member_location: impl Fn(&str) -> String) -> Value {
        let members: Vec<Value> = self
            .members
            .iter()
            .map(|m| {
                // No `type`: the schema does not publish it (every member is a person).
                let mut v = json!({"value": m.value, "$ref": member_location(&m.value)});
                if let Some(d) = &m.display {
                    v["display"] = d.clone().into();
                }
                v
            })
            .collect();
        let mut body = json!({
            "schemas": [GROUP_SCHEMA],
            "id": self.id,
            "displayName": self.display_name,
            "members": members,
            "meta": {"resourceType": "Group", "location": location},
        });
        if let Some(e) = &self.external_id {
            body["externalId"] = e.clone().into();
        }
        body
    }
}

/// A `members` list: each `{"value": id}`, `type` optional (Okta leaves it out).
pub(crate) fn members(list: &Value) -> Result<Vec<MemberRef>, ScimError> {
    let Value::Array(items) = list else {
        return Err(ScimError::invalid_value("members must be a list."));
    };
    items
        .iter()
        .map(|m| {
            let object = m.as_object().ok_or_else(|| ScimError::invalid_value("Each member must be an object."))?;
            if let Some(kind) = attribute(object, "type").and_then(Value::as_str) {
                if !kind.eq_ignore_ascii_case("user") {
                    return Err(ScimError::invalid_value(format!("Members are people; a {kind} cannot be one.")));
                }
            }
            let value = text(object, "value")?.filter(|v| !v.is_empty());
            let value =
                value.ok_or_else(|| ScimError::invalid_value("Each member needs a value (the person's id)."))?;
            Ok(MemberRef { value, display: text(object, "display")? })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn okta_user() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "ada@example.com",
            "externalId": "00u1ada",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"primary": true, "value": "ada@example.com", "type": "work"}],
            "displayName": "Ada Lovelace",
            "active": true,
            "password": "S3cret!",
            "groups": [],
        })
    }

    #[test]
    fn a_user_pushed_by_okta_round_trips_through_get_and_never_carries_its_password() {
        let mut user = UserResource::from_body(&okta_user()).unwrap();
        user.id = "u1".into();
        let answered = user.to_json("https://p/scim/x/v2/Users/u1");
        assert!(!answered.to_string().contains("S3cret"));
        assert_eq!(answered["externalId"], "00u1ada");
        assert_eq!(answered["emails"][0]["value"], "ada@example.com");
        // Okta PUTs back what GET answered: reading it gives the same person.
        let again = UserResource { id: "u1".into(), ..UserResource::from_body(&answered).unwrap() };
        assert_eq!(again, user);
    }

    #[test]
    fn attribute_names_are_case_insensitive_and_booleans_may_be_strings() {
        let user = UserResource::from_body(
            &json!({"USERNAME": "grace@example.com", "Active": "False", "NAME": {"GIVENNAME": "Grace"}}),
        )
        .unwrap();
        assert_eq!(user.user_name, "grace@example.com");
        assert!(!user.active);
        assert_eq!(user.display_name, "", "nothing pushed, nothing answered");
        assert_eq!(
            user.directory_defaults(),
            ("Grace".to_string(), "grace@example.com".to_string()),
            "the directory fills in a name and the userName as the email"
        );
    }

    #[test]
    fn a_user_without_user_name_or_with_a_wrong_type_is_refused() {
        assert_eq!(UserResource::from_body(&json!({"active": true})).unwrap_err().scim_type, Some("invalidValue"));
        let e = UserResource::from_body(&json!({"userName": "a", "active": "maybe"})).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        assert_eq!(UserResource::from_body(&json!([])).unwrap_err().scim_type, Some("invalidSyntax"));
    }

    #[test]
    fn group_members_may_come_without_type_and_must_be_people() {
        let g = GroupResource::from_body(&json!({"displayName": "Eng", "members": [{"value": "u1"}, {"value": "u2", "type": "User", "display": "Bo"}]}))
            .unwrap();
        assert_eq!(g.members.len(), 2);
        assert_eq!(g.members[1].display.as_deref(), Some("Bo"));
        let e = GroupResource::from_body(&json!({"displayName": "Eng", "members": [{"value": "g2", "type": "Group"}]}))
            .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        assert!(GroupResource::from_body(&json!({"members": []})).is_err(), "displayName is required");
    }
}
