//! The export document: one application's policies, versioned. The REST API uses the same shape.

use portcullis_types::ExportedProvider;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    error::PolicyError,
    model::{ApplicationInput, PolicyInput, Selector},
};

pub use super::model::{FORMAT, FORMAT_VERSION};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// Milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_at: Option<i64>,
    /// The application's settings: needed to import as a new application, ignored otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ApplicationInput>,
    /// In the admin's order.
    pub policies: Vec<PolicyInput>,
    /// The names behind the ids of groups, users and providers when exported, for people
    /// reading the file and for hints when an id is unknown. Ignored otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// The providers the rules name, by what identifies them on any console: an import maps
    /// each to a provider connected there. Absent in older exports: their ids are used as is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ExportedProvider>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub selector: Selector,
    pub label: String,
}

impl PolicyDocument {
    pub fn new(application: Option<ApplicationInput>, policies: Vec<PolicyInput>) -> Self {
        Self {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            exported_at: None,
            application,
            policies,
            references: vec![],
            providers: vec![],
        }
    }

    /// Parses an uploaded file, checking format and version before the shape, so a newer
    /// export is named as such instead of failing on a field.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| PolicyError::BadDocument(format!("not valid JSON ({e}).")))?;
        let format = value.get("format").and_then(Value::as_str);
        if format != Some(FORMAT) {
            return Err(PolicyError::BadDocument(format!("\"format\" must be \"{FORMAT}\".")));
        }
        let version = value
            .get("version")
            .and_then(Value::as_u64)
            .ok_or_else(|| PolicyError::BadDocument("\"version\" is missing.".into()))?;
        let version = u32::try_from(version).unwrap_or(u32::MAX);
        if version != FORMAT_VERSION {
            return Err(PolicyError::UnsupportedVersion(version));
        }
        serde_json::from_value(value).map_err(|e| PolicyError::BadDocument(e.to_string()))
    }

    /// `team-wiki.policies.json`: the application's name in [a-z0-9-], safe in any header.
    pub fn file_name(&self) -> String {
        let name = self.application.as_ref().map(|a| a.name.as_str()).unwrap_or("application");
        let slug: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        let slug = slug.split('-').filter(|part| !part.is_empty()).collect::<Vec<_>>().join("-");
        format!("{}.policies.json", if slug.is_empty() { "application" } else { &slug })
    }

    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The same checks as [`PolicyDocument::from_json`] for a document built in code.
    pub fn check_header(&self) -> Result<(), PolicyError> {
        if self.format != FORMAT {
            return Err(PolicyError::BadDocument(format!("\"format\" must be \"{FORMAT}\".")));
        }
        if self.version != FORMAT_VERSION {
            return Err(PolicyError::UnsupportedVersion(self.version));
        }
        Ok(())
    }
}

/// Where an import goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "application_id", rename_all = "snake_case")]
pub enum ImportTarget {
    /// This application's policies; its settings stay as they are.
    Existing(String),
    /// A new application from the document's `application` section.
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// The application's policies become exactly the document's.
    Replace,
    /// The document's policies go after the existing ones.
    Append,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportResult {
    pub application_id: String,
    pub created_application: bool,
    pub imported: usize,
    /// Policies deleted by a Replace.
    pub replaced: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_version_are_checked_before_the_shape() {
        assert!(matches!(PolicyDocument::from_json("{"), Err(PolicyError::BadDocument(_))));
        assert!(matches!(
            PolicyDocument::from_json(r#"{"version": 1, "policies": []}"#),
            Err(PolicyError::BadDocument(_))
        ));
        let v2 = r#"{"format": "portcullis.policies", "version": 2, "policies": "whatever"}"#;
        assert!(matches!(PolicyDocument::from_json(v2), Err(PolicyError::UnsupportedVersion(2))));
        let bad_shape = r#"{"format": "portcullis.policies", "version": 1, "policies": [{"name": "x"}]}"#;
        assert!(matches!(PolicyDocument::from_json(bad_shape), Err(PolicyError::BadDocument(_))));
        let ok = PolicyDocument::new(None, vec![]);
        assert_eq!(PolicyDocument::from_json(&ok.to_json()).unwrap(), ok);
    }
}
