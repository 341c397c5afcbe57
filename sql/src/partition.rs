//! Spark's `PARTITIONED BY` terms (`col`, `days(ts)`, `bucket(16, id)`, ...), as the
//! DDL and the DataFrame writers name them. The Iceberg partition spec they become is
//! built by the connectors.

use crate::error::{Result, SqlError};

/// One term of `PARTITIONED BY (...)`, as Spark writes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub enum PartitionTerm {
    /// `col` or `identity(col)`.
    Identity(String),
    /// `years(col)`.
    Year(String),
    /// `months(col)`.
    Month(String),
    /// `days(col)`.
    Day(String),
    /// `hours(col)`.
    Hour(String),
    /// `bucket(n, col)`.
    Bucket(u32, String),
    /// `truncate(width, col)` (or `truncate(col, width)`).
    Truncate(u32, String),
}

impl PartitionTerm {
    /// A term from a transform name and its arguments (column names and numbers).
    pub fn parse(function: Option<&str>, args: &[String]) -> Result<Self> {
        let one = |name: &str| match args {
            [col] => Ok(col.clone()),
            _ => Err(invalid(format!("{name}() takes one column, got {args:?}"))),
        };
        match function.map(str::to_ascii_lowercase).as_deref() {
            None | Some("identity") => Ok(Self::Identity(one("identity")?)),
            Some("years" | "year") => Ok(Self::Year(one("years")?)),
            Some("months" | "month") => Ok(Self::Month(one("months")?)),
            Some("days" | "day" | "date") => Ok(Self::Day(one("days")?)),
            Some("hours" | "hour" | "date_hour") => Ok(Self::Hour(one("hours")?)),
            Some("bucket") => {
                let (n, col) = width_and_column("bucket", args)?;
                Ok(Self::Bucket(n, col))
            }
            Some("truncate") => {
                let (n, col) = width_and_column("truncate", args)?;
                Ok(Self::Truncate(n, col))
            }
            Some(other) => Err(invalid(format!(
                "unknown partition transform {other}(); use years, months, days, hours, bucket or truncate"
            ))),
        }
    }

    /// The column the term partitions by.
    pub fn column(&self) -> &str {
        match self {
            Self::Identity(c)
            | Self::Year(c)
            | Self::Month(c)
            | Self::Day(c)
            | Self::Hour(c)
            | Self::Bucket(_, c)
            | Self::Truncate(_, c) => c,
        }
    }
}

fn invalid(message: String) -> SqlError {
    SqlError::Invalid(message)
}

fn width_and_column(name: &str, args: &[String]) -> Result<(u32, String)> {
    match args {
        [a, b] => match (a.parse::<u32>(), b.parse::<u32>()) {
            (Ok(n), _) => Ok((n, b.clone())),
            (Err(_), Ok(n)) => Ok((n, a.clone())),
            _ => Err(invalid(format!(
                "{name}() takes a number and a column, got {a}, {b}"
            ))),
        },
        _ => Err(invalid(format!("{name}() takes a number and a column"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_transforms_parse() {
        assert_eq!(
            PartitionTerm::parse(Some("days"), &["ts".into()]).unwrap(),
            PartitionTerm::Day("ts".into())
        );
        assert_eq!(
            PartitionTerm::parse(Some("truncate"), &["name".into(), "4".into()]).unwrap(),
            PartitionTerm::Truncate(4, "name".into())
        );
        assert!(PartitionTerm::parse(Some("weeks"), &["ts".into()]).is_err());
        assert!(PartitionTerm::parse(Some("bucket"), &["a".into(), "b".into()]).is_err());
    }
}
