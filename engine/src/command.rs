//! Spark's lakehouse statements (`sparkling_sql::ddl::Statement`: namespaces, Iceberg
//! tables, streaming tables, pipeline datasets) as a logical plan node, so they
//! travel through planning like any other command: analysed without effect, run
//! once by the engine's [`crate::execute::CommandRunner`].

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore};
use sparkling_sql::ddl::Statement;
use sparkling_sql::names::quote_ident;

/// A lakehouse statement as a logical plan node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LakehouseCommand {
    /// The statement.
    pub statement: Statement,
    /// Its SQL (to fall back to DataFusion for tables that are not Iceberg's).
    pub sql: String,
    schema: DFSchemaRef,
}

impl PartialOrd for LakehouseCommand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.sql.partial_cmp(&other.sql)
    }
}

impl LakehouseCommand {
    /// The statement as a plan.
    pub fn plan(statement: Statement, sql: &str) -> datafusion::common::Result<LogicalPlan> {
        let schema = match statement {
            Statement::ShowNamespaces => show_namespaces_schema(),
            _ => Arc::new(ArrowSchema::empty()),
        };
        let schema = Arc::new(DFSchema::try_from(schema.as_ref().clone())?);
        Ok(LogicalPlan::Extension(Extension {
            node: Arc::new(Self {
                statement,
                sql: sql.to_string(),
                schema,
            }),
        }))
    }

    /// The statement DataFusion runs when this one is not about an Iceberg table
    /// (Spark-only clauses such as `PURGE` dropped).
    pub fn fallback_sql(&self) -> String {
        match &self.statement {
            Statement::DropTable {
                name, if_exists, ..
            } => format!(
                "DROP TABLE {}{}",
                if *if_exists { "IF EXISTS " } else { "" },
                name.iter()
                    .map(|p| quote_ident(p))
                    .collect::<Vec<_>>()
                    .join(".")
            ),
            _ => self.sql.clone(),
        }
    }

    /// The command in `plan`, if it is one.
    pub fn of(plan: &LogicalPlan) -> Option<&Self> {
        match plan {
            LogicalPlan::Extension(e) => e.node.as_any().downcast_ref::<Self>(),
            _ => None,
        }
    }
}

impl UserDefinedLogicalNodeCore for LakehouseCommand {
    fn name(&self) -> &str {
        "LakehouseCommand"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "LakehouseCommand: {}", self.sql)
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        _inputs: Vec<LogicalPlan>,
    ) -> datafusion::common::Result<Self> {
        Ok(self.clone())
    }
}

/// The result schema of `SHOW NAMESPACES`.
pub fn show_namespaces_schema() -> Arc<ArrowSchema> {
    Arc::new(ArrowSchema::new(vec![Field::new(
        "namespace",
        DataType::Utf8,
        false,
    )]))
}
