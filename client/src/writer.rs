//! `df.write_to("ns.t")`: writing a DataFrame into a catalog table, as Spark's
//! `DataFrameWriterV2` does (sent as Spark Connect's `WriteOperationV2`).

use std::collections::HashMap;

use sparkling_proto::spark::expression::literal::LiteralType;
use sparkling_proto::spark::expression::{
    ExprType, Literal, UnresolvedAttribute, UnresolvedFunction,
};
use sparkling_proto::spark::write_operation_v2::Mode;
use sparkling_proto::spark::{Command, Expression, WriteOperationV2, command};

use crate::dataframe::DataFrame;
use crate::error::{ClientError, Result};

/// Writes a DataFrame into a table of `spark_catalog` (an Iceberg table).
#[derive(Clone)]
pub struct DataFrameWriterV2 {
    df: DataFrame,
    table: String,
    partitioning: Vec<Expression>,
    properties: HashMap<String, String>,
}

impl DataFrameWriterV2 {
    pub(crate) fn new(df: DataFrame, table: &str) -> Self {
        Self {
            df,
            table: table.to_string(),
            partitioning: Vec::new(),
            properties: HashMap::new(),
        }
    }

    /// Partitions a table created by [`create`](Self::create) by columns and
    /// transforms, written as in Spark SQL: `"region"`, `"days(ts)"`, `"bucket(16, id)"`.
    pub fn partitioned_by(mut self, terms: &[&str]) -> Result<Self> {
        for term in terms {
            self.partitioning.push(partition_expression(term)?);
        }
        Ok(self)
    }

    /// Sets a table property of a table created by [`create`](Self::create).
    pub fn table_property(mut self, key: &str, value: &str) -> Self {
        self.properties.insert(key.to_string(), value.to_string());
        self
    }

    /// Appends the rows to the existing table (one snapshot).
    pub async fn append(self) -> Result<()> {
        self.run(Mode::Append).await
    }

    /// Creates the table from the DataFrame's schema and rows; fails if it exists.
    pub async fn create(self) -> Result<()> {
        self.run(Mode::Create).await
    }

    async fn run(self, mode: Mode) -> Result<()> {
        let input = self.df.to_relation()?;
        self.df
            .session
            .run_command(Command {
                command_type: Some(command::CommandType::WriteOperationV2(WriteOperationV2 {
                    input: Some(input),
                    table_name: self.table,
                    provider: Some("iceberg".to_string()),
                    partitioning_columns: self.partitioning,
                    table_properties: self.properties,
                    mode: mode as i32,
                    ..Default::default()
                })),
            })
            .await
    }
}

/// `col`, or `transform(args...)` with columns and integers as arguments.
fn partition_expression(term: &str) -> Result<Expression> {
    let term = term.trim();
    let attribute = |name: &str| Expression {
        expr_type: Some(ExprType::UnresolvedAttribute(UnresolvedAttribute {
            unparsed_identifier: name.trim().to_string(),
            ..Default::default()
        })),
        ..Default::default()
    };
    let Some((function, args)) = term.split_once('(') else {
        return Ok(attribute(term));
    };
    let args = args.strip_suffix(')').ok_or_else(|| {
        ClientError::Plan(format!(
            "partition term {term:?} lacks a closing parenthesis"
        ))
    })?;
    let arguments = args
        .split(',')
        .map(|a| match a.trim().parse::<i32>() {
            Ok(n) => Expression {
                expr_type: Some(ExprType::Literal(Literal {
                    literal_type: Some(LiteralType::Integer(n)),
                    ..Default::default()
                })),
                ..Default::default()
            },
            Err(_) => attribute(a),
        })
        .collect();
    Ok(Expression {
        expr_type: Some(ExprType::UnresolvedFunction(UnresolvedFunction {
            function_name: function.trim().to_string(),
            arguments,
            ..Default::default()
        })),
        ..Default::default()
    })
}
