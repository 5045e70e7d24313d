//! The tables whose rows carry a `version` that every change bumps, with the columns a
//! versioned write needs: `service::versioning::update_if_version` writes through this.
use sea_orm::EntityTrait;

use crate::generated::{element_kinds, element_relations, relation_kinds, world_elements, worlds};

/// A table of versioned rows: its id, `version` and `updated_at` columns.
pub trait Versioned: EntityTrait {
    fn id_column() -> Self::Column;
    fn version_column() -> Self::Column;
    fn updated_at_column() -> Self::Column;
}

macro_rules! versioned {
    ($($module:ident),+ $(,)?) => {$(
        impl Versioned for $module::Entity {
            fn id_column() -> Self::Column {
                $module::Column::Id
            }
            fn version_column() -> Self::Column {
                $module::Column::Version
            }
            fn updated_at_column() -> Self::Column {
                $module::Column::UpdatedAt
            }
        }
    )+};
}

versioned!(
    worlds,
    world_elements,
    element_relations,
    element_kinds,
    relation_kinds
);
