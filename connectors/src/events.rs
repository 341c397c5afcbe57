//! The event generator: deterministic, streamify-like music-service events (after the
//! streamify seed's eventsim) for demos, tests and benchmarks without a broker.
//!
//! Event `i` of a kind is a pure function of `(seed, kind, i)`: its time is
//! `start + i / rate` seconds, its user comes from a fixed population whose attributes
//! (name, city, user agent, registration) derive from the user id, consecutive events
//! of a user share a session, and listens pick from a fixed catalogue of songs. So any
//! slice of the sequence can be produced anywhere (one slice per task), and the same
//! arguments always give the same events.
//!
//! `generate_events(kind => 'listen', count => 1000 [, rate => 10, seed => 0,
//! users => 1000, start => 1767225600000])` is the table function.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use serde::{Deserialize, Serialize};

/// Events per batch.
const BATCH_ROWS: u64 = 8192;

/// 2026-01-01T00:00:00Z, the default time of event 0.
pub const DEFAULT_START_MS: i64 = 1_767_225_600_000;

/// The kinds of events, as the streamify topics name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A song played (`listen_events`).
    Listen,
    /// A page of the service viewed (`page_view_events`).
    PageView,
    /// A login attempt (`auth_events`).
    Auth,
}

impl EventKind {
    /// Parses `listen`, `page_view` or `auth`.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "listen" | "listen_events" => Ok(Self::Listen),
            "page_view" | "page_view_events" => Ok(Self::PageView),
            "auth" | "auth_events" => Ok(Self::Auth),
            other => plan_err!("unknown event kind '{other}' (listen, page_view or auth)"),
        }
    }

    fn salt(self) -> u64 {
        match self {
            Self::Listen => 0x11,
            Self::PageView => 0x22,
            Self::Auth => 0x33,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EventSpec {
    /// Which events.
    pub kind: EventKind,
    /// Events per second of event time.
    pub rate: f64,
    /// Seed of the pseudo-random choices.
    pub seed: u64,
    /// Size of the user population.
    pub users: u64,
    /// Time of event 0, epoch milliseconds.
    pub start_ms: i64,
}

impl EventSpec {
    /// Time of event `i`, epoch milliseconds.
    pub fn ts(&self, i: u64) -> i64 {
        self.start_ms
            .saturating_add((i as f64 * 1000.0 / self.rate) as i64)
    }
}

/// The schema of a kind (streamify's field names and types).
pub fn event_schema(kind: EventKind) -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let i32f = |n: &str| Field::new(n, DataType::Int32, true);
    let i64f = |n: &str| Field::new(n, DataType::Int64, true);
    let f64f = |n: &str| Field::new(n, DataType::Float64, true);
    let mut fields = Vec::new();
    match kind {
        EventKind::Listen => {
            fields.extend([s("artist"), s("song"), f64f("duration")]);
            fields.extend([i64f("ts"), i64f("sessionId"), s("auth")]);
        }
        EventKind::PageView => {
            fields.extend([i64f("ts"), i64f("sessionId"), s("page"), s("auth")]);
            fields.extend([s("method"), i32f("status")]);
        }
        EventKind::Auth => fields.extend([i64f("ts"), i64f("sessionId")]),
    }
    fields.extend([
        s("level"),
        i32f("itemInSession"),
        s("city"),
        i32f("zip"),
        s("state"),
        s("userAgent"),
        f64f("lon"),
        f64f("lat"),
        i64f("userId"),
        s("lastName"),
        s("firstName"),
        s("gender"),
        i64f("registration"),
    ]);
    match kind {
        EventKind::PageView => fields.extend([s("artist"), s("song"), f64f("duration")]),
        EventKind::Auth => fields.push(Field::new("success", DataType::Boolean, true)),
        EventKind::Listen => {}
    }
    Arc::new(Schema::new(fields))
}

/// SplitMix64: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn h(seed: u64, a: u64, b: u64) -> u64 {
    mix(mix(seed ^ mix(a)) ^ b)
}

fn pick<T: Copy>(items: &[T], r: u64) -> T {
    items[(r % items.len() as u64) as usize]
}

const FIRST_NAMES: &[(&str, &str)] = &[
    ("Olivia", "F"),
    ("Liam", "M"),
    ("Emma", "F"),
    ("Noah", "M"),
    ("Ava", "F"),
    ("Elijah", "M"),
    ("Sophia", "F"),
    ("James", "M"),
    ("Isabella", "F"),
    ("Lucas", "M"),
    ("Mia", "F"),
    ("Mason", "M"),
    ("Amelia", "F"),
    ("Ethan", "M"),
    ("Harper", "F"),
    ("Logan", "M"),
    ("Evelyn", "F"),
    ("Aiden", "M"),
    ("Abigail", "F"),
    ("Jackson", "M"),
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
];
/// City, state, zip, longitude, latitude.
const PLACES: &[(&str, &str, i32, f64, f64)] = &[
    (
        "New York-Newark-Jersey City",
        "NY-NJ-PA",
        10001,
        -73.99,
        40.75,
    ),
    (
        "Los Angeles-Long Beach-Anaheim",
        "CA",
        90012,
        -118.24,
        34.05,
    ),
    ("Chicago-Naperville-Elgin", "IL-IN-WI", 60601, -87.62, 41.88),
    ("Dallas-Fort Worth-Arlington", "TX", 75201, -96.80, 32.78),
    (
        "Houston-The Woodlands-Sugar Land",
        "TX",
        77002,
        -95.37,
        29.76,
    ),
    (
        "Washington-Arlington-Alexandria",
        "DC-VA-MD-WV",
        20001,
        -77.02,
        38.91,
    ),
    (
        "Miami-Fort Lauderdale-West Palm Beach",
        "FL",
        33130,
        -80.20,
        25.77,
    ),
    (
        "Philadelphia-Camden-Wilmington",
        "PA-NJ-DE-MD",
        19103,
        -75.17,
        39.95,
    ),
    ("Atlanta-Sandy Springs-Roswell", "GA", 30303, -84.39, 33.75),
    ("Boston-Cambridge-Newton", "MA-NH", 2108, -71.06, 42.36),
    ("Phoenix-Mesa-Scottsdale", "AZ", 85004, -112.07, 33.45),
    ("San Francisco-Oakland-Hayward", "CA", 94103, -122.41, 37.77),
    ("Seattle-Tacoma-Bellevue", "WA", 98101, -122.33, 47.61),
    (
        "Minneapolis-St. Paul-Bloomington",
        "MN-WI",
        55401,
        -93.27,
        44.98,
    ),
    ("Denver-Aurora-Lakewood", "CO", 80202, -104.99, 39.74),
    (
        "Portland-Vancouver-Hillsboro",
        "OR-WA",
        97204,
        -122.68,
        45.52,
    ),
    (
        "Nashville-Davidson--Murfreesboro--Franklin",
        "TN",
        37203,
        -86.78,
        36.16,
    ),
    ("Austin-Round Rock", "TX", 78701, -97.74, 30.27),
];
const USER_AGENTS: &[&str] = &[
    "\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\"",
    "\"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15\"",
    "\"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\"",
    "\"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148\"",
    "\"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36\"",
];
/// Artist, song, duration in seconds.
const SONGS: &[(&str, &str, f64)] = &[
    ("Kings Of Leon", "Use Somebody", 230.74),
    ("Dwight Yoakam", "You're The One", 239.31),
    ("Björk", "Undo", 348.57),
    ("Florence + The Machine", "Dog Days Are Over", 252.89),
    ("The Black Keys", "Howlin' For You", 191.84),
    ("Coldplay", "Clocks", 307.85),
    ("Harmonia", "Sehr kosmisch", 655.77),
    ("Usher", "Hey Daddy (Daddy's Home)", 224.67),
    ("Muse", "Supermassive Black Hole", 209.34),
    ("Eminem", "Lose Yourself", 326.35),
    ("Daft Punk", "One More Time", 320.36),
    ("Radiohead", "Karma Police", 264.07),
    ("Adele", "Rolling In The Deep", 228.1),
    ("The Killers", "Mr. Brightside", 222.2),
    ("Nirvana", "Smells Like Teen Spirit", 301.92),
    ("Beyoncé", "Halo", 261.64),
    ("Arctic Monkeys", "Do I Wanna Know?", 272.39),
    ("Queen", "Bohemian Rhapsody", 354.32),
    ("Rihanna", "Umbrella", 275.98),
    ("Linkin Park", "In The End", 216.88),
    ("OneRepublic", "Secrets", 224.88),
    ("Bon Iver", "Skinny Love", 238.29),
    ("Alliance Ethnik", "Représente", 252.21),
    ("Sam Cooke", "Wonderful World", 127.19),
];
/// Page, method, status, weight (per 100).
const PAGES: &[(&str, &str, i32, u64)] = &[
    ("NextSong", "PUT", 200, 80),
    ("Home", "GET", 200, 7),
    ("Thumbs Up", "PUT", 307, 4),
    ("Add to Playlist", "PUT", 200, 2),
    ("Add Friend", "PUT", 307, 1),
    ("Thumbs Down", "PUT", 307, 1),
    ("Settings", "GET", 200, 1),
    ("Help", "GET", 200, 1),
    ("Logout", "PUT", 307, 1),
    ("Upgrade", "GET", 200, 1),
    ("Error", "GET", 404, 1),
];

/// A user's fixed attributes.
struct User {
    id: i64,
    first: &'static str,
    gender: &'static str,
    last: &'static str,
    place: (&'static str, &'static str, i32, f64, f64),
    agent: &'static str,
    registration: i64,
}

impl User {
    fn new(spec: &EventSpec, id: u64) -> Self {
        let r = |salt: u64| h(spec.seed, id, salt);
        let (first, gender) = pick(FIRST_NAMES, r(1));
        Self {
            id: id as i64,
            first,
            gender,
            last: pick(LAST_NAMES, r(2)),
            place: pick(PLACES, r(3)),
            agent: pick(USER_AGENTS, r(4)),
            // Registered up to a year before event 0.
            registration: spec.start_ms - (r(5) % (365 * 86_400_000)) as i64,
        }
    }
}

/// Consecutive events of a user: this many share a user and a session.
const RUN: u64 = 8;

/// Appends events `from..to` of `spec` to a batch.
pub fn generate(spec: &EventSpec, from: u64, to: u64) -> Result<RecordBatch> {
    let n = (to - from) as usize;
    let schema = event_schema(spec.kind);
    let mut cols: Vec<Builder> = schema
        .fields()
        .iter()
        .map(|f| Builder::for_type(f.data_type(), n))
        .collect();
    let index = |name: &str| schema.index_of(name);
    let (c_ts, c_session, c_level, c_item) = (
        index("ts")?,
        index("sessionId")?,
        index("level")?,
        index("itemInSession")?,
    );
    let (c_city, c_zip, c_state, c_agent) = (
        index("city")?,
        index("zip")?,
        index("state")?,
        index("userAgent")?,
    );
    let (c_lon, c_lat, c_user, c_last, c_first, c_gender, c_reg) = (
        index("lon")?,
        index("lat")?,
        index("userId")?,
        index("lastName")?,
        index("firstName")?,
        index("gender")?,
        index("registration")?,
    );
    let salt = spec.kind.salt();
    for i in from..to {
        let run = i / RUN;
        let user_id = h(spec.seed, run, 0xa0) % spec.users.max(1) + 1;
        let user = User::new(spec, user_id);
        let ts = spec.ts(i);
        // A session lasts while the user is active within the same half hour.
        let session = (h(spec.seed, user_id, (ts / 1_800_000) as u64) % 1_000_000) as i64;
        let paid = h(spec.seed, user_id, (ts / (30 * 86_400_000)) as u64) % 100 < 30;
        let r = |field: u64| h(spec.seed ^ salt, i, field);
        cols[c_ts].int64(Some(ts));
        cols[c_session].int64(Some(session));
        cols[c_level].string(Some(if paid { "paid" } else { "free" }));
        cols[c_item].int32(Some((i % RUN + (run % 13) * RUN) as i32));
        cols[c_city].string(Some(user.place.0));
        cols[c_zip].int32(Some(user.place.2));
        cols[c_state].string(Some(user.place.1));
        cols[c_agent].string(Some(user.agent));
        cols[c_lon].float64(Some(user.place.3));
        cols[c_lat].float64(Some(user.place.4));
        cols[c_user].int64(Some(user.id));
        cols[c_last].string(Some(user.last));
        cols[c_first].string(Some(user.first));
        cols[c_gender].string(Some(user.gender));
        cols[c_reg].int64(Some(user.registration));
        match spec.kind {
            EventKind::Listen => {
                let (artist, song, duration) = pick(SONGS, r(1));
                cols[index("artist")?].string(Some(artist));
                cols[index("song")?].string(Some(song));
                cols[index("duration")?].float64(Some(duration));
                cols[index("auth")?].string(Some("Logged In"));
            }
            EventKind::PageView => {
                let mut roll = r(2) % 100;
                let mut page = PAGES[0];
                for p in PAGES {
                    if roll < p.3 {
                        page = *p;
                        break;
                    }
                    roll -= p.3;
                }
                cols[index("page")?].string(Some(page.0));
                cols[index("method")?].string(Some(page.1));
                cols[index("status")?].int32(Some(page.2));
                cols[index("auth")?].string(Some("Logged In"));
                let song = (page.0 == "NextSong").then(|| pick(SONGS, r(1)));
                cols[index("artist")?].string(song.map(|s| s.0));
                cols[index("song")?].string(song.map(|s| s.1));
                cols[index("duration")?].float64(song.map(|s| s.2));
            }
            EventKind::Auth => {
                cols[index("success")?].boolean(Some(r(3) % 100 < 95));
            }
        }
    }
    let columns: Vec<ArrayRef> = cols.into_iter().map(Builder::finish).collect();
    Ok(RecordBatch::try_new(schema, columns)?)
}

enum Builder {
    Utf8(StringBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
}

impl Builder {
    fn for_type(t: &DataType, n: usize) -> Self {
        match t {
            DataType::Int32 => Self::Int32(Int32Builder::with_capacity(n)),
            DataType::Int64 => Self::Int64(Int64Builder::with_capacity(n)),
            DataType::Float64 => Self::Float64(Float64Builder::with_capacity(n)),
            DataType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(n)),
            _ => Self::Utf8(StringBuilder::with_capacity(n, n * 16)),
        }
    }
    fn string(&mut self, v: Option<&str>) {
        if let Self::Utf8(b) = self {
            b.append_option(v)
        }
    }
    fn int32(&mut self, v: Option<i32>) {
        if let Self::Int32(b) = self {
            b.append_option(v)
        }
    }
    fn int64(&mut self, v: Option<i64>) {
        if let Self::Int64(b) = self {
            b.append_option(v)
        }
    }
    fn float64(&mut self, v: Option<f64>) {
        if let Self::Float64(b) = self {
            b.append_option(v)
        }
    }
    fn boolean(&mut self, v: Option<bool>) {
        if let Self::Boolean(b) = self {
            b.append_option(v)
        }
    }
    fn finish(self) -> ArrayRef {
        match self {
            Self::Utf8(mut b) => Arc::new(b.finish()),
            Self::Int32(mut b) => Arc::new(b.finish()),
            Self::Int64(mut b) => Arc::new(b.finish()),
            Self::Float64(mut b) => Arc::new(b.finish()),
            Self::Boolean(mut b) => Arc::new(b.finish()),
        }
    }
}

/// The options of `generate_events(...)`, as name/value pairs.
pub fn parse_event_options<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(EventSpec, Option<u64>)> {
    let mut kind = None;
    let mut spec = EventSpec {
        kind: EventKind::Listen,
        rate: 10.0,
        seed: 0,
        users: 1000,
        start_ms: DEFAULT_START_MS,
    };
    let mut count = None;
    let number = |name: &str, value: &str| -> Result<f64> {
        match value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => {
                plan_err!("generate_events: '{name}' must be a non-negative number, got '{value}'")
            }
        }
    };
    for (name, value) in pairs {
        match name.to_ascii_lowercase().as_str() {
            "kind" => kind = Some(EventKind::parse(value)?),
            "rate" => {
                spec.rate = number(name, value)?;
                if !(0.001..=1e9).contains(&spec.rate) {
                    return plan_err!(
                        "generate_events: 'rate' must be between 0.001 and 1e9 events per second"
                    );
                }
            }
            "seed" => spec.seed = number(name, value)? as u64,
            "users" => spec.users = (number(name, value)? as u64).max(1),
            "start" => {
                spec.start_ms = number(name, value)? as i64;
                // Far enough from the ends of i64 that event times cannot overflow.
                if spec.start_ms > 1 << 52 {
                    return plan_err!("generate_events: 'start' is out of range");
                }
            }
            "count" => {
                let n = number(name, value)?;
                if n > 1e15 {
                    return plan_err!("generate_events: 'count' is out of range");
                }
                count = Some(n as u64);
            }
            other => return plan_err!("generate_events: unknown option '{other}'"),
        }
    }
    spec.kind = kind.ok_or_else(|| {
        datafusion::common::DataFusionError::Plan(
            "generate_events needs kind => 'listen', 'page_view' or 'auth'".into(),
        )
    })?;
    Ok((spec, count))
}

/// `generate_events(kind => ..., count => ...)`.
#[derive(Debug, Default)]
pub struct GenerateEventsFunction;

impl TableFunctionImpl for GenerateEventsFunction {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let pairs = crate::option_args::option_pairs("generate_events", args)?;
        let (spec, count) =
            parse_event_options(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let Some(count) = count else {
            return plan_err!(
                "generate_events needs count => N for a batch read (the number of events)"
            );
        };
        Ok(Arc::new(EventsTable {
            spec,
            from: 0,
            to: count,
        }))
    }
}

/// Events `from..to` of a spec, as a table.
#[derive(Debug, Clone)]
pub struct EventsTable {
    /// What to generate.
    pub spec: EventSpec,
    /// First event.
    pub from: u64,
    /// First event not produced.
    pub to: u64,
}

#[async_trait]
impl TableProvider for EventsTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        event_schema(self.spec.kind)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let to = limit.map_or(self.to, |l| self.to.min(self.from.saturating_add(l as u64)));
        let partitions = (state.config().target_partitions().max(1) as u64)
            .min(to.saturating_sub(self.from).div_ceil(BATCH_ROWS).max(1))
            as usize;
        Ok(Arc::new(EventsExec::new(EventsExecSpec {
            spec: self.spec,
            from: self.from,
            to,
            partitions,
            projection: projection.cloned(),
        })?))
    }
}

/// What an [`EventsExec`] produces, as the codec ships it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsExecSpec {
    /// What to generate.
    pub spec: EventSpec,
    /// First event.
    pub from: u64,
    /// First event not produced.
    pub to: u64,
    /// Output partitions (contiguous slices).
    pub partitions: usize,
    /// Columns to produce (all if `None`).
    pub projection: Option<Vec<usize>>,
}

/// Produces events, one contiguous slice per partition.
#[derive(Debug)]
pub struct EventsExec {
    spec: EventsExecSpec,
    properties: Arc<PlanProperties>,
}

impl EventsExec {
    /// The node for `spec`.
    pub fn new(spec: EventsExecSpec) -> Result<Self> {
        let schema = event_schema(spec.spec.kind);
        let schema = match &spec.projection {
            Some(p) => Arc::new(schema.project(p)?),
            None => schema,
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(spec.partitions.max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            spec,
            properties: Arc::new(properties),
        })
    }

    /// What it produces.
    pub fn spec(&self) -> &EventsExecSpec {
        &self.spec
    }
}

impl DisplayAs for EventsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "EventsExec: kind={:?}, events={}..{}, partitions={}",
            self.spec.spec.kind, self.spec.from, self.spec.to, self.spec.partitions
        )
    }
}

impl ExecutionPlan for EventsExec {
    fn name(&self) -> &str {
        "EventsExec"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !children.is_empty() {
            return exec_err!("EventsExec has no inputs");
        }
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let s = self.spec.clone();
        let (from, to) = crate::range::partition_slice(s.to - s.from, partition, s.partitions);
        let (from, to) = (s.from + from, s.from + to);
        let schema = self.properties.eq_properties.schema().clone();
        let batches = (from..to).step_by(BATCH_ROWS as usize).map(move |first| {
            let last = (first + BATCH_ROWS).min(to);
            let batch = generate(&s.spec, first, last)?;
            Ok(match &s.projection {
                Some(p) => batch.project(p)?,
                None => batch,
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::iter(batches),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray, Int64Array};

    fn spec(kind: EventKind) -> EventSpec {
        EventSpec {
            kind,
            rate: 100.0,
            seed: 7,
            users: 50,
            start_ms: DEFAULT_START_MS,
        }
    }

    #[test]
    fn slices_are_the_same_events_as_the_whole() {
        for kind in [EventKind::Listen, EventKind::PageView, EventKind::Auth] {
            let whole = generate(&spec(kind), 0, 1000).unwrap();
            let a = generate(&spec(kind), 0, 400).unwrap();
            let b = generate(&spec(kind), 400, 1000).unwrap();
            let joined = arrow::compute::concat_batches(&whole.schema(), [&a, &b]).unwrap();
            assert_eq!(whole, joined, "{kind:?}");
            assert_eq!(whole.schema(), event_schema(kind));
        }
    }

    #[test]
    fn events_look_like_a_music_service() {
        let s = spec(EventKind::Listen);
        let batch = generate(&s, 0, 2000).unwrap();
        let ts = batch
            .column_by_name("ts")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ts.value(0), DEFAULT_START_MS);
        assert_eq!(
            ts.value(100),
            DEFAULT_START_MS + 1000,
            "100 events per second"
        );
        let users = batch.column_by_name("userId").unwrap();
        let users = users.as_primitive::<arrow::datatypes::Int64Type>();
        let distinct: std::collections::HashSet<i64> = users.values().iter().copied().collect();
        assert!(distinct.len() > 40 && distinct.iter().all(|u| (1..=50).contains(u)));
        let other_seed = generate(&EventSpec { seed: 8, ..s }, 0, 2000).unwrap();
        assert_ne!(batch, other_seed);
        let pages = generate(&spec(EventKind::PageView), 0, 2000).unwrap();
        let page = pages.column_by_name("page").unwrap().as_string::<i32>();
        let next_song = (0..page.len())
            .filter(|i| page.value(*i) == "NextSong")
            .count();
        assert!((1400..1800).contains(&next_song), "{next_song}");
    }

    #[test]
    fn options() {
        let (s, count) =
            parse_event_options([("kind", "page_view"), ("rate", "5"), ("count", "10")]).unwrap();
        assert_eq!(s.kind, EventKind::PageView);
        assert_eq!(s.rate, 5.0);
        assert_eq!(count, Some(10));
        assert!(parse_event_options([("rate", "5")]).is_err());
        assert!(parse_event_options([("kind", "click")]).is_err());
        assert!(parse_event_options([("kind", "auth"), ("rate", "0")]).is_err());
        assert!(parse_event_options([("kind", "auth"), ("colour", "red")]).is_err());
    }
}
