//! The three discovery resources (RFC 7644 §4): what the server supports, its resource types,
//! and their schemas. Only attributes Portcullis stores are published, so a checker or Okta
//! that writes what the schema says reads the same back.

use serde_json::{json, Value};

use super::{GROUP_SCHEMA, MAX_COUNT, USER_SCHEMA};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// `GET /ServiceProviderConfig`.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/portcullis/portcullis#scim-provisioning-okta",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A SCIM token generated on the provider's Provisioning (SCIM) page; also accepted as the Basic password.",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

/// `GET /ResourceTypes`, as a list.
pub fn resource_types(base: &str) -> Vec<Value> {
    [
        ("User", "Users", USER_SCHEMA, "A person of this identity provider"),
        ("Group", "Groups", GROUP_SCHEMA, "A group of people"),
    ]
    .into_iter()
    .map(|(name, endpoint, schema, description)| {
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": name,
            "name": name,
            "endpoint": format!("/{endpoint}"),
            "description": description,
            "schema": schema,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")},
        })
    })
    .collect()
}

/// `GET /Schemas`, as a list.
pub fn schemas(base: &str) -> Vec<Value> {
    let user = json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A person of this identity provider",
        "attributes": [
            string("userName", "The person's sign-in name: unique here, compared without regard to case.", true, "server"),
            complex("name", "The person's name.", vec![
                string("givenName", "Given name.", false, "none"),
                string("familyName", "Family name.", false, "none"),
            ]),
            string("displayName", "The name shown in the console.", false, "none"),
            multi_complex("emails", "The person's email address (one is kept).", vec![
                string("value", "The address.", false, "none"),
                boolean("primary", "The address Portcullis keeps."),
            ]),
            boolean("active", "false deactivates the person and ends their sessions at once."),
            string("externalId", "The provider's id of the person (Okta: 00u…), also their sign-in subject.", false, "none"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")},
    });
    let group = json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A group of people",
        "attributes": [
            string("displayName", "The group's name.", true, "none"),
            multi_complex("members", "The people in the group.", vec![
                json!({
                    "name": "value", "type": "string", "multiValued": false, "description": "The person's id.",
                    "required": false, "caseExact": true, "mutability": "immutable", "returned": "default", "uniqueness": "none",
                }),
                json!({
                    "name": "$ref", "type": "reference", "referenceTypes": ["User"], "multiValued": false,
                    "description": "The person's URL.", "required": false, "caseExact": true, "mutability": "immutable",
                    "returned": "default", "uniqueness": "none",
                }),
            ]),
            string("externalId", "The client's id of the group.", false, "none"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}")},
    });
    vec![user, group]
}

fn string(name: &str, description: &str, required: bool, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": "string", "multiValued": false, "description": description, "required": required,
        "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": uniqueness,
    })
}

fn boolean(name: &str, description: &str) -> Value {
    json!({
        "name": name, "type": "boolean", "multiValued": false, "description": description, "required": false,
        "mutability": "readWrite", "returned": "default",
    })
}

fn complex(name: &str, description: &str, sub: Vec<Value>) -> Value {
    json!({
        "name": name, "type": "complex", "multiValued": false, "description": description, "required": false,
        "mutability": "readWrite", "returned": "default", "subAttributes": sub,
    })
}

fn multi_complex(name: &str, description: &str, sub: Vec<Value>) -> Value {
    json!({
        "name": name, "type": "complex", "multiValued": true, "description": description, "required": false,
        "mutability": "readWrite", "returned": "default", "subAttributes": sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_publishes_only_stored_attributes_and_never_a_password() {
        let all = serde_json::to_string(&schemas("https://p/scim/x/v2")).unwrap();
        assert!(!all.contains("password"));
        let user = &schemas("b")[0];
        let names: Vec<&str> =
            user["attributes"].as_array().unwrap().iter().filter_map(|a| a["name"].as_str()).collect();
        assert_eq!(names, ["userName", "name", "displayName", "emails", "active", "externalId"]);
        assert_eq!(service_provider_config("b")["filter"]["maxResults"], MAX_COUNT);
        assert_eq!(resource_types("b")[1]["endpoint"], "/Groups");
    }
}
