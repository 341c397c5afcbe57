//! Errors as gRPC statuses: the one place Spark Connect answers map error kinds to
//! status codes. Each status carries a `google.rpc.ErrorInfo` in its details, as Spark's
//! server sends: the Java exception classes the error stands for (PySpark picks the
//! exception it raises from them: `ParseException`, `AnalysisException`,
//! `ArithmeticException`, ...), the error class and its SQLSTATE.

use std::collections::HashMap;

use crate::error::ConnectError;
use sparkling_engine::ErrorKind;
use tonic::{Code, Status};

/// `google.rpc.ErrorInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    domain: String,
    #[prost(map = "string, string", tag = "3")]
    metadata: HashMap<String, String>,
}

/// `google.rpc.Status`, the payload of the `grpc-status-details-bin` trailer.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// What Spark would have thrown: its exception classes (most specific first), error
/// class and SQLSTATE.
#[derive(Debug, PartialEq)]
pub struct SparkException {
    /// Java class names, as Spark's server lists them.
    pub classes: &'static [&'static str],
    /// The error class (`DIVIDE_BY_ZERO`), when the message names one.
    pub error_class: Option<String>,
    /// The SQLSTATE of the error class, when known.
    pub sql_state: Option<&'static str>,
}

const ANALYSIS: &[&str] = &[
    "org.apache.spark.sql.AnalysisException",
    "org.apache.spark.SparkThrowable",
];
const PARSE: &[&str] = &[
    "org.apache.spark.sql.catalyst.parser.ParseException",
    "org.apache.spark.sql.AnalysisException",
    "org.apache.spark.SparkThrowable",
];
const ARITHMETIC: &[&str] = &[
    "org.apache.spark.SparkArithmeticException",
    "java.lang.ArithmeticException",
    "org.apache.spark.SparkThrowable",
];
const UNSUPPORTED: &[&str] = &[
    "org.apache.spark.SparkUnsupportedOperationException",
    "java.lang.UnsupportedOperationException",
    "org.apache.spark.SparkThrowable",
];
const NO_SUCH_ELEMENT: &[&str] = &[
    "org.apache.spark.SparkNoSuchElementException",
    "java.util.NoSuchElementException",
    "org.apache.spark.SparkThrowable",
];
const RUNTIME: &[&str] = &[
    "org.apache.spark.SparkRuntimeException",
    "java.lang.RuntimeException",
    "org.apache.spark.SparkThrowable",
];

/// The error class a message starts with or contains in brackets (`[DIVIDE_BY_ZERO] ...`).
fn error_class(message: &str) -> Option<String> {
    let start = message.find('[')?;
    let rest = &message[start + 1..];
    let end = rest.find(']')?;
    let class = &rest[..end];
    (!class.is_empty()
        && class
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '.'))
    .then(|| class.to_string())
}

fn sql_state(error_class: &str) -> Option<&'static str> {
    Some(match error_class.split('.').next().unwrap_or_default() {
        "DIVIDE_BY_ZERO" | "REMAINDER_BY_ZERO" => "22012",
        "ARITHMETIC_OVERFLOW" => "22003",
        "UNRESOLVED_COLUMN" => "42703",
        "TABLE_OR_VIEW_NOT_FOUND" => "42P01",
        "TABLE_OR_VIEW_ALREADY_EXISTS" => "42P07",
        "PATH_ALREADY_EXISTS" => "42K04",
        "UNRESOLVED_ROUTINE" => "42883",
        "PARSE_SYNTAX_ERROR" => "42601",
        "UNSUPPORTED_FEATURE" => "0A000",
        "INSERT_COLUMN_ARITY_MISMATCH" => "21S01",
        "UNBOUND_SQL_PARAMETER" => "42P02",
        "SQL_CONF_NOT_FOUND" => "42K0I",
        _ => return None,
    })
}

/// What Spark would have thrown for `e`.
pub fn spark_exception(e: &ConnectError) -> SparkException {
    let message = e.to_string();
    let mut class = error_class(&message);
    let classes = match e.kind() {
        _ if matches!(
            class.as_deref(),
            Some("DIVIDE_BY_ZERO" | "REMAINDER_BY_ZERO" | "ARITHMETIC_OVERFLOW")
        ) =>
        {
            ARITHMETIC
        }
        _ if class.as_deref() == Some("SQL_CONF_NOT_FOUND") => NO_SUCH_ELEMENT,
        ErrorKind::InvalidInput
            if message.contains("ParserError") || message.contains("SQL error") =>
        {
            class.get_or_insert_with(|| "PARSE_SYNTAX_ERROR".to_string());
            PARSE
        }
        ErrorKind::InvalidInput => ANALYSIS,
        ErrorKind::Unsupported => {
            class.get_or_insert_with(|| "UNSUPPORTED_FEATURE".to_string());
            UNSUPPORTED
        }
        _ => RUNTIME,
    };
    let sql_state = class.as_deref().and_then(sql_state);
    SparkException {
        classes,
        error_class: class,
        sql_state,
    }
}

/// The gRPC status of an error.
pub fn status(e: impl Into<ConnectError>) -> Status {
    let e = e.into();
    let code = match e.kind() {
        ErrorKind::InvalidInput => Code::InvalidArgument,
        ErrorKind::Unsupported => Code::Unimplemented,
        ErrorKind::Cancelled => Code::Cancelled,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Failed => Code::Aborted,
        ErrorKind::Internal => Code::Internal,
    };
    let message = e.to_string();
    if matches!(e.kind(), ErrorKind::Cancelled | ErrorKind::Unavailable) {
        // Not Spark exceptions: the client's retry and cancel handling reads the code.
        return Status::new(code, message);
    }
    let exception = spark_exception(&e);
    let mut metadata = HashMap::new();
    metadata.insert(
        "classes".to_string(),
        serde_json::to_string(exception.classes).unwrap_or_default(),
    );
    if let Some(class) = &exception.error_class {
        metadata.insert("errorClass".to_string(), class.clone());
        metadata.insert("messageParameters".to_string(), "{}".to_string());
    }
    if let Some(state) = exception.sql_state {
        metadata.insert("sqlState".to_string(), state.to_string());
    }
    let info = ErrorInfo {
        reason: exception.classes[0].to_string(),
        domain: "org.apache.spark".to_string(),
        metadata,
    };
    let details = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".to_string(),
            value: prost::Message::encode_to_vec(&info),
        }],
    };
    Status::with_details(
        code,
        message,
        prost::Message::encode_to_vec(&details).into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::error::DataFusionError;
    use sparkling_engine::EngineError;

    #[test]
    fn sql_errors_are_invalid_arguments() {
        let e: EngineError = DataFusionError::Plan("table 'nope' not found".into()).into();
        let s = status(e);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("nope"));
    }

    #[test]
    fn unsupported_relations_are_unimplemented() {
        let s = status(ConnectError::Unsupported("relation type Foo".into()));
        assert_eq!(s.code(), Code::Unimplemented);
        assert_eq!(s.message(), "relation type Foo");
    }

    #[test]
    fn statuses_carry_spark_exception_classes() {
        let e: ConnectError = EngineError::JobFailed(
            "job j failed: stage 1: [DIVIDE_BY_ZERO] Division by zero.".into(),
        )
        .into();
        let exception = spark_exception(&e);
        assert_eq!(
            exception.classes[0],
            "org.apache.spark.SparkArithmeticException"
        );
        assert_eq!(exception.error_class.as_deref(), Some("DIVIDE_BY_ZERO"));
        assert_eq!(exception.sql_state, Some("22012"));

        let e: EngineError = DataFusionError::Plan("table 'nope' not found".into()).into();
        let exception = spark_exception(&e.into());
        assert_eq!(
            exception.classes[0],
            "org.apache.spark.sql.AnalysisException"
        );
        assert_eq!(exception.error_class, None);

        // The details decode as a google.rpc.Status holding one ErrorInfo.
        let s = status(ConnectError::Unsupported("relation type Foo".into()));
        let details: RpcStatus = prost::Message::decode(s.details()).unwrap();
        let info: ErrorInfo = prost::Message::decode(details.details[0].value.as_slice()).unwrap();
        assert_eq!(info.metadata["errorClass"], "UNSUPPORTED_FEATURE");
        assert!(info.metadata["classes"].contains("UnsupportedOperationException"));
    }
}
