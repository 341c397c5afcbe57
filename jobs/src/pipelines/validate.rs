//! Checks a whole pipeline before its update writes anything: every dataset's query
//! plans (against the planned columns of the datasets it reads, which may not exist
//! as tables yet), every table it reads outside the pipeline exists, streaming
//! tables read exactly one stream, and expectations plan over the dataset's columns.
//! A mistake in the last dataset thus fails the update before the first one runs.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProviderList, SchemaProvider,
    TableFunctionImpl, TableProvider,
};
use datafusion::common::{DFSchema, Result as DfResult};
use datafusion::datasource::empty::EmptyTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use sparkling_connectors::iceberg::IcebergCatalog;
use sparkling_connectors::stream_source::{
    StreamSource, StreamSourceTable, StreamTableFunction, stream_table_name,
};

use super::graph::{DatasetKind, PipelineGraph};
use crate::error::{JobsError, Result};
use sparkling_engine::session::{DEFAULT_CATALOG, DEFAULT_SCHEMA, Session};
use sparkling_engine::statement::plan_sql_in;
use sparkling_lakehouse::streaming::TableName;
use sparkling_sql::stream_syntax::TABLE_FUNCTION;

/// The columns each dataset will have.
pub type PlannedSchemas = HashMap<TableName, SchemaRef>;

/// Checks `graph` (see the module doc); returns each dataset's columns.
pub async fn validate(
    session: &Session,
    catalog: &IcebergCatalog,
    graph: &PipelineGraph,
) -> Result<PlannedSchemas> {
    // Tables read from outside the pipeline must exist.
    for dataset in &graph.datasets {
        for input in &dataset.inputs {
            if graph.dataset(&input.table).is_some() {
                continue;
            }
            if catalog
                .load(&input.table.namespace, &input.table.name)
                .await?
                .is_none()
            {
                return Err(JobsError::InvalidInput(format!(
                    "{}: dataset {} reads {}, which is neither a dataset of this pipeline nor \
                     an existing table",
                    dataset.defined_at, dataset.name, input.table
                )));
            }
        }
    }
    let planned: Arc<parking_lot::RwLock<PlannedSchemas>> = Arc::default();
    let ctx = scratch_context(session, catalog, &planned)?;
    let state = ctx.state();
    for dataset in &graph.datasets {
        let fail = |e: JobsError| {
            JobsError::InvalidInput(format!(
                "{}: dataset {} does not plan: {e}",
                dataset.defined_at, dataset.name
            ))
        };
        let plan = plan_sql_in(&state, true, &dataset.query)
            .await
            .map_err(|e| fail(e.into()))?;
        if sparkling_engine::statement::is_command(&plan) {
            return Err(fail(JobsError::InvalidInput(
                "the query after AS must be a SELECT".to_string(),
            )));
        }
        if dataset.kind == DatasetKind::StreamingTable {
            sparkling_lakehouse::streaming::batch::stream_source(&plan)
                .map_err(|e| fail(e.into()))?;
        }
        for expectation in &dataset.expectations {
            state
                .create_logical_expr(&expectation.condition, plan.schema())
                .map_err(|e| {
                    JobsError::InvalidInput(format!(
                        "{}: expectation {} of {} ({}) does not plan: {}",
                        dataset.defined_at,
                        expectation.name,
                        dataset.name,
                        expectation.condition,
                        e.strip_backtrace()
                    ))
                })?;
        }
        let schema = Arc::new(plan.schema().as_arrow().clone());
        planned.write().insert(dataset.name.clone(), schema);
    }
    let schemas = planned.read().clone();
    Ok(schemas)
}

/// A context like `session`'s in which the datasets planned so far exist with their
/// planned columns (empty), both as tables and as `STREAM(...)` sources.
fn scratch_context(
    session: &Session,
    catalog: &IcebergCatalog,
    planned: &Arc<parking_lot::RwLock<PlannedSchemas>>,
) -> Result<SessionContext> {
    let state = session.ctx.state();
    let catalogs = MemoryCatalogProviderList::new();
    for name in state.catalog_list().catalog_names() {
        if let Some(existing) = state.catalog_list().catalog(&name) {
            let provider: Arc<dyn CatalogProvider> = if name == DEFAULT_CATALOG {
                Arc::new(OverlayCatalog {
                    inner: existing,
                    planned: Arc::clone(planned),
                })
            } else {
                existing
            };
            catalogs.register_catalog(name, provider);
        }
    }
    let state = SessionStateBuilder::new_from_existing(state)
        .with_catalog_list(Arc::new(catalogs))
        .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_udtf(
        TABLE_FUNCTION,
        Arc::new(OverlayStreamTable {
            planned: Arc::clone(planned),
            real: StreamTableFunction {
                catalog: catalog.clone(),
                default_namespace: DEFAULT_SCHEMA.to_string(),
            },
        }),
    );
    Ok(ctx)
}

#[derive(Debug)]
struct OverlayCatalog {
    inner: Arc<dyn CatalogProvider>,
    planned: Arc<parking_lot::RwLock<PlannedSchemas>>,
}

impl CatalogProvider for OverlayCatalog {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema_names(&self) -> Vec<String> {
        let mut names = self.inner.schema_names();
        for table in self.planned.read().keys() {
            if !names.contains(&table.namespace) {
                names.push(table.namespace.clone());
            }
        }
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        Some(Arc::new(OverlaySchema {
            inner: self.inner.schema(name),
            namespace: name.to_lowercase(),
            planned: Arc::clone(&self.planned),
        }))
    }
}

#[derive(Debug)]
struct OverlaySchema {
    inner: Option<Arc<dyn SchemaProvider>>,
    namespace: String,
    planned: Arc<parking_lot::RwLock<PlannedSchemas>>,
}

impl OverlaySchema {
    fn planned(&self, name: &str) -> Option<SchemaRef> {
        self.planned
            .read()
            .get(&TableName {
                namespace: self.namespace.clone(),
                name: name.to_lowercase(),
            })
            .cloned()
    }
}

#[async_trait]
impl SchemaProvider for OverlaySchema {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn table_names(&self) -> Vec<String> {
        let mut names = self
            .inner
            .as_ref()
            .map(|s| s.table_names())
            .unwrap_or_default();
        for table in self.planned.read().keys() {
            if table.namespace == self.namespace && !names.contains(&table.name) {
                names.push(table.name.clone());
            }
        }
        names
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if let Some(schema) = self.planned(name) {
            return Ok(Some(Arc::new(EmptyTable::new(schema))));
        }
        match &self.inner {
            Some(inner) => inner.table(name).await,
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.planned(name).is_some() || self.inner.as_ref().is_some_and(|s| s.table_exist(name))
    }
}

/// `STREAM(table)` over a dataset planned earlier in the update.
#[derive(Debug)]
struct OverlayStreamTable {
    planned: Arc<parking_lot::RwLock<PlannedSchemas>>,
    real: StreamTableFunction,
}

impl TableFunctionImpl for OverlayStreamTable {
    fn call(&self, args: &[Expr]) -> DfResult<Arc<dyn TableProvider>> {
        let name = stream_table_name(args)?;
        let (namespace, table) = sparkling_sql::names::split_table_name(&name, DEFAULT_SCHEMA);
        let table = TableName {
            namespace: namespace.to_lowercase(),
            name: table.to_lowercase(),
        };
        if let Some(schema) = self.planned.read().get(&table).cloned() {
            return Ok(Arc::new(StreamSourceTable {
                source: StreamSource::Table {
                    namespace: table.namespace,
                    name: table.name,
                    schema,
                },
            }));
        }
        self.real.call(args)
    }
}

/// Whether `table` has the columns (names and types) of `schema`.
pub fn same_columns(table: &SchemaRef, schema: &DFSchema) -> bool {
    let planned = schema.as_arrow();
    table.fields().len() == planned.fields().len()
        && table
            .fields()
            .iter()
            .zip(planned.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type())
}
