//! The names Spark gives result columns it was not told to name: `(a + 1)`,
//! `count(1)`, `CAST(x AS INT)`, `CASE WHEN ... END` (Spark's `toPrettySQL`). PySpark
//! programs see them as `Row` field names and `show()` headers.

use sparkling_proto::spark::Expression;
use sparkling_proto::spark::expression::ExprType;
use sparkling_proto::spark::expression::cast::CastToType;
use sparkling_proto::spark::expression::literal::LiteralType;
use sparkling_proto::spark::expression::sort_order::{NullOrdering, SortDirection};

use crate::literal;
use crate::types::{arrow_type, parse_type, sql_type_name};

/// The name of a protocol message variant (`Aggregate` of `RelType::Aggregate(..)`),
/// for errors about what is not supported.
pub fn variant_name(value: &impl std::fmt::Debug) -> String {
    format!("{value:?}")
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("unknown")
        .to_string()
}

/// The last part of a dotted, possibly backquoted name (`t.a` -> `a`).
pub fn attribute_name(identifier: &str) -> String {
    split_identifier(identifier)
        .pop()
        .unwrap_or_else(|| identifier.to_string())
}

/// The parts of a dotted name; backquotes quote dots (`` `a.b`.c `` -> `a.b`, `c`).
pub fn split_identifier(identifier: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = identifier.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' if quoted && chars.peek() == Some(&'`') => {
                current.push('`');
                chars.next();
            }
            '`' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

fn binary_operator(name: &str) -> Option<&'static str> {
    Some(match name {
        "+" => "+",
        "-" => "-",
        "*" => "*",
        "/" => "/",
        "%" => "%",
        "==" | "=" => "=",
        "!=" | "<>" => "!=",
        "<" => "<",
        "<=" => "<=",
        ">" => ">",
        ">=" => ">=",
        "<=>" => "<=>",
        "and" => "AND",
        "or" => "OR",
        "&" => "&",
        "|" => "|",
        "^" => "^",
        "div" => "div",
        _ => return None,
    })
}

/// Spark's name for an expression's result column.
pub fn name(e: &Expression) -> String {
    match &e.expr_type {
        Some(ExprType::Literal(l)) => literal::name(l),
        Some(ExprType::UnresolvedAttribute(a)) => attribute_name(&a.unparsed_identifier),
        Some(ExprType::UnresolvedStar(s)) => match &s.unparsed_target {
            Some(t) => t.clone(),
            None => "*".into(),
        },
        Some(ExprType::Alias(a)) => a.name.join("."),
        Some(ExprType::ExpressionString(s)) => s.expression.clone(),
        // A cast column keeps its name (`col("age").cast("string")` is `age`).
        Some(ExprType::Cast(c))
            if matches!(
                c.expr.as_deref().and_then(|e| e.expr_type.as_ref()),
                Some(ExprType::UnresolvedAttribute(_))
            ) =>
        {
            c.expr.as_deref().map(name).unwrap_or_default()
        }
        Some(ExprType::Cast(c)) => {
            let child = c.expr.as_deref().map(name).unwrap_or_default();
            let t = match &c.cast_to_type {
                Some(CastToType::Type(t)) => arrow_type(t).map(|t| sql_type_name(&t)),
                Some(CastToType::TypeStr(s)) => parse_type(s).map(|t| sql_type_name(&t)),
                None => Ok(String::new()),
            }
            .unwrap_or_default();
            format!("CAST({child} AS {t})")
        }
        Some(ExprType::UnresolvedFunction(f)) => {
            function_name(&f.function_name, &f.arguments, f.is_distinct)
        }
        Some(ExprType::CallFunction(f)) => function_name(&f.function_name, &f.arguments, false),
        Some(ExprType::SortOrder(s)) => {
            let child = s.child.as_deref().map(name).unwrap_or_default();
            let desc = s.direction == SortDirection::Descending as i32;
            let nulls_last = match NullOrdering::try_from(s.null_ordering) {
                Ok(NullOrdering::SortNullsLast) => true,
                Ok(NullOrdering::SortNullsFirst) => false,
                _ => desc,
            };
            format!(
                "{child} {} NULLS {}",
                if desc { "DESC" } else { "ASC" },
                if nulls_last { "LAST" } else { "FIRST" }
            )
        }
        Some(ExprType::Window(w)) => {
            let f = w.window_function.as_deref().map(name).unwrap_or_default();
            let mut spec = Vec::new();
            if !w.partition_spec.is_empty() {
                spec.push(format!(
                    "PARTITION BY {}",
                    w.partition_spec
                        .iter()
                        .map(name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !w.order_spec.is_empty() {
                spec.push(format!(
                    "ORDER BY {}",
                    w.order_spec
                        .iter()
                        .map(|s| name(&Expression {
                            common: None,
                            expr_type: Some(ExprType::SortOrder(Box::new(s.clone()))),
                        }))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            format!("{f} OVER ({})", spec.join(" "))
        }
        Some(ExprType::UnresolvedExtractValue(x)) => {
            let child = x.child.as_deref().map(name).unwrap_or_default();
            match x.extraction.as_deref().map(|e| &e.expr_type) {
                Some(Some(ExprType::Literal(l))) => match &l.literal_type {
                    Some(LiteralType::String(field)) => format!("{child}.{field}"),
                    _ => format!("{child}[{}]", literal::name(l)),
                },
                _ => format!(
                    "{child}[{}]",
                    x.extraction.as_deref().map(name).unwrap_or_default()
                ),
            }
        }
        Some(ExprType::UnresolvedRegex(r)) => r.col_name.clone(),
        Some(ExprType::LambdaFunction(l)) => {
            let body = l.function.as_deref().map(name).unwrap_or_default();
            let args: Vec<String> = l.arguments.iter().map(|a| a.name_parts.join(".")).collect();
            format!("lambdafunction({body}, {})", args.join(", "))
        }
        Some(ExprType::UnresolvedNamedLambdaVariable(v)) => v.name_parts.join("."),
        Some(ExprType::NamedArgumentExpression(n)) => format!(
            "{} => {}",
            n.key,
            n.value.as_deref().map(name).unwrap_or_default()
        ),
        Some(ExprType::CommonInlineUserDefinedFunction(f)) => format!(
            "{}({})",
            f.function_name,
            f.arguments.iter().map(name).collect::<Vec<_>>().join(", ")
        ),
        _ => "expr".into(),
    }
}

fn function_name(function: &str, args: &[Expression], distinct: bool) -> String {
    let lower = function.to_ascii_lowercase();
    let arg = |i: usize| args.get(i).map(name).unwrap_or_default();
    if let Some(op) = binary_operator(&lower)
        && args.len() == 2
    {
        return format!("({} {op} {})", arg(0), arg(1));
    }
    match (lower.as_str(), args.len()) {
        ("not", 1) => format!("(NOT {})", arg(0)),
        ("negative", 1) => format!("negative({})", arg(0)),
        ("-", 1) => format!("(- {})", arg(0)),
        ("positive", 1) => format!("(+ {})", arg(0)),
        ("~", 1) => format!("~{}", arg(0)),
        ("isnull", 1) => format!("({} IS NULL)", arg(0)),
        ("isnotnull", 1) => format!("({} IS NOT NULL)", arg(0)),
        ("like" | "ilike", 2) => {
            format!("{} {} {}", arg(0), lower.to_uppercase(), arg(1))
        }
        ("in", n) if n >= 1 => format!(
            "({} IN ({}))",
            arg(0),
            args[1..].iter().map(name).collect::<Vec<_>>().join(", ")
        ),
        ("when", n) if n >= 2 => {
            let mut out = String::from("CASE");
            let mut i = 0;
            while i + 1 < n {
                out.push_str(&format!(" WHEN {} THEN {}", arg(i), arg(i + 1)));
                i += 2;
            }
            if i < n {
                out.push_str(&format!(" ELSE {}", arg(i)));
            }
            out.push_str(" END");
            out
        }
        ("count", 1) if is_star(&args[0]) => "count(1)".into(),
        ("ltrim" | "rtrim" | "trim", 2) => {
            // PySpark sends the characters first.
            let side = match lower.as_str() {
                "ltrim" => "LEADING",
                "rtrim" => "TRAILING",
                _ => "BOTH",
            };
            format!("TRIM({side} {} FROM {})", arg(0), arg(1))
        }
        // Aggregates that name only their column, whatever `ignorenulls` says.
        ("first" | "last" | "first_value" | "last_value" | "any_value", 2) => {
            format!("{lower}({})", arg(0))
        }
        ("log", 1) => format!("ln({})", arg(0)),
        ("window", 2..=4) => "window".into(),
        ("regexp_extract_all", 2) => format!("regexp_extract_all({}, {}, 1)", arg(0), arg(1)),
        ("hll_sketch_agg" | "theta_sketch_agg" | "theta_union_agg", 1) => {
            format!("{lower}({}, 12)", arg(0))
        }
        ("hll_union_agg", 1) => format!("hll_union_agg({}, false)", arg(0)),
        ("hll_union", 2) => format!("hll_union({}, {}, false)", arg(0), arg(1)),
        ("theta_union", 2) => format!("theta_union({}, {}, 12)", arg(0), arg(1)),
        ("regexp_instr", 2) => format!("regexp_instr({}, {}, 0)", arg(0), arg(1)),
        ("regexp_replace", 3) => {
            format!("regexp_replace({}, {}, {}, 1)", arg(0), arg(1), arg(2))
        }
        ("to_unix_timestamp" | "unix_timestamp", 1) => {
            format!("{lower}({}, yyyy-MM-dd HH:mm:ss)", arg(0))
        }
        ("current_database" | "current_schema", 0) => "current_schema()".into(),
        // Arguments Spark fills in and names.
        ("round" | "bround", 1) => format!("{lower}({}, 0)", arg(0)),
        ("substr" | "substring", 2) => format!("{lower}({}, {}, 2147483647)", arg(0), arg(1)),
        _ => {
            let shown = match lower.as_str() {
                "mean" => "avg".to_string(),
                _ => match capitalized_name(&lower, args.len()) {
                    Some(upper) => upper.to_string(),
                    None => lower.clone(),
                },
            };
            format!(
                "{shown}({}{})",
                if distinct { "DISTINCT " } else { "" },
                args.iter().map(name).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

/// The functions whose Spark expression names itself in capitals (`ACOS(x)`, `POWER(x, 2)`),
/// by the name PySpark calls them with; their other names (`ceiling`, `sign`) and other
/// arities (`ceil(x, 1)`) stay as called.
fn capitalized_name(function: &str, arity: usize) -> Option<&'static str> {
    Some(match (function, arity) {
        ("acos", 1) => "ACOS",
        ("acosh", 1) => "ACOSH",
        ("asin", 1) => "ASIN",
        ("asinh", 1) => "ASINH",
        ("atan", 1) => "ATAN",
        ("atanh", 1) => "ATANH",
        ("atan2", 2) => "ATAN2",
        ("cbrt", 1) => "CBRT",
        ("ceil", 1) => "CEIL",
        ("floor", 1) => "FLOOR",
        ("cos", 1) => "COS",
        ("cosh", 1) => "COSH",
        ("cot", 1) => "COT",
        ("csc", 1) => "CSC",
        ("sec", 1) => "SEC",
        ("sin", 1) => "SIN",
        ("sinh", 1) => "SINH",
        ("tan", 1) => "TAN",
        ("tanh", 1) => "TANH",
        ("degrees", 1) => "DEGREES",
        ("radians", 1) => "RADIANS",
        ("e", 0) => "E",
        ("pi", 0) => "PI",
        ("exp", 1) => "EXP",
        ("expm1", 1) => "EXPM1",
        ("log", 2) => "LOG",
        ("log10", 1) => "LOG10",
        ("log1p", 1) => "LOG1P",
        ("log2", 1) => "LOG2",
        ("hypot", 2) => "HYPOT",
        ("sqrt", 1) => "SQRT",
        ("signum", 1) => "SIGNUM",
        ("pow" | "power", 2) => "POWER",
        ("rlike", 2) => "RLIKE",
        ("regexp", 2) => "REGEXP",
        ("regexp_like", 2) => "REGEXP_LIKE",
        ("spark_partition_id", 0) => "SPARK_PARTITION_ID",
        _ => return None,
    })
}

/// Spark's name for an expression written as SQL text (`selectExpr("upper(name)")`,
/// `expr("id * 2")`), from the expression it parsed to: the alias when it has one,
/// else Spark's pretty form (`upper(name)`, `(id * 2)`, `count(1)`).
pub fn sql_name(e: &datafusion::logical_expr::Expr) -> String {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::Expr;
    let list = |args: &[Expr]| args.iter().map(sql_name).collect::<Vec<_>>().join(", ");
    match e {
        Expr::Alias(a) => a.name.clone(),
        Expr::Column(c) => c.name.clone(),
        Expr::Literal(v, _) => match v {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => s.clone(),
            v if v.is_null() => "NULL".into(),
            v => v.to_string(),
        },
        Expr::BinaryExpr(b) => {
            let op = match b.op {
                datafusion::logical_expr::Operator::Eq => "=".to_string(),
                datafusion::logical_expr::Operator::StringConcat => "||".to_string(),
                op => op.to_string(),
            };
            format!("({} {op} {})", sql_name(&b.left), sql_name(&b.right))
        }
        Expr::Not(x) => format!("(NOT {})", sql_name(x)),
        Expr::Negative(x) => format!("(- {})", sql_name(x)),
        Expr::IsNull(x) => format!("({} IS NULL)", sql_name(x)),
        Expr::IsNotNull(x) => format!("({} IS NOT NULL)", sql_name(x)),
        Expr::Cast(c) => format!(
            "CAST({} AS {})",
            sql_name(&c.expr),
            sql_type_name(&c.data_type)
        ),
        Expr::TryCast(c) => format!(
            "TRY_CAST({} AS {})",
            sql_name(&c.expr),
            sql_type_name(&c.data_type)
        ),
        Expr::ScalarFunction(f) => format!("{}({})", f.name(), list(&f.args)),
        Expr::AggregateFunction(f) => {
            let args = &f.params.args;
            let shown = match (f.func.name(), args.as_slice()) {
                ("count", [Expr::Literal(v, _)]) if !v.is_null() => "1".to_string(),
                _ => list(args),
            };
            let distinct = if f.params.distinct { "DISTINCT " } else { "" };
            format!("{}({distinct}{shown})", f.func.name())
        }
        other => other.schema_name().to_string(),
    }
}

/// Whether an expression is `*` (as in `count("*")`).
pub fn is_star(e: &Expression) -> bool {
    match &e.expr_type {
        Some(ExprType::UnresolvedStar(s)) => s.unparsed_target.is_none(),
        Some(ExprType::UnresolvedAttribute(a)) => a.unparsed_identifier == "*",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_names() {
        assert_eq!(split_identifier("a.b"), vec!["a", "b"]);
        assert_eq!(split_identifier("`a.b`.c"), vec!["a.b", "c"]);
        assert_eq!(split_identifier("`x``y`"), vec!["x`y"]);
        assert_eq!(attribute_name("t.col"), "col");
    }

    #[test]
    fn names_of_sql_text() {
        use datafusion::logical_expr::{col, lit};
        assert_eq!(sql_name(&(col("t.id") * lit(2))), "(id * 2)");
        assert_eq!(sql_name(&(col("a") * lit(2)).alias("twice")), "twice");
        assert_eq!(sql_name(&col("a").eq(lit("x"))), "(a = x)");
        assert_eq!(
            sql_name(&datafusion::functions::string::expr_fn::upper(col("name"))),
            "upper(name)"
        );
    }
}
