//! DataFusion filter expressions turned into Iceberg predicates, so scan planning can
//! prune manifests and files by partition values and column statistics.
//!
//! Conversion is conservative: a filter that cannot be expressed is left out (the
//! engine still applies every filter to the rows), and only a top-level `AND` may lose
//! a side, never one under `NOT` or `OR`.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use iceberg::expr::{Predicate, Reference};
use iceberg::spec::Datum;

/// The conjunction of the filters that can be expressed, if any.
pub fn filters_to_predicate(filters: &[Expr]) -> Option<Predicate> {
    filters
        .iter()
        .flat_map(split_and)
        .filter_map(|e| convert(&e))
        .reduce(Predicate::and)
}

fn split_and(expr: &Expr) -> Vec<Expr> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            let mut out = split_and(left);
            out.extend(split_and(right));
            out
        }
        other => vec![other.clone()],
    }
}

/// An exact translation of `expr`, or `None`.
fn convert(expr: &Expr) -> Option<Predicate> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => Some(convert(left)?.and(convert(right)?)),
            Operator::Or => Some(convert(left)?.or(convert(right)?)),
            _ => comparison(left, *op, right),
        },
        Expr::Not(inner) => Some(!convert(inner)?),
        Expr::IsNull(inner) => Some(reference(inner)?.is_null()),
        Expr::IsNotNull(inner) => Some(reference(inner)?.is_not_null()),
        Expr::InList(list) => {
            let column = reference(&list.expr)?;
            let values: Option<Vec<Datum>> = list.list.iter().map(datum).collect();
            let values = values?;
            Some(if list.negated {
                column.is_not_in(values)
            } else {
                column.is_in(values)
            })
        }
        Expr::Between(between) => {
            let column = reference(&between.expr)?;
            let low = datum(&between.low)?;
            let high = datum(&between.high)?;
            let inside = column
                .clone()
                .greater_than_or_equal_to(low)
                .and(column.less_than_or_equal_to(high));
            Some(if between.negated { !inside } else { inside })
        }
        _ => None,
    }
}

fn comparison(left: &Expr, op: Operator, right: &Expr) -> Option<Predicate> {
    let (column, value, op) = match (reference(left), datum(right)) {
        (Some(c), Some(v)) => (c, v, op),
        _ => (reference(right)?, datum(left)?, op.swap()?),
    };
    Some(match op {
        Operator::Eq => column.equal_to(value),
        Operator::NotEq => column.not_equal_to(value),
        Operator::Lt => column.less_than(value),
        Operator::LtEq => column.less_than_or_equal_to(value),
        Operator::Gt => column.greater_than(value),
        Operator::GtEq => column.greater_than_or_equal_to(value),
        _ => return None,
    })
}

fn reference(expr: &Expr) -> Option<Reference> {
    match expr {
        Expr::Column(column) => Some(Reference::new(column.name.clone())),
        _ => None,
    }
}

fn datum(expr: &Expr) -> Option<Datum> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    Some(match value {
        ScalarValue::Boolean(Some(v)) => Datum::bool(*v),
        ScalarValue::Int8(Some(v)) => Datum::int(*v as i32),
        ScalarValue::Int16(Some(v)) => Datum::int(*v as i32),
        ScalarValue::Int32(Some(v)) => Datum::int(*v),
        ScalarValue::Int64(Some(v)) => Datum::long(*v),
        ScalarValue::Float32(Some(v)) => Datum::float(*v),
        ScalarValue::Float64(Some(v)) => Datum::double(*v),
        ScalarValue::Utf8(Some(v))
        | ScalarValue::Utf8View(Some(v))
        | ScalarValue::LargeUtf8(Some(v)) => Datum::string(v),
        ScalarValue::Date32(Some(v)) => Datum::date(*v),
        ScalarValue::TimestampMicrosecond(Some(v), None) => Datum::timestamp_micros(*v),
        ScalarValue::TimestampMillisecond(Some(v), None) => Datum::timestamp_micros(v * 1000),
        ScalarValue::TimestampSecond(Some(v), None) => Datum::timestamp_micros(v * 1_000_000),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;

    #[test]
    fn converts_what_it_can_and_keeps_the_rest_out() {
        let p = filters_to_predicate(&[col("a").gt(lit(1i64)).and(col("b").eq(lit("x")))]).unwrap();
        assert_eq!(p.to_string(), "(a > 1) AND (b = \"x\")");
        // A filter with a function call is not pushed, the other one is.
        let p = filters_to_predicate(&[
            col("a").lt_eq(lit(5i32)),
            datafusion::functions::expr_fn::abs(col("a")).gt(lit(1i32)),
        ])
        .unwrap();
        assert_eq!(p.to_string(), "a <= 5");
        // Under NOT or OR nothing may be dropped.
        let f = datafusion::functions::expr_fn::abs(col("a")).gt(lit(1i32));
        assert!(
            filters_to_predicate(&[Expr::Not(Box::new(col("a").eq(lit(1i32)).and(f.clone())))])
                .is_none()
        );
        assert!(filters_to_predicate(&[col("a").eq(lit(1i32)).or(f)]).is_none());
        // Literal on the left.
        let p = filters_to_predicate(&[lit(3i64).lt(col("a"))]).unwrap();
        assert_eq!(p.to_string(), "a > 3");
    }
}
