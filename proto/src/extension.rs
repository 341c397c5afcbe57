//! Sparkling's extension payloads inside Spark Connect's `google.protobuf.Any` fields.
//!
//! Native DataFusion plans ride in `Relation.extension` / `Command.extension` as a
//! datafusion-proto `LogicalPlanNode`, encoded with Sparkling's logical extension codec.

/// Type URL of a DataFusion logical plan (`datafusion.LogicalPlanNode` bytes) in `Relation.extension`.
pub const LOGICAL_PLAN_TYPE_URL: &str = "type.googleapis.com/sparkling.LogicalPlan";

/// Packs encoded plan bytes in an `Any`.
pub fn logical_plan_any(bytes: Vec<u8>) -> prost_types::Any {
    prost_types::Any {
        type_url: LOGICAL_PLAN_TYPE_URL.to_string(),
        value: bytes,
    }
}
