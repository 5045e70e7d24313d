//! Navigation that the generator cannot name on its own: where two foreign keys join the
//! same pair of tables (a world's owner vs. its members, a relation's source vs. target)
//! or a table refers to itself (an element's parent).
use sea_orm::entity::prelude::*;
use sea_orm::{Linked, RelationDef};

use crate::generated::{element_relations, users, world_elements, world_members, worlds};

/// World → its owner.
pub struct WorldOwner;

impl Linked for WorldOwner {
    type FromEntity = worlds::Entity;
    type ToEntity = users::Entity;
    fn link(&self) -> Vec<RelationDef> {
        vec![worlds::Relation::Users.def()]
    }
}

/// User → the worlds they own (`users.find_related(Worlds)` goes through memberships).
pub struct OwnedWorlds;

impl Linked for OwnedWorlds {
    type FromEntity = users::Entity;
    type ToEntity = worlds::Entity;
    fn link(&self) -> Vec<RelationDef> {
        vec![worlds::Relation::Users.def().rev()]
    }
}

/// User → the worlds they are a member of (through `world_members`). Which of the two
/// ways between users and worlds the generator names as `Related` depends on the rest of
/// the schema, so both are named here.
pub struct MemberWorlds;

impl Linked for MemberWorlds {
    type FromEntity = users::Entity;
    type ToEntity = worlds::Entity;
    fn link(&self) -> Vec<RelationDef> {
        vec![
            world_members::Relation::Users.def().rev(),
            world_members::Relation::Worlds.def(),
        ]
    }
}

/// World → its members' users (through `world_members`).
pub struct WorldMembers;

impl Linked for WorldMembers {
    type FromEntity = worlds::Entity;
    type ToEntity = users::Entity;
    fn link(&self) -> Vec<RelationDef> {
        vec![
            world_members::Relation::Worlds.def().rev(),
            world_members::Relation::Users.def(),
        ]
    }
}

/// Element → its parent element.
pub struct ElementParent;

impl Linked for ElementParent {
    type FromEntity = world_elements::Entity;
    type ToEntity = world_elements::Entity;
    fn link(&self) -> Vec<RelationDef> {
        vec![world_elements::Relation::SelfRef.def()]
    }
}

/// Element → its direct children.
pub struct ElementChildren;

impl Linked for ElementChildren {
    type FromEntity = world_elements::Entity;
    type ToEntity = world_elements::Entity;
    fn link(&self) -> Vec<RelationDef> {
        vec![world_elements::Relation::SelfRef.def().rev()]
    }
}

/// Element → the relations it is the source of.
pub struct OutgoingRelations;

impl Linked for OutgoingRelations {
    type FromEntity = world_elements::Entity;
    type ToEntity = element_relations::Entity;
    fn link(&self) -> Vec<RelationDef> {
        vec![element_relations::Relation::WorldElements2.def().rev()]
    }
}

/// Element → the relations it is the target of.
pub struct IncomingRelations;

impl Linked for IncomingRelations {
    type FromEntity = world_elements::Entity;
    type ToEntity = element_relations::Entity;
    fn link(&self) -> Vec<RelationDef> {
        vec![element_relations::Relation::WorldElements1.def().rev()]
    }
}

/// Relation → its source element.
pub struct RelationSource;

impl Linked for RelationSource {
    type FromEntity = element_relations::Entity;
    type ToEntity = world_elements::Entity;
    fn link(&self) -> Vec<RelationDef> {
        vec![element_relations::Relation::WorldElements2.def()]
    }
}

/// Relation → its target element.
pub struct RelationTarget;

impl Linked for RelationTarget {
    type FromEntity = element_relations::Entity;
    type ToEntity = world_elements::Entity;
    fn link(&self) -> Vec<RelationDef> {
        vec![element_relations::Relation::WorldElements1.def()]
    }
}
