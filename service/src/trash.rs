//! A world's trash: the elements deleted within the retention period, which
//! `elements::restore` brings back.
use chrono::{DateTime, Utc};
use entity::element_trash::{self, Column};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;

use crate::access::{Role, world_access};
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::paging::{Cursor, Page, PageRequest, into_page};

/// A deleted element, as the trash lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrashedElementDto {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub deleted_at: DateTime<Utc>,
    pub deleted_by: Option<Uuid>,
}

const ORDERING: &str = "trash:-deleted_at";

/// The world's deleted elements, most recently deleted first (editor).
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    page: PageRequest,
) -> Result<Page<TrashedElementDto>> {
    world_access(db, Some(actor), world_id)
        .await?
        .require_to_read(Role::Editor)?;
    let mut query = element_trash::Entity::find()
        .select_only()
        .columns([
            Column::ElementId,
            Column::Kind,
            Column::Name,
            Column::DeletedAt,
            Column::DeletedBy,
        ])
        .filter(Column::WorldId.eq(world_id));
    if let Some(raw) = &page.cursor {
        let cursor = Cursor::decode(raw, ORDERING)?;
        let key = DateTime::parse_from_rfc3339(&cursor.key).map_err(|_| {
            Error::BadRequest("invalid cursor; use next_cursor from the previous page".into())
        })?;
        query = query.filter(
            Condition::any().add(Column::DeletedAt.lt(key)).add(
                Column::DeletedAt
                    .eq(key)
                    .and(Column::ElementId.lt(cursor.id)),
            ),
        );
    }
    let rows: Vec<(
        Uuid,
        String,
        String,
        sea_orm::prelude::DateTimeWithTimeZone,
        Option<Uuid>,
    )> = query
        .order_by_desc(Column::DeletedAt)
        .order_by_desc(Column::ElementId)
        .limit(page.limit + 1)
        .into_tuple()
        .all(db)
        .await?;
    Ok(into_page(
        rows,
        page.limit,
        ORDERING,
        |(id, _, _, deleted_at, _)| (deleted_at.to_rfc3339(), *id),
        |(id, kind, name, deleted_at, deleted_by)| TrashedElementDto {
            id,
            kind,
            name,
            deleted_at: deleted_at.with_timezone(&Utc),
            deleted_by,
        },
    ))
}
