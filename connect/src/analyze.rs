//! `AnalyzePlan`: schemas, explain strings, tree strings and the other questions a
//! client asks about a plan without running it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use datafusion::logical_expr::LogicalPlan;
use sparkling_proto::SPARK_VERSION;
use sparkling_proto::spark::{Plan, analyze_plan_request, analyze_plan_response, plan};

use crate::Gateway;
use crate::error::{ConnectError, Result};
use crate::relation::root_plan;
use sparkling_engine::session::Session;
use sparkling_engine::statement::Mode;
use sparkling_spark::Planned;
use sparkling_spark::types::{spark_schema, tree_string};

impl Gateway {
    pub(crate) async fn analyze(
        &self,
        session: &Session,
        analyze: analyze_plan_request::Analyze,
    ) -> Result<analyze_plan_response::Result> {
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
            A::DdlParse(d) => R::Result::DdlParse(R::DdlParse {
                parsed: Some(sparkling_spark::types::ddl_type(&d.ddl_string)?),
            }),
            A::JsonToDdl(j) => R::Result::JsonToDdl(R::JsonToDdl {
                ddl_string: sparkling_spark::types::json_to_ddl(&j.json_string)?,
            }),
            A::Persist(_) => R::Result::Persist(R::Persist {}),
            A::Unpersist(_) => R::Result::Unpersist(R::Unpersist {}),
            other => {
                let name = sparkling_spark::names::variant_name(&other);
                return Err(ConnectError::Unsupported(format!(
                    "AnalyzePlan {name} is not supported yet"
                )));
            }
        })
    }

    async fn analyzed(&self, session: &Session, plan: Option<Plan>) -> Result<LogicalPlan> {
        match plan.and_then(|p| p.op_type) {
            Some(plan::OpType::Root(relation)) => {
                let plan = match root_plan(session, relation, Mode::Analyze).await? {
                    Planned::Plan(plan) => plan,
                    Planned::Show { html, .. } => {
                        let column = if html { "html_string" } else { "show_string" };
                        datafusion::logical_expr::LogicalPlanBuilder::empty(true)
                            .project([datafusion::logical_expr::lit("").alias(column)])?
                            .build()?
                    }
                };
                // Types as they will be when it runs (`7 / 2` is a double).
                let state = session.ctx.state();
                match state.analyzer().execute_and_check(
                    plan.clone(),
                    state.config_options(),
                    |_, _| {},
                ) {
                    Ok(analyzed) => Ok(analyzed),
                    // DDL and commands: their own schema.
                    Err(_) if matches!(plan, LogicalPlan::Extension(_) | LogicalPlan::Ddl(_)) => {
                        Ok(plan)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Some(_) => Err(ConnectError::InvalidInput(
                "only relations can be analyzed".into(),
            )),
            None => Err(ConnectError::InvalidInput(
                "AnalyzePlan without a plan".into(),
            )),
        }
    }

    async fn optimized(&self, session: &Session, plan: Option<Plan>) -> Result<String> {
        let plan = self.analyzed(session, plan).await?;
        Ok(session
            .ctx
            .state()
            .optimize(&plan)?
            .display_indent()
            .to_string())
    }

    async fn explain(&self, session: &Session, plan: LogicalPlan, mode: i32) -> Result<String> {
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
