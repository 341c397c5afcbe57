//! How joins are planned for the cluster.
//!
//! Ballista 53 turns off two of DataFusion's join choices, and both cost speed:
//! - **hash joins** (`prefer_hash_join = false`: sort-merge joins everywhere), because a
//!   hash join's build side cannot spill;
//! - **broadcast joins** (DataFusion's `CollectLeft` mode: every task of the join holds
//!   the whole small side and streams its share of the large side), because a task
//!   that holds the whole build side emits the build rows without a match by itself:
//!   left/full outer, left semi/anti and left mark joins would emit them once per task
//!   (Ballista issue 1055).
//!
//! Ballista's own broadcast promotion (in its distributed planner, for hash joins whose
//! smaller side is under `ballista.optimizer.broadcast_join_threshold_bytes`) does not
//! look at the join type either, so with hash joins on it makes the same mistake:
//! measured at TPC-H SF1 on two executors, q13 (a left outer join) returned 41 rows
//! instead of 42 and q20, q21 and q22 (semi and anti joins) returned none.
//!
//! Sparkling turns hash joins back on, turns Ballista's promotion off, and lets
//! DataFusion's join selection choose broadcast joins by size ([`configure`]); one
//! physical optimizer rule, [`BroadcastSafeJoins`], right after join selection, sends a
//! broadcast join whose type needs the build side's unmatched rows back to a
//! partitioned (shuffled) hash join, which is correct on any number of tasks, and does
//! the same with a build side estimated at too many rows to copy to every task.
//! Broadcast joins stay for the join types whose output depends on each probe row
//! alone (inner, right, right semi/anti/mark): the joins against small dimension
//! tables that TPC-H-like queries are full of. Ballista's distributed planner writes
//! the build side of such a join as a stage of its own that every task of the join
//! reads whole.
//!
//! A null-aware anti join (`NOT IN (subquery)` over nullable columns) must see the
//! whole subquery to know whether it holds a NULL, so DataFusion always broadcasts it;
//! across tasks each would know only its own share. [`SingleTaskNullAwareJoins`] makes
//! such a join read the subquery side as one partition, so it runs as a single task.
//!
//! A session can go back to Ballista's choice with
//! `SET datafusion.optimizer.prefer_hash_join = false` (sort-merge joins spill; a hash
//! join's build side must fit in the executor's memory).

use std::sync::Arc;

use datafusion::common::JoinType;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion::prelude::SessionConfig;

/// The largest build side broadcast to every task of a join: Ballista's own default
/// for its promotion (DataFusion's single-process default is 1 MiB).
const BROADCAST_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// The most rows a broadcast build side may have when its size in bytes is not known
/// (Iceberg tables know their row counts from the manifests, not their sizes in memory).
const BROADCAST_MAX_ROWS_UNSIZED: u64 = 256 * 1024;
/// The most rows (as estimated) a broadcast build side may have, whatever its size in
/// bytes: every task of the join builds its own hash table of them. Estimates after
/// filters are rough: in TPC-H q4, `lineitem` filtered on two of its own columns is
/// estimated at 1.2 M rows of one key column (under 10 MiB) and is really 3.8 M;
/// broadcast to four tasks, it made the query 3.6x slower than a shuffled join.
const BROADCAST_MAX_ROWS: u64 = 1024 * 1024;

/// Ballista's own broadcast promotion, which ignores the join type; kept at 0 (off).
const BALLISTA_BROADCAST_THRESHOLD: &str = "ballista.optimizer.broadcast_join_threshold_bytes";

/// Hash joins and broadcast joins back on, over Ballista's defaults.
pub fn configure(config: SessionConfig) -> SessionConfig {
    config
        .set_bool("datafusion.optimizer.prefer_hash_join", true)
        .set_u64(BALLISTA_BROADCAST_THRESHOLD, 0)
        .set_u64(
            "datafusion.optimizer.hash_join_single_partition_threshold",
            BROADCAST_MAX_BYTES,
        )
        .set_u64(
            "datafusion.optimizer.hash_join_single_partition_threshold_rows",
            BROADCAST_MAX_ROWS_UNSIZED,
        )
}

/// Refuses a session setting that would make joins return wrong answers: turning
/// Ballista's broadcast promotion back on (it broadcasts outer, semi and anti joins,
/// whose unmatched rows then come out of every task or none).
pub fn check_setting(key: &str, value: &str) -> Result<(), String> {
    let value = value.trim().trim_matches(['\'', '"']);
    if key
        .trim()
        .eq_ignore_ascii_case(BALLISTA_BROADCAST_THRESHOLD)
        && value != "0"
    {
        return Err(format!(
            "{BALLISTA_BROADCAST_THRESHOLD} cannot be set to {value}: Ballista's broadcast \
             promotion ignores the join type and returns wrong answers for outer, semi and \
             anti joins. Sparkling broadcasts small build sides itself, up to \
             datafusion.optimizer.hash_join_single_partition_threshold bytes"
        ));
    }
    Ok(())
}

/// Whether a join of this type needs to see every build row's matches across all of
/// the probe side (so it cannot run as independent tasks over a broadcast build side).
fn needs_whole_probe_side(join_type: JoinType) -> bool {
    match join_type {
        JoinType::Left
        | JoinType::Full
        | JoinType::LeftSemi
        | JoinType::LeftAnti
        | JoinType::LeftMark => true,
        JoinType::Inner
        | JoinType::Right
        | JoinType::RightSemi
        | JoinType::RightAnti
        | JoinType::RightMark => false,
    }
}

/// Whether a build side is estimated at more rows than a broadcast should carry.
fn too_many_rows(build: &Arc<dyn ExecutionPlan>) -> bool {
    build
        .partition_statistics(None)
        .ok()
        .and_then(|s| s.num_rows.get_value().copied())
        .is_some_and(|rows| rows as u64 > BROADCAST_MAX_ROWS)
}

/// Turns broadcast (`CollectLeft`) hash joins that would be wrong as independent tasks,
/// or whose build side is estimated at more than [`BROADCAST_MAX_ROWS`] rows, into
/// partitioned hash joins. Runs before distribution is enforced, which then adds
/// the shuffles a partitioned join needs.
#[derive(Debug, Default)]
pub struct BroadcastSafeJoins;

impl PhysicalOptimizerRule for BroadcastSafeJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if let Some(join) = node.as_any().downcast_ref::<HashJoinExec>()
                && *join.partition_mode() == PartitionMode::CollectLeft
                && !join.null_aware
                && (needs_whole_probe_side(*join.join_type()) || too_many_rows(join.left()))
            {
                let partitioned = join
                    .builder()
                    .with_partition_mode(PartitionMode::Partitioned)
                    .build_exec()?;
                return Ok(Transformed::yes(partitioned));
            }
            Ok(Transformed::no(node))
        })
        .data()
    }

    fn name(&self) -> &str {
        "broadcast_safe_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Makes null-aware anti joins read their probe (subquery) side as one partition, so
/// the one task that runs them sees all of it. Runs after distribution and sorting are
/// enforced, which would otherwise take the extra merge out again.
#[derive(Debug, Default)]
pub struct SingleTaskNullAwareJoins;

impl PhysicalOptimizerRule for SingleTaskNullAwareJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if let Some(join) = node.as_any().downcast_ref::<HashJoinExec>()
                && join.null_aware
                && join.right().output_partitioning().partition_count() > 1
            {
                let probe: Arc<dyn ExecutionPlan> =
                    Arc::new(CoalescePartitionsExec::new(Arc::clone(join.right())));
                let single =
                    Arc::clone(&node).with_new_children(vec![Arc::clone(join.left()), probe])?;
                return Ok(Transformed::yes(single));
            }
            Ok(Transformed::no(node))
        })
        .data()
    }

    fn name(&self) -> &str {
        "single_task_null_aware_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// DataFusion's physical optimizer rules with [`BroadcastSafeJoins`] right after join
/// selection (which is where broadcast joins are chosen) and
/// [`SingleTaskNullAwareJoins`] before the final sanity check.
pub fn physical_optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    let at = rules
        .iter()
        .position(|r| r.name() == "join_selection")
        .map_or(0, |i| i + 1);
    rules.insert(at, Arc::new(BroadcastSafeJoins));
    let at = rules
        .iter()
        .position(|r| r.name() == "SanityCheckPlan")
        .unwrap_or(rules.len());
    rules.insert(at, Arc::new(SingleTaskNullAwareJoins));
    rules
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "the rules are tested on plain DataFusion contexts"
)]
mod tests {
    use datafusion::arrow::array::{Int32Array, Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;

    use super::*;

    #[test]
    fn turning_ballistas_broadcast_promotion_back_on_is_refused() {
        let err = check_setting(
            "ballista.optimizer.broadcast_join_threshold_bytes",
            "10485760",
        )
        .unwrap_err();
        assert!(err.contains("wrong answers"), "{err}");
        assert!(check_setting("BALLISTA.optimizer.broadcast_join_threshold_bytes", "'1'").is_err());
        assert!(check_setting("ballista.optimizer.broadcast_join_threshold_bytes", "0").is_ok());
        assert!(check_setting("datafusion.optimizer.prefer_hash_join", "false").is_ok());
    }

    async fn physical(sql: &str) -> Arc<dyn ExecutionPlan> {
        use ballista_core::extension::SessionConfigExt;
        let config = configure(SessionConfig::new_with_ballista().with_target_partitions(4));
        let state = datafusion::execution::SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_physical_optimizer_rules(physical_optimizer_rules())
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.sql("CREATE TABLE small (k INT, v INT) AS VALUES (1, 10), (2, 20), (3, 30)")
            .await
            .unwrap();
        // A large table in four partitions, as a scan of several files would be.
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, true),
            Field::new("w", DataType::Int64, false),
        ]));
        let partitions = (0..4)
            .map(|p| {
                let w: Vec<i64> = (p * 250_000..(p + 1) * 250_000).collect();
                let k: Vec<i32> = w.iter().map(|w| (w % 100) as i32).collect();
                vec![
                    RecordBatch::try_new(
                        Arc::clone(&schema),
                        vec![Arc::new(Int32Array::from(k)), Arc::new(Int64Array::from(w))],
                    )
                    .unwrap(),
                ]
            })
            .collect();
        ctx.register_table(
            "big",
            Arc::new(MemTable::try_new(schema, partitions).unwrap()),
        )
        .unwrap();
        let df = ctx.sql(sql).await.unwrap();
        df.create_physical_plan().await.unwrap()
    }

    async fn plan(sql: &str) -> String {
        let physical = physical(sql).await;
        displayable(physical.as_ref()).indent(false).to_string()
    }

    #[tokio::test]
    async fn null_aware_anti_joins_read_their_subquery_as_one_partition() {
        let plan = physical(
            "SELECT * FROM small WHERE k NOT IN (SELECT CASE WHEN w = 7 THEN NULL ELSE k END FROM big)",
        )
        .await;
        let mut joins = Vec::new();
        plan.apply(|node| {
            if let Some(join) = node.as_any().downcast_ref::<HashJoinExec>() {
                joins.push((
                    join.null_aware,
                    join.right().output_partitioning().partition_count(),
                ));
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })
        .unwrap();
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        assert_eq!(joins, vec![(true, 1)], "{shown}");
    }

    #[tokio::test]
    async fn inner_joins_with_a_small_side_broadcast_it() {
        let p = plan("SELECT * FROM big JOIN small ON big.k = small.k").await;
        assert!(p.contains("mode=CollectLeft"), "{p}");
    }

    #[tokio::test]
    async fn joins_that_keep_unmatched_build_rows_are_partitioned() {
        // The small side is the build side; a right join with big on the left keeps
        // small's unmatched rows, which after the swap is a left join on the build side.
        for sql in [
            "SELECT * FROM big RIGHT JOIN small ON big.k = small.k",
            "SELECT * FROM small WHERE NOT EXISTS (SELECT 1 FROM big WHERE big.k = small.k)",
            "SELECT * FROM small WHERE EXISTS (SELECT 1 FROM big WHERE big.k = small.k)",
            "SELECT * FROM big FULL JOIN small ON big.k = small.k",
        ] {
            let p = plan(sql).await;
            assert!(p.contains("HashJoinExec"), "{sql}: {p}");
            assert!(!p.contains("mode=CollectLeft"), "{sql}: {p}");
            assert!(p.contains("mode=Partitioned"), "{sql}: {p}");
        }
    }
}
