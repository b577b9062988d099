//! PATCH (RFC 7644 §3.5.2) as Okta sends it, read into changes. A member removal by filter
//! (`members[value eq "…"]`) is a removal: a PATCH that would change nothing it was asked to
//! change is refused, never answered 200 (authentik lost every Okta member removal that way).

use scim_v2::{
    filter::{AttrExp, AttrPath, CompValue, CompareOp, PatchPath, ValFilter},
    models::others::{OperationTarget, PatchOp, PatchOperation},
};
use serde_json::{Map, Value};

use super::{
    boolean,
    resource::{attribute, members, primary_email},
    ScimError, UserResource, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA,
};

/// What a group PATCH does, in order. Membership changes are set operations: adding a member
/// twice or removing one who is not there changes nothing, so Okta's retries are safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    Rename(String),
    AddMembers(Vec<String>),
    RemoveMembers(Vec<String>),
    /// The whole list (`replace` on `members`, or a `remove` of all of them).
    ReplaceMembers(Vec<String>),
    /// The client's own id for the group (None: removed).
    ExternalId(Option<String>),
}

/// A user PATCH's result is the user itself, changed; see [`user_patch`].
pub type UserChange = UserResource;

/// Okta's spellings made standard before parsing: `op` in any case.
pub fn normalize_patch(body: &Value) -> Result<PatchOp, ScimError> {
    let mut body = body.clone();
    let Some(object) = body.as_object_mut() else {
        return Err(ScimError::invalid_syntax("The body must be a PatchOp JSON object."));
    };
    let key = object.keys().find(|k| k.eq_ignore_ascii_case("operations")).cloned();
    let Some(Value::Array(operations)) = key.and_then(|k| object.remove(&k)) else {
        return Err(ScimError::invalid_syntax("A PatchOp needs its Operations list."));
    };
    let mut normalized = Vec::with_capacity(operations.len());
    for op in operations {
        let Value::Object(mut op) = op else {
            return Err(ScimError::invalid_syntax("Each operation must be an object."));
        };
        let mut out = Map::new();
        for (k, v) in std::mem::take(&mut op) {
            match k.to_ascii_lowercase().as_str() {
                "op" => {
                    let name = v.as_str().ok_or_else(|| ScimError::invalid_syntax("op must be a string."))?;
                    out.insert("op".into(), Value::String(name.to_ascii_lowercase()));
                }
                "path" => {
                    out.insert("path".into(), v);
                }
                "value" => {
                    out.insert("value".into(), v);
                }
                _ => {}
            }
        }
        normalized.push(Value::Object(out));
    }
    object.insert("Operations".into(), Value::Array(normalized));
    if !object.contains_key("schemas") {
        object.insert("schemas".into(), Value::Array(vec![PATCH_SCHEMA.into()]));
    }
    serde_json::from_value(body).map_err(|e| ScimError::invalid_syntax(format!("The PatchOp does not read: {e}")))
}

fn is_core(path: &AttrPath, schema: &str) -> bool {
    path.uri.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(schema))
}

/// Applies a user PATCH to `current`; attributes Portcullis does not keep are left alone.
pub fn user_patch(current: &UserResource, body: &Value) -> Result<UserResource, ScimError> {
    let patch = normalize_patch(body)?;
    let mut user = current.clone();
    for op in patch.operations {
        match op {
            PatchOperation::Add(target) | PatchOperation::Replace(target) => match target {
                OperationTarget::WithoutPath { value } => {
                    for (name, v) in &value {
                        set_user(&mut user, &name.to_ascii_lowercase(), None, v)?;
                    }
                }
                OperationTarget::WithPath { path, value } => {
                    let value = value.ok_or_else(|| ScimError::invalid_value("The operation needs a value."))?;
                    match path {
                        PatchPath::Attr(p) if is_core(&p, USER_SCHEMA) => {
                            set_user(&mut user, &p.name.to_ascii_lowercase(), p.sub_attr.as_deref(), &value)?;
                        }
                        // emails[type eq "work"].value: the one address kept.
                        PatchPath::Value(p) if p.attr.name.eq_ignore_ascii_case("emails") => {
                            if let Some(v) = value.as_str() {
                                user.email = v.trim().to_string();
                                user.email_primary = user.email_primary.or(Some(true));
                            }
                        }
                        _ => {}
                    }
                }
            },
            PatchOperation::Remove { path, .. } => match path {
                PatchPath::Attr(p) if is_core(&p, USER_SCHEMA) => {
                    let name = p.name.to_ascii_lowercase();
                    match (name.as_str(), p.sub_attr.as_deref().map(str::to_ascii_lowercase).as_deref()) {
                        ("username", _) => {
                            return Err(ScimError::mutability(format!("{} cannot be removed.", p.name)));
                        }
                        // Not deactivation: without `active` the person is active, as on a create.
                        ("active", _) => {
                            user.active = true;
                            user.active_set = false;
                        }
                        ("name", Some("givenname")) => user.given_name.clear(),
                        ("name", Some("familyname")) => user.family_name.clear(),
                        ("name", None) => {
                            user.given_name.clear();
                            user.family_name.clear();
                        }
                        ("displayname", _) => user.display_name.clear(),
                        ("emails", _) => {
                            user.email.clear();
                            user.email_primary = None;
                        }
                        ("externalid", _) => user.external_id = None,
                        _ => {}
                    }
                }
                PatchPath::Value(p) if p.attr.name.eq_ignore_ascii_case("emails") => {
                    user.email.clear();
                    user.email_primary = None;
                }
                _ => {}
            },
        }
    }
    Ok(user)
}

fn set_user(user: &mut UserResource, name: &str, sub: Option<&str>, v: &Value) -> Result<(), ScimError> {
    let text = |v: &Value| -> Result<String, ScimError> {
        v.as_str()
            .map(|s| s.trim().to_string())
            .ok_or_else(|| ScimError::invalid_value(format!("{name} must be a string.")))
    };
    match (name, sub.map(str::to_ascii_lowercase).as_deref()) {
        ("active", None) => {
            user.active =
                boolean(v).ok_or_else(|| ScimError::invalid_value(format!("active must be a boolean, not {v}.")))?;
            user.active_set = true;
        }
        ("username", None) => {
            let u = text(v)?;
            if u.is_empty() {
                return Err(ScimError::invalid_value("userName cannot be empty."));
            }
            user.user_name = u;
        }
        ("displayname", None) => user.display_name = text(v)?,
        ("externalid", None) => user.external_id = Some(text(v)?).filter(|e| !e.is_empty()),
        ("name", Some("givenname")) | ("name.givenname", None) => user.given_name = text(v)?,
        ("name", Some("familyname")) | ("name.familyname", None) => user.family_name = text(v)?,
        ("name", None) => {
            let Some(object) = v.as_object() else {
                return Err(ScimError::invalid_value("name must be an object."));
            };
            for (k, v) in object {
                set_user(user, "name", Some(k), v)?;
            }
        }
        ("emails", None) => (user.email, user.email_primary) = primary_email(v)?.unwrap_or_default(),
        // Never stored, never answered.
        ("password", _) => {}
        _ => {}
    }
    Ok(())
}

/// Reads a group PATCH into changes, in order.
pub fn group_patch(body: &Value) -> Result<Vec<GroupChange>, ScimError> {
    let patch = normalize_patch(body)?;
    let ids =
        |list: &Value| -> Result<Vec<String>, ScimError> { Ok(members(list)?.into_iter().map(|m| m.value).collect()) };
    let mut changes = Vec::new();
    for op in patch.operations {
        let (adding, target) = match op {
            PatchOperation::Add(t) => (true, t),
            PatchOperation::Replace(t) => (false, t),
            PatchOperation::Remove { path, value } => {
                changes.push(remove_members(&path, value.as_ref())?);
                continue;
            }
        };
        match target {
            // Okta's rename: {"op":"replace","value":{"id":"…","displayName":"…"}}.
            OperationTarget::WithoutPath { value } => {
                if let Some(name) = attribute(&value, "displayName") {
                    changes.push(GroupChange::Rename(display_name(name)?));
                }
                if let Some(e) = attribute(&value, "externalId") {
                    changes.push(GroupChange::ExternalId(external_id(e)?));
                }
                if let Some(list) = attribute(&value, "members") {
                    let list = ids(list)?;
                    changes.push(if adding {
                        GroupChange::AddMembers(list)
                    } else {
                        GroupChange::ReplaceMembers(list)
                    });
                }
            }
            OperationTarget::WithPath { path: PatchPath::Attr(p), value } if is_core(&p, GROUP_SCHEMA) => {
                let value = value.ok_or_else(|| ScimError::invalid_value("The operation needs a value."))?;
                match p.name.to_ascii_lowercase().as_str() {
                    "displayname" => changes.push(GroupChange::Rename(display_name(&value)?)),
                    "members" => {
                        let list = ids(&value)?;
                        changes.push(if adding {
                            GroupChange::AddMembers(list)
                        } else {
                            GroupChange::ReplaceMembers(list)
                        });
                    }
                    "externalid" => changes.push(GroupChange::ExternalId(external_id(&value)?)),
                    _ => return Err(ScimError::invalid_path(format!("A group has no attribute {p}."))),
                }
            }
            OperationTarget::WithPath { path, .. } => {
                return Err(ScimError::invalid_path(format!("{path} cannot be added or replaced on a group.")));
            }
        }
    }
    Ok(changes)
}

fn external_id(v: &Value) -> Result<Option<String>, ScimError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        _ => Err(ScimError::invalid_value("externalId must be a string.")),
    }
}

fn display_name(v: &Value) -> Result<String, ScimError> {
    match v.as_str().map(str::trim) {
        Some(n) if !n.is_empty() => Ok(n.to_string()),
        _ => Err(ScimError::invalid_value("displayName must be a non-empty string.")),
    }
}

/// `remove` on `members[value eq "…"]` (one or several joined by `or`), on `members` with the
/// people in `value`, or on `members` alone (everyone).
fn remove_members(path: &PatchPath, value: Option<&Value>) -> Result<GroupChange, ScimError> {
    match path {
        PatchPath::Attr(p) if is_core(p, GROUP_SCHEMA) && p.name.eq_ignore_ascii_case("externalId") => {
            Ok(GroupChange::ExternalId(None))
        }
        PatchPath::Attr(p) if is_core(p, GROUP_SCHEMA) && p.name.eq_ignore_ascii_case("displayName") => {
            Err(ScimError::mutability("displayName cannot be removed from a group."))
        }
        PatchPath::Attr(p)
            if is_core(p, GROUP_SCHEMA) && p.name.eq_ignore_ascii_case("members") && p.sub_attr.is_none() =>
        {
            match value {
                None | Some(Value::Null) => Ok(GroupChange::ReplaceMembers(Vec::new())),
                Some(list) => Ok(GroupChange::RemoveMembers(members(list)?.into_iter().map(|m| m.value).collect())),
            }
        }
        PatchPath::Value(p) if p.attr.name.eq_ignore_ascii_case("members") && p.sub_attr.is_none() => {
            let mut ids = Vec::new();
            member_ids(&p.filter, &mut ids)?;
            Ok(GroupChange::RemoveMembers(ids))
        }
        other => Err(ScimError::invalid_path(format!("{other} cannot be removed from a group."))),
    }
}

/// The ids a member filter names: `value eq "…"` terms, alone or joined by `or`.
fn member_ids(filter: &ValFilter, out: &mut Vec<String>) -> Result<(), ScimError> {
    match filter {
        ValFilter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(id)))
            if path.name.eq_ignore_ascii_case("value") && path.sub_attr.is_none() =>
        {
            out.push(id.clone());
            Ok(())
        }
        ValFilter::Or(items) => items.as_slice().iter().try_for_each(|f| member_ids(f, out)),
        other => Err(ScimError::no_target(format!(
            "Members are removed by value eq \"id\" (or several joined by or), not by {other}."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ada() -> UserResource {
        UserResource {
            id: "u1".into(),
            external_id: Some("00u1".into()),
            user_name: "ada@example.com".into(),
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
            display_name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            email_primary: Some(true),
            active: true,
            active_set: true,
        }
    }

    fn patch(ops: Value) -> Value {
        json!({"schemas": [PATCH_SCHEMA], "Operations": ops})
    }

    #[test]
    fn okta_s_pathless_deactivation_in_any_case_with_a_string_boolean() {
        for body in [
            patch(json!([{"op": "replace", "value": {"active": false}}])),
            patch(json!([{"op": "Replace", "value": {"active": "False"}}])),
            patch(json!([{"op": "rEpLaCe", "value": {"Active": "false"}}])),
        ] {
            assert!(!user_patch(&ada(), &body).unwrap().active, "{body}");
        }
        let back = user_patch(
            &UserResource { active: false, ..ada() },
            &patch(json!([{"op": "replace", "value": {"active": true}}])),
        );
        assert!(back.unwrap().active);
    }

    #[test]
    fn profile_changes_by_path_and_by_value_object() {
        let body = patch(json!([
            {"op": "replace", "path": "name.familyName", "value": "King"},
            {"op": "replace", "value": {"userName": "ada.king@example.com", "name": {"givenName": "Augusta"}}},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada.king@example.com"},
            {"op": "add", "value": {"password": "never-kept", "nickName": "ignored"}},
        ]));
        let user = user_patch(&ada(), &body).unwrap();
        assert_eq!((user.given_name.as_str(), user.family_name.as_str()), ("Augusta", "King"));
        assert_eq!(user.user_name, "ada.king@example.com");
        assert_eq!(user.email, "ada.king@example.com");
        assert!(!format!("{user:?}").contains("never-kept"));
    }

    #[test]
    fn a_user_patch_with_a_bad_value_or_shape_is_refused() {
        let bad = |ops: Value| user_patch(&ada(), &patch(ops)).unwrap_err();
        assert_eq!(bad(json!([{"op": "replace", "value": {"active": "perhaps"}}])).scim_type, Some("invalidValue"));
        assert_eq!(bad(json!([{"op": "remove", "path": "userName"}])).scim_type, Some("mutability"));
        let unset =
            user_patch(&UserResource { active: false, ..ada() }, &patch(json!([{"op": "remove", "path": "active"}])));
        assert!(unset.unwrap().active, "removing active is no deactivation");
        assert_eq!(bad(json!([{"op": "frobnicate", "value": {}}])).scim_type, Some("invalidSyntax"));
        assert_eq!(bad(json!([{"op": "remove"}])).scim_type, Some("invalidSyntax"));
        assert_eq!(
            user_patch(&ada(), &json!({"schemas": [PATCH_SCHEMA]})).unwrap_err().scim_type,
            Some("invalidSyntax")
        );
    }

    #[test]
    fn the_member_removal_authentik_lost_is_a_removal() {
        let body = patch(json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]));
        assert_eq!(group_patch(&body).unwrap(), [GroupChange::RemoveMembers(vec!["u2".into()])]);
        let several = patch(json!([{"op": "Remove", "path": "members[value eq \"u2\" or value eq \"u3\"]"}]));
        assert_eq!(group_patch(&several).unwrap(), [GroupChange::RemoveMembers(vec!["u2".into(), "u3".into()])]);
        let listed = patch(json!([{"op": "remove", "path": "members", "value": [{"value": "u4"}]}]));
        assert_eq!(group_patch(&listed).unwrap(), [GroupChange::RemoveMembers(vec!["u4".into()])]);
        let all = patch(json!([{"op": "remove", "path": "members"}]));
        assert_eq!(group_patch(&all).unwrap(), [GroupChange::ReplaceMembers(vec![])]);
        // A filter that names no member by id is refused, not answered 200 having done nothing.
        let vague = patch(json!([{"op": "remove", "path": "members[display eq \"Bo\"]"}]));
        assert_eq!(group_patch(&vague).unwrap_err().scim_type, Some("noTarget"));
    }

    #[test]
    fn okta_s_group_pushes_rename_add_and_replace() {
        let rename = patch(json!([{"op": "replace", "value": {"id": "g1", "displayName": "Platform"}}]));
        assert_eq!(group_patch(&rename).unwrap(), [GroupChange::Rename("Platform".into())]);
        let add =
            patch(json!([{"op": "add", "path": "members", "value": [{"value": "u1", "display": "ada@example.com"}]}]));
        assert_eq!(group_patch(&add).unwrap(), [GroupChange::AddMembers(vec!["u1".into()])]);
        let replace = patch(json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]));
        assert_eq!(group_patch(&replace).unwrap(), [GroupChange::ReplaceMembers(vec!["u1".into(), "u2".into()])]);
        let by_path = patch(json!([{"op": "REPLACE", "path": "displayName", "value": "Ops"}]));
        assert_eq!(group_patch(&by_path).unwrap(), [GroupChange::Rename("Ops".into())]);
        let bad = patch(json!([{"op": "replace", "path": "displayName", "value": ""}]));
        assert_eq!(group_patch(&bad).unwrap_err().scim_type, Some("invalidValue"));
        let unknown = patch(json!([{"op": "add", "path": "owners", "value": "x"}]));
        assert_eq!(group_patch(&unknown).unwrap_err().scim_type, Some("invalidPath"));
    }
}
