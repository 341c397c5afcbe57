//! Spark's operators and functions (`pyspark.sql.functions` and `Column`'s methods,
//! which arrive as function calls named `+`, `==`, `isNull`, `when` ...) onto
//! DataFusion's expressions and the session's function registry, with Spark's names
//! and argument rules where they differ from DataFusion's.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::{AggregateFunction, ScalarFunction, WindowFunction};
use datafusion::logical_expr::{
    Between, BinaryExpr, Cast, Expr, ExprSchemable, Like, Operator, lit, when,
};
use sparkling_proto::spark::Expression;
use sparkling_proto::spark::expression::ExprType;

use crate::error::{Result, SparkError};
use crate::expr::Scope;
use crate::names::is_star;

/// A struct field (or map value) by name.
pub fn get_field(base: Expr, name: &str) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(
        datafusion::functions::core::get_field(),
        vec![base, lit(name)],
    ))
}

/// The arguments of a scalar function call as arrays of the batch's length (literals
/// repeated).
pub fn argument_arrays(
    args: &datafusion::logical_expr::ScalarFunctionArgs,
) -> datafusion::common::Result<Vec<arrow::array::ArrayRef>> {
    args.args
        .iter()
        .map(|a| a.to_array(args.number_rows))
        .collect()
}

/// A scalar function of the session by name.
pub fn scalar(state: &SessionState, name: &str, args: Vec<Expr>) -> Result<Expr> {
    let f = state
        .scalar_functions()
        .get(name)
        .ok_or_else(|| unresolved(name))?;
    Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
        f.clone(),
        args,
    )))
}

/// An aggregate function of the session by name.
pub(crate) fn aggregate(
    state: &SessionState,
    name: &str,
    args: Vec<Expr>,
    distinct: bool,
) -> Result<Expr> {
    aggregate_with(state, name, args, distinct, None, vec![])
}

/// An aggregate function of the session by name, with a filter and an order.
pub(crate) fn aggregate_with(
    state: &SessionState,
    name: &str,
    args: Vec<Expr>,
    distinct: bool,
    filter: Option<Expr>,
    order_by: Vec<datafusion::logical_expr::SortExpr>,
) -> Result<Expr> {
    let f = state
        .aggregate_functions()
        .get(name)
        .ok_or_else(|| unresolved(name))?;
    Ok(Expr::AggregateFunction(AggregateFunction::new_udf(
        f.clone(),
        args,
        distinct,
        filter.map(Box::new),
        order_by,
        None,
    )))
}

fn unresolved(name: &str) -> SparkError {
    SparkError::invalid(format!(
        "[UNRESOLVED_ROUTINE] Cannot resolve routine `{name}` on search path [`system`.`builtin`, `system`.`session`, `spark_catalog`.`default`]."
    ))
}

fn binary(l: Expr, op: Operator, r: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)))
}

fn arity(name: &str, args: &[Expr], allowed: &[usize]) -> Result<()> {
    if allowed.contains(&args.len()) {
        return Ok(());
    }
    Err(SparkError::invalid(format!(
        "[WRONG_NUM_ARGS.WITHOUT_SUGGESTION] The `{name}` requires {} parameters but the actual number is {}.",
        allowed
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
        args.len()
    )))
}

/// The string literal at `i`, for arguments Spark requires to be constant
/// (formats, date parts).
fn string_arg(args: &[Expr], i: usize, function: &str) -> Result<String> {
    match args.get(i) {
        Some(Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)), _)) => {
            Ok(s.clone())
        }
        _ => Err(SparkError::invalid(format!(
            "argument {} of {function} must be a string literal",
            i + 1
        ))),
    }
}

/// A zone-less timestamp (text parsed without an offset) read as a time in the
/// session's time zone, as Spark reads such text: Spark's timestamp type.
pub fn in_session_zone(state: &SessionState, naive: Expr) -> Expr {
    use arrow::datatypes::TimeUnit;
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let zone = state
        .config()
        .options()
        .execution
        .time_zone
        .clone()
        .filter(|z| !z.is_empty() && z != "UTC" && z != "+00:00" && z != "Z");
    let naive = Expr::Cast(Cast::new(
        Box::new(naive),
        DataType::Timestamp(TimeUnit::Microsecond, None),
    ));
    let zoned = match zone {
        Some(z) => Expr::Cast(Cast::new(
            Box::new(naive),
            DataType::Timestamp(TimeUnit::Microsecond, Some(z.into())),
        )),
        None => naive,
    };
    Expr::Cast(Cast::new(Box::new(zoned), utc))
}

/// A date, timestamp or date text as a date (Spark casts text implicitly).
fn as_date(e: Expr, schema: &datafusion::common::DFSchema) -> Result<Expr> {
    Ok(if crate::types::is_string(&e.get_type(schema)?) {
        Expr::Cast(Cast::new(Box::new(e), DataType::Date32))
    } else {
        e
    })
}

/// The first argument of `to_timestamp(x[, pattern])` and its kin parsed to a
/// timestamp without a zone when it is text (by the Java pattern if given, else as
/// Arrow casts text, whose type does not depend on the session's settings, which
/// executors do not have); otherwise as it is. Also whether it was text.
fn parsed_timestamp(
    state: &SessionState,
    schema: &datafusion::common::DFSchema,
    mut args: Vec<Expr>,
    function: &str,
) -> Result<(Expr, bool)> {
    let text = args[0]
        .get_type(schema)
        .is_ok_and(|t| crate::types::is_string(&t));
    if args.len() == 2 {
        let format = java_datetime_format(&string_arg(&args, 1, function)?);
        args[1] = lit(format);
        return Ok((scalar(state, "to_timestamp_micros", args)?, text));
    }
    let value = args.swap_remove(0);
    let parsed = if text {
        Expr::Cast(Cast::new(
            Box::new(value),
            DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
        ))
    } else {
        value
    };
    Ok((parsed, text))
}

/// The expression of a Spark function call (or operator) on `arguments`.
pub fn call(
    scope: &Scope<'_>,
    function: &str,
    arguments: &[Expression],
    distinct: bool,
) -> Result<Expr> {
    let name = function.to_ascii_lowercase();
    // Spark's other names for functions the registry has.
    let name = match name.as_str() {
        "ucase" => "upper".to_string(),
        "lcase" => "lower".to_string(),
        "ceiling" => "ceil".to_string(),
        "sign" => "signum".to_string(),
        "some" | "bool_or" => "bool_or".to_string(),
        "every" | "bool_and" => "bool_and".to_string(),
        _ => name,
    };
    // Higher-order functions translate their lambdas themselves.
    if let Some(kind) = crate::lambda::Kind::of_spark_function(&name)
        && arguments
            .iter()
            .any(|a| matches!(a.expr_type, Some(ExprType::LambdaFunction(_))))
    {
        return crate::lambda::call(scope, kind, &name, arguments);
    }
    // `count(*)` counts rows.
    if name == "count" && arguments.len() == 1 && is_star(&arguments[0]) {
        return aggregate(scope.state, "count", vec![lit(1i64)], false);
    }
    // `*` among the arguments is every column (`hash("*")`, `struct("*")`).
    let mut args = Vec::with_capacity(arguments.len());
    for a in arguments {
        if crate::names::is_star(a) {
            args.extend(scope.named(a)?);
        } else {
            args.push(scope.expr(a)?);
        }
    }
    let state = scope.state;
    let schema = scope.schema;
    let two = |args: &mut Vec<Expr>| -> (Expr, Expr) {
        let r = args.pop().unwrap_or_else(|| lit(ScalarValue::Null));
        let l = args.pop().unwrap_or_else(|| lit(ScalarValue::Null));
        (l, r)
    };
    let one = |args: &mut Vec<Expr>| args.pop().unwrap_or_else(|| lit(ScalarValue::Null));
    let op = match name.as_str() {
        "+" if args.len() == 2 => Some(Operator::Plus),
        "-" if args.len() == 2 => Some(Operator::Minus),
        "*" => Some(Operator::Multiply),
        "/" => Some(Operator::Divide),
        "%" | "mod" => Some(Operator::Modulo),
        "==" | "=" | "equalto" => Some(Operator::Eq),
        "!=" | "<>" => Some(Operator::NotEq),
        "<" => Some(Operator::Lt),
        "<=" => Some(Operator::LtEq),
        ">" => Some(Operator::Gt),
        ">=" => Some(Operator::GtEq),
        "<=>" | "equalnullsafe" => Some(Operator::IsNotDistinctFrom),
        "and" => Some(Operator::And),
        "or" => Some(Operator::Or),
        "&" | "bitwiseand" => Some(Operator::BitwiseAnd),
        "|" | "bitwiseor" => Some(Operator::BitwiseOr),
        "^" | "bitwisexor" => Some(Operator::BitwiseXor),
        "rlike" | "regexp" | "regexp_like" if args.len() == 2 => Some(Operator::RegexMatch),
        _ => None,
    };
    if let Some(op) = op {
        arity(&name, &args, &[2])?;
        let (l, r) = two(&mut args);
        return Ok(binary(l, op, r));
    }
    Ok(match name.as_str() {
        "div" => {
            // Spark's integer division: the whole part; a zero divisor fails as `/`'s
            // does (the analyzer rule checks it).
            arity(&name, &args, &[2])?;
            let (l, r) = two(&mut args);
            let double = |e: Expr| Expr::Cast(Cast::new(Box::new(e), DataType::Float64));
            let divisor = double(r);
            Expr::Cast(Cast::new(
                Box::new(binary(double(l), Operator::Divide, divisor)),
                DataType::Int64,
            ))
        }
        "not" | "!" => {
            arity(&name, &args, &[1])?;
            Expr::Not(Box::new(one(&mut args)))
        }
        "negative" | "-" => {
            arity(&name, &args, &[1])?;
            Expr::Negative(Box::new(one(&mut args)))
        }
        "positive" | "+" => {
            arity(&name, &args, &[1])?;
            one(&mut args)
        }
        "isnull" => {
            arity(&name, &args, &[1])?;
            Expr::IsNull(Box::new(one(&mut args)))
        }
        "isnotnull" => {
            arity(&name, &args, &[1])?;
            Expr::IsNotNull(Box::new(one(&mut args)))
        }
        "isnan" => {
            arity(&name, &args, &[1])?;
            scalar(state, "isnan", args)?
        }
        "like" | "ilike" => {
            arity(&name, &args, &[2, 3])?;
            let escape = if args.len() == 3 {
                string_arg(&args, 2, &name)?.chars().next()
            } else {
                None
            };
            args.truncate(2);
            let (l, r) = two(&mut args);
            Expr::Like(Like::new(
                false,
                Box::new(l),
                Box::new(r),
                escape,
                name == "ilike",
            ))
        }
        "in" => {
            if args.is_empty() {
                return Err(SparkError::invalid("in() needs a value"));
            }
            let value = args.remove(0);
            value.in_list(args, false)
        }
        "between" => {
            arity(&name, &args, &[3])?;
            let high = one(&mut args);
            let (value, low) = two(&mut args);
            Expr::Between(Between::new(
                Box::new(value),
                false,
                Box::new(low),
                Box::new(high),
            ))
        }
        "when" | "casewhen" => {
            if args.len() < 2 {
                return Err(SparkError::invalid("when() needs a condition and a value"));
            }
            let otherwise = if args.len() % 2 == 1 {
                args.pop()
            } else {
                None
            };
            let mut pairs = args.chunks(2);
            let first = pairs.next().unwrap_or_default();
            let mut builder = when(first[0].clone(), first[1].clone());
            for pair in pairs {
                builder.when(pair[0].clone(), pair[1].clone());
            }
            match otherwise {
                Some(e) => builder.otherwise(e)?,
                None => builder.end()?,
            }
        }
        "if" | "iff" => {
            arity(&name, &args, &[3])?;
            let otherwise = one(&mut args);
            let (c, v) = two(&mut args);
            when(c, v).otherwise(otherwise)?
        }
        "typeof" => {
            // Spark's name of the argument's type, known when planning.
            arity(&name, &args, &[1])?;
            let t = one(&mut args).get_type(schema)?;
            lit(crate::types::type_name(&t))
        }
        "e" => {
            arity(&name, &args, &[0])?;
            lit(std::f64::consts::E)
        }
        "current_database" | "current_schema" => {
            arity(&name, &args, &[0])?;
            lit(state.config().options().catalog.default_schema.clone())
        }
        "current_catalog" => {
            arity(&name, &args, &[0])?;
            lit(crate::catalog::CATALOG)
        }
        "current_timezone" => {
            arity(&name, &args, &[0])?;
            lit(state
                .config()
                .options()
                .execution
                .time_zone
                .clone()
                .unwrap_or_else(|| "UTC".to_string()))
        }
        "sort_array" => {
            // Ascending puts nulls first, descending last, as Spark does.
            arity(&name, &args, &[1, 2])?;
            let ascending = match args.get(1) {
                None => true,
                Some(Expr::Literal(ScalarValue::Boolean(Some(b)), _)) => *b,
                Some(_) => {
                    return Err(SparkError::invalid(
                        "the second argument of sort_array must be a boolean literal",
                    ));
                }
            };
            args.truncate(1);
            args.push(lit(if ascending { "ASC" } else { "DESC" }));
            args.push(lit(if ascending {
                "NULLS FIRST"
            } else {
                "NULLS LAST"
            }));
            scalar(state, "array_sort", args)?
        }
        "count_if" => {
            arity(&name, &args, &[1])?;
            aggregate_with(
                state,
                "count",
                vec![lit(1i64)],
                false,
                Some(one(&mut args)),
                vec![],
            )?
        }
        "max_by" | "min_by" => {
            // The value of the row with the largest (smallest) ordering value.
            arity(&name, &args, &[2])?;
            let (value, ordering) = two(&mut args);
            let filter = ordering.clone().is_not_null();
            aggregate_with(
                state,
                "first_value",
                vec![value],
                false,
                Some(filter),
                vec![ordering.sort(name == "min_by", false)],
            )?
        }
        "zeroifnull" => {
            arity(&name, &args, &[1])?;
            scalar(state, "coalesce", vec![one(&mut args), lit(0i32)])?
        }
        "nullifzero" => {
            arity(&name, &args, &[1])?;
            scalar(state, "nullif", vec![one(&mut args), lit(0i32)])?
        }
        "equal_null" => {
            arity(&name, &args, &[2])?;
            let (l, r) = two(&mut args);
            binary(l, Operator::IsNotDistinctFrom, r)
        }
        "try_divide" | "try_mod" => {
            // NULL where the divisor is zero instead of Spark's error.
            arity(&name, &args, &[2])?;
            let (l, r) = two(&mut args);
            let divisor = scalar(state, "nullif", vec![r, lit(0i32)])?;
            let op = if name == "try_divide" {
                Operator::Divide
            } else {
                Operator::Modulo
            };
            binary(l, op, divisor)
        }
        "hypot" => {
            arity(&name, &args, &[2])?;
            let (a, b) = two(&mut args);
            let double = |e: Expr| Expr::Cast(Cast::new(Box::new(e), DataType::Float64));
            let (a, b) = (double(a), double(b));
            scalar(
                state,
                "sqrt",
                vec![binary(
                    binary(a.clone(), Operator::Multiply, a),
                    Operator::Plus,
                    binary(b.clone(), Operator::Multiply, b),
                )],
            )?
        }
        "locate" | "position" if args.len() == 2 => {
            // locate(substr, str): 1-based, 0 when absent.
            let (needle, haystack) = two(&mut args);
            Expr::Cast(Cast::new(
                Box::new(scalar(state, "strpos", vec![haystack, needle])?),
                DataType::Int32,
            ))
        }
        "locate" | "position" if args.len() == 3 => {
            // locate(substr, str, pos): the first match at or after `pos` (1-based), 0
            // when absent or when `pos` is before the start.
            let start = Expr::Cast(Cast::new(Box::new(one(&mut args)), DataType::Int64));
            let (needle, haystack) = two(&mut args);
            let rest = scalar(state, "substr", vec![haystack, start.clone()])?;
            let found = Expr::Cast(Cast::new(
                Box::new(scalar(state, "strpos", vec![rest, needle])?),
                DataType::Int64,
            ));
            let position = when(found.clone().eq(lit(0i64)), lit(0i64)).otherwise(binary(
                binary(found, Operator::Plus, start.clone()),
                Operator::Minus,
                lit(1i64),
            ))?;
            Expr::Cast(Cast::new(
                Box::new(when(start.lt(lit(1i64)), lit(0i64)).otherwise(position)?),
                DataType::Int32,
            ))
        }
        "sequence" => {
            // start to stop inclusive, by step (1, or -1 counting down, by default).
            arity(&name, &args, &[2, 3])?;
            let types = args
                .iter()
                .take(2)
                .map(|a| a.get_type(schema))
                .collect::<datafusion::common::Result<Vec<_>>>()?;
            if !types.iter().all(|t| t.is_integer()) {
                return Err(SparkError::unsupported(
                    "[UNSUPPORTED_FEATURE] sequence() of dates or timestamps",
                ));
            }
            let element = if types
                .iter()
                .all(|t| matches!(t, DataType::Int8 | DataType::Int16 | DataType::Int32))
            {
                DataType::Int32
            } else {
                DataType::Int64
            };
            if args.len() == 2 {
                let down = args[0].clone().gt(args[1].clone());
                args.push(when(down, lit(-1i64)).otherwise(lit(1i64))?);
            }
            let args = args
                .into_iter()
                .map(|a| Expr::Cast(Cast::new(Box::new(a), DataType::Int64)))
                .collect();
            Expr::Cast(Cast::new(
                Box::new(scalar(state, "generate_series", args)?),
                DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(
                    element, true,
                ))),
            ))
        }
        "map_contains_key" => {
            arity(&name, &args, &[2])?;
            let (map, key) = two(&mut args);
            scalar(
                state,
                "array_has",
                vec![scalar(state, "map_keys", vec![map])?, key],
            )?
        }
        "get" => {
            // An array element counted from 0; NULL out of bounds.
            arity(&name, &args, &[2])?;
            let (array, index) = two(&mut args);
            let index = Expr::Cast(Cast::new(Box::new(index), DataType::Int64));
            let element = scalar(
                state,
                "array_element",
                vec![array, index.clone() + lit(1i64)],
            )?;
            when(index.lt(lit(0i64)), lit(ScalarValue::Null)).otherwise(element)?
        }
        "to_binary" => {
            // The text as bytes: hex digits (the default), base64, or UTF-8.
            arity(&name, &args, &[1, 2])?;
            let format = if args.len() == 2 {
                string_arg(&args, 1, &name)?.to_ascii_lowercase()
            } else {
                "hex".to_string()
            };
            args.truncate(1);
            let text = one(&mut args);
            match format.as_str() {
                "hex" | "base64" => scalar(state, "decode", vec![text, lit(format)])?,
                "utf-8" | "utf8" => Expr::Cast(Cast::new(Box::new(text), DataType::Binary)),
                other => {
                    return Err(SparkError::invalid(format!(
                        "[INVALID_PARAMETER_VALUE.BINARY_FORMAT] to_binary takes the format \
                         'hex', 'utf-8', 'utf8' or 'base64', not '{other}'"
                    )));
                }
            }
        }
        "regexp_extract" => {
            // Group `idx` of the first match (0: the whole match); "" without a match
            // or when the group did not take part; NULL text stays NULL.
            arity(&name, &args, &[2, 3])?;
            if args.len() == 2 {
                args.push(lit(1i32));
            }
            scalar(state, crate::regex::RegexFunction::Extract.name(), args)?
        }
        "date_from_unix_date" => {
            arity(&name, &args, &[1])?;
            let days = Expr::Cast(Cast::new(Box::new(one(&mut args)), DataType::Int32));
            Expr::Cast(Cast::new(Box::new(days), DataType::Date32))
        }
        "nvl" | "ifnull" => {
            arity(&name, &args, &[2])?;
            scalar(state, "coalesce", args)?
        }
        "nvl2" => {
            arity(&name, &args, &[3])?;
            let otherwise = one(&mut args);
            let (c, v) = two(&mut args);
            when(c.is_not_null(), v).otherwise(otherwise)?
        }
        "startswith" => {
            arity(&name, &args, &[2])?;
            scalar(state, "starts_with", args)?
        }
        "endswith" => {
            arity(&name, &args, &[2])?;
            scalar(state, "ends_with", args)?
        }
        "contains" => {
            arity(&name, &args, &[2])?;
            scalar(state, "contains", args)?
        }
        "substr" | "substring" => {
            arity(&name, &args, &[2, 3])?;
            scalar(state, "substr", args)?
        }
        "mean" | "avg" => aggregate(state, "avg", args, distinct)?,
        "std" | "stddev" | "stddev_samp" => aggregate(state, "stddev", args, distinct)?,
        "variance" | "var_samp" => aggregate(state, "var_samp", args, distinct)?,
        "collect_list" | "array_agg" | "collect_set" => {
            // Spark skips nulls; collect_set keeps each value once.
            let filter = args.first().map(|arg| arg.clone().is_not_null());
            let distinct = distinct || name == "collect_set";
            aggregate_with(state, "array_agg", args, distinct, filter, vec![])?
        }
        "first" | "first_value" | "last" | "last_value" | "any_value" => {
            // `first(col, ignorenulls)`.
            let ignore_nulls = matches!(
                args.get(1),
                Some(Expr::Literal(ScalarValue::Boolean(Some(true)), _))
            );
            args.truncate(1);
            let target = if name.starts_with("last") {
                "last_value"
            } else {
                "first_value"
            };
            let e = aggregate(state, target, args, false)?;
            match e {
                Expr::AggregateFunction(mut a) if ignore_nulls => {
                    a.params.null_treatment =
                        Some(datafusion::logical_expr::expr::NullTreatment::IgnoreNulls);
                    Expr::AggregateFunction(a)
                }
                other => other,
            }
        }
        "count_distinct" | "countdistinct" | "count"
            if args.len() > 1 && (distinct || name != "count") =>
        {
            // Distinct tuples of rows where none of the values is NULL.
            let all_present = args
                .iter()
                .map(|a| a.clone().is_not_null())
                .reduce(|a, b| a.and(b))
                .unwrap_or(lit(true));
            let mut pairs = Vec::with_capacity(args.len() * 2);
            for (i, a) in args.into_iter().enumerate() {
                pairs.push(lit(format!("c{i}")));
                pairs.push(a);
            }
            let tuple = scalar(state, "named_struct", pairs)?;
            aggregate_with(state, "count", vec![tuple], true, Some(all_present), vec![])?
        }
        "count_distinct" | "countdistinct" => aggregate(state, "count", args, true)?,
        "count" if distinct => aggregate(state, "count", args, true)?,
        "approx_count_distinct" => {
            args.truncate(1);
            aggregate(state, "approx_distinct", args, false)?
        }
        "sum_distinct" | "sumdistinct" => aggregate(state, "sum", args, true)?,
        "size" | "cardinality" | "array_size" => {
            // The top-level elements of an array (entries of a map); NULL for NULL, as
            // in Spark 4's ANSI mode (legacy mode said -1).
            arity(&name, &args, &[1])?;
            let f = match args[0].get_type(schema)? {
                DataType::Map(..) => "cardinality",
                _ => "array_length",
            };
            Expr::Cast(Cast::new(
                Box::new(scalar(state, f, args)?),
                DataType::Int32,
            ))
        }
        "length" | "char_length" | "character_length" | "len" => {
            arity(&name, &args, &[1])?;
            Expr::Cast(Cast::new(
                Box::new(scalar(state, "character_length", args)?),
                DataType::Int32,
            ))
        }
        "ltrim" | "rtrim" | "trim" if args.len() == 2 => {
            // PySpark sends the characters to trim first.
            args.swap(0, 1);
            let f = match name.as_str() {
                "trim" => "btrim",
                other => other,
            };
            scalar(state, f, args)?
        }
        "reverse" => {
            // Arrays reverse their elements, strings their characters.
            arity(&name, &args, &[1])?;
            let arg = one(&mut args);
            let f = match arg.get_type(schema)? {
                DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
                    "array_reverse"
                }
                _ => "reverse",
            };
            scalar(state, f, vec![arg])?
        }
        "bround" => {
            // Rounds half to even at `scale` digits (0 without one).
            arity(&name, &args, &[1, 2])?;
            let scale = if args.len() == 2 {
                one(&mut args)
            } else {
                lit(0i32)
            };
            let value = Expr::Cast(Cast::new(Box::new(one(&mut args)), DataType::Float64));
            let factor = scalar(
                state,
                "power",
                vec![
                    lit(10f64),
                    Expr::Cast(Cast::new(Box::new(scale), DataType::Float64)),
                ],
            )?;
            let scaled = binary(value, Operator::Multiply, factor.clone());
            let floor = scalar(state, "floor", vec![scaled.clone()])?;
            let fraction = binary(scaled.clone(), Operator::Minus, floor.clone());
            let floor_is_even = binary(
                binary(floor.clone(), Operator::Modulo, lit(2f64)),
                Operator::Eq,
                lit(0f64),
            );
            let halfway = binary(fraction, Operator::Eq, lit(0.5f64));
            let even = when(floor_is_even, floor.clone()).otherwise(binary(
                floor,
                Operator::Plus,
                lit(1f64),
            ))?;
            let rounded = when(halfway, even).otherwise(scalar(state, "round", vec![scaled])?)?;
            binary(rounded, Operator::Divide, factor)
        }
        "explode" | "explode_outer" => {
            // Outside a select list (`withColumn("x", explode(xs))`): one column of the
            // elements; `select` names and expands every generator (Scope::named).
            arity(&name, &args, &[1])?;
            Expr::Unnest(datafusion::logical_expr::expr::Unnest::new(one(&mut args)))
        }
        "ln" | "log" | "log10" | "log2" | "log1p" => {
            // Spark's logarithms are NULL outside their domain (x <= 0; x <= -1 for
            // log1p), not -Infinity or NaN.
            arity(&name, &args, if name == "log" { &[1, 2] } else { &[1] })?;
            let double = |e: Expr| Expr::Cast(Cast::new(Box::new(e), DataType::Float64));
            let x = double(one(&mut args));
            let (value, bound) = match (name.as_str(), args.pop()) {
                ("log", Some(base)) => (scalar(state, "log", vec![double(base), x.clone()])?, 0f64),
                ("log10", _) => (scalar(state, "log10", vec![x.clone()])?, 0f64),
                // ln(x) / ln(2), as Spark computes it (log2 rounds differently).
                ("log2", _) => (
                    binary(
                        scalar(state, "ln", vec![x.clone()])?,
                        Operator::Divide,
                        lit(std::f64::consts::LN_2),
                    ),
                    0f64,
                ),
                ("log1p", _) => (
                    scalar(
                        state,
                        "ln",
                        vec![binary(lit(1f64), Operator::Plus, x.clone())],
                    )?,
                    -1f64,
                ),
                _ => (scalar(state, "ln", vec![x.clone()])?, 0f64),
            };
            when(x.lt_eq(lit(bound)), lit(ScalarValue::Float64(None))).otherwise(value)?
        }
        "pow" | "power" | "**" => {
            arity(&name, &args, &[2])?;
            let (l, r) = two(&mut args);
            scalar(
                state,
                "power",
                vec![
                    Expr::Cast(Cast::new(Box::new(l), DataType::Float64)),
                    Expr::Cast(Cast::new(Box::new(r), DataType::Float64)),
                ],
            )?
        }
        "ceil" | "ceiling" | "floor" if args.len() == 1 => {
            let arg = one(&mut args);
            let integral = !matches!(
                arg.get_type(schema)?,
                DataType::Decimal128(..) | DataType::Decimal256(..)
            );
            let f = scalar(
                state,
                if name == "floor" { "floor" } else { "ceil" },
                vec![arg],
            )?;
            if integral {
                Expr::Cast(Cast::new(Box::new(f), DataType::Int64))
            } else {
                f
            }
        }
        "regexp_replace" => {
            // Spark replaces every match; DataFusion needs the `g` flag for that.
            arity(&name, &args, &[3, 4])?;
            args.truncate(3);
            args.push(lit("g"));
            scalar(state, "regexp_replace", args)?
        }
        "year" | "month" | "day" | "dayofmonth" | "hour" | "minute" | "quarter" | "dayofyear"
        | "weekofyear" | "week" => {
            arity(&name, &args, &[1])?;
            let part = match name.as_str() {
                "dayofmonth" => "day",
                "dayofyear" => "doy",
                "weekofyear" => "week",
                other => other,
            };
            Expr::Cast(Cast::new(
                Box::new(scalar(state, "date_part", vec![lit(part), one(&mut args)])?),
                DataType::Int32,
            ))
        }
        "second" => {
            arity(&name, &args, &[1])?;
            Expr::Cast(Cast::new(
                Box::new(scalar(
                    state,
                    "floor",
                    vec![scalar(
                        state,
                        "date_part",
                        vec![lit("second"), one(&mut args)],
                    )?],
                )?),
                DataType::Int32,
            ))
        }
        "dayofweek" => {
            // Spark: 1 = Sunday; DataFusion's dow: 0 = Sunday.
            arity(&name, &args, &[1])?;
            Expr::Cast(Cast::new(
                Box::new(scalar(state, "date_part", vec![lit("dow"), one(&mut args)])? + lit(1i64)),
                DataType::Int32,
            ))
        }
        "to_date" if args.len() == 2 => {
            let format = java_datetime_format(&string_arg(&args, 1, &name)?);
            args[1] = lit(format);
            scalar(state, "to_date", args)?
        }
        "to_timestamp" | "to_timestamp_ltz" => {
            // Text in the session's time zone, with a Java pattern if given.
            arity(&name, &args, &[1, 2])?;
            let (parsed, text) = parsed_timestamp(state, schema, args, &name)?;
            if text {
                in_session_zone(state, parsed)
            } else {
                Expr::Cast(Cast::new(
                    Box::new(parsed),
                    DataType::Timestamp(
                        arrow::datatypes::TimeUnit::Microsecond,
                        Some("UTC".into()),
                    ),
                ))
            }
        }
        "to_timestamp_ntz" => {
            // Text as a time without a zone, with a Java pattern if given.
            arity(&name, &args, &[1, 2])?;
            let (parsed, _) = parsed_timestamp(state, schema, args, &name)?;
            Expr::Cast(Cast::new(
                Box::new(parsed),
                DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
            ))
        }
        "from_unixtime" => {
            arity(&name, &args, &[1, 2])?;
            if args.len() == 1 {
                args.push(lit(crate::datetime::DEFAULT_PATTERN));
            }
            let pattern = string_arg(&args, 1, &name)?;
            if crate::datetime::is_time_zone(&pattern) {
                scalar(state, "from_unixtime", args)?
            } else {
                Expr::ScalarFunction(ScalarFunction::new_udf(
                    crate::datetime::from_unixtime(),
                    args,
                ))
            }
        }
        "unix_timestamp" | "to_unix_timestamp" if !args.is_empty() => {
            arity(&name, &args, &[1, 2])?;
            let pattern = if args.len() == 2 {
                string_arg(&args, 1, &name)?
            } else {
                crate::datetime::DEFAULT_PATTERN.to_string()
            };
            args.truncate(1);
            let value = args.remove(0);
            // A timestamp or date counts as it is; a string parses with the pattern.
            let is_string = value
                .get_type(schema)
                .is_ok_and(|t| crate::types::is_string(&t));
            let mut call = vec![value];
            if is_string {
                call.push(lit(java_datetime_format(&pattern)));
            }
            scalar(state, "to_unixtime", call)?
        }
        "date_format" => {
            arity(&name, &args, &[2])?;
            let format = java_datetime_format(&string_arg(&args, 1, &name)?);
            args[1] = lit(format);
            scalar(state, "to_char", args)?
        }
        "lit" => {
            arity(&name, &args, &[1])?;
            one(&mut args)
        }
        "col" | "column" => {
            arity(&name, &args, &[1])?;
            let column = string_arg(&args, 0, &name)?;
            scope.column(&column, None)?
        }
        "expr" => {
            arity(&name, &args, &[1])?;
            scope.sql_expr(&string_arg(&args, 0, &name)?)?
        }
        "struct" => {
            let mut pairs = Vec::with_capacity(args.len() * 2);
            if args.len() != arguments.len() {
                // `struct("*")`: the columns, by name.
                for (i, arg) in args.into_iter().enumerate() {
                    let field = match &arg {
                        Expr::Column(c) => c.name.clone(),
                        Expr::Alias(a) => a.name.clone(),
                        _ => format!("col{}", i + 1),
                    };
                    pairs.push(lit(field));
                    pairs.push(arg);
                }
                return scalar(state, "named_struct", pairs);
            }
            for (i, (arg, proto)) in args.into_iter().zip(arguments).enumerate() {
                let field = match &proto.expr_type {
                    Some(sparkling_proto::spark::expression::ExprType::Alias(a)) => {
                        a.name.join(".")
                    }
                    Some(sparkling_proto::spark::expression::ExprType::UnresolvedAttribute(a)) => {
                        crate::names::attribute_name(&a.unparsed_identifier)
                    }
                    _ => format!("col{}", i + 1),
                };
                let arg = match arg {
                    Expr::Alias(a) => *a.expr,
                    other => other,
                };
                pairs.push(lit(field));
                pairs.push(arg);
            }
            scalar(state, "named_struct", pairs)?
        }
        "window" => {
            // window(time, duration[, slide[, start]]): the struct of the window's start
            // and end; with a slide shorter than the duration, every window that holds
            // the time, one row each (a generator, as in Spark).
            arity(&name, &args, &[2, 3, 4])?;
            let duration = crate::datetime::duration_micros(&string_arg(&args, 1, &name)?)?;
            let slide = match args.get(2) {
                Some(_) => crate::datetime::duration_micros(&string_arg(&args, 2, &name)?)?,
                None => duration,
            };
            let start = match args.get(3) {
                Some(_) => crate::datetime::duration_micros(&string_arg(&args, 3, &name)?)?,
                None => 0,
            };
            if slide > duration || duration % slide != 0 {
                return Err(SparkError::invalid(format!(
                    "[UNSUPPORTED_FEATURE] window: the duration must be a multiple of the \
                     slide ({duration} and {slide} microseconds)"
                )));
            }
            let micros = |e: Expr| Expr::Cast(Cast::new(Box::new(e), DataType::Int64));
            let timestamp = |e: Expr| {
                Expr::Cast(Cast::new(
                    Box::new(e),
                    DataType::Timestamp(
                        arrow::datatypes::TimeUnit::Microsecond,
                        Some("UTC".into()),
                    ),
                ))
            };
            let time = micros(args.swap_remove(0));
            // The latest window start at or before the time.
            let offset = binary(time.clone(), Operator::Minus, lit(start));
            let within = binary(
                binary(
                    binary(offset, Operator::Modulo, lit(slide)),
                    Operator::Plus,
                    lit(slide),
                ),
                Operator::Modulo,
                lit(slide),
            );
            let last = binary(time, Operator::Minus, within);
            let count = duration / slide;
            let mut windows = Vec::new();
            for j in (0..count).rev() {
                let begin = binary(last.clone(), Operator::Minus, lit(j * slide));
                let end = binary(begin.clone(), Operator::Plus, lit(duration));
                windows.push(scalar(
                    state,
                    "named_struct",
                    vec![lit("start"), timestamp(begin), lit("end"), timestamp(end)],
                )?);
            }
            if count == 1 {
                windows.remove(0)
            } else {
                Expr::Unnest(datafusion::logical_expr::expr::Unnest::new(scalar(
                    state,
                    "make_array",
                    windows,
                )?))
            }
        }
        "split" => {
            arity(&name, &args, &[2, 3])?;
            if args.len() == 2 {
                args.push(lit(-1i32));
            }
            scalar(state, crate::regex::RegexFunction::Split.name(), args)?
        }
        "regexp_extract_all" => {
            arity(&name, &args, &[2, 3])?;
            if args.len() == 2 {
                args.push(lit(1i32));
            }
            scalar(state, crate::regex::RegexFunction::ExtractAll.name(), args)?
        }
        "regexp_substr" => {
            arity(&name, &args, &[2])?;
            scalar(state, crate::regex::RegexFunction::Substr.name(), args)?
        }
        "skewness" | "kurtosis" => {
            // From the power sums: m_k are the central moment sums; NULL for no rows
            // or no spread, as Spark (outside its legacy mode).
            arity(&name, &args, &[1])?;
            let x = Expr::Cast(Cast::new(Box::new(one(&mut args)), DataType::Float64));
            let power = |k: i32| {
                let mut e = x.clone();
                for _ in 1..k {
                    e = binary(e, Operator::Multiply, x.clone());
                }
                e
            };
            let sum = |e: Expr| aggregate(state, "sum", vec![e], false);
            let n = Expr::Cast(Cast::new(
                Box::new(aggregate(state, "count", vec![x.clone()], false)?),
                DataType::Float64,
            ));
            let (s1, s2, s3) = (sum(power(1))?, sum(power(2))?, sum(power(3))?);
            let mean = binary(s1, Operator::Divide, n.clone());
            let times = |a: Expr, b: Expr| binary(a, Operator::Multiply, b);
            let m2 = binary(
                s2.clone(),
                Operator::Minus,
                times(n.clone(), times(mean.clone(), mean.clone())),
            );
            let value = if name == "skewness" {
                // m3 = s3 - 3 mean s2 + 2 n mean^3
                let m3 = binary(
                    binary(
                        s3,
                        Operator::Minus,
                        times(lit(3f64), times(mean.clone(), s2)),
                    ),
                    Operator::Plus,
                    times(
                        lit(2f64),
                        times(n.clone(), times(mean.clone(), times(mean.clone(), mean))),
                    ),
                );
                binary(
                    times(scalar(state, "sqrt", vec![n.clone()])?, m3),
                    Operator::Divide,
                    scalar(
                        state,
                        "sqrt",
                        vec![times(m2.clone(), times(m2.clone(), m2.clone()))],
                    )?,
                )
            } else {
                // m4 = s4 - 4 mean s3 + 6 mean^2 s2 - 3 n mean^4
                let s4 = sum(power(4))?;
                let mean2 = times(mean.clone(), mean.clone());
                let m4 = binary(
                    binary(
                        binary(
                            s4,
                            Operator::Minus,
                            times(lit(4f64), times(mean.clone(), s3)),
                        ),
                        Operator::Plus,
                        times(lit(6f64), times(mean2.clone(), s2)),
                    ),
                    Operator::Minus,
                    times(lit(3f64), times(n.clone(), times(mean2.clone(), mean2))),
                );
                binary(
                    binary(
                        times(n.clone(), m4),
                        Operator::Divide,
                        times(m2.clone(), m2.clone()),
                    ),
                    Operator::Minus,
                    lit(3f64),
                )
            };
            when(
                n.eq(lit(0f64)).or(m2.eq(lit(0f64))),
                lit(ScalarValue::Float64(None)),
            )
            .otherwise(value)?
        }
        "acos" | "asin" | "atan" | "atan2" | "cbrt" | "cos" | "cosh" | "cot" | "csc" | "sec"
        | "degrees" | "radians" | "exp" | "expm1" | "sin" | "sinh" | "tan" | "tanh" | "sqrt"
        | "acosh" | "asinh" | "atanh" | "signum" => {
            // Spark's math functions take and return doubles.
            let args = args
                .into_iter()
                .map(|a| Expr::Cast(Cast::new(Box::new(a), DataType::Float64)))
                .collect();
            registry(state, schema, &name, args, distinct)?
        }
        "median" => {
            // Of the values as doubles: the middle of an even count is the mean of two.
            let args = args
                .into_iter()
                .map(|a| Expr::Cast(Cast::new(Box::new(a), DataType::Float64)))
                .collect();
            let m = registry(state, schema, "median", args, distinct)?;
            Expr::Cast(Cast::new(Box::new(m), DataType::Float64))
        }
        "overlay" => {
            // The text with `len` characters from `pos` (1-based) replaced; a length of
            // -1 (the default) replaces as many as the replacement has.
            arity(&name, &args, &[3, 4])?;
            let length = if args.len() == 4 {
                Some(one(&mut args))
            } else {
                None
            };
            let position = Expr::Cast(Cast::new(Box::new(one(&mut args)), DataType::Int64));
            let (text, replacement) = two(&mut args);
            let replaced = Expr::Cast(Cast::new(
                Box::new(scalar(
                    state,
                    "character_length",
                    vec![replacement.clone()],
                )?),
                DataType::Int64,
            ));
            let length = match length {
                None => replaced,
                Some(l) => {
                    let l = Expr::Cast(Cast::new(Box::new(l), DataType::Int64));
                    when(l.clone().lt(lit(0i64)), replaced).otherwise(l)?
                }
            };
            let before = scalar(
                state,
                "substr",
                vec![
                    text.clone(),
                    lit(1i64),
                    binary(position.clone(), Operator::Minus, lit(1i64)),
                ],
            )?;
            let after = scalar(
                state,
                "substr",
                vec![text, binary(position, Operator::Plus, length)],
            )?;
            binary(
                binary(before, Operator::StringConcat, replacement),
                Operator::StringConcat,
                after,
            )
        }
        "array_append" | "array_prepend" => {
            // (array, element) in Spark's order; a NULL array gives NULL.
            arity(&name, &args, &[2])?;
            let (array, element) = two(&mut args);
            let call = if name == "array_append" {
                scalar(state, "array_append", vec![array.clone(), element])?
            } else {
                scalar(state, "array_prepend", vec![element, array.clone()])?
            };
            when(array.is_null(), lit(ScalarValue::Null)).otherwise(call)?
        }
        "array_position" => {
            // 1-based, 0 when absent, NULL for a NULL array.
            arity(&name, &args, &[2])?;
            let (array, element) = two(&mut args);
            let found = scalar(state, "array_position", vec![array.clone(), element])?;
            let position = scalar(
                state,
                "coalesce",
                vec![
                    Expr::Cast(Cast::new(Box::new(found), DataType::Int64)),
                    lit(0i64),
                ],
            )?;
            when(array.is_null(), lit(ScalarValue::Int64(None))).otherwise(position)?
        }
        "array_remove" => {
            arity(&name, &args, &[2])?;
            scalar(state, "array_remove_all", args)?
        }
        "array_sort" if args.len() == 1 => {
            // Ascending, NULLs last.
            args.push(lit("ASC"));
            args.push(lit("NULLS LAST"));
            scalar(state, "array_sort", args)?
        }
        "concat"
            if args
                .first()
                .and_then(|a| a.get_type(schema).ok())
                .is_some_and(|t| matches!(t, DataType::List(_) | DataType::LargeList(_))) =>
        {
            // Arrays concatenate; any NULL array makes NULL.
            let any_null = args
                .iter()
                .map(|a| a.clone().is_null())
                .reduce(|a, b| a.or(b))
                .unwrap_or(lit(false));
            when(any_null, lit(ScalarValue::Null)).otherwise(scalar(
                state,
                "array_concat",
                args,
            )?)?
        }
        "flatten" => {
            // NULL when any inner array is NULL.
            arity(&name, &args, &[1])?;
            let array = one(&mut args);
            let any_null =
                crate::lambda::simple(state, crate::lambda::Kind::Exists, array.clone(), |x| {
                    x.is_null()
                })?;
            when(any_null.is_true(), lit(ScalarValue::Null)).otherwise(scalar(
                state,
                "flatten",
                vec![array],
            )?)?
        }
        "trunc" if args.len() == 2 && !args[0].get_type(schema).is_ok_and(|t| t.is_numeric()) => {
            // trunc(date, unit): the date at the start of its year, quarter, month or week.
            let unit = string_arg(&args, 1, &name)?.to_ascii_lowercase();
            let unit = match unit.as_str() {
                "year" | "yyyy" | "yy" => "year",
                "quarter" => "quarter",
                "month" | "mon" | "mm" => "month",
                "week" => "week",
                other => {
                    return Err(SparkError::invalid(format!(
                        "trunc() takes the unit year, quarter, month or week, not '{other}'"
                    )));
                }
            };
            let date = as_date(args.swap_remove(0), schema)?;
            Expr::Cast(Cast::new(
                Box::new(scalar(state, "date_trunc", vec![lit(unit), date])?),
                DataType::Date32,
            ))
        }
        "encode" | "decode"
            if args.len() == 2
                && matches!(args[1], Expr::Literal(ScalarValue::Utf8(Some(ref c)), _)
                    if ["utf-8", "utf8", "us-ascii"].contains(&c.to_ascii_lowercase().as_str())) =>
        {
            // Text to its UTF-8 bytes and back (DataFusion's encode/decode are hex/base64).
            args.truncate(1);
            let to = if name == "encode" {
                DataType::Binary
            } else {
                DataType::Utf8
            };
            Expr::Cast(Cast::new(Box::new(one(&mut args)), to))
        }
        "string_agg" | "listagg" => {
            // The values joined by the delimiter ('' when none is given).
            arity(&name, &args, &[1, 2])?;
            if args.len() == 1 {
                args.push(lit(""));
            }
            let delimiter = one(&mut args);
            let value = Expr::Cast(Cast::new(Box::new(one(&mut args)), DataType::LargeUtf8));
            Expr::Cast(Cast::new(
                Box::new(aggregate(
                    state,
                    "string_agg",
                    vec![value, delimiter],
                    distinct,
                )?),
                DataType::Utf8,
            ))
        }
        "levenshtein" if args.len() == 3 => {
            // With a threshold: -1 when the distance is larger.
            let threshold = one(&mut args);
            let distance = scalar(state, "levenshtein", args)?;
            when(
                Expr::Cast(Cast::new(Box::new(distance.clone()), DataType::Int64))
                    .gt(Expr::Cast(Cast::new(Box::new(threshold), DataType::Int64))),
                lit(-1i32),
            )
            .otherwise(Expr::Cast(Cast::new(Box::new(distance), DataType::Int32)))?
        }
        "replace" if args.len() == 2 => {
            // Without a replacement: the search text removed.
            args.push(lit(""));
            scalar(state, "replace", args)?
        }
        "hash" => scalar(state, crate::hash::HASH, args)?,
        "xxhash64" => scalar(state, crate::hash::XXHASH64, args)?,
        "weekday" | "dayname" | "monthname" => {
            // weekday: 0 = Monday; the names as Spark's English abbreviations.
            arity(&name, &args, &[1])?;
            let date = as_date(one(&mut args), schema)?;
            match name.as_str() {
                "weekday" => Expr::Cast(Cast::new(
                    Box::new(binary(
                        binary(
                            scalar(state, "date_part", vec![lit("dow"), date])?,
                            Operator::Plus,
                            lit(6i64),
                        ),
                        Operator::Modulo,
                        lit(7i64),
                    )),
                    DataType::Int32,
                )),
                "dayname" => scalar(state, "to_char", vec![date, lit("%a")])?,
                _ => scalar(state, "to_char", vec![date, lit("%b")])?,
            }
        }
        "timestamp_seconds" | "timestamp_millis" | "timestamp_micros" => {
            // A count since the epoch as a timestamp.
            arity(&name, &args, &[1])?;
            let per_unit: i64 = match name.as_str() {
                "timestamp_seconds" => 1_000_000,
                "timestamp_millis" => 1_000,
                _ => 1,
            };
            let value = one(&mut args);
            let micros = if value.get_type(schema)?.is_floating() {
                Expr::Cast(Cast::new(
                    Box::new(binary(value, Operator::Multiply, lit(per_unit as f64))),
                    DataType::Int64,
                ))
            } else {
                binary(
                    Expr::Cast(Cast::new(Box::new(value), DataType::Int64)),
                    Operator::Multiply,
                    lit(per_unit),
                )
            };
            Expr::Cast(Cast::new(
                Box::new(micros),
                DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())),
            ))
        }
        "array_compact" => {
            arity(&name, &args, &[1])?;
            crate::lambda::without_nulls(state, one(&mut args))?
        }
        "try_element_at" | "element_at" => {
            // An array element counted from 1 (from the end when negative), or a map's
            // value; NULL when there is none.
            arity(&name, &args, &[2])?;
            let (collection, key) = two(&mut args);
            match collection.get_type(schema)? {
                DataType::Map(..) => {
                    let values = scalar(state, "map_extract", vec![collection, key])?;
                    scalar(state, "array_element", vec![values, lit(1i64)])?
                }
                _ => scalar(
                    state,
                    "array_element",
                    vec![
                        collection,
                        Expr::Cast(Cast::new(Box::new(key), DataType::Int64)),
                    ],
                )?,
            }
        }
        "array" => scalar(state, "make_array", args)?,
        "create_map" | "map" => scalar(state, "map", args)?,
        "row_number" | "rank" | "dense_rank" | "percent_rank" | "cume_dist" | "ntile" | "lag"
        | "lead" | "nth_value" => {
            let f = state
                .window_functions()
                .get(name.as_str())
                .ok_or_else(|| unresolved(&name))?;
            Expr::WindowFunction(Box::new(WindowFunction::new(f.clone(), args)))
        }
        _ => registry(state, schema, &name, args, distinct)?,
    })
}

/// Any function of the session's registry: scalar, aggregate or window.
fn registry(
    state: &SessionState,
    schema: &datafusion::common::DFSchema,
    name: &str,
    args: Vec<Expr>,
    distinct: bool,
) -> Result<Expr> {
    if let Some(f) = state.scalar_functions().get(name) {
        let call = |args: Vec<Expr>| Expr::ScalarFunction(ScalarFunction::new_udf(f.clone(), args));
        let plain = call(args.clone());
        if plain.get_type(schema).is_ok() {
            return Ok(plain);
        }
        // Spark casts numbers, booleans and dates to text where a function takes text
        // (`upper(42)`); when the call fails as it is, the same with such arguments as
        // text (all of them, or the first) is tried.
        let textual = |e: &Expr| {
            e.get_type(schema).is_ok_and(|t| {
                t.is_numeric()
                    || matches!(
                        t,
                        DataType::Boolean | DataType::Date32 | DataType::Timestamp(..)
                    )
            })
        };
        let as_text = |e: Expr| Expr::Cast(Cast::new(Box::new(e), DataType::Utf8));
        let all: Vec<Expr> = args
            .iter()
            .map(|a| {
                if textual(a) {
                    as_text(a.clone())
                } else {
                    a.clone()
                }
            })
            .collect();
        let mut first = args.clone();
        if let Some(a) = first.first_mut()
            && textual(a)
        {
            *a = as_text(a.clone());
        }
        // And dates written as text where a function takes a date (`date_add('2015-04-08', 1)`).
        let mut dated = args.clone();
        if let Some(a) = dated.first_mut() {
            *a = as_date(a.clone(), schema)?;
        }
        for candidate in [all, first, dated] {
            if candidate != args {
                let e = call(candidate);
                if e.get_type(schema).is_ok() {
                    return Ok(e);
                }
            }
        }
        return Ok(plain);
    }
    if state.aggregate_functions().contains_key(name) {
        return aggregate(state, name, args, distinct);
    }
    if let Some(f) = state.window_functions().get(name) {
        return Ok(Expr::WindowFunction(Box::new(WindowFunction::new(
            f.clone(),
            args,
        ))));
    }
    Err(unresolved(name))
}

/// A Java `DateTimeFormatter` pattern (Spark's: `yyyy-MM-dd HH:mm:ss`) as a chrono
/// format (`%Y-%m-%d %H:%M:%S`).
pub fn java_datetime_format(pattern: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal text; '' is a quote.
            i += 1;
            if i < chars.len() && chars[i] == '\'' {
                out.push('\'');
                i += 1;
                continue;
            }
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '%' {
                    out.push_str("%%");
                } else {
                    out.push(chars[i]);
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let spec = match (c, run) {
            ('y', 2) => "%y",
            ('y', _) | ('u', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('D', _) => "%j",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', 1) => "%-I",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', 1..=3) => "%3f",
            ('S', 4..=6) => "%6f",
            ('S', _) => "%9f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('X' | 'x', 1) => "%z",
            ('X' | 'x', _) | ('Z', 5) => "%:z",
            ('Z', _) => "%z",
            ('z', _) | ('V', _) => "%Z",
            _ => {
                for _ in 0..run {
                    if c == '%' {
                        out.push_str("%%");
                    } else {
                        out.push(c);
                    }
                }
                i += run;
                continue;
            }
        };
        out.push_str(spec);
        i += run;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns() {
        assert_eq!(java_datetime_format("yyyy-MM-dd"), "%Y-%m-%d");
        assert_eq!(
            java_datetime_format("yyyy-MM-dd HH:mm:ss.SSS"),
            "%Y-%m-%d %H:%M:%S.%3f"
        );
        assert_eq!(
            java_datetime_format("dd/MM/yy 'at' h a"),
            "%d/%m/%y at %-I %p"
        );
    }
}
