//! Client sessions: each Spark Connect session gets its own DataFusion context with
//! its own configuration and temporary views, over catalogs shared by all sessions.
//!
//! Name resolution follows Spark: a bare name is looked up first among the session's
//! temporary views, then in `spark_catalog.default`, which every session shares (a
//! table created by one client is visible to the next one). `spark_catalog` holds
//! in-memory tables and views (DDL such as `CREATE VIEW`) in front of the Iceberg
//! REST catalog the scheduler was configured with, whose namespaces are schemas.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ballista_core::extension::SessionConfigExt;
use dashmap::DashMap;
use datafusion::catalog::{
    CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider, SchemaProvider, TableProvider,
};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{SessionConfig, SessionContext};
use parking_lot::Mutex;
use sparkling_connectors::functions;
use sparkling_connectors::iceberg::{IcebergCatalog, catalog::block_on};
use tokio::sync::watch;

use crate::error::EngineError;

pub use sparkling_sql::names::{DEFAULT_CATALOG, DEFAULT_SCHEMA};
/// The namespace of global temporary views (`df.createGlobalTempView`), shared by
/// every session of the server and kept in memory only, as Spark's `global_temp`.
pub const GLOBAL_TEMP_SCHEMA: &str = "global_temp";
/// Default number of partitions for shuffles (`spark.sql.shuffle.partitions`).
pub const DEFAULT_SHUFFLE_PARTITIONS: usize = 4;

/// The session configuration every session (and the scheduler) starts from.
pub fn base_config() -> SessionConfig {
    // Hash and broadcast joins back on (see `join_planning`).
    crate::join_planning::configure(SessionConfig::new_with_ballista())
        .with_target_partitions(DEFAULT_SHUFFLE_PARTITIONS)
        .with_default_catalog_and_schema(DEFAULT_CATALOG, DEFAULT_SCHEMA)
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(true)
        // Spark keeps the case of column names and aliases (`userId`, `AS Total`);
        // DataFusion would lower-case unquoted ones. Table and namespace names still
        // match ignoring case (see `unique_match`).
        .set_bool("datafusion.sql_parser.enable_ident_normalization", false)
        // Spark sorts nulls first ascending and last descending.
        .set_str("datafusion.sql_parser.default_null_ordering", "nulls_min")
        // `2.5` is a decimal(2,1) in Spark, not a double.
        .set_bool("datafusion.sql_parser.parse_float_as_decimal", true)
        // DataFusion 53's top-k aggregation drops NULL groups under `ORDER BY ...
        // NULLS FIRST LIMIT n` (apache/datafusion#22554, #22190; fixed upstream
        // later), and nulls first is Spark's default: `distinct().orderBy(c).limit(n)`
        // would lose its NULL row.
        .set_bool("datafusion.optimizer.enable_topk_aggregation", false)
        // DataFusion 53's leaf-expression pushdown moves a struct field or map value
        // read (`get_field`) below the node that defines its input: below an unnest
        // (`inline`), or past a projection that redefines the struct under the same
        // name (`withColumn("a", col("a").withField(...))`), and then fails.
        .set_bool(
            "datafusion.optimizer.enable_leaf_expression_pushdown",
            false,
        )
}

/// Builds a session state with Sparkling's physical optimizer rules and Spark's
/// arithmetic (`sparkling_spark::rules`).
pub fn with_planning(builder: SessionStateBuilder) -> SessionStateBuilder {
    builder
        .with_analyzer_rules(sparkling_spark::rules::analyzer_rules())
        .with_physical_optimizer_rules(crate::join_planning::physical_optimizer_rules())
}

/// Session setting choosing the trigger of streaming queries started from SQL.
pub const TRIGGER_CONF: &str = "spark.sparkling.streaming.trigger";
/// Session setting naming the query (default: the target table's name).
pub const QUERY_NAME_CONF: &str = "spark.sparkling.streaming.queryName";
/// Session setting naming the table that receives records `from_json` could not parse.
pub const DEAD_LETTER_CONF: &str = "spark.sparkling.streaming.deadLetterTable";

/// The spelling of a streaming setting whose name SQL's `SET` lower-cased.
pub fn canonical_conf_key(key: &str) -> &str {
    [TRIGGER_CONF, QUERY_NAME_CONF, DEAD_LETTER_CONF]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(key))
        .unwrap_or(key)
}

/// Spark configuration keys that map onto DataFusion options.
const SPARK_TO_DATAFUSION: &[(&str, &str)] = &[
    (
        "spark.sql.shuffle.partitions",
        "datafusion.execution.target_partitions",
    ),
    (
        "spark.sql.session.timeZone",
        "datafusion.execution.time_zone",
    ),
    (
        "spark.sql.files.maxRecordsPerFile",
        "datafusion.execution.max_records_per_file",
    ),
];

/// Defaults reported for Spark keys that have no DataFusion counterpart.
const SPARK_DEFAULTS: &[(&str, &str)] = &[
    // Read by PySpark before `createDataFrame`; unset, DataFusion works in UTC
    // (Spark would take the JVM's zone).
    ("spark.sql.session.timeZone", "UTC"),
    ("spark.app.name", "sparkling"),
    ("spark.master", "sparkling"),
    ("spark.sql.catalogImplementation", "in-memory"),
    // Spark 4's default: division by zero and invalid casts fail.
    ("spark.sql.ansi.enabled", "true"),
    ("spark.sql.execution.arrow.pyspark.enabled", "true"),
    // What the PySpark client reads (createDataFrame, toPandas, error display),
    // with Spark 4.1's defaults.
    ("spark.sql.timestampType", "TIMESTAMP_LTZ"),
    ("spark.sql.session.localRelationCacheThreshold", "67108864"),
    ("spark.sql.session.localRelationChunkSizeRows", "10000"),
    ("spark.sql.session.localRelationChunkSizeBytes", "16777216"),
    (
        "spark.sql.session.localRelationBatchOfChunksSizeBytes",
        "134217728",
    ),
    (
        "spark.sql.execution.pandas.convertToArrowArraySafely",
        "false",
    ),
    ("spark.sql.execution.pandas.inferPandasDictAsMap", "false"),
    ("spark.sql.execution.pandas.structHandlingMode", "legacy"),
    ("spark.sql.pyspark.inferNestedDictAsStruct.enabled", "false"),
    (
        "spark.sql.pyspark.legacy.inferArrayTypeFromFirstElement.enabled",
        "false",
    ),
    (
        "spark.sql.pyspark.legacy.inferMapTypeFromFirstPair.enabled",
        "false",
    ),
    ("spark.sql.execution.arrow.useLargeVarTypes", "false"),
    (
        "spark.sql.execution.arrow.pyspark.selfDestruct.enabled",
        "false",
    ),
    ("spark.sql.execution.pyspark.binaryAsBytes", "true"),
    ("spark.sql.execution.pythonUDF.arrow.enabled", "false"),
    ("spark.sql.execution.pythonUDTF.arrow.enabled", "false"),
    ("spark.sql.pyspark.jvmStacktrace.enabled", "false"),
    ("spark.sql.connect.serverStacktrace.enabled", "false"),
    ("spark.sql.repl.eagerEval.enabled", "false"),
    ("spark.sql.repl.eagerEval.maxNumRows", "20"),
    ("spark.sql.repl.eagerEval.truncate", "20"),
    ("spark.sql.caseSensitive", "false"),
];

/// An operation (one `ExecutePlan` call) that can be interrupted.
#[derive(Debug)]
pub struct Operation {
    /// Tags the client attached.
    pub tags: Vec<String>,
    /// Set to true to interrupt.
    pub interrupt: watch::Sender<bool>,
    /// The scheduler's job id, once the operation submitted a job.
    pub job_id: Mutex<Option<String>>,
}

/// One client session.
pub struct Session {
    /// The client's session id.
    pub id: String,
    /// The server's id for this incarnation of the session (changes if the server
    /// restarts, so clients can tell).
    pub server_side_id: String,
    /// DataFusion context: configuration, functions, catalogs, temp views.
    pub ctx: Arc<SessionContext>,
    /// The Iceberg catalog behind `spark_catalog`, if configured.
    pub iceberg: Option<IcebergCatalog>,
    temp_views: Arc<MemorySchemaProvider>,
    /// Spark keys without a DataFusion counterpart, as set by the client.
    spark_conf: Mutex<BTreeMap<String, String>>,
    operations: DashMap<String, Arc<Operation>>,
}

impl Session {
    fn new(
        id: String,
        runtime: &Arc<RuntimeEnv>,
        shared: &Arc<MemoryCatalogProvider>,
        iceberg: Option<&IcebergCatalog>,
    ) -> Self {
        let temp_views = Arc::new(MemorySchemaProvider::new());
        let state = with_planning(functions::with_sparkling_functions(
            SessionStateBuilder::new()
                .with_config(base_config())
                .with_runtime_env(Arc::clone(runtime)),
        ))
        .with_session_id(id.clone())
        .build();
        // Files can be queried by path, as in `SELECT * FROM 'data/events.parquet'`.
        let ctx = SessionContext::new_with_state(state).enable_url_table();
        // Series that split over the executors instead of DataFusion's gateway-only ones.
        {
            use sparkling_connectors::range::RangeFunction;
            ctx.register_udtf("range", Arc::new(RangeFunction { inclusive: false }));
            ctx.register_udtf(
                "generate_series",
                Arc::new(RangeFunction { inclusive: true }),
            );
            ctx.register_udtf(
                "read_kafka",
                Arc::new(sparkling_connectors::kafka::ReadKafkaFunction),
            );
            ctx.register_udtf(
                "generate_events",
                Arc::new(sparkling_connectors::events::GenerateEventsFunction),
            );
            // What `STREAM(read_kafka(...))` and `STREAM(generate_events(...))` become.
            use sparkling_connectors::stream_source::{StreamEventsFunction, StreamKafkaFunction};
            ctx.register_udtf("sparkling_stream_kafka", Arc::new(StreamKafkaFunction));
            ctx.register_udtf("sparkling_stream_events", Arc::new(StreamEventsFunction));
        }
        if let Some(catalog) = iceberg {
            use sparkling_connectors::iceberg::metadata::{
                MetadataTableFunction, TimeTravelFunction,
            };
            ctx.register_udtf(
                "sparkling_metadata_table",
                Arc::new(MetadataTableFunction {
                    catalog: catalog.clone(),
                }),
            );
            ctx.register_udtf(
                "sparkling_table_as_of",
                Arc::new(TimeTravelFunction {
                    catalog: catalog.clone(),
                }),
            );
            // What `STREAM(ns.table)` becomes.
            ctx.register_udtf(
                sparkling_sql::stream_syntax::TABLE_FUNCTION,
                Arc::new(sparkling_connectors::stream_source::StreamTableFunction {
                    catalog: catalog.clone(),
                    default_namespace: DEFAULT_SCHEMA.to_string(),
                }),
            );
        }
        ctx.register_catalog(
            DEFAULT_CATALOG,
            Arc::new(SessionCatalog {
                shared: Arc::clone(shared),
                temp_views: Arc::clone(&temp_views),
                iceberg: iceberg.cloned(),
            }),
        );
        Self {
            id,
            server_side_id: uuid::Uuid::new_v4().to_string(),
            ctx: Arc::new(ctx),
            iceberg: iceberg.cloned(),
            temp_views,
            spark_conf: Mutex::new(BTreeMap::new()),
            operations: DashMap::new(),
        }
    }

    /// Registers (or replaces, if `replace`) a temporary view visible to this session only.
    pub fn register_temp_view(
        &self,
        name: &str,
        table: Arc<dyn TableProvider>,
        replace: bool,
    ) -> Result<(), EngineError> {
        if self.temp_views.table_exist(name) {
            if !replace {
                return Err(EngineError::InvalidInput(format!(
                    "temporary view '{name}' already exists"
                )));
            }
            // The schema provider refuses to register over an existing name.
            self.temp_views.deregister_table(name)?;
        }
        self.temp_views.register_table(name.to_string(), table)?;
        Ok(())
    }

    /// Registers (or replaces, if `replace`) a global temporary view: every session
    /// reads it as `global_temp.name` while the server runs.
    pub fn register_global_temp_view(
        &self,
        name: &str,
        table: Arc<dyn TableProvider>,
        replace: bool,
    ) -> Result<(), EngineError> {
        let views = self.global_temp_views()?;
        if views.table_exist(name) {
            if !replace {
                return Err(EngineError::InvalidInput(format!(
                    "[TEMP_TABLE_OR_VIEW_ALREADY_EXISTS] global temporary view \
                     '{GLOBAL_TEMP_SCHEMA}.{name}' already exists"
                )));
            }
            views.deregister_table(name)?;
        }
        views.register_table(name.to_string(), table)?;
        Ok(())
    }

    /// Drops a global temporary view; returns whether it existed.
    pub fn drop_global_temp_view(&self, name: &str) -> Result<bool, EngineError> {
        Ok(self.global_temp_views()?.deregister_table(name)?.is_some())
    }

    fn global_temp_views(&self) -> Result<Arc<dyn SchemaProvider>, EngineError> {
        self.ctx
            .catalog(DEFAULT_CATALOG)
            .and_then(|c| c.schema(GLOBAL_TEMP_SCHEMA))
            .ok_or_else(|| EngineError::InvalidInput(format!("no {GLOBAL_TEMP_SCHEMA} namespace")))
    }

    /// The names of the session's temporary views.
    pub fn temp_view_names(&self) -> Vec<String> {
        self.temp_views.table_names()
    }

    /// Drops a temporary view; returns whether it existed.
    pub fn drop_temp_view(&self, name: &str) -> Result<bool, EngineError> {
        Ok(self.temp_views.deregister_table(name)?.is_some())
    }

    /// Sets a configuration value (Spark or DataFusion/Ballista key).
    pub fn set_conf(&self, key: &str, value: &str) -> Result<(), EngineError> {
        crate::join_planning::check_setting(key, value).map_err(EngineError::InvalidInput)?;
        let df_key = datafusion_key(key);
        if let Some(df_key) = df_key {
            let state = self.ctx.state_ref();
            let mut state = state.write();
            state
                .config_mut()
                .options_mut()
                .set(df_key, value)
                .map_err(|e| EngineError::InvalidInput(format!("cannot set {key}={value}: {e}")))?;
        } else {
            self.spark_conf
                .lock()
                .insert(key.to_string(), value.to_string());
        }
        Ok(())
    }

    /// A configuration value, if set or defaulted.
    pub fn get_conf(&self, key: &str) -> Option<String> {
        let value = match datafusion_key(key) {
            Some(df_key) => self
                .ctx
                .state()
                .config()
                .options()
                .entries()
                .into_iter()
                .find(|e| e.key == df_key)
                .and_then(|e| e.value),
            None => self.spark_conf.lock().get(key).cloned(),
        };
        value.or_else(|| {
            SPARK_DEFAULTS
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        })
    }

    /// Resets a key to its default.
    pub fn unset_conf(&self, key: &str) -> Result<(), EngineError> {
        if let Some(df_key) = datafusion_key(key) {
            let default = base_config()
                .options()
                .entries()
                .into_iter()
                .find(|e| e.key == df_key)
                .and_then(|e| e.value);
            match default {
                Some(default) => self.set_conf(key, &default)?,
                // The time zone has no default value: unset, it is UTC again.
                None if df_key == "datafusion.execution.time_zone" => {
                    let state = self.ctx.state_ref();
                    let mut state = state.write();
                    state.config_mut().options_mut().execution.time_zone = None;
                }
                None => {}
            }
        } else {
            self.spark_conf.lock().remove(key);
        }
        Ok(())
    }

    /// Every configuration entry whose key starts with `prefix`.
    pub fn all_conf(&self, prefix: Option<&str>) -> Vec<(String, Option<String>)> {
        let mut all: BTreeMap<String, Option<String>> = SPARK_DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect();
        for (spark, _) in SPARK_TO_DATAFUSION {
            all.insert(spark.to_string(), self.get_conf(spark));
        }
        for (k, v) in self.spark_conf.lock().iter() {
            all.insert(k.clone(), Some(v.clone()));
        }
        for entry in self.ctx.state().config().options().entries() {
            all.insert(entry.key, entry.value);
        }
        all.into_iter()
            .filter(|(k, _)| prefix.is_none_or(|p| k.starts_with(p)))
            .collect()
    }

    /// Registers a running operation.
    pub fn start_operation(
        &self,
        id: &str,
        tags: Vec<String>,
    ) -> (Arc<Operation>, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        let op = Arc::new(Operation {
            tags,
            interrupt: tx,
            job_id: Mutex::new(None),
        });
        self.operations.insert(id.to_string(), Arc::clone(&op));
        (op, rx)
    }

    /// Forgets a finished operation.
    pub fn end_operation(&self, id: &str) {
        self.operations.remove(id);
    }

    /// Interrupts the operations `select` picks; returns their ids.
    pub fn interrupt(&self, select: impl Fn(&str, &Operation) -> bool) -> Vec<String> {
        let mut ids = Vec::new();
        for entry in self.operations.iter() {
            if select(entry.key(), entry.value()) {
                let _ = entry.value().interrupt.send(true);
                ids.push(entry.key().clone());
            }
        }
        ids
    }
}

fn datafusion_key(key: &str) -> Option<&str> {
    if key.starts_with("datafusion.") || key.starts_with("ballista.") {
        return Some(key);
    }
    SPARK_TO_DATAFUSION
        .iter()
        .find(|(spark, _)| *spark == key)
        .map(|(_, df)| *df)
}

/// All sessions of a gateway, and what they share: the catalogs and one runtime
/// environment (object store registry, memory pool, disk manager).
pub struct SessionManager {
    sessions: DashMap<String, Arc<Session>>,
    runtime: Arc<RuntimeEnv>,
    shared_catalog: Arc<MemoryCatalogProvider>,
    iceberg: Option<IcebergCatalog>,
}

impl SessionManager {
    /// Sessions over an in-memory `spark_catalog`, backed by `iceberg` if given.
    pub fn new(iceberg: Option<IcebergCatalog>) -> Result<Self, EngineError> {
        let runtime = sparkling_connectors::object_stores::runtime_env_builder().build_arc()?;
        let shared_catalog = Arc::new(MemoryCatalogProvider::new());
        shared_catalog.register_schema(DEFAULT_SCHEMA, Arc::new(MemorySchemaProvider::new()))?;
        shared_catalog
            .register_schema(GLOBAL_TEMP_SCHEMA, Arc::new(MemorySchemaProvider::new()))?;
        Ok(Self {
            sessions: DashMap::new(),
            runtime,
            shared_catalog,
            iceberg,
        })
    }

    /// The Iceberg catalog behind `spark_catalog`, if configured.
    pub fn iceberg(&self) -> Option<&IcebergCatalog> {
        self.iceberg.as_ref()
    }

    /// The session with this id, created on first use.
    pub fn get_or_create(&self, id: &str) -> Result<Arc<Session>, EngineError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(EngineError::InvalidInput(format!(
                "session id {id:?} is not a UUID (Spark Connect clients send a UUID)"
            )));
        }
        Ok(Arc::clone(
            self.sessions
                .entry(id.to_string())
                .or_insert_with(|| {
                    Arc::new(Session::new(
                        id.to_string(),
                        &self.runtime,
                        &self.shared_catalog,
                        self.iceberg.as_ref(),
                    ))
                })
                .value(),
        ))
    }

    /// A session of the server's own (a streaming query runs in one), not listed
    /// with the clients' sessions.
    pub fn detached(&self, id: &str) -> Arc<Session> {
        Arc::new(Session::new(
            id.to_string(),
            &self.runtime,
            &self.shared_catalog,
            self.iceberg.as_ref(),
        ))
    }

    /// Ends a session, interrupting its operations.
    pub fn release(&self, id: &str) -> bool {
        match self.sessions.remove(id) {
            Some((_, session)) => {
                session.interrupt(|_, _| true);
                true
            }
            None => false,
        }
    }

    /// Number of open sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// A session's view of `spark_catalog`: the shared in-memory namespaces over the
/// Iceberg catalog's namespaces, with the session's temporary views in front of
/// `default`.
#[derive(Debug)]
struct SessionCatalog {
    shared: Arc<MemoryCatalogProvider>,
    temp_views: Arc<MemorySchemaProvider>,
    iceberg: Option<IcebergCatalog>,
}

impl CatalogProvider for SessionCatalog {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema_names(&self) -> Vec<String> {
        let mut names = self.shared.schema_names();
        if let Some(iceberg) = &self.iceberg {
            match block_on(iceberg.namespaces()) {
                Ok(namespaces) => names.extend(namespaces),
                Err(e) => tracing::warn!("listing Iceberg namespaces: {e}"),
            }
        }
        // Global temporary views live in `global_temp`, which Spark does not list.
        names.retain(|n| n != GLOBAL_TEMP_SCHEMA);
        names.sort();
        names.dedup();
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        // Names are matched ignoring case, as in Spark: `Sales.Orders` finds the
        // namespace `sales` (looked for only when the name is not all lower case).
        let resolved;
        let name = if name.chars().any(char::is_uppercase) && self.shared.schema(name).is_none() {
            resolved = unique_match(name, self.schema_names()).unwrap_or_else(|| name.to_string());
            resolved.as_str()
        } else {
            name
        };
        let memory = self.shared.schema(name);
        // Any name may be an Iceberg namespace; looking a table up in one that does
        // not exist finds nothing.
        let iceberg = self.iceberg.as_ref().map(|c| c.schema(name));
        if memory.is_none() && iceberg.is_none() {
            return None;
        }
        Some(Arc::new(LayeredSchema {
            name: name.to_string(),
            temp_views: (name == DEFAULT_SCHEMA).then(|| Arc::clone(&self.temp_views)),
            shared: Arc::clone(&self.shared),
            memory,
            iceberg,
        }))
    }

    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> DFResult<Option<Arc<dyn SchemaProvider>>> {
        self.shared.register_schema(name, schema)
    }

    fn deregister_schema(
        &self,
        name: &str,
        cascade: bool,
    ) -> DFResult<Option<Arc<dyn SchemaProvider>>> {
        if name == DEFAULT_SCHEMA {
            return Err(DataFusionError::Plan(
                "the default namespace cannot be dropped".to_string(),
            ));
        }
        self.shared.deregister_schema(name, cascade)
    }
}

/// A namespace as a session sees it: temporary views first (in `default`), then the
/// shared in-memory tables and views, then the Iceberg tables. Tables and views
/// created with DDL go to the shared in-memory namespace.
#[derive(Debug)]
struct LayeredSchema {
    name: String,
    temp_views: Option<Arc<MemorySchemaProvider>>,
    shared: Arc<MemoryCatalogProvider>,
    memory: Option<Arc<dyn SchemaProvider>>,
    iceberg: Option<sparkling_connectors::iceberg::IcebergSchema>,
}

#[async_trait]
impl SchemaProvider for LayeredSchema {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn table_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(t) = &self.temp_views {
            names.extend(t.table_names());
        }
        if let Some(m) = &self.memory {
            names.extend(m.table_names());
        }
        if let Some(i) = &self.iceberg {
            names.extend(i.table_names());
        }
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        if let Some(table) = self.exact_table(name).await? {
            return Ok(Some(table));
        }
        // Names are matched ignoring case, as in Spark.
        match unique_match(name, self.table_names()) {
            Some(other) => self.exact_table(&other).await,
            None => Ok(None),
        }
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DFResult<Option<Arc<dyn TableProvider>>> {
        let memory = match &self.memory {
            Some(m) => Arc::clone(m),
            None => {
                let m: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
                self.shared.register_schema(&self.name, Arc::clone(&m))?;
                m
            }
        };
        memory.register_table(name, table)
    }

    fn deregister_table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        // `DROP VIEW myview` drops `MyView`, as the lookup would find it.
        let resolved = match self.exact_table_exist(name) {
            true => None,
            false => unique_match(name, self.table_names()),
        };
        let name = resolved.as_deref().unwrap_or(name);
        if let Some(t) = &self.temp_views
            && let Some(table) = t.deregister_table(name)?
        {
            return Ok(Some(table));
        }
        match &self.memory {
            Some(m) => m.deregister_table(name),
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.exact_table_exist(name) || unique_match(name, self.table_names()).is_some()
    }
}

impl LayeredSchema {
    async fn exact_table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = &self.temp_views
            && let Some(table) = t.table(name).await?
        {
            return Ok(Some(table));
        }
        if let Some(m) = &self.memory
            && let Some(table) = m.table(name).await?
        {
            return Ok(Some(table));
        }
        match &self.iceberg {
            Some(i) => i.table(name).await,
            None => Ok(None),
        }
    }

    fn exact_table_exist(&self, name: &str) -> bool {
        self.temp_views
            .as_ref()
            .is_some_and(|t| t.table_exist(name))
            || self.memory.as_ref().is_some_and(|m| m.table_exist(name))
            || self.iceberg.as_ref().is_some_and(|i| i.table_exist(name))
    }
}

/// The one name among `names` equal to `name` ignoring case, if `name` itself is not
/// among them and exactly one is.
fn unique_match(name: &str, names: Vec<String>) -> Option<String> {
    if names.iter().any(|n| n == name) {
        return None;
    }
    let mut matches = names.into_iter().filter(|n| n.eq_ignore_ascii_case(name));
    match (matches.next(), matches.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}
