//! Spark's regular-expression functions DataFusion lacks: `split(str, regex[, limit])`,
//! `regexp_extract_all(str, regex[, group])` and `regexp_substr(str, regex)`. The
//! pattern may be a column; each distinct pattern of a batch is compiled once.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, ListBuilder, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;

/// Which function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegexFunction {
    /// `split(str, regex, limit)`: the pieces between matches.
    Split,
    /// `regexp_extract_all(str, regex, group)`: the group of every match.
    ExtractAll,
    /// `regexp_substr(str, regex)`: the first match, or NULL (none, or empty).
    Substr,
    /// `regexp_extract(str, regex, group)`: the group of the first match, or "".
    Extract,
}

impl RegexFunction {
    /// The name plans use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Split => "spark_split",
            Self::ExtractAll => "spark_regexp_extract_all",
            Self::Substr => "spark_regexp_substr",
            Self::Extract => "spark_regexp_extract",
        }
    }
}

/// The functions, ready to register.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    [
        RegexFunction::Split,
        RegexFunction::ExtractAll,
        RegexFunction::Substr,
        RegexFunction::Extract,
    ]
    .into_iter()
    .map(|kind| {
        Arc::new(ScalarUDF::from(RegexUdf {
            kind,
            signature: Signature::variadic_any(Volatility::Immutable),
            // SQL text calls them by Spark's names.
            aliases: vec![kind.name().trim_start_matches("spark_").to_string()],
        }))
    })
    .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RegexUdf {
    kind: RegexFunction,
    signature: Signature,
    aliases: Vec<String>,
}

fn text_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

impl ScalarUDFImpl for RegexUdf {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let arity = match self.kind {
            RegexFunction::Substr => 2..=2,
            _ => 2..=3,
        };
        if self.kind == RegexFunction::Extract && args.len() == 2 {
            return Ok(DataType::Utf8);
        }
        if !arity.contains(&args.len()) {
            return exec_err!("{} takes {:?} arguments", self.kind.name(), arity);
        }
        Ok(match self.kind {
            RegexFunction::Substr | RegexFunction::Extract => DataType::Utf8,
            _ => text_list(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = crate::functions::argument_arrays(&args)?;
        let text = cast(&arrays[0], &DataType::Utf8)?;
        let text: &StringArray = text.as_string();
        let patterns = cast(&arrays[1], &DataType::Utf8)?;
        let patterns: &StringArray = patterns.as_string();
        let numbers = match arrays.get(2) {
            Some(a) => Some(cast(a, &DataType::Int64)?),
            None => None,
        };
        let numbers: Option<&Int64Array> = numbers.as_ref().map(|a| a.as_primitive());
        let mut compiled: HashMap<String, Regex> = HashMap::new();
        let mut regex_of = |pattern: &str| -> Result<Regex> {
            if let Some(r) = compiled.get(pattern) {
                return Ok(r.clone());
            }
            let r = Regex::new(pattern).map_err(|e| {
                datafusion::error::DataFusionError::Execution(format!(
                    "[INVALID_PARAMETER_VALUE.PATTERN] invalid regular expression '{pattern}': {e}"
                ))
            })?;
            compiled.insert(pattern.to_string(), r.clone());
            Ok(r)
        };
        let null_at = |row: usize| {
            text.is_null(row) || patterns.is_null(row) || numbers.is_some_and(|n| n.is_null(row))
        };
        if self.kind == RegexFunction::Extract {
            let mut out = StringBuilder::new();
            for row in 0..rows {
                if null_at(row) {
                    out.append_null();
                    continue;
                }
                let pattern = patterns.value(row);
                let r = regex_of(pattern)?;
                let index = numbers.map(|n| n.value(row)).unwrap_or(1);
                let groups = r.captures_len() - 1;
                if index < 0 || index as usize > groups {
                    return exec_err!(
                        "[INVALID_PARAMETER_VALUE.REGEX_GROUP_INDEX] the regular expression \
                         '{pattern}' has {groups} group(s); the group index {index} is out of \
                         range"
                    );
                }
                let found = r
                    .captures(text.value(row))
                    .and_then(|c| c.get(index as usize).map(|m| m.as_str().to_string()));
                out.append_value(found.unwrap_or_default());
            }
            return Ok(ColumnarValue::Array(Arc::new(out.finish())));
        }
        if self.kind == RegexFunction::Substr {
            let mut out = StringBuilder::new();
            for row in 0..rows {
                if null_at(row) {
                    out.append_null();
                    continue;
                }
                let r = regex_of(patterns.value(row))?;
                // Spark's regexp_substr is the whole first match, NULL when empty.
                match r.find(text.value(row)) {
                    Some(m) if !m.as_str().is_empty() => out.append_value(m.as_str()),
                    _ => out.append_null(),
                }
            }
            return Ok(ColumnarValue::Array(Arc::new(out.finish())));
        }
        let mut out = ListBuilder::new(StringBuilder::new())
            .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        for row in 0..rows {
            if null_at(row) {
                out.append_null();
                continue;
            }
            let value = text.value(row);
            let pattern = patterns.value(row);
            // Without one: no limit to the pieces, the first group.
            let number =
                numbers
                    .map(|n| n.value(row))
                    .unwrap_or(if self.kind == RegexFunction::Split {
                        -1
                    } else {
                        1
                    });
            match self.kind {
                RegexFunction::Split => {
                    if pattern.is_empty() {
                        // Java splits between characters.
                        for c in value.chars() {
                            out.values().append_value(c.to_string());
                        }
                    } else {
                        let r = regex_of(pattern)?;
                        let pieces: Vec<&str> = if number > 0 {
                            r.splitn(value, number as usize).collect()
                        } else {
                            r.split(value).collect()
                        };
                        for piece in pieces {
                            out.values().append_value(piece);
                        }
                    }
                }
                _ => {
                    let r = regex_of(pattern)?;
                    let groups = r.captures_len() - 1;
                    if number < 0 || number as usize > groups {
                        return exec_err!(
                            "[INVALID_PARAMETER_VALUE.REGEX_GROUP_INDEX] the regular expression \
                             '{pattern}' has {groups} group(s); the group index {number} is out \
                             of range"
                        );
                    }
                    for captures in r.captures_iter(value) {
                        match captures.get(number as usize) {
                            Some(m) => out.values().append_value(m.as_str()),
                            None => out.values().append_null(),
                        }
                    }
                }
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
