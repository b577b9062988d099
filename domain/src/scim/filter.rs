//! The `filter` of a list request. Okta asks one question at a time — is this person here
//! (`userName eq`), by its id (`externalId eq`), is this group here (`displayName eq`) — so
//! those, and `id eq`, are answered; any other expression, well-formed or not, is refused with
//! `invalidFilter` rather than answered wrongly.

use scim_v2::filter::{AttrExp, CompValue, CompareOp, Filter};

use super::{ScimError, GROUP_SCHEMA, USER_SCHEMA};

/// What a list request looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Compared without regard to case (RFC 7643 §4.1.1: `userName` is case-insensitive).
    UserName(String),
    ExternalId(String),
    /// Compared without regard to case, as Okta compares group names.
    DisplayName(String),
    Id(String),
}

/// Reads a `filter` parameter.
pub fn parse_filter(raw: &str) -> Result<Lookup, ScimError> {
    let filter: Filter =
        raw.parse().map_err(|e| ScimError::invalid_filter(format!("The filter {raw:?} does not parse: {e}")))?;
    let unsupported = || {
        ScimError::invalid_filter(format!(
            "The filter {raw:?} is not one Portcullis answers: use userName eq \"…\", externalId eq \"…\", \
             displayName eq \"…\" or id eq \"…\"."
        ))
    };
    let Filter::Attr(AttrExp::Comparison(path, CompareOp::Eq, CompValue::Str(value))) = filter else {
        return Err(unsupported());
    };
    if path.sub_attr.is_some()
        || path
            .uri
            .as_deref()
            .is_some_and(|u| !u.eq_ignore_ascii_case(USER_SCHEMA) && !u.eq_ignore_ascii_case(GROUP_SCHEMA))
    {
        return Err(unsupported());
    }
    let name = path.name.to_ascii_lowercase();
    Ok(match name.as_str() {
        "username" => Lookup::UserName(value),
        "externalid" => Lookup::ExternalId(value),
        "displayname" => Lookup::DisplayName(value),
        "id" => Lookup::Id(value),
        _ => return Err(unsupported()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_s_lookups_are_answered_with_attribute_names_in_any_case() {
        assert_eq!(parse_filter(r#"userName eq "ada@example.com""#), Ok(Lookup::UserName("ada@example.com".into())));
        assert_eq!(parse_filter(r#"USERNAME eq "Ada@Example.com""#), Ok(Lookup::UserName("Ada@Example.com".into())));
        assert_eq!(parse_filter(r#"externalId eq "00u1""#), Ok(Lookup::ExternalId("00u1".into())));
        assert_eq!(parse_filter(r#"displayName eq "Engineering""#), Ok(Lookup::DisplayName("Engineering".into())));
        assert_eq!(
            parse_filter(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#),
            Ok(Lookup::UserName("x".into()))
        );
    }

    #[test]
    fn a_malformed_filter_and_one_not_answered_are_both_invalid_filter() {
        for raw in [
            r#"userName eq"#,
            r#"userName eq "unterminated"#,
            r#"userName xx "a""#,
            "",
            r#"userName co "ada""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"emails[type eq "work"]"#,
            r#"name.familyName eq "Lovelace""#,
            r#"title eq "Engineer""#,
            r#"active eq true"#,
        ] {
            let e = parse_filter(raw).unwrap_err();
            assert_eq!((e.status, e.scim_type), (400, Some("invalidFilter")), "{raw}");
        }
    }
}
