//! Filling a database with realistic, deterministic sample data, fast: one owner, its
//! worlds, elements of several kinds with nested attributes, tags and parents, and
//! relations between them, written with multi-row `INSERT`s in batches.
//!
//! Rows are generated (and their SQL built) on a blocking thread while the previous
//! batch executes, so generation and the database overlap. Each world is written in one
//! transaction: either all of a world is there, with a correct `element_count`, or none.
use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use entity::{element_relations, users, world_elements, world_members, worlds};
use rand::Rng;
use rand::distr::Alphanumeric;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryTrait, Statement, TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::access::Role;
use crate::error::{Error, Result};
use crate::passwords::{PasswordParams, Passwords};
use crate::versioning::now;

/// The owner every seeded world belongs to, unless the plan names another.
pub const DEFAULT_OWNER_EMAIL: &str = "seed@lorebase.local";

/// What to create. Element and relation totals are spread as evenly as possible across
/// the worlds.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub worlds: u32,
    /// Elements in all worlds together.
    pub elements: u64,
    /// Relations in all worlds together (fewer when a world has too few elements).
    pub relations: u64,
    /// The owner's email. An existing account with it is reused, password unchanged.
    pub owner_email: String,
    /// The owner's password when the account is created; `None`: a random one, returned
    /// in the report.
    pub owner_password: Option<String>,
    /// Seeds the pseudo-random generator: the same plan gives the same data (ids and
    /// timestamps aside).
    pub random_seed: u64,
}

impl SeedPlan {
    pub fn new(worlds: u32, elements: u64, relations: u64) -> Self {
        Self {
            worlds,
            elements,
            relations,
            owner_email: DEFAULT_OWNER_EMAIL.to_owned(),
            owner_password: None,
            random_seed: 0x5eed_10be_ba5e,
        }
    }
}

/// Rows written to one table, and the time spent executing its inserts.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub table: &'static str,
    pub rows: u64,
    pub elapsed: Duration,
}

impl TableReport {
    pub fn rows_per_second(&self) -> f64 {
        per_second(self.rows, self.elapsed)
    }
}

#[derive(Debug, Clone)]
pub struct SeedReport {
    pub owner_id: Uuid,
    pub owner_email: String,
    /// The password the owner can log in with, when this run created the account.
    pub owner_password: Option<String>,
    /// users, worlds, world_members, world_elements, element_relations, in that order.
    pub tables: Vec<TableReport>,
    /// Wall-clock time of the whole run (password hashing included).
    pub elapsed: Duration,
}

impl SeedReport {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    pub fn rows_per_second(&self) -> f64 {
        per_second(self.total_rows(), self.elapsed)
    }

    pub fn table(&self, name: &str) -> Option<&TableReport> {
        self.tables.iter().find(|t| t.table == name)
    }
}

fn per_second(rows: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { rows as f64 / secs } else { 0.0 }
}

const USERS: usize = 0;
const WORLDS: usize = 1;
const MEMBERS: usize = 2;
const ELEMENTS: usize = 3;
const RELATIONS: usize = 4;
const TABLE_NAMES: [&str; 5] = [
    "users",
    "worlds",
    "world_members",
    "world_elements",
    "element_relations",
];

/// Columns per row of the two bulk tables, for the bind-parameter budget.
pub(crate) const ELEMENT_COLUMNS: usize = 13;
pub(crate) const RELATION_COLUMNS: usize = 9;
/// Rows per `INSERT`, whatever the parameter budget allows: big enough to amortize the
/// round trip, small enough that parsing and planning one statement stays cheap.
const MAX_BATCH_ROWS: usize = 2_000;

/// Bind parameters one statement may carry: PostgreSQL's protocol limit, SQLite's
/// `SQLITE_MAX_VARIABLE_NUMBER` (32766 since 3.32).
fn parameter_budget(backend: DatabaseBackend) -> usize {
    match backend {
        DatabaseBackend::Postgres => 65_535,
        DatabaseBackend::Sqlite => 32_766,
        _ => 999,
    }
}

pub(crate) fn batch_rows(backend: DatabaseBackend, columns: usize) -> usize {
    (parameter_budget(backend) / columns).clamp(1, MAX_BATCH_ROWS)
}

/// Seeds the database (whose schema must be up to date) according to `plan`.
pub async fn seed(db: &DatabaseConnection, plan: SeedPlan) -> Result<SeedReport> {
    if plan.worlds == 0 && (plan.elements > 0 || plan.relations > 0) {
        return Err(Error::BadRequest(
            "elements and relations need at least one world".into(),
        ));
    }
    if plan.elements / u64::from(plan.worlds.max(1)) > u64::from(u32::MAX) {
        return Err(Error::BadRequest("too many elements per world".into()));
    }
    let started = Instant::now();
    let mut tables: Vec<TableReport> = TABLE_NAMES
        .iter()
        .map(|&table| TableReport {
            table,
            rows: 0,
            elapsed: Duration::ZERO,
        })
        .collect();

    let (owner_id, owner_password) = owner(db, &plan, &mut tables[USERS]).await?;

    let backend = db.get_database_backend();
    let mut generator = Some(Generator::new(backend, &plan, owner_id));
    let mut pending = Some(spawn_step(generator.take().expect("generator")));
    let mut txn: Option<DatabaseTransaction> = None;
    while let Some(task) = pending.take() {
        let (returned, step) = task
            .await
            .map_err(|e| Error::internal("seed generator task", e))?;
        // Start on the next step while this one executes.
        if !matches!(step, Step::Done) {
            pending = Some(spawn_step(returned));
        }
        match step {
            Step::Done => {}
            Step::BeginWorld(statements) => {
                let world_txn = db.begin().await?;
                for (table, rows, statement) in statements {
                    execute(&world_txn, &mut tables[table], rows, statement).await?;
                }
                txn = Some(world_txn);
            }
            Step::Insert(table, rows, statement) => {
                let world_txn = txn
                    .as_ref()
                    .ok_or_else(|| Error::Internal("seed batch outside a world".into()))?;
                execute(world_txn, &mut tables[table], rows, statement).await?;
            }
            Step::EndWorld => {
                let world_txn = txn
                    .take()
                    .ok_or_else(|| Error::Internal("seed world end without a start".into()))?;
                let begun = Instant::now();
                world_txn.commit().await?;
                tables[ELEMENTS].elapsed += begun.elapsed();
            }
        }
    }
    Ok(SeedReport {
        owner_id,
        owner_email: plan.owner_email,
        owner_password,
        tables,
        elapsed: started.elapsed(),
    })
}

async fn execute(
    txn: &DatabaseTransaction,
    table: &mut TableReport,
    rows: u64,
    statement: Statement,
) -> Result<()> {
    let begun = Instant::now();
    txn.execute_raw(statement).await?;
    table.elapsed += begun.elapsed();
    table.rows += rows;
    Ok(())
}

fn spawn_step(mut generator: Generator) -> tokio::task::JoinHandle<(Generator, Step)> {
    tokio::task::spawn_blocking(move || {
        let step = generator.next_step();
        (generator, step)
    })
}

/// Finds or creates the owner account. Returns its id and, when created, its password.
async fn owner(
    db: &DatabaseConnection,
    plan: &SeedPlan,
    report: &mut TableReport,
) -> Result<(Uuid, Option<String>)> {
    let email = plan.owner_email.trim().to_lowercase();
    if let Some(user) = users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(db)
        .await?
    {
        return Ok((user.id, None));
    }
    let password = plan.owner_password.clone().unwrap_or_else(|| {
        rand::rng()
            .sample_iter(&Alphanumeric)
            .take(24)
            .map(char::from)
            .collect()
    });
    let begun = Instant::now();
    let hash = Passwords::new(PasswordParams::default())?
        .hash(&password)
        .await?;
    let at = now();
    let user = users::Model {
        id: Uuid::now_v7(),
        email,
        display_name: Some("Seed Owner".to_owned()),
        password_hash: hash,
        preferences: json!({}),
        token_version: 0,
        created_at: at,
        updated_at: at,
    };
    let id = user.id;
    // Another seeder may have created it meanwhile: then theirs is the owner.
    users::Entity::insert(users::ActiveModel::from(user))
        .on_conflict(
            OnConflict::column(users::Column::Email)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    report.elapsed += begun.elapsed();
    let stored = users::Entity::find()
        .filter(users::Column::Email.eq(plan.owner_email.trim().to_lowercase()))
        .one(db)
        .await?
        .ok_or_else(|| Error::Internal("seed owner vanished".into()))?;
    if stored.id == id {
        report.rows += 1;
        Ok((id, Some(password)))
    } else {
        Ok((stored.id, None))
    }
}

/// One unit of work for the writer.
enum Step {
    /// Begin a world's transaction and insert its row and its owner's membership.
    BeginWorld(Vec<(usize, u64, Statement)>),
    /// Insert a batch of rows into a table (index into `TABLE_NAMES`).
    Insert(usize, u64, Statement),
    EndWorld,
    Done,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    World,
    Elements,
    Relations,
    End,
}

/// SplitMix64: tiny, fast, and the same sequence on every platform and crate version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    fn range(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.index(items.len())]
    }

    /// Up to `max` distinct items.
    fn some<'a>(&mut self, items: &[&'a str], max: usize) -> Vec<&'a str> {
        let count = self.index(max + 1);
        let mut chosen: Vec<&str> = Vec::with_capacity(count);
        while chosen.len() < count {
            let item = self.pick(items);
            if !chosen.contains(&item) {
                chosen.push(item);
            }
        }
        chosen
    }
}

struct Generator {
    backend: DatabaseBackend,
    rng: SplitMix,
    owner_id: Uuid,
    worlds: u32,
    elements: u64,
    relations: u64,
    element_batch: usize,
    relation_batch: usize,
    // The world being generated.
    world: u32,
    world_id: Uuid,
    phase: Phase,
    world_elements: usize,
    world_relations: u64,
    /// Ids, kinds and depths of this world's elements so far.
    ids: Vec<(Uuid, Kind, i32)>,
    made_relations: u64,
    pairs: HashSet<(u32, u32, &'static str)>,
}

impl Generator {
    fn new(backend: DatabaseBackend, plan: &SeedPlan, owner_id: Uuid) -> Self {
        Self {
            backend,
            rng: SplitMix(plan.random_seed),
            owner_id,
            worlds: plan.worlds,
            elements: plan.elements,
            relations: plan.relations,
            element_batch: batch_rows(backend, ELEMENT_COLUMNS),
            relation_batch: batch_rows(backend, RELATION_COLUMNS),
            world: 0,
            world_id: Uuid::nil(),
            phase: Phase::World,
            world_elements: 0,
            world_relations: 0,
            ids: Vec::new(),
            made_relations: 0,
            pairs: HashSet::new(),
        }
    }

    /// World `w`'s share of `total`: the remainder goes to the first worlds.
    fn share(&self, total: u64, w: u32) -> u64 {
        let worlds = u64::from(self.worlds);
        total / worlds + u64::from(u64::from(w) < total % worlds)
    }

    fn next_step(&mut self) -> Step {
        loop {
            match self.phase {
                Phase::World => {
                    if self.world >= self.worlds {
                        return Step::Done;
                    }
                    return Step::BeginWorld(self.begin_world());
                }
                Phase::Elements => {
                    if self.ids.len() < self.world_elements {
                        return self.element_batch();
                    }
                    self.phase = Phase::Relations;
                    self.made_relations = 0;
                    self.pairs.clear();
                    let n = self.ids.len() as u64;
                    // Every ordered pair of distinct elements, once per kind that fits it.
                    let possible = n.saturating_mul(n.saturating_sub(1));
                    self.world_relations = self.share(self.relations, self.world).min(possible);
                }
                Phase::Relations => {
                    if self.made_relations < self.world_relations
                        && let Some(step) = self.relation_batch()
                    {
                        return step;
                    }
                    self.phase = Phase::End;
                }
                Phase::End => {
                    self.world += 1;
                    self.phase = Phase::World;
                    self.ids = Vec::new();
                    self.pairs = HashSet::new();
                    return Step::EndWorld;
                }
            }
        }
    }

    fn begin_world(&mut self) -> Vec<(usize, u64, Statement)> {
        let count = self.share(self.elements, self.world);
        self.world_elements = count as usize;
        self.ids = Vec::with_capacity(self.world_elements);
        self.world_id = Uuid::now_v7();
        self.phase = Phase::Elements;
        let at = now();
        let rng = &mut self.rng;
        let name = format!("{} {}", rng.pick(&WORLD_ADJECTIVES), rng.pick(&WORLD_NOUNS));
        let world = worlds::Model {
            id: self.world_id,
            owner_id: self.owner_id,
            name: format!("{name} (seed {})", self.world + 1),
            description: Some(format!(
                "A seeded world of {count} elements: {} {}.",
                rng.pick(&SUMMARY_OPENINGS),
                rng.pick(&SUMMARY_ENDINGS)
            )),
            settings: json!({
                "calendar": rng.pick(&["solar", "lunar", "dual moons"]),
                "start_year": rng.range(-3000, 1500),
                "theme": rng.pick(&["high fantasy", "grimdark", "steampunk", "mythic"]),
            }),
            visibility: "private".to_owned(),
            element_count: count as i64,
            version: 1,
            created_at: at,
            updated_at: at,
            // Seeded rows are a starting point, not changes: the log starts empty.
            change_seq: 0,
            change_floor: 0,
            kinds_version: 0,
        };
        let member = world_members::Model {
            world_id: self.world_id,
            user_id: self.owner_id,
            role: Role::Owner.as_str().to_owned(),
            created_at: at,
        };
        vec![
            (
                WORLDS,
                1,
                worlds::Entity::insert(worlds::ActiveModel::from(world)).build(self.backend),
            ),
            (
                MEMBERS,
                1,
                world_members::Entity::insert(world_members::ActiveModel::from(member))
                    .build(self.backend),
            ),
        ]
    }

    fn element_batch(&mut self) -> Step {
        let rows = self.element_batch.min(self.world_elements - self.ids.len());
        let at = now();
        let mut models = Vec::with_capacity(rows);
        for _ in 0..rows {
            let model = self.element(at);
            models.push(model);
        }
        let statement = world_elements::Entity::insert_many(
            models.into_iter().map(world_elements::ActiveModel::from),
        )
        .build(self.backend);
        Step::Insert(ELEMENTS, rows as u64, statement)
    }

    fn element(&mut self, at: sea_orm::prelude::DateTimeWithTimeZone) -> world_elements::Model {
        let id = Uuid::now_v7();
        let kind = KINDS[self.rng.index(KINDS.len())];
        // About a fifth hang under an earlier element of the same world.
        let (parent_id, depth) = if !self.ids.is_empty() && self.rng.chance(20) {
            let (parent_id, _, parent_depth) = self.ids[self.rng.index(self.ids.len())];
            (Some(parent_id), parent_depth + 1)
        } else {
            (None, 0)
        };
        let rng = &mut self.rng;
        let name = kind.name(rng);
        let summary = rng.chance(70).then(|| {
            format!(
                "{} {} {}",
                rng.pick(&SUMMARY_OPENINGS),
                name,
                rng.pick(&SUMMARY_ENDINGS)
            )
        });
        let attributes = kind.attributes(rng);
        let tags: Vec<&str> = rng.some(&TAGS, 5);
        self.ids.push((id, kind, depth));
        // Spread creation times over the past year, so sorting by date means something.
        let created_at = at - ChronoDuration::seconds(self.rng.range(0, 365 * 86_400));
        world_elements::Model {
            id,
            world_id: self.world_id,
            parent_id,
            kind: kind.as_str().to_owned(),
            name,
            summary,
            attributes,
            tags: json!(tags),
            version: 1,
            created_by: Some(self.owner_id),
            created_at,
            updated_at: created_at.max(at - ChronoDuration::seconds(self.rng.range(0, 86_400))),
            depth,
        }
    }

    /// The next batch of relations, or `None` when no more distinct ones can be found.
    fn relation_batch(&mut self) -> Option<Step> {
        let wanted = (self.relation_batch as u64).min(self.world_relations - self.made_relations);
        let n = self.ids.len();
        let at = now();
        let mut models = Vec::with_capacity(wanted as usize);
        let mut misses = 0u32;
        while (models.len() as u64) < wanted && misses < 10_000 {
            let source = self.rng.index(n);
            let target = self.rng.index(n);
            if source == target {
                misses += 1;
                continue;
            }
            let kind = self.ids[target].1.relation_kind(&mut self.rng);
            if !self.pairs.insert((source as u32, target as u32, kind)) {
                misses += 1;
                continue;
            }
            let attributes = if self.rng.chance(60) {
                json!({
                    "since": self.rng.range(-500, 1500),
                    "strength": self.rng.range(1, 10),
                    "public": self.rng.chance(50),
                })
            } else {
                json!({})
            };
            models.push(element_relations::Model {
                id: Uuid::now_v7(),
                world_id: self.world_id,
                source_id: self.ids[source].0,
                target_id: self.ids[target].0,
                kind: kind.to_owned(),
                attributes,
                version: 1,
                created_at: at,
                updated_at: at,
            });
        }
        if models.is_empty() {
            return None;
        }
        if (models.len() as u64) < wanted {
            // The world is saturated: stop after this batch.
            self.world_relations = self.made_relations + models.len() as u64;
        }
        let rows = models.len() as u64;
        self.made_relations += rows;
        let statement = element_relations::Entity::insert_many(
            models.into_iter().map(element_relations::ActiveModel::from),
        )
        .build(self.backend);
        Some(Step::Insert(RELATIONS, rows, statement))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Character,
    Place,
    Faction,
    Item,
    Lore,
}

const KINDS: [Kind; 5] = [
    Kind::Character,
    Kind::Place,
    Kind::Faction,
    Kind::Item,
    Kind::Lore,
];

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Character => "character",
            Kind::Place => "place",
            Kind::Faction => "faction",
            Kind::Item => "item",
            Kind::Lore => "lore",
        }
    }

    fn name(self, rng: &mut SplitMix) -> String {
        match self {
            Kind::Character => format!(
                "{}{} {}",
                rng.pick(&SYLLABLES_START),
                rng.pick(&SYLLABLES_END),
                rng.pick(&SURNAMES)
            ),
            Kind::Place => {
                let stem = format!("{}{}", rng.pick(&SYLLABLES_START), rng.pick(&PLACE_ENDS));
                match rng.below(3) {
                    0 => stem,
                    1 => format!("{} {stem}", rng.pick(&PLACE_PREFIXES)),
                    _ => format!("{stem} {}", rng.pick(&PLACE_SUFFIXES)),
                }
            }
            Kind::Faction => format!(
                "The {} {}",
                rng.pick(&WORLD_ADJECTIVES),
                rng.pick(&FACTION_NOUNS)
            ),
            Kind::Item => format!(
                "{} {} of {}{}",
                rng.pick(&MATERIALS),
                rng.pick(&ITEMS),
                rng.pick(&SYLLABLES_START),
                rng.pick(&SYLLABLES_END)
            ),
            Kind::Lore => format!(
                "The {} of {}{}",
                rng.pick(&EVENTS),
                rng.pick(&SYLLABLES_START),
                rng.pick(&PLACE_ENDS)
            ),
        }
    }

    fn attributes(self, rng: &mut SplitMix) -> Value {
        let mut value = match self {
            Kind::Character => json!({
                "race": rng.pick(&RACES),
                "stats": {
                    "level": rng.range(1, 60),
                    "hp": rng.range(5, 900),
                    "str": rng.range(3, 18),
                    "int": rng.range(3, 18),
                },
                "langs": rng.some(&LANGUAGES, 3),
                "alive": rng.chance(80),
                "age": rng.range(12, 400),
            }),
            Kind::Place => json!({
                "region": rng.pick(&REGIONS),
                "population": rng.range(0, 2_000_000),
                "climate": rng.pick(&CLIMATES),
                "coords": { "x": rng.range(-5000, 5000), "y": rng.range(-5000, 5000) },
                "capital": rng.chance(5),
            }),
            Kind::Faction => json!({
                "alignment": rng.pick(&ALIGNMENTS),
                "members": rng.range(3, 50_000),
                "founded": rng.range(-2000, 1500),
                "goals": rng.some(&GOALS, 3),
                "secret": rng.chance(30),
            }),
            Kind::Item => json!({
                "rarity": rng.pick(&RARITIES),
                "weight": rng.range(1, 5000) as f64 / 100.0,
                "value": rng.range(1, 100_000),
                "magic": rng.chance(35),
                "enchantments": (0..rng.below(3)).map(|_| json!({
                    "name": rng.pick(&ENCHANTMENTS),
                    "power": rng.range(1, 5),
                })).collect::<Vec<_>>(),
            }),
            Kind::Lore => json!({
                "era": rng.pick(&ERAS),
                "source": rng.pick(&SOURCES),
                "reliability": rng.range(0, 100) as f64 / 100.0,
                "year": rng.range(-3000, 1500),
            }),
        };
        // Now and then a free-form key, as real worlds accumulate them.
        if rng.chance(25)
            && let Some(object) = value.as_object_mut()
        {
            object.insert(
                rng.pick(&EXTRA_KEYS).to_owned(),
                match rng.below(3) {
                    0 => json!(rng.pick(&TAGS)),
                    1 => json!(rng.range(0, 1000)),
                    _ => json!({ "note": rng.pick(&SUMMARY_ENDINGS), "checked": rng.chance(50) }),
                },
            );
        }
        value
    }

    /// A relation kind that reads well with an element of this kind as the target.
    fn relation_kind(self, rng: &mut SplitMix) -> &'static str {
        match self {
            Kind::Character => rng.pick(&["knows", "rival_of", "sibling_of", "serves"]),
            Kind::Place => rng.pick(&["located_in", "born_in", "rules"]),
            Kind::Faction => rng.pick(&["member_of", "allied_with", "enemy_of"]),
            Kind::Item => rng.pick(&["owns", "seeks", "forged"]),
            Kind::Lore => rng.pick(&["mentioned_in", "caused"]),
        }
    }
}

const WORLD_ADJECTIVES: [&str; 12] = [
    "Shattered",
    "Crimson",
    "Silent",
    "Gilded",
    "Sunken",
    "Eternal",
    "Hollow",
    "Verdant",
    "Ashen",
    "Frozen",
    "Wandering",
    "Iron",
];
const WORLD_NOUNS: [&str; 8] = [
    "Realms", "Isles", "Marches", "Dominion", "Reaches", "Expanse", "Kingdoms", "Wilds",
];
const FACTION_NOUNS: [&str; 10] = [
    "Order",
    "Brotherhood",
    "Covenant",
    "Guild",
    "Circle",
    "Legion",
    "Syndicate",
    "Council",
    "Company",
    "Cult",
];
const SYLLABLES_START: [&str; 16] = [
    "Al", "Bel", "Cor", "Dra", "El", "Fen", "Gal", "Har", "Is", "Kor", "Lyr", "Mor", "Nim", "Or",
    "Thal", "Vey",
];
const SYLLABLES_END: [&str; 12] = [
    "dric", "wen", "ion", "mir", "ara", "eth", "or", "ith", "un", "iel", "as", "ra",
];
const SURNAMES: [&str; 12] = [
    "Stormwind",
    "Ashford",
    "Blackthorn",
    "Duskmantle",
    "Ironhand",
    "Silverleaf",
    "Oakheart",
    "Ravencrest",
    "Brightwater",
    "Frostborn",
    "Greymane",
    "Underhill",
];
const PLACE_ENDS: [&str; 10] = [
    "moor", "haven", "fell", "gard", "mere", "wick", "holm", "spire", "vale", "deep",
];
const PLACE_PREFIXES: [&str; 5] = ["Port", "Fort", "Old", "New", "Upper"];
const PLACE_SUFFIXES: [&str; 5] = ["Keep", "Crossing", "Falls", "Hollow", "Reach"];
const MATERIALS: [&str; 8] = [
    "Obsidian",
    "Silver",
    "Bone",
    "Oaken",
    "Starmetal",
    "Glass",
    "Bronze",
    "Jade",
];
const ITEMS: [&str; 10] = [
    "Blade", "Crown", "Amulet", "Tome", "Staff", "Ring", "Shield", "Chalice", "Lantern", "Key",
];
const EVENTS: [&str; 8] = [
    "Fall",
    "Founding",
    "Burning",
    "Sundering",
    "Song",
    "Prophecy",
    "Siege",
    "Exile",
];
const RACES: [&str; 8] = [
    "human",
    "elf",
    "dwarf",
    "orc",
    "halfling",
    "gnome",
    "dragonborn",
    "tiefling",
];
const LANGUAGES: [&str; 8] = [
    "common",
    "elvish",
    "dwarvish",
    "orcish",
    "draconic",
    "infernal",
    "sylvan",
    "celestial",
];
const REGIONS: [&str; 6] = ["north", "south", "east", "west", "midlands", "coast"];
const CLIMATES: [&str; 6] = ["arid", "temperate", "tropical", "polar", "alpine", "marsh"];
const ALIGNMENTS: [&str; 5] = ["lawful", "neutral", "chaotic", "good", "evil"];
const GOALS: [&str; 8] = [
    "power",
    "wealth",
    "knowledge",
    "revenge",
    "peace",
    "faith",
    "freedom",
    "survival",
];
const RARITIES: [&str; 5] = ["common", "uncommon", "rare", "epic", "legendary"];
const ENCHANTMENTS: [&str; 6] = ["fire", "frost", "warding", "swiftness", "shadow", "light"];
const ERAS: [&str; 5] = [
    "First Age",
    "Age of Kings",
    "Long Night",
    "Iron Age",
    "Present",
];
const SOURCES: [&str; 5] = ["chronicle", "ballad", "rumor", "scripture", "eyewitness"];
const EXTRA_KEYS: [&str; 6] = ["notes", "origin", "rumor", "status", "color", "motto"];
const TAGS: [&str; 24] = [
    "important",
    "secret",
    "ancient",
    "magic",
    "war",
    "trade",
    "religion",
    "politics",
    "mystery",
    "draft",
    "canon",
    "legend",
    "nobility",
    "underworld",
    "sea",
    "mountains",
    "forest",
    "undead",
    "dragons",
    "prophecy",
    "artifact",
    "quest",
    "villain",
    "ally",
];
const SUMMARY_OPENINGS: [&str; 6] = [
    "Long remembered,",
    "Whispered about in taverns,",
    "Few know that",
    "According to the old songs,",
    "Since the last war,",
    "Recorded in the archives,",
];
const SUMMARY_ENDINGS: [&str; 6] = [
    "shaped the fate of the realm.",
    "is not what it seems.",
    "holds a secret yet to be revealed.",
    "is feared and admired alike.",
    "was lost and found again.",
    "waits for the return of the old powers.",
];
