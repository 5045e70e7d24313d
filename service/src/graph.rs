//! Walking the relations of a world: the neighbourhood of an element, and a shortest path
//! between two. Both go breadth first, one level per query: the relations of the current
//! frontier (never more than `max_nodes` elements, or [`PATH_MAX_VISITED`] for a path),
//! through the indexes on `source_id` and `target_id`, each query with a row limit. A
//! node is visited once however many paths lead to it, which a recursive CTE (that
//! cannot see what earlier levels reached) does not give: it walks every path, and their
//! number grows with the degree to the power of the depth. So neither ever walks the
//! whole world, and both run the same on PostgreSQL and SQLite.
use std::collections::{BTreeSet, HashMap};

use entity::{element_relations, world_elements};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait,
    IdenStatic, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{world_access, world_access_with_element};
use crate::auth::Caller;
use crate::error::{Error, FieldError, Result};
use crate::relations::Direction;
use crate::values::{Checks, Kind};

pub const DEFAULT_DEPTH: u32 = 1;
pub const MAX_DEPTH: u32 = 4;
pub const DEFAULT_MAX_NODES: u32 = 200;
pub const MAX_NODES: u32 = 1_000;
pub const DEFAULT_PATH_DEPTH: u32 = 6;
pub const MAX_PATH_DEPTH: u32 = 8;
/// At most this many relation kinds in a filter.
pub const MAX_KINDS: usize = 32;
/// Relations one level of a neighbourhood reads at most. A level that has more (a
/// frontier of hubs) is cut there, and the answer says `truncated`.
pub const LEVEL_MAX_RELATIONS: u64 = 50_000;
/// Elements a path search reaches at most, both ends together, before it gives up.
pub const PATH_MAX_VISITED: usize = 100_000;

/// A node of a neighbourhood.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GraphNode {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    /// Shortest distance from the start element (0).
    pub depth: u32,
}

/// A relation between two nodes of a neighbourhood.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sea_orm::FromQueryResult)]
pub struct GraphEdge {
    pub id: Uuid,
    pub source_id: Uuid,
    pub target_id: Uuid,
    pub kind: String,
}

/// The neighbourhood of an element.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Graph {
    /// By depth, then id.
    pub nodes: Vec<GraphNode>,
    /// The relations the walk followed between nodes of the answer, by id: every relation
    /// (of the asked kinds and direction) with both ends among the nodes and at least one
    /// end nearer than `depth`.
    pub edges: Vec<GraphEdge>,
    /// True when nodes within `depth` were left out: `max_nodes` was reached, or a level
    /// had more than 50,000 relations.
    pub truncated: bool,
}

/// A shortest path.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PathDto {
    /// From `from` to `to`, both included.
    pub elements: Vec<Uuid>,
    /// The relation between each element and the next, in either direction.
    pub relations: Vec<Uuid>,
}

/// Relation kinds to follow (none: all).
fn parse_kinds(checks: &mut Checks, kinds: Vec<String>) -> Vec<String> {
    if kinds.len() > MAX_KINDS {
        checks.extend(vec![FieldError::new(
            "kind",
            format!("at most {MAX_KINDS} relation kinds"),
        )]);
        return Vec::new();
    }
    let mut parsed: Vec<String> = kinds
        .into_iter()
        .filter_map(|k| checks.check(Kind::parse("kind", k)).map(Kind::into_inner))
        .collect();
    parsed.sort();
    parsed.dedup();
    parsed
}

fn check_range(checks: &mut Checks, field: &str, value: u32, max: u32) {
    if !(1..=max).contains(&value) {
        checks.extend(vec![FieldError::new(
            field,
            format!("must be between 1 and {max}"),
        )]);
    }
}

/// A neighbourhood request as the client sent it: the query string of the graph endpoint.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphRequest {
    /// How many relations away from the element, 1 to 4 (default 1).
    #[param(minimum = 1, maximum = 4)]
    #[serde(default, deserialize_with = "crate::values::query_number")]
    pub depth: Option<u32>,
    /// Follow relations from source to target (`out`), target to source (`in`) or both
    /// ways (`both`, the default).
    #[param(inline)]
    pub direction: Option<Direction>,
    /// Repeatable: follow only relations of these kinds (at most 32).
    #[serde(default, rename = "kind")]
    #[param(style = Form, explode, value_type = Vec<crate::elements::KindSchema>, inline)]
    pub kinds: Vec<String>,
    /// At most this many nodes, the start element included: 1 to 1000 (default 200).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::values::query_number")]
    pub max_nodes: Option<u32>,
}

pub async fn neighbourhood(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    element_id: Uuid,
    request: GraphRequest,
) -> Result<Graph> {
    world_access_with_element(db, caller, world_id, element_id).await?;
    let mut checks = Checks::default();
    let depth = request.depth.unwrap_or(DEFAULT_DEPTH);
    check_range(&mut checks, "depth", depth, MAX_DEPTH);
    let max_nodes = request.max_nodes.unwrap_or(DEFAULT_MAX_NODES);
    check_range(&mut checks, "max_nodes", max_nodes, MAX_NODES);
    let kinds = parse_kinds(&mut checks, request.kinds);
    checks.finish()?;
    let direction = request.direction.unwrap_or_default();

    let mut depths: HashMap<Uuid, u32> = HashMap::from([(element_id, 0)]);
    let mut edges: Vec<GraphEdge> = Vec::new();
    let mut truncated = false;
    let mut frontier = vec![element_id];
    for level in 1..=depth {
        if frontier.is_empty() {
            break;
        }
        let mut found = relations_of(
            db,
            world_id,
            &frontier,
            direction,
            &kinds,
            LEVEL_MAX_RELATIONS,
        )
        .await?;
        if found.len() as u64 > LEVEL_MAX_RELATIONS {
            truncated = true;
            found.truncate(LEVEL_MAX_RELATIONS as usize);
        }
        let from: BTreeSet<Uuid> = frontier.iter().copied().collect();
        let mut reached = BTreeSet::new();
        for edge in &found {
            for (near, far) in ends(edge, direction) {
                if from.contains(&near) && !depths.contains_key(&far) {
                    reached.insert(far);
                }
            }
        }
        let room = (max_nodes as usize).saturating_sub(depths.len());
        if reached.len() > room {
            truncated = true;
        }
        frontier = reached.into_iter().take(room).collect();
        for node in &frontier {
            depths.insert(*node, level);
        }
        edges.extend(
            found
                .into_iter()
                .filter(|e| depths.contains_key(&e.source_id) && depths.contains_key(&e.target_id)),
        );
    }
    edges.sort_by_key(|e| e.id);
    edges.dedup_by_key(|e| e.id);

    let elements: Vec<(Uuid, String, String)> = world_elements::Entity::find()
        .select_only()
        .columns([
            world_elements::Column::Id,
            world_elements::Column::Kind,
            world_elements::Column::Name,
        ])
        .filter(world_elements::Column::WorldId.eq(world_id))
        .filter(one_of(
            db.get_database_backend(),
            world_elements::Column::Id,
            &depths.keys().copied().collect::<Vec<_>>(),
        ))
        .into_tuple()
        .all(db)
        .await?;
    let mut nodes: Vec<GraphNode> = elements
        .into_iter()
        .filter_map(|(id, kind, name)| {
            depths.get(&id).map(|&depth| GraphNode {
                id,
                kind,
                name,
                depth,
            })
        })
        .collect();
    nodes.sort_by_key(|n| (n.depth, n.id));
    Ok(Graph {
        nodes,
        edges,
        truncated,
    })
}

/// The (near, far) ends of a relation that a walk in `direction` may follow.
fn ends(edge: &GraphEdge, direction: Direction) -> Vec<(Uuid, Uuid)> {
    match direction {
        Direction::Out => vec![(edge.source_id, edge.target_id)],
        Direction::In => vec![(edge.target_id, edge.source_id)],
        Direction::Both => vec![
            (edge.source_id, edge.target_id),
            (edge.target_id, edge.source_id),
        ],
    }
}

/// `column IN (ids)`. PostgreSQL takes the ids as one array value (`= ANY`): a thousand
/// bound values took longer to plan (13 ms) than to run.
fn one_of<C>(backend: DatabaseBackend, column: C, ids: &[Uuid]) -> SimpleExpr
where
    C: ColumnTrait + IdenStatic,
{
    match backend {
        DatabaseBackend::Postgres => {
            let array = format!(
                "{{{}}}",
                ids.iter()
                    .map(Uuid::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            );
            Expr::cust_with_values(
                format!(
                    "\"{}\".\"{}\" = ANY(CAST($1 AS uuid[]))",
                    column.entity_name(),
                    column.as_str()
                ),
                [array],
            )
        }
        _ => column.is_in(ids.iter().copied()),
    }
}

/// Frontier elements per query: each is bound once or twice, and both backends limit the
/// number of bound values in a statement (PostgreSQL to 65,535).
const IDS_PER_QUERY: usize = 5_000;

/// The relations of the world that touch `nodes` on the side `direction` says, of the
/// given kinds (all when none), at most `limit + 1` of them, each once, sorted by id.
async fn relations_of<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    nodes: &[Uuid],
    direction: Direction,
    kinds: &[String],
    limit: u64,
) -> Result<Vec<GraphEdge>> {
    use element_relations::Column;
    let mut found: Vec<GraphEdge> = Vec::new();
    for chunk in nodes.chunks(IDS_PER_QUERY) {
        let wanted = (limit + 1).saturating_sub(found.len() as u64);
        if wanted == 0 {
            break;
        }
        let backend = db.get_database_backend();
        let touching = match direction {
            Direction::Out => Condition::all().add(one_of(backend, Column::SourceId, chunk)),
            Direction::In => Condition::all().add(one_of(backend, Column::TargetId, chunk)),
            Direction::Both => Condition::any()
                .add(one_of(backend, Column::SourceId, chunk))
                .add(one_of(backend, Column::TargetId, chunk)),
        };
        let mut query = element_relations::Entity::find()
            .select_only()
            .columns([Column::Id, Column::SourceId, Column::TargetId, Column::Kind])
            .filter(Column::WorldId.eq(world_id))
            .filter(touching);
        if !kinds.is_empty() {
            query = query.filter(Column::Kind.is_in(kinds.iter().cloned()));
        }
        // No ORDER BY: the limit then stops the scan, where a sort would read every row
        // first.
        found.extend(
            query
                .limit(wanted)
                .into_model::<GraphEdge>()
                .all(db)
                .await?,
        );
    }
    // A relation between elements of two chunks comes twice.
    found.sort_by_key(|e| e.id);
    found.dedup_by_key(|e| e.id);
    Ok(found)
}

/// A path request as the client sent it: the query string of the path endpoint.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathRequest {
    /// Where the path starts (required).
    pub from: Option<Uuid>,
    /// Where it ends (required).
    pub to: Option<Uuid>,
    /// At most this many relations, 1 to 8 (default 6).
    #[param(minimum = 1, maximum = 8)]
    #[serde(default, deserialize_with = "crate::values::query_number")]
    pub max_depth: Option<u32>,
    /// Repeatable: follow only relations of these kinds (at most 32).
    #[serde(default, rename = "kind")]
    #[param(style = Form, explode, value_type = Vec<crate::elements::KindSchema>, inline)]
    pub kinds: Vec<String>,
}

/// What one end of a bidirectional search has reached: each element with the element
/// and relation it was reached through (`None` for the end itself).
struct Side {
    reached: HashMap<Uuid, Option<(Uuid, Uuid)>>,
    frontier: Vec<Uuid>,
}

impl Side {
    fn new(start: Uuid) -> Self {
        Self {
            reached: HashMap::from([(start, None)]),
            frontier: vec![start],
        }
    }

    /// The elements and relations from this side's end to `node`, end first.
    fn trail(&self, node: Uuid) -> (Vec<Uuid>, Vec<Uuid>) {
        let mut elements = vec![node];
        let mut relations = Vec::new();
        let mut at = node;
        while let Some(Some((previous, relation))) = self.reached.get(&at) {
            elements.push(*previous);
            relations.push(*relation);
            at = *previous;
        }
        elements.reverse();
        relations.reverse();
        (elements, relations)
    }
}

/// A shortest path between two elements following relations in either direction: a
/// breadth-first search from both ends, a level of the smaller frontier at a time, that
/// stops at the first level where they meet.
pub async fn path(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    request: PathRequest,
) -> Result<PathDto> {
    world_access(db, caller, world_id).await?;
    let mut checks = Checks::default();
    let required = |checks: &mut Checks, field: &str, value: Option<Uuid>| {
        if value.is_none() {
            checks.extend(vec![FieldError::new(field, "an element id is required")]);
        }
        value.unwrap_or_default()
    };
    let from = required(&mut checks, "from", request.from);
    let to = required(&mut checks, "to", request.to);
    let max_depth = request.max_depth.unwrap_or(DEFAULT_PATH_DEPTH);
    check_range(&mut checks, "max_depth", max_depth, MAX_PATH_DEPTH);
    let kinds = parse_kinds(&mut checks, request.kinds);
    checks.finish()?;

    let present: Vec<Uuid> = world_elements::Entity::find()
        .select_only()
        .column(world_elements::Column::Id)
        .filter(world_elements::Column::WorldId.eq(world_id))
        .filter(world_elements::Column::Id.is_in([from, to]))
        .into_tuple()
        .all(db)
        .await?;
    if !present.contains(&from) || !present.contains(&to) {
        return Err(Error::NotFound);
    }
    if from == to {
        return Ok(PathDto {
            elements: vec![from],
            relations: Vec::new(),
        });
    }

    let mut forward = Side::new(from);
    let mut backward = Side::new(to);
    for _ in 0..max_depth {
        let forward_turn = forward.frontier.len() <= backward.frontier.len();
        let (side, other) = if forward_turn {
            (&mut forward, &backward)
        } else {
            (&mut backward, &forward)
        };
        if side.frontier.is_empty() {
            break;
        }
        let budget = PATH_MAX_VISITED.saturating_sub(side.reached.len() + other.reached.len());
        let found = relations_of(
            db,
            world_id,
            &side.frontier,
            Direction::Both,
            &kinds,
            budget as u64,
        )
        .await?;
        let from_nodes: BTreeSet<Uuid> = side.frontier.iter().copied().collect();
        let mut next = Vec::new();
        let mut meetings = BTreeSet::new();
        for edge in &found {
            for (near, far) in ends(edge, Direction::Both) {
                if from_nodes.contains(&near) && !side.reached.contains_key(&far) {
                    side.reached.insert(far, Some((near, edge.id)));
                    next.push(far);
                    if other.reached.contains_key(&far) {
                        meetings.insert(far);
                    }
                }
            }
        }
        // Every meeting found in this level closes a path of the same, shortest length.
        if let Some(&meeting) = meetings.first() {
            let (mut elements, mut relations) = forward.trail(meeting);
            let (back_elements, back_relations) = backward.trail(meeting);
            elements.extend(back_elements.into_iter().rev().skip(1));
            relations.extend(back_relations.into_iter().rev());
            return Ok(PathDto {
                elements,
                relations,
            });
        }
        if found.len() > budget || side.reached.len() + other.reached.len() > PATH_MAX_VISITED {
            return Err(Error::validation(
                "max_depth",
                format!(
                    "the search reached more than {PATH_MAX_VISITED} elements without finding \
                     a path: narrow it with kind or a smaller max_depth"
                ),
            ));
        }
        side.frontier = next;
    }
    Err(Error::NoPath)
}
