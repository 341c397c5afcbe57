//! `AnalyzePlan`: schemas, explain strings, tree strings and the other questions a
//! client asks about a plan without running it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use datafusion::logical_expr::LogicalPlan;
use sparkling_proto::SPARK_VERSION;
use sparkling_proto::spark::{Plan, analyze_plan_request, analyze_plan_response, plan};

use crate::Gateway;
use crate::arrow::{spark_schema, tree_string};
use crate::relation::relation_plan;
use sparkling_engine::EngineError;
use sparkling_engine::session::Session;
use sparkling_engine::statement::Mode;

impl Gateway {
    pub(crate) async fn analyze(
        &self,
        session: &Session,
        analyze: analyze_plan_request::Analyze,
    ) -> Result<analyze_plan_response::Result, EngineError> {
        use analyze_plan_request::Analyze as A;
        use analyze_plan_response as R;
        Ok(match analyze {
            A::Schema(s) => R::Result::Schema(R::Schema {
                schema: Some(spark_schema(
                    self.analyzed(session, s.plan).await?.schema().as_arrow(),
                )),
            }),
            A::Explain(e) => {
                let plan = self.analyzed(session, e.plan).await?;
                R::Result::Explain(R::Explain {
                    explain_string: self.explain(session, plan, e.explain_mode).await?,
                })
            }
            A::TreeString(t) => R::Result::TreeString(R::TreeString {
                tree_string: tree_string(self.analyzed(session, t.plan).await?.schema().as_arrow()),
            }),
            A::IsLocal(p) => {
                let plan = self.analyzed(session, p.plan).await?;
                R::Result::IsLocal(R::IsLocal {
                    is_local: sparkling_engine::execute::placement(&plan)
                        == sparkling_engine::execute::Placement::Gateway,
                })
            }
            A::IsStreaming(p) => {
                self.analyzed(session, p.plan).await?;
                R::Result::IsStreaming(R::IsStreaming {
                    is_streaming: false,
                })
            }
            A::InputFiles(p) => {
                let plan = self.analyzed(session, p.plan).await?;
                R::Result::InputFiles(R::InputFiles {
                    files: input_files(&plan),
                })
            }
            A::SparkVersion(_) => R::Result::SparkVersion(R::SparkVersion {
                version: SPARK_VERSION.to_string(),
            }),
            A::SameSemantics(s) => {
                let a = self.optimized(session, s.target_plan).await?;
                let b = self.optimized(session, s.other_plan).await?;
                R::Result::SameSemantics(R::SameSemantics { result: a == b })
            }
            A::SemanticHash(s) => {
                let text = self.optimized(session, s.plan).await?;
                let mut h = DefaultHasher::new();
                text.hash(&mut h);
                R::Result::SemanticHash(R::SemanticHash {
                    result: h.finish() as i32,
                })
            }
            A::Persist(_) => R::Result::Persist(R::Persist {}),
            A::Unpersist(_) => R::Result::Unpersist(R::Unpersist {}),
            other => {
                let name = format!("{other:?}");
                let name = name
                    .split(['(', ' ', '{'])
                    .next()
                    .unwrap_or("unknown")
                    .to_string();
                return Err(EngineError::Unsupported(format!(
                    "AnalyzePlan {name} is not supported yet"
                )));
            }
        })
    }

    async fn analyzed(
        &self,
        session: &Session,
        plan: Option<Plan>,
    ) -> Result<LogicalPlan, EngineError> {
        match plan.and_then(|p| p.op_type) {
            Some(plan::OpType::Root(relation)) => {
                relation_plan(session, relation, Mode::Analyze).await
            }
            Some(_) => Err(EngineError::InvalidInput(
                "only relations can be analyzed".into(),
            )),
            None => Err(EngineError::InvalidInput(
                "AnalyzePlan without a plan".into(),
            )),
        }
    }

    async fn optimized(
        &self,
        session: &Session,
        plan: Option<Plan>,
    ) -> Result<String, EngineError> {
        let plan = self.analyzed(session, plan).await?;
        Ok(session
            .ctx
            .state()
            .optimize(&plan)?
            .display_indent()
            .to_string())
    }

    async fn explain(
        &self,
        session: &Session,
        plan: LogicalPlan,
        mode: i32,
    ) -> Result<String, EngineError> {
        use analyze_plan_request::explain::ExplainMode;
        let state = session.ctx.state();
        let optimized = state.optimize(&plan)?;
        let physical = state.create_physical_plan(&plan).await?;
        let physical = datafusion::physical_plan::displayable(physical.as_ref())
            .indent(true)
            .to_string();
        let placement = match sparkling_engine::execute::placement(&plan) {
            sparkling_engine::execute::Placement::Cluster => "distributed job on the executors",
            sparkling_engine::execute::Placement::Gateway => "in the gateway",
        };
        Ok(
            match ExplainMode::try_from(mode).unwrap_or(ExplainMode::Simple) {
                ExplainMode::Extended | ExplainMode::Cost | ExplainMode::Codegen => format!(
                    "== Parsed Logical Plan ==\n{}\n\n== Optimized Logical Plan ==\n{}\n\n== Physical Plan ({placement}) ==\n{physical}",
                    plan.display_indent(),
                    optimized.display_indent()
                ),
                ExplainMode::Formatted => {
                    format!("== Physical Plan ({placement}) ==\n{}\n", physical)
                }
                _ => format!("== Physical Plan ({placement}) ==\n{physical}"),
            },
        )
    }
}

/// Files a plan reads (listing tables' paths).
fn input_files(plan: &LogicalPlan) -> Vec<String> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut files = Vec::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(p) = datafusion::datasource::source_as_provider(&scan.source)
            && let Some(t) = p
                .as_any()
                .downcast_ref::<datafusion::datasource::listing::ListingTable>()
        {
            files.extend(t.table_paths().iter().map(|u| u.to_string()));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    files
}
