//! Arguments of the table functions that take options (`read_kafka`,
//! `generate_events`): the gateway turns `name => value` into the pair `'name', value`,
//! so they arrive as an even number of literals.

use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::Expr;

/// The option name/value pairs of `function`'s arguments.
pub fn option_pairs(function: &str, args: &[Expr]) -> Result<Vec<(String, String)>> {
    let strings = args
        .iter()
        .map(|a| match a {
            Expr::Literal(ScalarValue::Utf8(Some(s)), _)
            | Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _)
            | Expr::Literal(ScalarValue::Utf8View(Some(s)), _) => Ok(s.clone()),
            // Numbers as their text (`0.05` is a decimal literal, whose Display is
            // not its value).
            Expr::Literal(v, _) if !v.is_null() => match v.cast_to(&DataType::Utf8)? {
                ScalarValue::Utf8(Some(s)) => Ok(s),
                _ => Ok(v.to_string()),
            },
            other => {
                plan_err!("{function}() takes options as name => 'value' literals, got {other}")
            }
        })
        .collect::<Result<Vec<_>>>()?;
    if strings.len() % 2 != 0 {
        return plan_err!(
            "{function}() takes options as name => value pairs, e.g. {function}(name => 'value')"
        );
    }
    Ok(strings
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::lit;

    #[test]
    fn numbers_arrive_as_their_text() {
        let args = [
            lit("rate"),
            lit(ScalarValue::Decimal128(Some(5), 3, 2)),
            lit("count"),
            lit(10i32),
        ];
        let pairs = option_pairs("f", &args).unwrap();
        assert_eq!(pairs[0], ("rate".to_string(), "0.05".to_string()));
        assert_eq!(pairs[1], ("count".to_string(), "10".to_string()));
    }
}
