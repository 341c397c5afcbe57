//! `spark.catalog` (PySpark's `Catalog` API, the protocol's `Catalog` relation): the
//! session's namespaces, tables, views, columns and functions as small relations in
//! the shapes PySpark reads (`listTables()` rows are `name, catalog, namespace,
//! description, tableType, isTemporary`), from the session's DataFusion catalog
//! (`spark_catalog`: the Iceberg namespaces, shared views and the session's temporary
//! views). Changes (`setCurrentDatabase`, `dropTempView`) go through the session.
//!
//! There is no data cache to manage: `cacheTable`, `uncacheTable`, `clearCache` and
//! `refreshTable` check their table and change nothing (every read lists the table's
//! current snapshot), and `isCached` is false.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, ListBuilder, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, TableProvider};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, TableType};
use sparkling_proto::spark::catalog::CatType;

use crate::context::PlanContext;
use crate::error::SparkError;
use crate::names::split_identifier;

/// The one catalog of a session.
pub const CATALOG: &str = "spark_catalog";

/// What a `Catalog` relation turns into.
type Outcome<C> = Result<LogicalPlan, <C as PlanContext>::Error>;

/// The namespace every session starts in.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The plan of one `spark.catalog` call.
pub async fn plan<C: PlanContext>(ctx: &C, cat: CatType) -> Outcome<C> {
    let state = ctx.state();
    let current = state.config().options().catalog.default_schema.clone();
    match cat {
        CatType::CurrentDatabase(_) => Ok(strings("currentDatabase", vec![current])?),
        CatType::CurrentCatalog(_) => Ok(strings("currentCatalog", vec![CATALOG.into()])?),
        CatType::ListCatalogs(l) => {
            let matches = pattern_matches(l.pattern.as_deref(), CATALOG);
            let names: Vec<Option<&str>> = if matches { vec![Some(CATALOG)] } else { vec![] };
            let n = names.len();
            Ok(rows(vec![
                ("name", string_column(names)),
                ("description", string_column(vec![None::<String>; n])),
            ])?)
        }
        CatType::SetCurrentCatalog(s) => {
            if !s.catalog_name.eq_ignore_ascii_case(CATALOG) {
                return Err(not_found("CATALOG_NOT_FOUND", &s.catalog_name).into());
            }
            Ok(empty()?)
        }
        CatType::SetCurrentDatabase(s) => {
            let namespace = namespace_of(&state, &s.db_name)
                .ok_or_else(|| not_found("SCHEMA_NOT_FOUND", &s.db_name))?;
            let set = ctx
                .sql(&format!(
                    "SET datafusion.catalog.default_schema = '{}'",
                    namespace.replace('\'', "''")
                ))
                .await?;
            ctx.collect(set).await?;
            Ok(empty()?)
        }
        CatType::ListDatabases(l) => {
            let names: Vec<String> = namespaces(&state)
                .into_iter()
                .filter(|n| pattern_matches(l.pattern.as_deref(), n))
                .collect();
            Ok(databases(names)?)
        }
        CatType::GetDatabase(g) => {
            let name = namespace_of(&state, &g.db_name)
                .ok_or_else(|| not_found("SCHEMA_NOT_FOUND", &g.db_name))?;
            Ok(databases(vec![name])?)
        }
        CatType::DatabaseExists(d) => Ok(boolean(namespace_of(&state, &d.db_name).is_some())?),
        CatType::ListTables(l) => {
            let namespace = match &l.db_name {
                Some(db) => {
                    namespace_of(&state, db).ok_or_else(|| not_found("SCHEMA_NOT_FOUND", db))?
                }
                None => current,
            };
            let temp = ctx.temp_views();
            let mut listed = Vec::new();
            for name in table_names(&state, &namespace) {
                if !pattern_matches(l.pattern.as_deref(), &name) {
                    continue;
                }
                let temporary = temp.contains(&name);
                let table = table(&state, &namespace, &name).await;
                listed.push(Listed::new(&namespace, name, temporary, table.as_deref()));
            }
            // Temporary views are listed with every namespace, as in Spark.
            for name in temp {
                if pattern_matches(l.pattern.as_deref(), &name)
                    && !listed.iter().any(|t| t.name == name)
                {
                    listed.push(Listed::new(&namespace, name, true, None));
                }
            }
            listed.sort_by(|a, b| (a.temporary, &a.name).cmp(&(b.temporary, &b.name)));
            Ok(tables(listed)?)
        }
        CatType::GetTable(g) => {
            let (namespace, name) = qualified(&current, &g.table_name, g.db_name.as_deref());
            let temporary = g.db_name.is_none() && ctx.temp_views().contains(&name);
            let Some(found) = table(&state, &namespace, &name).await else {
                return Err(not_found("TABLE_OR_VIEW_NOT_FOUND", &g.table_name).into());
            };
            Ok(tables(vec![Listed::new(
                &namespace,
                name,
                temporary,
                Some(found.as_ref()),
            )])?)
        }
        CatType::TableExists(t) => {
            let (namespace, name) = qualified(&current, &t.table_name, t.db_name.as_deref());
            Ok(boolean(table(&state, &namespace, &name).await.is_some())?)
        }
        CatType::ListColumns(l) => {
            let (namespace, name) = qualified(&current, &l.table_name, l.db_name.as_deref());
            let Some(found) = table(&state, &namespace, &name).await else {
                return Err(not_found("TABLE_OR_VIEW_NOT_FOUND", &l.table_name).into());
            };
            Ok(columns(&found.schema())?)
        }
        CatType::FunctionExists(f) => Ok(boolean(function_exists(&state, &f.function_name))?),
        CatType::ListFunctions(l) => {
            let mut names: Vec<String> = state
                .scalar_functions()
                .keys()
                .chain(state.aggregate_functions().keys())
                .chain(state.window_functions().keys())
                .filter(|n| !n.starts_with("spark_") && pattern_matches(l.pattern.as_deref(), n))
                .cloned()
                .collect();
            names.sort();
            names.dedup();
            Ok(functions(names)?)
        }
        CatType::GetFunction(f) => {
            if !function_exists(&state, &f.function_name) {
                return Err(not_found("UNRESOLVED_ROUTINE", &f.function_name).into());
            }
            Ok(functions(vec![f.function_name.to_ascii_lowercase()])?)
        }
        CatType::DropTempView(d) => Ok(boolean(ctx.drop_temp_view(&d.view_name).await?)?),
        CatType::DropGlobalTempView(d) => {
            Ok(boolean(ctx.drop_global_temp_view(&d.view_name).await?)?)
        }
        CatType::IsCached(c) => {
            existing(&state, &current, &c.table_name).await?;
            Ok(boolean(false)?)
        }
        CatType::CacheTable(c) => {
            existing(&state, &current, &c.table_name).await?;
            Ok(empty()?)
        }
        CatType::UncacheTable(c) => {
            existing(&state, &current, &c.table_name).await?;
            Ok(empty()?)
        }
        CatType::RefreshTable(c) => {
            existing(&state, &current, &c.table_name).await?;
            Ok(empty()?)
        }
        CatType::ClearCache(_) | CatType::RefreshByPath(_) => Ok(empty()?),
        other => Err(SparkError::unsupported(format!(
            "[UNSUPPORTED_FEATURE] spark.catalog.{} is not supported.",
            crate::names::variant_name(&other)
        ))
        .into()),
    }
}

fn not_found(class: &str, name: &str) -> SparkError {
    let what = match class {
        "SCHEMA_NOT_FOUND" => "schema",
        "CATALOG_NOT_FOUND" => "catalog",
        "UNRESOLVED_ROUTINE" => "routine",
        _ => "table or view",
    };
    SparkError::invalid(format!("[{class}] The {what} `{name}` cannot be found."))
}

/// Whether `name` matches a Spark catalog pattern (`*` any text, `|` alternatives,
/// ignoring case).
fn pattern_matches(pattern: Option<&str>, name: &str) -> bool {
    let Some(pattern) = pattern else {
        return true;
    };
    pattern
        .split('|')
        .any(|p| glob(&p.trim().to_ascii_lowercase(), &name.to_ascii_lowercase()))
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

fn catalog(state: &SessionState) -> Option<Arc<dyn CatalogProvider>> {
    state.catalog_list().catalog(CATALOG)
}

fn namespaces(state: &SessionState) -> Vec<String> {
    let mut names = catalog(state).map(|c| c.schema_names()).unwrap_or_default();
    let current = state.config().options().catalog.default_schema.clone();
    if !names.contains(&current) {
        names.push(current);
    }
    names.retain(|n| n != "information_schema");
    names.sort();
    names
}

/// The namespace `name` names (ignoring case), if it exists.
fn namespace_of(state: &SessionState, name: &str) -> Option<String> {
    let parts = split_identifier(name);
    let name = match parts.as_slice() {
        [catalog, ns] if catalog.eq_ignore_ascii_case(CATALOG) => ns.clone(),
        _ => name.to_string(),
    };
    namespaces(state)
        .into_iter()
        .find(|n| n.eq_ignore_ascii_case(&name))
}

fn table_names(state: &SessionState, namespace: &str) -> Vec<String> {
    catalog(state)
        .and_then(|c| c.schema(namespace))
        .map(|s| s.table_names())
        .unwrap_or_default()
}

async fn table(
    state: &SessionState,
    namespace: &str,
    name: &str,
) -> Option<Arc<dyn TableProvider>> {
    let schema = catalog(state)?.schema(namespace)?;
    schema.table(name).await.ok().flatten()
}

/// The namespace and name of a table name (`t`, `ns.t`, `spark_catalog.ns.t`), in
/// `db` or the current namespace when it names none.
fn qualified(current: &str, table: &str, db: Option<&str>) -> (String, String) {
    let parts = split_identifier(table);
    match (parts.as_slice(), db) {
        ([name], Some(db)) => (db.to_string(), name.clone()),
        ([name], None) => (current.to_string(), name.clone()),
        ([.., ns, name], _) => (ns.clone(), name.clone()),
        ([], _) => (current.to_string(), String::new()),
    }
}

async fn existing(state: &SessionState, current: &str, name: &str) -> Result<(), SparkError> {
    let (namespace, table_name) = qualified(current, name, None);
    match table(state, &namespace, &table_name).await {
        Some(_) => Ok(()),
        None => Err(not_found("TABLE_OR_VIEW_NOT_FOUND", name)),
    }
}

fn function_exists(state: &SessionState, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    state.scalar_functions().contains_key(&name)
        || state.aggregate_functions().contains_key(&name)
        || state.window_functions().contains_key(&name)
}

/// A table as `listTables()` shows it (temporary views are in no namespace).
struct Listed {
    name: String,
    namespace: Option<String>,
    table_type: &'static str,
    temporary: bool,
}

impl Listed {
    fn new(
        namespace: &str,
        name: String,
        temporary: bool,
        table: Option<&dyn TableProvider>,
    ) -> Self {
        let table_type = if temporary {
            "TEMPORARY"
        } else {
            match table.map(|t| t.table_type()) {
                Some(TableType::View) => "VIEW",
                Some(TableType::Temporary) => "TEMPORARY",
                _ => "MANAGED",
            }
        };
        Self {
            name,
            namespace: (!temporary).then(|| namespace.to_string()),
            table_type,
            temporary,
        }
    }
}

fn string_column<S: AsRef<str>>(values: Vec<Option<S>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(values))
}

fn namespace_column(values: Vec<Option<String>>) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for v in values {
        match v {
            Some(ns) => {
                builder.values().append_value(ns);
                builder.append(true);
            }
            // An empty list, as Spark lists temporary views.
            None => builder.append(true),
        }
    }
    Arc::new(builder.finish())
}

fn rows(columns: Vec<(&str, ArrayRef)>) -> Result<LogicalPlan, SparkError> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .map_err(datafusion::error::DataFusionError::from)?;
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    Ok(LogicalPlanBuilder::scan("catalog", provider_as_source(Arc::new(table)), None)?.build()?)
}

fn strings(name: &str, values: Vec<String>) -> Result<LogicalPlan, SparkError> {
    rows(vec![(
        name,
        string_column(values.into_iter().map(Some).collect()),
    )])
}

fn boolean(value: bool) -> Result<LogicalPlan, SparkError> {
    rows(vec![(
        "value",
        Arc::new(BooleanArray::from(vec![value])) as ArrayRef,
    )])
}

fn empty() -> Result<LogicalPlan, SparkError> {
    Ok(LogicalPlanBuilder::empty(false).build()?)
}

fn databases(names: Vec<String>) -> Result<LogicalPlan, SparkError> {
    let n = names.len();
    let descriptions = names
        .iter()
        .map(|n| {
            Some(if n == DEFAULT_NAMESPACE {
                "default database"
            } else {
                ""
            })
        })
        .collect();
    rows(vec![
        ("name", string_column(names.into_iter().map(Some).collect())),
        ("catalog", string_column(vec![Some(CATALOG); n])),
        ("description", string_column(descriptions)),
        ("locationUri", string_column(vec![None::<String>; n])),
    ])
}

fn tables(listed: Vec<Listed>) -> Result<LogicalPlan, SparkError> {
    let n = listed.len();
    rows(vec![
        (
            "name",
            string_column(listed.iter().map(|t| Some(t.name.as_str())).collect()),
        ),
        (
            "catalog",
            string_column(
                listed
                    .iter()
                    .map(|t| (!t.temporary).then_some(CATALOG))
                    .collect(),
            ),
        ),
        (
            "namespace",
            namespace_column(listed.iter().map(|t| t.namespace.clone()).collect()),
        ),
        ("description", string_column(vec![None::<String>; n])),
        (
            "tableType",
            string_column(listed.iter().map(|t| Some(t.table_type)).collect()),
        ),
        (
            "isTemporary",
            Arc::new(BooleanArray::from(
                listed.iter().map(|t| t.temporary).collect::<Vec<_>>(),
            )),
        ),
    ])
}

fn columns(schema: &arrow::datatypes::SchemaRef) -> Result<LogicalPlan, SparkError> {
    let fields = schema.fields();
    let n = fields.len();
    let falses = || Arc::new(BooleanArray::from(vec![false; n])) as ArrayRef;
    rows(vec![
        (
            "name",
            string_column(fields.iter().map(|f| Some(f.name().as_str())).collect()),
        ),
        ("description", string_column(vec![None::<String>; n])),
        (
            "dataType",
            string_column(
                fields
                    .iter()
                    .map(|f| Some(crate::types::type_name(f.data_type())))
                    .collect(),
            ),
        ),
        (
            "nullable",
            Arc::new(BooleanArray::from(
                fields.iter().map(|f| f.is_nullable()).collect::<Vec<_>>(),
            )),
        ),
        ("isPartition", falses()),
        ("isBucket", falses()),
        ("isCluster", falses()),
    ])
}

fn functions(names: Vec<String>) -> Result<LogicalPlan, SparkError> {
    let n = names.len();
    rows(vec![
        ("name", string_column(names.into_iter().map(Some).collect())),
        ("catalog", string_column(vec![None::<String>; n])),
        (
            "namespace",
            Arc::new(arrow::array::new_null_array(
                &DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                n,
            )),
        ),
        ("description", string_column(vec![None::<String>; n])),
        ("className", string_column(vec![None::<String>; n])),
        ("isTemporary", Arc::new(BooleanArray::from(vec![false; n]))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(pattern_matches(None, "t"));
        assert!(pattern_matches(Some("t*"), "tab"));
        assert!(pattern_matches(Some("x|TA*"), "tab"));
        assert!(!pattern_matches(Some("a*b"), "abc"));
        assert!(pattern_matches(Some("*"), ""));
    }

    #[test]
    fn qualified_names() {
        assert_eq!(
            qualified("default", "t", None),
            ("default".into(), "t".into())
        );
        assert_eq!(
            qualified("default", "ns.t", None),
            ("ns".into(), "t".into())
        );
        assert_eq!(
            qualified("default", "t", Some("db")),
            ("db".into(), "t".into())
        );
        assert_eq!(
            qualified("default", "spark_catalog.ns.t", None),
            ("ns".into(), "t".into())
        );
    }
}
