//! Runs lakehouse DDL against the Iceberg REST catalog. A statement travels through
//! the engine as a `LakehouseCommand` logical node (so it is a command like any
//! other: analysed without effect, run once); `CREATE TABLE ... AS SELECT` creates the
//! table, then runs the query as one distributed insert, and drops the table again if
//! the insert fails.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::Schema as ArrowSchema;
use datafusion::common::TableReference;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{DdlStatement, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use iceberg::spec::SortOrder;
use iceberg::table::Table;
use iceberg::transaction::AddColumn;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, ErrorKind, NamespaceIdent, TableCreation, TableIdent};
use sparkling_connectors::iceberg::schema::{PartitionTerm, iceberg_schema, partition_spec};
use sparkling_connectors::iceberg::{IcebergCatalog, IcebergTable};
use tokio::sync::watch;

use crate::error::{LakehouseError, Result};
use sparkling_engine::cluster::Cluster;
use sparkling_engine::command::{LakehouseCommand, show_namespaces_schema};
use sparkling_engine::session::{DEFAULT_CATALOG, Operation, Session};
use sparkling_engine::statement::{plan_sql, plan_sql_in};
use sparkling_sql::ddl::{CreateTable, Statement};
use sparkling_sql::names::{namespace_name, table_name_parts};

fn catalog_error(e: iceberg::Error) -> LakehouseError {
    match e.kind() {
        ErrorKind::NamespaceNotFound
        | ErrorKind::TableNotFound
        | ErrorKind::NamespaceAlreadyExists
        | ErrorKind::TableAlreadyExists
        | ErrorKind::DataInvalid
        | ErrorKind::FeatureUnsupported => LakehouseError::InvalidInput(e.to_string()),
        _ => LakehouseError::Internal(format!("Iceberg catalog: {e}")),
    }
}

fn empty() -> SendableRecordBatchStream {
    Box::pin(RecordBatchStreamAdapter::new(
        Arc::new(ArrowSchema::empty()),
        futures::stream::empty(),
    ))
}

/// Runs a lakehouse command; `Ok(None)` if it is about something that is not an
/// Iceberg table (e.g. `DROP TABLE` of a view), which DataFusion then handles.
pub async fn run(
    command: &LakehouseCommand,
    cluster: &Cluster,
    session: &Session,
    operation: &Arc<Operation>,
    interrupted: watch::Receiver<bool>,
) -> Result<Option<SendableRecordBatchStream>> {
    let Some(catalog) = session.iceberg.as_ref() else {
        return Err(LakehouseError::Unsupported(format!(
            "{}: this cluster has no Iceberg catalog (start the scheduler with --catalog)",
            command.sql
        )));
    };
    let client = catalog.client();
    match &command.statement {
        Statement::CreateNamespace {
            name,
            if_not_exists,
            properties,
        } => {
            let ns = NamespaceIdent::new(namespace_name(name)?);
            if *if_not_exists && client.namespace_exists(&ns).await.map_err(catalog_error)? {
                return Ok(Some(empty()));
            }
            let properties: HashMap<_, _> = properties.clone().into_iter().collect();
            client
                .create_namespace(&ns, properties)
                .await
                .map_err(catalog_error)?;
        }
        Statement::DropNamespace {
            name,
            if_exists,
            cascade,
        } => {
            let ns = NamespaceIdent::new(namespace_name(name)?);
            if !client.namespace_exists(&ns).await.map_err(catalog_error)? {
                if *if_exists {
                    return Ok(Some(empty()));
                }
                return Err(LakehouseError::InvalidInput(format!(
                    "namespace {} does not exist",
                    ns.join(".")
                )));
            }
            let tables = client.list_tables(&ns).await.map_err(catalog_error)?;
            if !tables.is_empty() && !cascade {
                return Err(LakehouseError::InvalidInput(format!(
                    "namespace {} is not empty ({} tables); use DROP NAMESPACE ... CASCADE",
                    ns.join("."),
                    tables.len()
                )));
            }
            for table in tables {
                client.drop_table(&table).await.map_err(catalog_error)?;
            }
            client.drop_namespace(&ns).await.map_err(catalog_error)?;
        }
        Statement::ShowNamespaces => {
            let mut names = catalog.namespaces().await?;
            for name in session
                .ctx
                .catalog(DEFAULT_CATALOG)
                .map_or(vec![], |c| c.schema_names())
            {
                if name != "information_schema" && !names.contains(&name) {
                    names.push(name);
                }
            }
            names.sort();
            let batch = RecordBatch::try_new(
                show_namespaces_schema(),
                vec![Arc::new(StringArray::from(names))],
            )
            .map_err(|e| LakehouseError::Internal(e.to_string()))?;
            return Ok(Some(Box::pin(RecordBatchStreamAdapter::new(
                show_namespaces_schema(),
                futures::stream::iter([Ok(batch)]),
            ))));
        }
        Statement::CreateTable(create) => {
            return create_table(create, catalog, cluster, session, operation, interrupted)
                .await
                .map(Some);
        }
        Statement::DropTable {
            name,
            if_exists: _,
            purge,
        } => {
            let (ns, table) = table_name_parts(name)?;
            if catalog.load(&ns, &table).await?.is_none() {
                // Not an Iceberg table: a view or in-memory table, or nothing.
                return Ok(None);
            }
            let ident = TableIdent::new(NamespaceIdent::new(ns), table);
            if *purge {
                client.purge_table(&ident).await
            } else {
                client.drop_table(&ident).await
            }
            .map_err(catalog_error)?;
        }
        Statement::CreateStreamingTable { .. }
        | Statement::InsertStream { .. }
        | Statement::ShowStreams => {
            return Err(LakehouseError::Internal(
                "streaming statements are run by the streaming manager".into(),
            ));
        }
        Statement::CreateMaterializedView { table, .. } => {
            return Err(LakehouseError::Unsupported(format!(
                "CREATE MATERIALIZED VIEW {} defines a dataset of a pipeline, which refreshes \
                 it on each update: put it in a pipeline's SQL and submit the pipeline \
                 (`sparkling submit spark-pipeline.yml`); for a one-off table use CREATE \
                 TABLE ... AS SELECT",
                table.name.join(".")
            )));
        }
        Statement::AddColumns { table, columns } => {
            let (ns, name) = table_name_parts(table)?;
            let Some(table) = catalog.load(&ns, &name).await? else {
                return Err(LakehouseError::InvalidInput(format!(
                    "table {ns}.{name} does not exist"
                )));
            };
            let added = column_schema(session, columns).await?;
            let added = iceberg_schema(&added)?;
            let tx = Transaction::new(&table);
            let mut action = tx.update_schema();
            for field in added.as_struct().fields() {
                if field.required {
                    return Err(LakehouseError::InvalidInput(format!(
                        "cannot add NOT NULL column {} to a table that has rows",
                        field.name
                    )));
                }
                action = action.add_column(AddColumn::optional(
                    field.name.clone(),
                    field.field_type.as_ref().clone(),
                ));
            }
            let tx = action.apply(tx).map_err(catalog_error)?;
            tx.commit(client).await.map_err(catalog_error)?;
        }
    }
    Ok(Some(empty()))
}

/// The Arrow schema of SQL column definitions (`a INT NOT NULL, b STRING`).
async fn column_schema(session: &Session, columns: &str) -> Result<ArrowSchema> {
    let sql = format!("CREATE TABLE sparkling_columns ({columns})");
    match plan_sql_in(&session.ctx.state(), false, &sql).await? {
        LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) => {
            Ok(create.input.schema().as_arrow().clone())
        }
        _ => Err(LakehouseError::InvalidInput(format!(
            "invalid column definitions: {columns}"
        ))),
    }
}

async fn create_table(
    create: &CreateTable,
    catalog: &IcebergCatalog,
    cluster: &Cluster,
    session: &Session,
    operation: &Arc<Operation>,
    interrupted: watch::Receiver<bool>,
) -> Result<SendableRecordBatchStream> {
    // Iceberg tables keep their rows in Parquet files, so a managed `USING parquet`
    // table (Spark's default) is one too, as `saveAsTable` makes; over files at a
    // LOCATION it is an external table.
    if let Some(using) = &create.using
        && !using.eq_ignore_ascii_case("iceberg")
        && !(using.eq_ignore_ascii_case("parquet") && create.location.is_none())
    {
        return Err(LakehouseError::Unsupported(format!(
            "CREATE TABLE ... USING {using}: tables in {DEFAULT_CATALOG} are Iceberg tables \
             (use CREATE EXTERNAL TABLE for files)"
        )));
    }
    if create.or_replace {
        return Err(LakehouseError::Unsupported(
            "CREATE OR REPLACE TABLE is not supported for Iceberg tables yet; drop the table first"
                .to_string(),
        ));
    }
    let (ns, name) = table_name_parts(&create.name)?;
    require_namespace(catalog, &ns).await?;
    if catalog.load(&ns, &name).await?.is_some() {
        if create.if_not_exists {
            return Ok(empty());
        }
        return Err(LakehouseError::InvalidInput(format!(
            "table {ns}.{name} already exists"
        )));
    }
    let query = match &create.query {
        Some(query) => {
            if create.columns.is_some() {
                return Err(LakehouseError::InvalidInput(
                    "CREATE TABLE ... AS SELECT takes its columns from the query; do not list them"
                        .to_string(),
                ));
            }
            let plan = plan_sql(session, query).await?;
            if sparkling_engine::statement::is_command(&plan) {
                return Err(LakehouseError::InvalidInput(format!(
                    "CREATE TABLE ... AS expects a query, got: {query}"
                )));
            }
            Some(plan)
        }
        None => None,
    };
    let arrow = match (&query, &create.columns) {
        (Some(plan), _) => plan.schema().as_arrow().clone(),
        (None, Some(columns)) => column_schema(session, columns).await?,
        (None, None) => {
            return Err(LakehouseError::InvalidInput(format!(
                "CREATE TABLE {ns}.{name} needs columns or AS SELECT"
            )));
        }
    };
    let definition = TableDefinition {
        namespace: ns,
        name,
        schema: arrow,
        partitioned_by: create.partitioned_by.clone(),
        properties: create.properties.clone().into_iter().collect(),
        location: create.location.clone(),
    };
    let table = definition.create(catalog).await?;
    match query {
        Some(query) => {
            fill_new_table(
                catalog,
                &definition,
                table,
                query,
                cluster,
                session,
                operation,
                interrupted,
            )
            .await?;
            Ok(empty())
        }
        None => Ok(empty()),
    }
}

/// Fails clearly unless namespace `ns` exists (tables are created in existing
/// namespaces, as in Spark).
pub async fn require_namespace(catalog: &IcebergCatalog, ns: &str) -> Result<()> {
    if catalog
        .client()
        .namespace_exists(&NamespaceIdent::new(ns.to_string()))
        .await
        .map_err(catalog_error)?
    {
        return Ok(());
    }
    Err(LakehouseError::InvalidInput(format!(
        "namespace {ns} does not exist (create it with CREATE NAMESPACE {ns})"
    )))
}

/// A table to create.
pub struct TableDefinition {
    /// Namespace.
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// Columns, in the engine's types.
    pub schema: ArrowSchema,
    /// `PARTITIONED BY` terms.
    pub partitioned_by: Vec<PartitionTerm>,
    /// Table properties (`format-version` picks the format version; the catalog
    /// applies it).
    pub properties: HashMap<String, String>,
    /// Explicit location.
    pub location: Option<String>,
}

impl TableDefinition {
    /// Creates the table in the catalog.
    pub async fn create(&self, catalog: &IcebergCatalog) -> Result<Table> {
        let schema = iceberg_schema(&self.schema)?;
        let spec = partition_spec(&schema, &self.partitioned_by)?;
        let creation = TableCreation::builder()
            .name(self.name.clone())
            .location_opt(self.location.clone())
            .schema(schema)
            .partition_spec(spec)
            .sort_order(SortOrder::unsorted_order())
            // `format-version` stays a property: REST catalogs read it from there (the
            // REST client does not send TableCreation's own format version).
            .properties(self.properties.clone())
            .build();
        catalog
            .client()
            .create_table(&NamespaceIdent::new(self.namespace.clone()), creation)
            .await
            .map_err(catalog_error)
    }

    fn ident(&self) -> TableIdent {
        TableIdent::new(
            NamespaceIdent::new(self.namespace.clone()),
            self.name.clone(),
        )
    }
}

/// Fills a table just created with the rows of `query` as one insert; if that fails,
/// the table goes away again (a CTAS leaves a whole table or none).
#[allow(clippy::too_many_arguments)]
async fn fill_new_table(
    catalog: &IcebergCatalog,
    definition: &TableDefinition,
    table: Table,
    query: LogicalPlan,
    cluster: &Cluster,
    session: &Session,
    operation: &Arc<Operation>,
    interrupted: watch::Receiver<bool>,
) -> Result<()> {
    let result = append(
        catalog,
        table,
        &definition.namespace,
        &definition.name,
        query,
        cluster,
        session,
        operation,
        interrupted,
    )
    .await;
    if let Err(e) = result {
        let ident = definition.ident();
        if let Err(drop_error) = catalog.client().purge_table(&ident).await {
            tracing::warn!("dropping {ident} after its CTAS failed: {drop_error}");
        }
        return Err(e);
    }
    Ok(())
}

/// What a DataFrame write does when its table exists (Spark's save modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Fail (`writeTo().create()`, `saveAsTable` with mode `error`, the default).
    Fail,
    /// Do nothing (mode `ignore`).
    Ignore,
    /// Append the rows.
    Append,
    /// Replace all of its rows (one overwrite snapshot; the table keeps its schema).
    Overwrite,
}

/// What a DataFrame write does when its table does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    /// Create it with the DataFrame's schema and fill it (`saveAsTable`, `create()`).
    Create,
    /// Fail (`writeTo().append()`, `insertInto`).
    Fail,
}

/// A DataFrame write into an Iceberg table: Spark Connect's `WriteOperationV2`
/// (`df.writeTo(t).create()/append()`) and `WriteOperation` (`df.write.saveAsTable`,
/// `insertInto`).
pub struct TableWrite {
    /// The table, `[catalog.]namespace.name`.
    pub table_name: String,
    /// When the table exists.
    pub if_exists: IfExists,
    /// When it does not.
    pub if_missing: IfMissing,
    /// Columns are matched by position (`insertInto`), not by name.
    pub by_position: bool,
    /// `PARTITIONED BY` terms of a table it creates.
    pub partitioned_by: Vec<PartitionTerm>,
    /// Properties of a table it creates.
    pub properties: HashMap<String, String>,
}

/// Runs `write` with the rows of `input` as one distributed insert (one snapshot).
pub async fn write_table(
    cluster: &Cluster,
    session: &Session,
    input: LogicalPlan,
    write: TableWrite,
    operation: &Arc<Operation>,
    interrupted: watch::Receiver<bool>,
) -> Result<()> {
    let Some(catalog) = session.iceberg.as_ref() else {
        return Err(LakehouseError::Unsupported(
            "writing tables needs an Iceberg catalog (start the scheduler with --catalog)".into(),
        ));
    };
    let parts = sparkling_sql::names::parse_table_name(&write.table_name);
    let (namespace, name) = table_name_parts(&parts)?;
    let Some(table) = catalog.load(&namespace, &name).await? else {
        if write.if_missing == IfMissing::Fail {
            return Err(LakehouseError::InvalidInput(format!(
                "[TABLE_OR_VIEW_NOT_FOUND] table {namespace}.{name} does not exist"
            )));
        }
        require_namespace(catalog, &namespace).await?;
        let definition = TableDefinition {
            namespace,
            name,
            schema: input.schema().as_arrow().clone(),
            partitioned_by: write.partitioned_by,
            properties: write.properties,
            location: None,
        };
        let table = definition.create(catalog).await?;
        return fill_new_table(
            catalog,
            &definition,
            table,
            input,
            cluster,
            session,
            operation,
            interrupted,
        )
        .await;
    };
    let op = match write.if_exists {
        IfExists::Fail => {
            return Err(LakehouseError::InvalidInput(format!(
                "[TABLE_OR_VIEW_ALREADY_EXISTS] table {namespace}.{name} already exists"
            )));
        }
        IfExists::Ignore => return Ok(()),
        IfExists::Append => InsertOp::Append,
        IfExists::Overwrite => InsertOp::Overwrite,
    };
    let input = if write.by_position {
        by_position(input, &table)?
    } else {
        input
    };
    insert_rows(
        catalog,
        table,
        &namespace,
        &name,
        input,
        op,
        cluster,
        session,
        operation,
        interrupted,
    )
    .await
}

/// `input`'s columns renamed to the table's, position by position (`insertInto`).
fn by_position(input: LogicalPlan, table: &Table) -> Result<LogicalPlan> {
    let target = iceberg::arrow::schema_to_arrow_schema(table.metadata().current_schema())
        .map_err(catalog_error)?;
    let columns = input.schema().columns();
    if columns.len() != target.fields().len() {
        return Err(LakehouseError::InvalidInput(format!(
            "[INSERT_COLUMN_ARITY_MISMATCH] cannot write {} columns into {} ({} columns)",
            columns.len(),
            table.identifier(),
            target.fields().len()
        )));
    }
    let exprs = columns
        .into_iter()
        .zip(target.fields())
        .map(|(c, f)| datafusion::logical_expr::Expr::Column(c).alias(f.name()));
    Ok(LogicalPlanBuilder::from(input).project(exprs)?.build()?)
}

/// Appends the rows of `query` to `table` as one distributed insert.
#[allow(clippy::too_many_arguments)]
async fn append(
    catalog: &IcebergCatalog,
    table: Table,
    namespace: &str,
    name: &str,
    query: LogicalPlan,
    cluster: &Cluster,
    session: &Session,
    operation: &Arc<Operation>,
    interrupted: watch::Receiver<bool>,
) -> Result<()> {
    insert_rows(
        catalog,
        table,
        namespace,
        name,
        query,
        InsertOp::Append,
        cluster,
        session,
        operation,
        interrupted,
    )
    .await
}

/// Appends the rows of `query` to `table`, or replaces its rows with them
/// (`InsertOp::Overwrite`), as one distributed insert.
#[allow(clippy::too_many_arguments)]
async fn insert_rows(
    catalog: &IcebergCatalog,
    table: Table,
    namespace: &str,
    name: &str,
    query: LogicalPlan,
    op: InsertOp,
    cluster: &Cluster,
    session: &Session,
    operation: &Arc<Operation>,
    interrupted: watch::Receiver<bool>,
) -> Result<()> {
    let target = IcebergTable::new(table, None)?;
    let insert = LogicalPlanBuilder::insert_into(
        query,
        TableReference::full(DEFAULT_CATALOG, namespace, name),
        provider_as_source(Arc::new(target.clone())),
        op,
    )?
    .build()?;
    crate::insert(
        cluster,
        session,
        catalog,
        insert,
        target,
        operation,
        interrupted,
    )
    .await?;
    Ok(())
}
