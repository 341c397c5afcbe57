//! The function library: DataFusion's built-ins plus the Spark-compatible library
//! from `datafusion-spark`.
//!
//! The same list is registered on the gateway (which plans queries), on the scheduler
//! and on every executor (which decode task plans and look functions up by name), so
//! a function resolves identically wherever a plan is decoded.
//!
//! Where DataFusion and Spark define a function under the same name, DataFusion's
//! implementation is kept: DataFusion's versions follow the SQL types precisely (for
//! example `avg` over a decimal stays a decimal, while `datafusion-spark`'s `avg`
//! returns a double). Spark functions DataFusion lacks (`sha2`, `hex`, `crc32`,
//! `date_add`, `from_unixtime`-style helpers, ...) are added, and Sparkling's own
//! implementations of Spark functions neither has (`from_json`, `to_json`, in
//! [`crate::json`]; the higher-order functions, in [`crate::lambda`]), and the divisor check of Spark's arithmetic
//! ([`sparkling_spark::divisor`]).

use std::collections::HashSet;
use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::common::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionConfig;

/// Adds DataFusion's default features and the Spark functions that DataFusion lacks.
pub fn with_sparkling_functions(builder: SessionStateBuilder) -> SessionStateBuilder {
    let mut builder = builder.with_default_features();
    let scalar = spark_only(
        builder.scalar_functions(),
        datafusion_spark::all_default_scalar_functions(),
        |f: &Arc<ScalarUDF>| names(f.name(), f.aliases()),
    );
    builder
        .scalar_functions()
        .get_or_insert_with(Vec::new)
        .extend(scalar);
    let aggregate = spark_only(
        builder.aggregate_functions(),
        datafusion_spark::all_default_aggregate_functions(),
        |f: &Arc<AggregateUDF>| names(f.name(), f.aliases()),
    );
    builder
        .aggregate_functions()
        .get_or_insert_with(Vec::new)
        .extend(aggregate);
    let window = spark_only(
        builder.window_functions(),
        datafusion_spark::all_default_window_functions(),
        |f: &Arc<WindowUDF>| names(f.name(), f.aliases()),
    );
    builder
        .window_functions()
        .get_or_insert_with(Vec::new)
        .extend(window);
    let tables = builder
        .table_functions()
        .get_or_insert_with(Default::default);
    for f in datafusion_spark::all_default_table_functions() {
        tables.entry(f.name().to_string()).or_insert(f);
    }
    // Spark functions neither library has.
    let functions = builder.scalar_functions().get_or_insert_with(Vec::new);
    functions.extend([
        Arc::new(ScalarUDF::from(crate::json::FromJson::default())),
        Arc::new(ScalarUDF::from(crate::json::ToJson::default())),
    ]);
    functions.extend(sparkling_spark::divisor::functions());
    functions.push(sparkling_spark::datetime::from_unixtime());
    functions.extend(crate::lambda::functions());
    functions.extend(sparkling_spark::casts::functions());
    functions.extend(sparkling_spark::hash::functions());
    functions.extend(sparkling_spark::regex::functions());
    functions.extend(sparkling_spark::sketch::scalar_functions());
    functions.extend(sparkling_spark::kll::scalar_functions());
    let aggregates = builder.aggregate_functions().get_or_insert_with(Vec::new);
    aggregates.extend(sparkling_spark::sketch::aggregate_functions());
    aggregates.extend(sparkling_spark::kll::aggregate_functions());
    builder
}

fn names(name: &str, aliases: &[String]) -> Vec<String> {
    std::iter::once(name.to_string())
        .chain(aliases.iter().cloned())
        .collect()
}

/// The functions of `extra` none of whose names is already defined in `existing`.
fn spark_only<F>(
    existing: &mut Option<Vec<F>>,
    extra: Vec<F>,
    names_of: impl Fn(&F) -> Vec<String>,
) -> Vec<F> {
    let taken: HashSet<String> = existing.iter().flatten().flat_map(&names_of).collect();
    extra
        .into_iter()
        .filter(|f| names_of(f).iter().all(|n| !taken.contains(n)))
        .collect()
}

/// A session state with the Sparkling function library, object stores and the given
/// configuration.
pub fn session_state(config: SessionConfig) -> Result<SessionState> {
    let builder =
        crate::object_stores::with_object_stores(SessionStateBuilder::new().with_config(config))?;
    Ok(with_sparkling_functions(builder).build())
}

/// The function registry executors use to resolve functions in task plans.
pub fn function_registry() -> BallistaFunctionRegistry {
    BallistaFunctionRegistry::from(
        &with_sparkling_functions(SessionStateBuilder::new().with_config(SessionConfig::new()))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::FunctionRegistry;

    #[test]
    fn keeps_datafusion_builtins_and_adds_spark_functions() {
        let state = session_state(SessionConfig::new()).unwrap();
        // Spark-only functions are present ...
        assert!(state.udf("sha2").is_ok());
        // ... while shared names keep DataFusion's implementation (decimal-preserving avg).
        let avg = state.udaf("avg").unwrap();
        let t = avg
            .return_type(&[arrow::datatypes::DataType::Decimal128(15, 2)])
            .unwrap();
        assert!(
            matches!(t, arrow::datatypes::DataType::Decimal128(_, _)),
            "{t}"
        );
        // nested functions are there too (the executor registry must have them).
        let reg = function_registry();
        assert!(reg.scalar_functions.contains_key("make_array"));
        assert!(reg.scalar_functions.contains_key("sha2"));
    }
}
