//! What an element looks like on the wire: the answer, the requests, and the text form a
//! list reads from the database.
use chrono::{DateTime, Utc};
use entity::world_elements::{self, Column};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{FromQueryResult, QuerySelect, Select, prelude::DateTimeWithTimeZone};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::patch::{double_option, reject_null};

/// `Element` in the contract.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ElementDto {
    pub id: Uuid,
    pub world_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub kind: String,
    pub name: String,
    pub summary: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: JsonDocument,
    pub tags: Vec<String>,
    pub version: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<world_elements::Model> for ElementDto {
    fn from(e: world_elements::Model) -> Self {
        let tags = match e.tags {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Self {
            id: e.id,
            world_id: e.world_id,
            parent_id: e.parent_id,
            kind: e.kind,
            name: e.name,
            summary: e.summary,
            attributes: JsonDocument::Parsed(e.attributes),
            tags,
            version: e.version,
            created_by: e.created_by,
            created_at: e.created_at.with_timezone(&Utc),
            updated_at: e.updated_at.with_timezone(&Utc),
        }
    }
}

/// A JSON document for a response: a tree the server holds anyway, or the database's own
/// text of it, which a list writes out as it is (see [`ElementText`]). Either way it is
/// serialized once.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum JsonDocument {
    Parsed(Value),
    Stored(Box<RawValue>),
}

/// An element as a list reads it: `attributes` and `tags` arrive as the database's own
/// JSON text (`CAST(... AS text)`) and `attributes` goes into the response as it is.
/// Parsing each document into a tree and serializing it back took most of a 50-element
/// list's CPU time in the server.
#[derive(Debug, FromQueryResult)]
pub(crate) struct ElementText {
    id: Uuid,
    world_id: Uuid,
    parent_id: Option<Uuid>,
    kind: String,
    name: String,
    summary: Option<String>,
    attributes: String,
    tags: String,
    version: i32,
    created_by: Option<Uuid>,
    created_at: DateTimeWithTimeZone,
    updated_at: DateTimeWithTimeZone,
}

impl ElementText {
    /// Selects the columns of [`ElementText`] in place of the whole model.
    pub(super) fn select(query: Select<world_elements::Entity>) -> Select<world_elements::Entity> {
        let as_text = |column: Column| Expr::col((world_elements::Entity, column)).cast_as("text");
        query
            .select_only()
            .columns([
                Column::Id,
                Column::WorldId,
                Column::ParentId,
                Column::Kind,
                Column::Name,
                Column::Summary,
                Column::Version,
                Column::CreatedBy,
                Column::CreatedAt,
                Column::UpdatedAt,
            ])
            .column_as(as_text(Column::Attributes), "attributes")
            .column_as(as_text(Column::Tags), "tags")
    }
}

impl TryFrom<ElementText> for ElementDto {
    type Error = Error;

    fn try_from(e: ElementText) -> Result<Self> {
        let id = e.id;
        let corrupt = |what: &str, err: serde_json::Error| {
            Error::Internal(format!(
                "element {id}: stored {what} is not valid JSON: {err}"
            ))
        };
        let attributes = RawValue::from_string(e.attributes)
            .map(JsonDocument::Stored)
            .map_err(|err| corrupt("attributes", err))?;
        let tags = serde_json::from_str(&e.tags).map_err(|err| corrupt("tags", err))?;
        Ok(Self {
            id: e.id,
            world_id: e.world_id,
            parent_id: e.parent_id,
            kind: e.kind,
            name: e.name,
            summary: e.summary,
            attributes,
            tags,
            version: e.version,
            created_by: e.created_by,
            created_at: e.created_at.with_timezone(&Utc),
            updated_at: e.updated_at.with_timezone(&Utc),
        })
    }
}

/// A tag, as the document states it: 1 to 64 characters, no NUL (`values::Tags` enforces
/// it).
pub struct TagSchema;

impl utoipa::PartialSchema for TagSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .pattern(Some("^[^\\u0000]*$"))
            .into()
    }
}

/// A kind named in a query parameter, as the document states it (`values::Kind` enforces
/// it).
pub struct KindSchema;

impl utoipa::PartialSchema for KindSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z][a-z0-9_]{0,63}$"))
            .into()
    }
}

impl utoipa::ToSchema for KindSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "KindName".into()
    }
}

impl utoipa::ToSchema for TagSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "Tag".into()
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateElementRequest {
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub kind: String,
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub summary: Option<String>,
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(value_type = Object)]
    pub attributes: Option<Value>,
    /// At most 64 tags of 1 to 64 characters.
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false, max_items = 64, value_type = Option<Vec<TagSchema>>)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateElementRequest {
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false, pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false, min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    /// A new summary, or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub summary: Option<Option<String>>,
    /// A JSON Merge Patch (RFC 7396) applied to the stored attributes.
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(value_type = Object)]
    pub attributes: Option<Value>,
    /// Replaces the tags: at most 64 of 1 to 64 characters.
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false, max_items = 64, value_type = Option<Vec<TagSchema>>)]
    pub tags: Option<Vec<String>>,
    /// A new parent in the same world, or `null` to make the element a root.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
}
