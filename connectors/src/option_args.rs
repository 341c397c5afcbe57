//! Arguments of the table functions that take options (`read_kafka`,
//! `generate_events`): the gateway turns `name => value` into the pair `'name', value`,
//! so they arrive as an even number of literals.

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
            Expr::Literal(v, _) if !v.is_null() => Ok(v.to_string()),
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
