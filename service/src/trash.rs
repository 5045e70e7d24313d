//! A world's trash: the elements deleted within the retention period, which
//! `elements::restore` brings back.
use chrono::{DateTime, Utc};
use entity::element_trash::{self, Column};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use crate::access::{Role, world_access};
use crate::auth::Actor;
use crate::error::Result;
use crate::paging::{Keyset, Page, PageRequest};

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
    let query = element_trash::Entity::find()
        .select_only()
        .columns([
            Column::ElementId,
            Column::Kind,
            Column::Name,
            Column::DeletedAt,
            Column::DeletedBy,
        ])
        .filter(Column::WorldId.eq(world_id));
    let keyset = Keyset::newest_first(ORDERING, Column::DeletedAt, Column::ElementId);
    let rows: Vec<(
        Uuid,
        String,
        String,
        sea_orm::prelude::DateTimeWithTimeZone,
        Option<Uuid>,
    )> = keyset.apply(query, &page)?.into_tuple().all(db).await?;
    Ok(keyset.page(
        rows,
        &page,
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
