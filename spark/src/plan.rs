//! Spark Connect relations as DataFusion logical plans.
//!
//! [`Planner::root`] translates the relation a client executes or analyzes; each
//! relation's output keeps Spark's column order and names (a join on `using`
//! columns shows each key once, `withColumn` replaces in place, `groupBy().agg()`
//! lists the keys and then the aggregates).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, JoinType, ScalarValue};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::execution::SessionState;
use datafusion::logical_expr::utils::{find_aggregate_exprs, find_window_exprs};
use datafusion::logical_expr::{
    Cast, Expr, ExprSchemable, GroupingSet, LogicalPlan, LogicalPlanBuilder, Partitioning, lit,
    when,
};
use futures::future::BoxFuture;
use sparkling_proto::spark::expression::ExprType;
use sparkling_proto::spark::{Relation, aggregate, join, read, relation, set_operation};

use crate::context::PlanContext;
use crate::error::SparkError;
use crate::expr::{PlanIds, Scope};
use crate::literal;
use crate::types::{arrow_schema, parse_schema};

/// Spark's default for `show()`'s truncation, in characters.
pub const SHOW_TRUNCATE: usize = 20;

/// The most rows a client may send inline (`createDataFrame`).
pub const MAX_LOCAL_ROWS: usize = 10_000_000;

/// A translated root relation.
pub enum Planned {
    /// Rows to return.
    Plan(LogicalPlan),
    /// `show()`: rows to format as text, as Spark prints them.
    Show {
        /// The rows (limited to one more than shown, to tell whether there are more).
        plan: LogicalPlan,
        /// Rows to show.
        num_rows: usize,
        /// Truncate cells to this many characters (0: do not).
        truncate: usize,
        /// One block per row instead of a table.
        vertical: bool,
        /// HTML (`_repr_html_`) instead of text.
        html: bool,
    },
}

/// Metrics a query observes (`df.observe(name, count(lit(1)), max("x"))`): a plan of
/// one row computing them over the observed relation, sent to the client after the
/// query's rows under `name`.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The observation's name.
    pub name: String,
    /// The plan id of the `CollectMetrics` relation.
    pub plan_id: i64,
    /// One row: the metrics, named.
    pub plan: LogicalPlan,
}

/// Translates relations for one request.
pub struct Planner<'c, C: PlanContext> {
    ctx: &'c C,
    state: SessionState,
    plan_ids: PlanIds,
    next_alias: usize,
    observations: Vec<Observation>,
}

type PlanResult<C> = Result<LogicalPlan, <C as PlanContext>::Error>;

impl<'c, C: PlanContext> Planner<'c, C> {
    /// A planner over the session `ctx`.
    pub fn new(ctx: &'c C) -> Self {
        Self {
            state: ctx.state(),
            ctx,
            plan_ids: PlanIds::default(),
            next_alias: 0,
            observations: Vec::new(),
        }
    }

    /// The metrics the planned relations observe, in the order they were planned.
    pub fn take_observations(&mut self) -> Vec<Observation> {
        std::mem::take(&mut self.observations)
    }

    /// The root relation of an `ExecutePlan` or `AnalyzePlan`.
    pub async fn root(&mut self, rel: Relation) -> Result<Planned, C::Error> {
        match rel.rel_type {
            Some(relation::RelType::ShowString(show)) => {
                let input = self.input(show.input).await?;
                Ok(show_of(
                    input,
                    show.num_rows,
                    show.truncate,
                    show.vertical,
                    false,
                )?)
            }
            Some(relation::RelType::HtmlString(show)) => {
                let input = self.input(show.input).await?;
                Ok(show_of(input, show.num_rows, show.truncate, false, true)?)
            }
            _ => Ok(Planned::Plan(self.relation(rel).await?)),
        }
    }

    /// The plan of a relation, as a plan to execute (`show()` as its rows).
    pub fn relation(&mut self, rel: Relation) -> BoxFuture<'_, PlanResult<C>> {
        Box::pin(async move {
            let plan_id = rel.common.as_ref().and_then(|c| c.plan_id);
            let Some(rel_type) = rel.rel_type else {
                return Err(SparkError::invalid("relation has no type").into());
            };
            let plan = self.relation_type(rel_type, plan_id).await?;
            if let Some(id) = plan_id {
                self.plan_ids.insert(id, Arc::clone(plan.schema()));
            }
            Ok(plan)
        })
    }

    async fn input(&mut self, input: Option<Box<Relation>>) -> PlanResult<C> {
        match input {
            Some(input) => self.relation(*input).await,
            None => Err(SparkError::invalid("relation without its input").into()),
        }
    }

    fn scope<'s>(&'s self, schema: &'s DFSchema) -> Scope<'s> {
        Scope::new(&self.state, schema, &self.plan_ids)
    }

    fn fresh_alias(&mut self, what: &str) -> String {
        self.next_alias += 1;
        format!("{what}_{}", self.next_alias)
    }

    async fn relation_type(
        &mut self,
        rel_type: relation::RelType,
        plan_id: Option<i64>,
    ) -> PlanResult<C> {
        use relation::RelType as R;
        match rel_type {
            #[allow(deprecated)]
            R::Sql(sql) => {
                let query = bound_sql(&sql).map_err(C::Error::from)?;
                self.ctx.sql(&query).await
            }
            R::Read(read) => self.read(read).await,
            R::Range(range) => {
                if range.step == 0 {
                    return Err(SparkError::invalid("range step must not be 0").into());
                }
                self.ctx
                    .range(range.start.unwrap_or(0), range.end, range.step)
                    .await
            }
            R::LocalRelation(local) => Ok(self.local_relation(local)?),
            R::Project(p) => {
                let input = match p.input {
                    Some(input) => self.relation(*input).await?,
                    None => LogicalPlanBuilder::empty(true)
                        .build()
                        .map_err(SparkError::from)?,
                };
                let exprs = self.scope(input.schema()).named_list(&p.expressions)?;
                Ok(project(input, exprs)?)
            }
            R::Filter(f) => {
                let input = self.input(f.input).await?;
                let condition = f
                    .condition
                    .as_ref()
                    .ok_or_else(|| SparkError::invalid("filter without a condition"))?;
                let condition = self.scope(input.schema()).expr(condition)?;
                Ok(build(LogicalPlanBuilder::from(input).filter(condition))?)
            }
            R::Limit(l) => {
                let input = self.input(l.input).await?;
                if l.limit < 0 {
                    return Err(SparkError::invalid(format!("negative limit {}", l.limit)).into());
                }
                Ok(build(
                    LogicalPlanBuilder::from(input).limit(0, Some(l.limit as usize)),
                )?)
            }
            R::Tail(t) => {
                let input = self.input(t.input).await?;
                if t.limit < 0 {
                    return Err(SparkError::invalid(format!("negative tail {}", t.limit)).into());
                }
                Ok(tail(input, t.limit as usize)?)
            }
            R::Unpivot(u) => {
                let input = self.input(u.input).await?;
                let scope = self.scope(input.schema());
                let ids = scope.named_list(&u.ids)?;
                let values = match &u.values {
                    Some(v) => scope.named_list(&v.values)?,
                    None => {
                        // Every column the ids do not use.
                        let id_columns: std::collections::HashSet<&Column> =
                            ids.iter().flat_map(|e| e.column_refs()).collect();
                        input
                            .schema()
                            .columns()
                            .into_iter()
                            .filter(|c| !id_columns.contains(c))
                            .map(Expr::Column)
                            .collect()
                    }
                };
                Ok(unpivot(
                    input,
                    ids,
                    values,
                    &u.variable_column_name,
                    &u.value_column_name,
                )?)
            }
            R::Offset(o) => {
                let input = self.input(o.input).await?;
                if o.offset < 0 {
                    return Err(SparkError::invalid(format!("negative offset {}", o.offset)).into());
                }
                Ok(build(
                    LogicalPlanBuilder::from(input).limit(o.offset as usize, None),
                )?)
            }
            R::Sort(s) => {
                let input = self.input(s.input).await?;
                let scope = self.scope(input.schema());
                let keys = s
                    .order
                    .iter()
                    .map(|o| scope.sort(o))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(build(LogicalPlanBuilder::from(input).sort(keys))?)
            }
            R::Join(j) => self.join(*j).await,
            R::SetOp(s) => self.set_operation(*s).await,
            R::Aggregate(a) => self.aggregate(*a).await,
            R::SubqueryAlias(a) => {
                let input = self.input(a.input).await?;
                Ok(build(
                    LogicalPlanBuilder::from(input).alias(a.alias.as_str()),
                )?)
            }
            R::Deduplicate(d) => {
                let input = self.input(d.input).await?;
                if d.within_watermark == Some(true) {
                    // A batch DataFrame has no watermark: plain deduplication.
                }
                Ok(self.deduplicate(input, &d.column_names, d.all_columns_as_keys == Some(true))?)
            }
            R::ToDf(t) => {
                let input = self.input(t.input).await?;
                let fields = input.schema().columns();
                if fields.len() != t.column_names.len() {
                    return Err(SparkError::invalid(format!(
                        "[LENGTH_SHOULD_BE_THE_SAME] toDF got {} names for {} columns",
                        t.column_names.len(),
                        fields.len()
                    ))
                    .into());
                }
                let exprs = fields
                    .into_iter()
                    .zip(&t.column_names)
                    .map(|(c, n)| Expr::Column(c).alias(n))
                    .collect::<Vec<_>>();
                Ok(project(input, exprs)?)
            }
            R::WithColumnsRenamed(w) => {
                let input = self.input(w.input).await?;
                #[allow(deprecated)]
                let mut renames: Vec<(String, String)> = w
                    .rename_columns_map
                    .into_iter()
                    .collect::<BTreeMap<_, _>>()
                    .into_iter()
                    .collect();
                renames.extend(w.renames.into_iter().map(|r| (r.col_name, r.new_col_name)));
                let exprs = input
                    .schema()
                    .columns()
                    .into_iter()
                    .map(|c| {
                        match renames
                            .iter()
                            .find(|(from, _)| from.eq_ignore_ascii_case(&c.name))
                        {
                            Some((_, to)) => Expr::Column(c).alias(to),
                            None => Expr::Column(c),
                        }
                    })
                    .collect::<Vec<_>>();
                Ok(project(input, exprs)?)
            }
            R::WithColumns(w) => {
                let input = self.input(w.input).await?;
                let scope = self.scope(input.schema());
                let mut exprs: Vec<(String, Expr)> = input
                    .schema()
                    .columns()
                    .into_iter()
                    .map(|c| (c.name.clone(), Expr::Column(c)))
                    .collect();
                let mut new = Vec::new();
                for alias in &w.aliases {
                    let [name] = alias.name.as_slice() else {
                        return Err(
                            SparkError::invalid("withColumns needs one name per column").into()
                        );
                    };
                    // Aliased as sent, with the metadata of `withMetadata`.
                    new.push((name.clone(), scope.alias(alias)?));
                }
                for (name, expr) in new {
                    let expr = crate::expr::named_as(expr, &name);
                    match exprs
                        .iter_mut()
                        .find(|(existing, _)| existing.eq_ignore_ascii_case(&name))
                    {
                        Some(slot) => *slot = (name.clone(), expr),
                        None => exprs.push((name.clone(), expr)),
                    }
                }
                Ok(project(input, exprs.into_iter().map(|(_, e)| e).collect())?)
            }
            R::Drop(d) => {
                let input = self.input(d.input).await?;
                let scope = self.scope(input.schema());
                let mut dropped: HashSet<Column> = HashSet::new();
                for e in &d.columns {
                    if let Ok(Expr::Column(c)) = scope.expr(e) {
                        dropped.insert(c);
                    }
                }
                let names: Vec<&String> = d.column_names.iter().collect();
                let exprs = input
                    .schema()
                    .columns()
                    .into_iter()
                    .filter(|c| {
                        !dropped.contains(c)
                            && !names.iter().any(|n| n.eq_ignore_ascii_case(&c.name))
                    })
                    .map(Expr::Column)
                    .collect::<Vec<_>>();
                Ok(project(input, exprs)?)
            }
            R::Hint(h) => self.input(h.input).await,
            R::UnresolvedTableValuedFunction(f) => {
                // spark.tvf: the generators over one row of nothing, and range.
                let name = f.function_name.to_ascii_lowercase();
                let one_row = LogicalPlanBuilder::empty(true)
                    .build()
                    .map_err(SparkError::from)?;
                match name.as_str() {
                    "explode" | "explode_outer" | "posexplode" | "posexplode_outer" | "inline"
                    | "inline_outer" => {
                        let exprs =
                            self.scope(one_row.schema())
                                .generator(&name, &f.arguments, &[])?;
                        Ok(project(one_row, exprs)?)
                    }
                    "range" => {
                        let scope = self.scope(one_row.schema());
                        let mut bounds = Vec::new();
                        for a in &f.arguments {
                            match scope.expr(a)? {
                                Expr::Literal(v, _) => match v.cast_to(&DataType::Int64) {
                                    Ok(ScalarValue::Int64(Some(n))) => bounds.push(n),
                                    _ => {
                                        return Err(SparkError::invalid(
                                            "range() takes whole numbers",
                                        )
                                        .into());
                                    }
                                },
                                _ => {
                                    return Err(SparkError::invalid(
                                        "range() takes literal numbers",
                                    )
                                    .into());
                                }
                            }
                        }
                        let (start, end, step) = match bounds.as_slice() {
                            [end] => (0, *end, 1),
                            [start, end] => (*start, *end, 1),
                            [start, end, step] | [start, end, step, _] => (*start, *end, *step),
                            _ => {
                                return Err(SparkError::invalid(
                                    "range() takes one to four numbers",
                                )
                                .into());
                            }
                        };
                        if step == 0 {
                            return Err(SparkError::invalid("range step must not be 0").into());
                        }
                        self.ctx.range(start, end, step).await
                    }
                    other => Err(SparkError::unsupported(format!(
                        "[UNSUPPORTED_FEATURE] the table-valued function {other}"
                    ))
                    .into()),
                }
            }
            R::WithWatermark(w) => self.input(w.input).await,
            R::Repartition(r) => {
                let input = self.input(r.input).await?;
                let n = r.num_partitions.max(1) as usize;
                Ok(build(
                    LogicalPlanBuilder::from(input).repartition(Partitioning::RoundRobinBatch(n)),
                )?)
            }
            R::RepartitionByExpression(r) => {
                let input = self.input(r.input).await?;
                let scope = self.scope(input.schema());
                let exprs = r
                    .partition_exprs
                    .iter()
                    .map(|e| match &e.expr_type {
                        Some(ExprType::SortOrder(s)) => scope.sort(s).map(|s| s.expr),
                        _ => scope.expr(e),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let n = r
                    .num_partitions
                    .map(|n| n.max(1) as usize)
                    .unwrap_or(self.state.config().target_partitions());
                let partitioning = if exprs.is_empty() {
                    Partitioning::RoundRobinBatch(n)
                } else {
                    Partitioning::Hash(exprs, n)
                };
                Ok(build(
                    LogicalPlanBuilder::from(input).repartition(partitioning),
                )?)
            }
            R::Sample(s) => {
                let input = self.input(s.input).await?;
                if s.with_replacement == Some(true) {
                    return Err(SparkError::unsupported(
                        "[UNSUPPORTED_FEATURE] sampling with replacement",
                    )
                    .into());
                }
                let fraction = (s.upper_bound - s.lower_bound).clamp(0.0, 1.0);
                let random = crate::functions::scalar(&self.state, "random", vec![])?;
                Ok(build(
                    LogicalPlanBuilder::from(input).filter(random.lt(lit(fraction))),
                )?)
            }
            R::SampleBy(b) => {
                // Each row of a stratum kept with the stratum's fraction (others: none).
                // The random numbers are not Spark's: a seed does not repeat its sample.
                let input = self.input(b.input).await?;
                let scope = self.scope(input.schema());
                let column = b
                    .col
                    .as_ref()
                    .ok_or_else(|| SparkError::invalid("sampleBy without a column"))?;
                let stratum = scope.expr(column)?;
                let random = crate::functions::scalar(&self.state, "random", vec![])?;
                let mut keep: Option<Expr> = None;
                for f in &b.fractions {
                    if !(0.0..=1.0).contains(&f.fraction) {
                        return Err(SparkError::invalid(format!(
                            "sampleBy fractions must be in [0, 1], not {}",
                            f.fraction
                        ))
                        .into());
                    }
                    let value = f.stratum.as_ref().ok_or_else(|| {
                        SparkError::invalid("sampleBy fraction without a stratum")
                    })?;
                    let this = stratum
                        .clone()
                        .eq(lit(literal::scalar(value)?))
                        .and(random.clone().lt(lit(f.fraction)));
                    keep = Some(match keep {
                        Some(k) => k.or(this),
                        None => this,
                    });
                }
                Ok(build(
                    LogicalPlanBuilder::from(input).filter(keep.unwrap_or(lit(false))),
                )?)
            }
            R::FillNa(f) => {
                let input = self.input(f.input).await?;
                Ok(self.fill_na(input, &f.cols, &f.values)?)
            }
            R::DropNa(d) => {
                let input = self.input(d.input).await?;
                Ok(self.drop_na(input, &d.cols, d.min_non_nulls)?)
            }
            R::Replace(r) => {
                let input = self.input(r.input).await?;
                Ok(self.replace_na(input, &r.cols, &r.replacements)?)
            }
            R::ToSchema(t) => {
                let input = self.input(t.input).await?;
                let schema = t
                    .schema
                    .as_ref()
                    .ok_or_else(|| SparkError::invalid("to(schema) without a schema"))?;
                let target = arrow_schema(schema)?;
                let scope = self.scope(input.schema());
                let exprs = target
                    .fields()
                    .iter()
                    .map(|f| {
                        let c =
                            scope.column(&format!("`{}`", f.name().replace('`', "``")), None)?;
                        Ok(Expr::Cast(Cast::new(Box::new(c), f.data_type().clone()))
                            .alias(f.name()))
                    })
                    .collect::<Result<Vec<_>, SparkError>>()?;
                Ok(project(input, exprs)?)
            }
            R::Describe(d) => {
                let input = self.input(d.input).await?;
                let columns = if d.cols.is_empty() {
                    vec![]
                } else {
                    self.columns_for(&input, &d.cols)?
                };
                Ok(crate::stats::describe(&self.state, input, &columns)?)
            }
            R::Summary(s) => {
                let input = self.input(s.input).await?;
                Ok(crate::stats::summary(&self.state, input, &s.statistics)?)
            }
            R::Cov(c) => {
                let input = self.input(c.input).await?;
                let (a, b) = self.column_pair(&input, c.col1, c.col2)?;
                Ok(crate::stats::covariance(&self.state, input, a, b, false)?)
            }
            R::Corr(c) => {
                let input = self.input(c.input).await?;
                if let Some(method) = c.method.as_deref()
                    && !method.eq_ignore_ascii_case("pearson")
                {
                    return Err(SparkError::unsupported(format!(
                        "[UNSUPPORTED_FEATURE] correlation method {method}; only pearson is"
                    ))
                    .into());
                }
                let (a, b) = self.column_pair(&input, c.col1, c.col2)?;
                Ok(crate::stats::covariance(&self.state, input, a, b, true)?)
            }
            R::ApproxQuantile(q) => {
                let input = self.input(q.input).await?;
                if q.relative_error < 0.0 {
                    return Err(SparkError::invalid(format!(
                        "Relative Error must be non-negative but got {}",
                        q.relative_error
                    ))
                    .into());
                }
                let columns = self.columns_for(&input, &q.cols)?;
                Ok(crate::stats::quantiles(
                    &self.state,
                    input,
                    &columns,
                    &q.probabilities,
                )?)
            }
            R::ShowString(_) | R::HtmlString(_) => Err(SparkError::unsupported(
                "show() output can only be the result itself, not a relation to build on",
            )
            .into()),
            R::Extension(any) => self.ctx.extension(&any.type_url, &any.value).await,
            R::WithRelations(w) => self.with_relations(*w).await,
            R::Crosstab(c) => {
                let input = self.input(c.input).await?;
                Ok(self.crosstab(input, &c.col1, &c.col2).await?)
            }
            R::CollectMetrics(m) => {
                // The rows pass through; the metrics are computed over them on their
                // own once the query has run.
                let input = self.input(m.input).await?;
                let metrics = self.scope(input.schema()).named_list(&m.metrics)?;
                if metrics.is_empty() {
                    return Err(SparkError::invalid("observe() needs at least one metric").into());
                }
                if find_aggregate_exprs(metrics.iter()).is_empty() {
                    return Err(SparkError::invalid(
                        "[INVALID_OBSERVED_METRICS.MISSING_NAME] observed metrics must be \
                         aggregates (count, sum, max, ...)",
                    )
                    .into());
                }
                let plan = aggregate_then_project(input.clone(), vec![], metrics)?;
                self.observations.push(Observation {
                    name: m.name.clone(),
                    plan_id: plan_id.unwrap_or_default(),
                    plan,
                });
                Ok(input)
            }
            R::Transpose(t) => {
                let input = self.input(t.input).await?;
                Ok(self.transpose(input, &t.index_columns).await?)
            }
            R::FreqItems(f) => {
                let input = self.input(f.input).await?;
                Ok(self
                    .freq_items(input, &f.cols, f.support.unwrap_or(0.01))
                    .await?)
            }
            R::Catalog(c) => match c.cat_type {
                Some(cat) => crate::catalog::plan(self.ctx, cat).await,
                None => Err(SparkError::invalid("a catalog call without its type").into()),
            },
            other => Err(SparkError::unsupported(format!(
                "[UNSUPPORTED_FEATURE] The relation {} is not supported.",
                crate::names::variant_name(&other)
            ))
            .into()),
        }
    }

    async fn read(&mut self, read: sparkling_proto::spark::Read) -> PlanResult<C> {
        if read.is_streaming {
            return Err(SparkError::unsupported(
                "[UNSUPPORTED_FEATURE] streaming reads (spark.readStream) over Spark Connect",
            )
            .into());
        }
        match read.read_type {
            Some(read::ReadType::NamedTable(table)) => {
                self.ctx.table(&table.unparsed_identifier).await
            }
            Some(read::ReadType::DataSource(source)) => {
                let format = source
                    .format
                    .clone()
                    .unwrap_or_else(|| "parquet".to_string())
                    .to_ascii_lowercase();
                let options: BTreeMap<String, String> = source.options.into_iter().collect();
                let schema = match source.schema.as_deref() {
                    Some(s) if !s.trim().is_empty() => Some(Arc::new(parse_schema(s)?)),
                    _ => None,
                };
                if !source.predicates.is_empty() {
                    return Err(SparkError::unsupported(
                        "[UNSUPPORTED_FEATURE] JDBC reads with predicates",
                    )
                    .into());
                }
                self.ctx
                    .read(&format, &source.paths, &options, schema)
                    .await
            }
            None => Err(SparkError::invalid("read relation without a source").into()),
        }
    }

    fn local_relation(
        &mut self,
        local: sparkling_proto::spark::LocalRelation,
    ) -> Result<LogicalPlan, SparkError> {
        let declared = match local.schema.as_deref() {
            Some(s) if !s.trim().is_empty() => Some(parse_schema(s)?),
            _ => None,
        };
        let (schema, batches) = match (&local.data, declared) {
            (Some(data), declared) => {
                let (schema, batches) = read_ipc(data)?;
                match declared {
                    Some(declared) => conform(&declared, batches)?,
                    None => (schema, batches),
                }
            }
            (None, Some(declared)) => (Arc::new(declared), vec![]),
            (None, None) => {
                return Err(SparkError::invalid(
                    "a local relation without data or schema",
                ));
            }
        };
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows > MAX_LOCAL_ROWS {
            return Err(SparkError::invalid(format!(
                "a local relation of {rows} rows is more than the {MAX_LOCAL_ROWS} this server takes inline; write the data to files and read them"
            )));
        }
        let table = MemTable::try_new(schema, vec![batches])?;
        let alias = self.fresh_alias("local");
        Ok(LogicalPlanBuilder::scan(alias, provider_as_source(Arc::new(table)), None)?.build()?)
    }

    async fn join(&mut self, j: sparkling_proto::spark::Join) -> PlanResult<C> {
        let left = self.input(j.left).await?;
        let right = self.input(j.right).await?;
        let left = self.qualified_against(left, &right)?;
        let right = self.qualified_against(right, &left)?;
        let join_type = match join::JoinType::try_from(j.join_type) {
            Ok(join::JoinType::Inner | join::JoinType::Unspecified) | Err(_) => JoinType::Inner,
            Ok(join::JoinType::FullOuter) => JoinType::Full,
            Ok(join::JoinType::LeftOuter) => JoinType::Left,
            Ok(join::JoinType::RightOuter) => JoinType::Right,
            Ok(join::JoinType::LeftAnti) => JoinType::LeftAnti,
            Ok(join::JoinType::LeftSemi) => JoinType::LeftSemi,
            Ok(join::JoinType::Cross) => JoinType::Inner,
        };
        if !j.using_columns.is_empty() {
            return Ok(self.join_using(left, right, join_type, &j.using_columns)?);
        }
        let Some(condition) = &j.join_condition else {
            if matches!(join_type, JoinType::Inner) {
                return Ok(build(LogicalPlanBuilder::from(left).cross_join(right))?);
            }
            return Ok(build(LogicalPlanBuilder::from(left).join_on(
                right,
                join_type,
                [lit(true)],
            ))?);
        };
        let joined = left
            .schema()
            .join(right.schema())
            .map_err(SparkError::from)?;
        let condition = self.scope(&joined).expr(condition)?;
        Ok(build(LogicalPlanBuilder::from(left).join_on(
            right,
            join_type,
            [condition],
        ))?)
    }

    /// `side` under a fresh qualifier when one of its columns has no qualifier and
    /// the other side has a column of the same name: DataFusion cannot tell an
    /// unqualified `song` from `t.song` in one schema, while Spark tells them apart
    /// by their relations. Relations known by plan id follow the new qualifier.
    fn qualified_against(
        &mut self,
        side: LogicalPlan,
        other: &LogicalPlan,
    ) -> Result<LogicalPlan, SparkError> {
        let other_names: std::collections::HashSet<&str> = other
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let clash = side
            .schema()
            .iter()
            .any(|(q, f)| q.is_none() && other_names.contains(f.name().as_str()));
        if !clash {
            return Ok(side);
        }
        let before = Arc::clone(side.schema());
        let alias = self.fresh_alias("join");
        let aliased = LogicalPlanBuilder::from(side).alias(alias)?.build()?;
        self.plan_ids.requalify(&before, aliased.schema());
        Ok(aliased)
    }

    /// `df.join(other, ["k"])`: equal keys, each key once in the output (from the
    /// left, the right for a right join, either for a full join), then the other
    /// columns of the left and of the right.
    fn join_using(
        &mut self,
        left: LogicalPlan,
        right: LogicalPlan,
        join_type: JoinType,
        using: &[String],
    ) -> Result<LogicalPlan, SparkError> {
        let mut keys = Vec::new();
        for name in using {
            let l = self.scope(left.schema()).column(name, None)?;
            let r = self.scope(right.schema()).column(name, None)?;
            let (Expr::Column(l), Expr::Column(r)) = (l, r) else {
                return Err(SparkError::invalid(format!(
                    "join column {name} must be a column on both sides"
                )));
            };
            keys.push((name.clone(), l, r));
        }
        let on = keys
            .iter()
            .map(|(_, l, r)| Expr::Column(l.clone()).eq(Expr::Column(r.clone())))
            .collect::<Vec<_>>();
        let left_columns = left.schema().columns();
        let right_columns = right.schema().columns();
        let joined = LogicalPlanBuilder::from(left)
            .join_on(right, join_type, on)?
            .build()?;
        let mut exprs = Vec::new();
        for (_, l, r) in &keys {
            let key = match join_type {
                JoinType::Right => Expr::Column(r.clone()),
                JoinType::Full => crate::functions::scalar(
                    &self.state,
                    "coalesce",
                    vec![Expr::Column(l.clone()), Expr::Column(r.clone())],
                )?,
                _ => Expr::Column(l.clone()),
            };
            exprs.push(crate::expr::named_as(key, &l.name));
        }
        exprs.extend(
            left_columns
                .into_iter()
                .filter(|c| !keys.iter().any(|(_, l, _)| l == c))
                .map(Expr::Column),
        );
        if !matches!(join_type, JoinType::LeftSemi | JoinType::LeftAnti) {
            exprs.extend(
                right_columns
                    .into_iter()
                    .filter(|c| !keys.iter().any(|(_, _, r)| r == c))
                    .map(Expr::Column),
            );
        }
        project(joined, exprs)
    }

    async fn set_operation(&mut self, s: sparkling_proto::spark::SetOperation) -> PlanResult<C> {
        let left = self.input(s.left_input).await?;
        let right = self.input(s.right_input).await?;
        let is_all = s.is_all.unwrap_or(false);
        let (left, right) = if s.by_name == Some(true) {
            self.by_name(left, right, s.allow_missing_columns == Some(true))?
        } else {
            (left, right)
        };
        if left.schema().fields().len() != right.schema().fields().len() {
            return Err(SparkError::invalid(format!(
                "[NUM_COLUMNS_MISMATCH] set operations can only be performed on inputs with the same number of columns, but the first input has {} columns and the second input has {} columns.",
                left.schema().fields().len(),
                right.schema().fields().len()
            ))
            .into());
        }
        let plan = match set_operation::SetOpType::try_from(s.set_op_type) {
            Ok(set_operation::SetOpType::Union) => {
                let builder = LogicalPlanBuilder::from(left);
                if is_all {
                    builder.union(right)
                } else {
                    builder.union_distinct(right)
                }
                .and_then(|b| b.build())
            }
            Ok(set_operation::SetOpType::Intersect) if is_all => {
                Ok(counted_set_operation(left, right, JoinType::LeftSemi)?)
            }
            Ok(set_operation::SetOpType::Except) if is_all => {
                Ok(counted_set_operation(left, right, JoinType::LeftAnti)?)
            }
            Ok(set_operation::SetOpType::Intersect) => {
                LogicalPlanBuilder::intersect(left, right, false)
            }
            Ok(set_operation::SetOpType::Except) => LogicalPlanBuilder::except(left, right, false),
            _ => return Err(SparkError::invalid("set operation without a type").into()),
        };
        Ok(plan.map_err(SparkError::from)?)
    }

    /// `right`'s columns in `left`'s order by name; missing ones as nulls when
    /// allowed (`unionByName(allowMissingColumns=True)`, which also adds `left`'s
    /// missing columns... Spark adds the right's extra columns to both sides).
    /// `unionByName`: the right input's columns in the left input's order, by name
    /// ignoring case; with `allow_missing`, a column only one side has is NULL on the
    /// other (the right's extra columns come last).
    fn by_name(
        &mut self,
        left: LogicalPlan,
        right: LogicalPlan,
        allow_missing: bool,
    ) -> Result<(LogicalPlan, LogicalPlan), SparkError> {
        let right_columns = right.schema().columns();
        let left_fields: Vec<arrow::datatypes::FieldRef> =
            left.schema().fields().iter().cloned().collect();
        let null_of = |t: &DataType| -> Result<Expr, SparkError> {
            Ok(Expr::Literal(ScalarValue::try_from(t)?, None))
        };
        let mut exprs = Vec::new();
        for f in &left_fields {
            match right_columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(f.name()))
            {
                Some(c) => exprs.push(Expr::Column(c.clone()).alias(f.name())),
                None if allow_missing => exprs.push(null_of(f.data_type())?.alias(f.name())),
                None => {
                    return Err(SparkError::invalid(format!(
                        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] unionByName: column `{}` is missing on the right",
                        f.name()
                    )));
                }
            }
        }
        let extra: Vec<(Column, DataType)> = if allow_missing {
            right_columns
                .iter()
                .filter(|c| {
                    !left_fields
                        .iter()
                        .any(|f| f.name().eq_ignore_ascii_case(&c.name))
                })
                .map(|c| {
                    let t = right
                        .schema()
                        .qualified_field_from_column(c)?
                        .1
                        .data_type()
                        .clone();
                    Ok((c.clone(), t))
                })
                .collect::<datafusion::common::Result<_>>()?
        } else {
            vec![]
        };
        if extra.is_empty() {
            return Ok((left, project(right, exprs)?));
        }
        let mut left_exprs: Vec<Expr> = left
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        for (c, t) in &extra {
            left_exprs.push(null_of(t)?.alias(&c.name));
            exprs.push(Expr::Column(c.clone()).alias(&c.name));
        }
        Ok((project(left, left_exprs)?, project(right, exprs)?))
    }

    async fn aggregate(&mut self, a: sparkling_proto::spark::Aggregate) -> PlanResult<C> {
        let input = self.input(a.input).await?;
        let scope = self.scope(input.schema());
        let groups = scope.named_list(&a.grouping_expressions)?;
        let aggs = scope.named_list(&a.aggregate_expressions)?;
        let group_type =
            aggregate::GroupType::try_from(a.group_type).unwrap_or(aggregate::GroupType::Groupby);
        let groups = match group_type {
            aggregate::GroupType::Groupby | aggregate::GroupType::Unspecified => groups,
            aggregate::GroupType::Rollup => vec![Expr::GroupingSet(GroupingSet::Rollup(groups))],
            aggregate::GroupType::Cube => vec![Expr::GroupingSet(GroupingSet::Cube(groups))],
            aggregate::GroupType::GroupingSets => {
                let sets = a
                    .grouping_sets
                    .iter()
                    .map(|s| {
                        s.grouping_set
                            .iter()
                            .map(|e| scope.expr(e))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                vec![Expr::GroupingSet(GroupingSet::GroupingSets(sets))]
            }
            aggregate::GroupType::Pivot => {
                let pivot = a
                    .pivot
                    .as_ref()
                    .ok_or_else(|| SparkError::invalid("pivot without its column"))?;
                let column = pivot
                    .col
                    .as_ref()
                    .ok_or_else(|| SparkError::invalid("pivot without its column"))?;
                let column = scope.expr(column)?;
                let values = if pivot.values.is_empty() {
                    self.pivot_values(&input, column.clone()).await?
                } else {
                    pivot
                        .values
                        .iter()
                        .map(literal::scalar)
                        .collect::<Result<Vec<_>, _>>()?
                };
                let aggs = pivoted(&aggs, &column, &values)?;
                return Ok(aggregate_then_project(input, groups, aggs)?);
            }
        };
        Ok(aggregate_then_project(input, groups, aggs)?)
    }

    /// A relation with the relations it refers to: `spark.sql("... {df} ...", df=df)`
    /// sends each DataFrame as a named subquery, which the SQL text reads as a view
    /// (registered for the planning of the root only); `sub.scalar()` and
    /// `sub.exists()` send the subquery's relation, which expressions find by id.
    async fn with_relations(&mut self, w: sparkling_proto::spark::WithRelations) -> PlanResult<C> {
        let mut views = Vec::new();
        let mut outcome = Ok(());
        for reference in w.references {
            match reference.rel_type {
                Some(relation::RelType::SubqueryAlias(a)) => {
                    let registered = match self.input(a.input).await {
                        Ok(plan) => self.ctx.register_temp_view(&a.alias, plan).await,
                        Err(e) => Err(e),
                    };
                    match registered {
                        Ok(()) => views.push(a.alias),
                        Err(e) => {
                            outcome = Err(e);
                            break;
                        }
                    }
                }
                rel_type => {
                    // A relation subquery expressions of the root refer to by id.
                    let id = reference.common.as_ref().and_then(|c| c.plan_id);
                    let relation = Relation {
                        common: reference.common,
                        rel_type,
                    };
                    match (id, self.relation(relation).await) {
                        (Some(id), Ok(plan)) => self.plan_ids.insert_subquery(id, plan),
                        (None, Ok(_)) => {
                            outcome = Err(SparkError::invalid(
                                "a referenced relation without a plan id",
                            )
                            .into());
                            break;
                        }
                        (_, Err(e)) => {
                            outcome = Err(e);
                            break;
                        }
                    }
                }
            }
        }
        let planned = match outcome {
            Ok(()) => self.input(w.root).await,
            Err(e) => Err(e),
        };
        for view in views {
            // The plan holds what it read; the names were the client's, for this call.
            let _ = self.ctx.drop_temp_view(&view).await;
        }
        planned
    }

    /// `df.stat.crosstab(col1, col2)`: a row per value of `col1` (as a string, in a
    /// column named `col1_col2`) and a column per value of `col2` (sorted), holding
    /// how many rows have the pair; nulls count as the value `null`, as in Spark.
    async fn crosstab(
        &mut self,
        input: LogicalPlan,
        col1: &str,
        col2: &str,
    ) -> Result<LogicalPlan, C::Error> {
        let scope = self.scope(input.schema());
        let text = |e: Expr| -> Result<Expr, SparkError> {
            crate::functions::scalar(
                &self.state,
                "coalesce",
                vec![
                    Expr::Cast(Cast::new(Box::new(e), DataType::Utf8)),
                    lit("null"),
                ],
            )
        };
        let rows = text(scope.column(col1, None)?)?;
        let columns = text(scope.column(col2, None)?)?;
        let values = self.pivot_values(&input, columns.clone()).await?;
        let count = crate::functions::aggregate(&self.state, "count", vec![lit(1i64)], false)?
            .alias("count");
        let aggs = pivoted(&[count], &columns, &values)?;
        Ok(aggregate_then_project(
            input,
            vec![rows.alias(format!("{col1}_{col2}"))],
            aggs,
        )?)
    }

    /// The distinct values of `column` in `input`, sorted, for a `pivot()` that
    /// names none (Spark runs a job for them too, and allows at most 10,000).
    async fn pivot_values(
        &self,
        input: &LogicalPlan,
        column: Expr,
    ) -> Result<Vec<ScalarValue>, C::Error> {
        const MAX_VALUES: usize = 10_000;
        const NAME: &str = "__pivot_value";
        let plan = LogicalPlanBuilder::from(input.clone())
            .project(vec![column.alias(NAME)])
            .and_then(|b| b.distinct())
            .and_then(|b| b.sort(vec![datafusion::prelude::col(NAME).sort(true, true)]))
            .and_then(|b| b.limit(0, Some(MAX_VALUES + 1)))
            .and_then(|b| b.build())
            .map_err(SparkError::from)?;
        let mut values = Vec::new();
        for batch in self.ctx.collect(plan).await? {
            for row in 0..batch.num_rows() {
                values.push(
                    ScalarValue::try_from_array(batch.column(0), row).map_err(SparkError::from)?,
                );
            }
        }
        if values.len() > MAX_VALUES {
            return Err(SparkError::invalid(format!(
                "[PIVOT_VALUE_LIMIT_EXCEEDED] The pivot column has more than {MAX_VALUES} \
                 distinct values; name the values to pivot on"
            ))
            .into());
        }
        Ok(values)
    }

    /// `df.transpose(index)`: the index column's values (ascending, NULLs left out)
    /// become the columns, named by their text; the other columns become the rows,
    /// named in the first column `key`, their values cast to one common type.
    async fn transpose(
        &mut self,
        input: LogicalPlan,
        index_columns: &[sparkling_proto::spark::Expression],
    ) -> Result<LogicalPlan, C::Error> {
        let columns = input.schema().columns();
        let index = match index_columns {
            [] => Expr::Column(columns.first().cloned().ok_or_else(|| {
                SparkError::invalid("transpose() of a DataFrame without columns")
            })?),
            [one] => self.scope(input.schema()).expr(one)?,
            _ => {
                return Err(SparkError::invalid("transpose() takes one index column").into());
            }
        };
        let others: Vec<Column> = columns
            .into_iter()
            .filter(|c| !matches!(&index, Expr::Column(i) if i == c))
            .collect();
        let mut common: Option<DataType> = None;
        for c in &others {
            let t = input
                .schema()
                .qualified_field_from_column(c)
                .map_err(SparkError::from)?
                .1
                .data_type()
                .clone();
            common = Some(match common {
                None => t,
                Some(prev) if prev == t => prev,
                Some(prev) => datafusion::logical_expr::type_coercion::binary::comparison_coercion(
                    &prev, &t,
                )
                .ok_or_else(|| {
                    SparkError::invalid(format!(
                        "[TRANSPOSE_NO_LEAST_COMMON_TYPE] the columns to transpose have no common \
                         type ({prev} and {t})"
                    ))
                })?,
            });
        }
        let common = common.unwrap_or(DataType::Utf8);
        const INDEX: &str = "__index";
        let mut projected = vec![index.clone().alias(INDEX)];
        projected.extend(others.iter().enumerate().map(|(i, c)| {
            Expr::Cast(Cast::new(Box::new(Expr::Column(c.clone())), common.clone()))
                .alias(format!("__value_{i}"))
        }));
        let plan = LogicalPlanBuilder::from(input)
            .filter(index.is_not_null())
            .and_then(|b| b.project(projected))
            .and_then(|b| b.sort(vec![datafusion::prelude::col(INDEX).sort(true, true)]))
            .and_then(|b| b.build())
            .map_err(SparkError::from)?;
        let batches = self.ctx.collect(plan).await?;
        let mut names = Vec::new();
        let mut values: Vec<Vec<ScalarValue>> = vec![Vec::new(); others.len()];
        for batch in &batches {
            let text = arrow::compute::cast(batch.column(0), &DataType::Utf8)
                .map_err(|e| SparkError::invalid(e.to_string()))?;
            for row in 0..batch.num_rows() {
                names.push(
                    ScalarValue::try_from_array(&text, row)
                        .map_err(SparkError::from)?
                        .to_string(),
                );
                for (i, column) in values.iter_mut().enumerate() {
                    column.push(
                        ScalarValue::try_from_array(batch.column(i + 1), row)
                            .map_err(SparkError::from)?,
                    );
                }
            }
        }
        let mut fields = vec![arrow::datatypes::Field::new("key", DataType::Utf8, false)];
        fields.extend(
            names
                .iter()
                .map(|n| arrow::datatypes::Field::new(n, common.clone(), true)),
        );
        let mut arrays: Vec<arrow::array::ArrayRef> =
            vec![Arc::new(arrow::array::StringArray::from(
                others.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            ))];
        for j in 0..names.len() {
            let column: Vec<ScalarValue> = values.iter().map(|v| v[j].clone()).collect();
            arrays.push(if column.is_empty() {
                arrow::array::new_empty_array(&common)
            } else {
                ScalarValue::iter_to_array(column).map_err(SparkError::from)?
            });
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
            .map_err(|e| SparkError::invalid(e.to_string()))?;
        let table = MemTable::try_new(schema, vec![vec![batch]]).map_err(SparkError::from)?;
        let alias = self.fresh_alias("transposed");
        Ok(build(LogicalPlanBuilder::scan(
            alias,
            provider_as_source(Arc::new(table)),
            None,
        ))?)
    }

    /// `df.freqItems(cols, support)`: one row with, per column, the array
    /// `{col}_freqItems` of its frequent values. Spark's one-pass counter keeps at most
    /// `1 / support` candidates: with no more distinct values than that it returns
    /// them all, as here; with more, here exactly the values that occur in at least a
    /// `support` share of the rows (Spark's answer may hold a few more).
    async fn freq_items(
        &self,
        input: LogicalPlan,
        cols: &[String],
        support: f64,
    ) -> Result<LogicalPlan, C::Error> {
        if !(1e-4..=1.0).contains(&support) {
            return Err(SparkError::invalid(format!(
                "[INVALID_PARAMETER_VALUE] support must be in [1e-4, 1], not {support}"
            ))
            .into());
        }
        let candidates = (1.0 / support) as usize;
        let mut columns = Vec::with_capacity(cols.len());
        for name in cols {
            let column = self.scope(input.schema()).column(name, None)?;
            let t = column.get_type(input.schema()).map_err(SparkError::from)?;
            const VALUE: &str = "__value";
            const COUNT: &str = "__count";
            let count = crate::functions::aggregate(&self.state, "count", vec![lit(1i64)], false)?
                .alias(COUNT);
            let plan = LogicalPlanBuilder::from(input.clone())
                .project(vec![column.alias(VALUE)])
                .and_then(|b| b.aggregate(vec![datafusion::prelude::col(VALUE)], vec![count]))
                .and_then(|b| b.build())
                .map_err(SparkError::from)?;
            let mut counted: Vec<(ScalarValue, i64)> = Vec::new();
            for batch in self.ctx.collect(plan).await? {
                let counts = batch
                    .column(1)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .ok_or_else(|| SparkError::invalid("freqItems: counts are not integers"))?;
                for row in 0..batch.num_rows() {
                    let value = ScalarValue::try_from_array(batch.column(0), row)
                        .map_err(SparkError::from)?;
                    counted.push((value, counts.value(row)));
                }
            }
            let rows: i64 = counted.iter().map(|(_, n)| n).sum();
            if counted.len() > candidates {
                counted.retain(|(_, n)| *n as f64 >= support * rows as f64);
            }
            let mut values: Vec<ScalarValue> = counted.into_iter().map(|(v, _)| v).collect();
            values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            let list = ScalarValue::List(ScalarValue::new_list_nullable(&values, &t));
            columns.push(lit(list).alias(format!("{name}_freqItems")));
        }
        Ok(build(LogicalPlanBuilder::empty(true).project(columns))?)
    }

    fn deduplicate(
        &mut self,
        input: LogicalPlan,
        columns: &[String],
        all: bool,
    ) -> Result<LogicalPlan, SparkError> {
        if all || columns.is_empty() {
            return Ok(LogicalPlanBuilder::from(input).distinct()?.build()?);
        }
        let all_columns = input.schema().columns();
        let scope = self.scope(input.schema());
        let mut keys = Vec::new();
        for name in columns {
            match scope.column(name, None)? {
                Expr::Column(c) => keys.push(c),
                _ => {
                    return Err(SparkError::invalid(format!(
                        "dropDuplicates: {name} is not a column"
                    )));
                }
            }
        }
        let first = self
            .state
            .aggregate_functions()
            .get("first_value")
            .cloned()
            .ok_or_else(|| SparkError::invalid("first_value is not registered"))?;
        let others: Vec<Expr> = all_columns
            .iter()
            .filter(|c| !keys.contains(c))
            .map(|c| {
                Expr::AggregateFunction(datafusion::logical_expr::expr::AggregateFunction::new_udf(
                    Arc::clone(&first),
                    vec![Expr::Column(c.clone())],
                    false,
                    None,
                    vec![],
                    None,
                ))
                .alias(format!("__first_{}", c.flat_name()))
            })
            .collect();
        let grouped = LogicalPlanBuilder::from(input)
            .aggregate(keys.iter().cloned().map(Expr::Column), others)?
            .build()?;
        let exprs = all_columns
            .iter()
            .map(|c| {
                if keys.contains(c) {
                    Expr::Column(c.clone())
                } else {
                    Expr::Column(Column::from_name(format!("__first_{}", c.flat_name())))
                        .alias(&c.name)
                }
            })
            .collect();
        project(grouped, exprs)
    }

    /// The two columns `cov`/`corr` name.
    fn column_pair(
        &self,
        input: &LogicalPlan,
        first: String,
        second: String,
    ) -> Result<(Column, Column), SparkError> {
        let mut columns = self.columns_for(input, &[first, second])?.into_iter();
        match (columns.next(), columns.next()) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(SparkError::invalid("two columns expected")),
        }
    }

    fn columns_for(&self, input: &LogicalPlan, cols: &[String]) -> Result<Vec<Column>, SparkError> {
        if cols.is_empty() {
            return Ok(input.schema().columns());
        }
        let scope = self.scope(input.schema());
        cols.iter()
            .map(|name| match scope.column(name, None)? {
                Expr::Column(c) => Ok(c),
                _ => Err(SparkError::invalid(format!("{name} is not a column"))),
            })
            .collect()
    }

    fn fill_na(
        &mut self,
        input: LogicalPlan,
        cols: &[String],
        values: &[sparkling_proto::spark::expression::Literal],
    ) -> Result<LogicalPlan, SparkError> {
        let targets = self.columns_for(&input, cols)?;
        let values = values
            .iter()
            .map(literal::scalar)
            .collect::<Result<Vec<_>, _>>()?;
        if values.is_empty() || (values.len() != 1 && values.len() != targets.len()) {
            return Err(SparkError::invalid(
                "fillna needs one value, or one per column",
            ));
        }
        let schema = Arc::clone(input.schema());
        let exprs = schema
            .columns()
            .into_iter()
            .map(|c| {
                let Some(i) = targets.iter().position(|t| t == &c) else {
                    return Ok(Expr::Column(c));
                };
                let value = if values.len() == 1 {
                    &values[0]
                } else {
                    &values[i]
                };
                let t = Expr::Column(c.clone()).get_type(&schema)?;
                if !fill_applies(value, &t) {
                    return Ok(Expr::Column(c));
                }
                let fill = Expr::Cast(Cast::new(
                    Box::new(Expr::Literal(value.clone(), None)),
                    t.clone(),
                ));
                let column = Expr::Column(c.clone());
                let missing = if matches!(t, DataType::Float32 | DataType::Float64) {
                    column.clone().is_null().or(crate::functions::scalar(
                        &self.state,
                        "isnan",
                        vec![column.clone()],
                    )?)
                } else {
                    column.clone().is_null()
                };
                Ok(when(missing, fill).otherwise(column)?.alias(&c.name))
            })
            .collect::<Result<Vec<_>, SparkError>>()?;
        project(input, exprs)
    }

    fn drop_na(
        &mut self,
        input: LogicalPlan,
        cols: &[String],
        min_non_nulls: Option<i32>,
    ) -> Result<LogicalPlan, SparkError> {
        let targets = self.columns_for(&input, cols)?;
        let schema = Arc::clone(input.schema());
        let mut present = Vec::new();
        for c in &targets {
            let column = Expr::Column(c.clone());
            let t = column.get_type(&schema)?;
            let not_null = if matches!(t, DataType::Float32 | DataType::Float64) {
                column
                    .clone()
                    .is_not_null()
                    .and(Expr::Not(Box::new(crate::functions::scalar(
                        &self.state,
                        "isnan",
                        vec![column.clone()],
                    )?)))
            } else {
                column.is_not_null()
            };
            present.push(when(not_null, lit(1i64)).otherwise(lit(0i64))?);
        }
        let needed = min_non_nulls
            .map(|n| n as i64)
            .unwrap_or(targets.len() as i64);
        let count = present
            .into_iter()
            .reduce(|a, b| a + b)
            .unwrap_or_else(|| lit(0i64));
        Ok(LogicalPlanBuilder::from(input)
            .filter(count.gt_eq(lit(needed)))?
            .build()?)
    }

    fn replace_na(
        &mut self,
        input: LogicalPlan,
        cols: &[String],
        replacements: &[sparkling_proto::spark::na_replace::Replacement],
    ) -> Result<LogicalPlan, SparkError> {
        let targets = self.columns_for(&input, cols)?;
        let schema = Arc::clone(input.schema());
        let pairs = replacements
            .iter()
            .map(|r| {
                let old = r
                    .old_value
                    .as_ref()
                    .ok_or_else(|| SparkError::invalid("replacement without an old value"))
                    .and_then(literal::scalar)?;
                let new = r
                    .new_value
                    .as_ref()
                    .ok_or_else(|| SparkError::invalid("replacement without a new value"))
                    .and_then(literal::scalar)?;
                Ok((old, new))
            })
            .collect::<Result<Vec<_>, SparkError>>()?;
        let exprs = schema
            .columns()
            .into_iter()
            .map(|c| {
                if !targets.contains(&c) {
                    return Ok(Expr::Column(c));
                }
                let column = Expr::Column(c.clone());
                let t = column.get_type(&schema)?;
                let applicable: Vec<_> = pairs
                    .iter()
                    .filter(|(old, _)| fill_applies(old, &t) || old.is_null())
                    .collect();
                if applicable.is_empty() {
                    return Ok(column);
                }
                let cast = |v: &ScalarValue| {
                    Expr::Cast(Cast::new(
                        Box::new(Expr::Literal(v.clone(), None)),
                        t.clone(),
                    ))
                };
                let mut builder: Option<
                    datafusion::logical_expr::conditional_expressions::CaseBuilder,
                > = None;
                for (old, new) in applicable {
                    let condition = if old.is_null() {
                        column.clone().is_null()
                    } else {
                        column.clone().eq(cast(old))
                    };
                    match &mut builder {
                        None => builder = Some(when(condition, cast(new))),
                        Some(b) => {
                            b.when(condition, cast(new));
                        }
                    }
                }
                match builder {
                    Some(mut b) => Ok(b.otherwise(column)?.alias(&c.name)),
                    None => Ok(column),
                }
            })
            .collect::<Result<Vec<_>, SparkError>>()?;
        project(input, exprs)
    }
}

/// Whether `fillna(value)` applies to a column of type `t` (numbers to numeric
/// columns, strings to strings, booleans to booleans).
fn fill_applies(value: &ScalarValue, t: &DataType) -> bool {
    let v = value.data_type();
    (v.is_numeric() && t.is_numeric())
        || (crate::types::is_string(&v) && crate::types::is_string(t))
        || (v == DataType::Boolean && *t == DataType::Boolean)
}

fn build(
    builder: datafusion::error::Result<LogicalPlanBuilder>,
) -> Result<LogicalPlan, SparkError> {
    Ok(builder?.build()?)
}

/// `exprs` over `input`; aggregates without a grouping make a global aggregate
/// (`df.select(sum("x"))`) and window functions a window (`row_number().over(w)`),
/// as in Spark.
pub fn project(input: LogicalPlan, exprs: Vec<Expr>) -> Result<LogicalPlan, SparkError> {
    let (input, exprs) = unnest_generators(input, exprs)?;
    let has_aggregate = !find_aggregate_exprs(exprs.iter()).is_empty();
    let windows = find_window_exprs(exprs.iter());
    if has_aggregate && windows.is_empty() {
        return aggregate_then_project(input, vec![], exprs);
    }
    if !windows.is_empty() {
        let windowed = LogicalPlanBuilder::window_plan(input, windows.clone())?;
        let exprs = exprs
            .into_iter()
            .map(|e| replace_with_columns(e, &windows))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(LogicalPlanBuilder::from(windowed).project(exprs)?.build()?);
    }
    Ok(LogicalPlanBuilder::from(input).project(exprs)?.build()?)
}

/// Rows for the elements of the lists generators (`explode` and its kin, as
/// `Expr::Unnest`) read: the lists are computed beside `input`'s columns, unnested
/// together (zipped; a NULL list makes no row) and `exprs` read the elements.
fn unnest_generators(
    input: LogicalPlan,
    exprs: Vec<Expr>,
) -> Result<(LogicalPlan, Vec<Expr>), SparkError> {
    let mut lists: Vec<Expr> = Vec::new();
    for e in &exprs {
        e.apply(|node| {
            if let Expr::Unnest(u) = node
                && !lists.contains(&u.expr)
            {
                lists.push((*u.expr).clone());
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })?;
    }
    if lists.is_empty() {
        return Ok((input, exprs));
    }
    let names: Vec<String> = (0..lists.len())
        .map(|i| format!("__generated_{i}"))
        .collect();
    let mut computed: Vec<Expr> = input
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    computed.extend(
        lists
            .iter()
            .zip(&names)
            .map(|(list, name)| list.clone().alias(name)),
    );
    let options = datafusion::common::UnnestOptions::new().with_preserve_nulls(false);
    let unnested = LogicalPlanBuilder::from(input)
        .project(computed)?
        .unnest_columns_with_options(names.iter().map(Column::from_name).collect(), options)?
        .build()?;
    let exprs = exprs
        .into_iter()
        .map(|e| {
            Ok(e.transform_down(|node| match &node {
                Expr::Unnest(u) => {
                    let i = lists.iter().position(|l| l == u.expr.as_ref()).unwrap_or(0);
                    Ok(Transformed::yes(Expr::Column(Column::from_name(
                        names[i].clone(),
                    ))))
                }
                _ => Ok(Transformed::no(node)),
            })?
            .data)
        })
        .collect::<Result<Vec<_>, SparkError>>()?;
    // The fields `inline` reads of a generated struct come from unnesting the struct
    // too (its fields become columns `name.field`).
    let mut structs: Vec<String> = Vec::new();
    for e in &exprs {
        e.apply(|node| {
            if let Some((column, _)) = generated_field(node, &names)
                && !structs.iter().any(|s| s == column)
            {
                structs.push(column.to_string());
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })?;
    }
    if structs.is_empty() {
        return Ok((unnested, exprs));
    }
    let unnested = LogicalPlanBuilder::from(unnested)
        .unnest_columns_with_options(
            structs.iter().map(Column::from_name).collect(),
            datafusion::common::UnnestOptions::new().with_preserve_nulls(false),
        )?
        .build()?;
    let exprs = exprs
        .into_iter()
        .map(|e| {
            Ok(
                e.transform_down(|node| match generated_field(&node, &names) {
                    Some((column, field)) => Ok(Transformed::yes(Expr::Column(Column::from_name(
                        format!("{column}.{field}"),
                    )))),
                    None => Ok(Transformed::no(node)),
                })?
                .data,
            )
        })
        .collect::<Result<Vec<_>, SparkError>>()?;
    Ok((unnested, exprs))
}

/// `get_field(generated, 'field')` of one of the generated columns `names`: the
/// column and the field.
fn generated_field<'e>(e: &'e Expr, names: &[String]) -> Option<(&'e str, &'e str)> {
    let Expr::ScalarFunction(f) = e else {
        return None;
    };
    if f.name() != "get_field" {
        return None;
    }
    match f.args.as_slice() {
        [
            Expr::Column(c),
            Expr::Literal(ScalarValue::Utf8(Some(field)), _),
        ] if c.relation.is_none() && names.contains(&c.name) => {
            Some((c.name.as_str(), field.as_str()))
        }
        _ => None,
    }
}

/// Groups `input` by `groups` computing the aggregate functions inside `aggs`, then
/// evaluates `aggs` over them (`round(avg(x), 2)`), keys first.
pub fn aggregate_then_project(
    input: LogicalPlan,
    groups: Vec<Expr>,
    aggs: Vec<Expr>,
) -> Result<LogicalPlan, SparkError> {
    // Groups by a generator (a sliding `window`) count each row once per element.
    let (input, groups) = unnest_generators(input, groups)?;
    let functions = find_aggregate_exprs(aggs.iter());
    for e in &aggs {
        let leftover = replace_with_columns(e.clone(), &functions)?;
        let mut bare_column = None;
        leftover.apply(|node| {
            if let Expr::Column(c) = node
                && !c.name.contains('(')
                && !groups.iter().any(|g| {
                    g.schema_name().to_string() == c.name
                        || matches!(g, Expr::Column(gc) if gc == c)
                })
            {
                bare_column = Some(c.flat_name());
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })?;
        if let Some(name) = bare_column {
            return Err(SparkError::invalid(format!(
                "[MISSING_AGGREGATION] The non-aggregating expression `{name}` is based on columns which are not participating in the GROUP BY clause. Add the columns or the expression to the GROUP BY, aggregate the expression, or use `any_value({name})` if you do not care which of the values within a group is returned."
            )));
        }
    }
    let grouped = LogicalPlanBuilder::from(input)
        .aggregate(groups.clone(), functions.clone())?
        .build()?;
    let schema = Arc::clone(grouped.schema());
    let group_count = schema.fields().len() - functions.len();
    let mut exprs: Vec<Expr> = schema
        .columns()
        .into_iter()
        .take(group_count)
        .filter(|c| !c.name.starts_with("__grouping_id"))
        .map(Expr::Column)
        .collect();
    for e in aggs {
        exprs.push(replace_with_columns(e, &functions)?);
    }
    Ok(LogicalPlanBuilder::from(grouped).project(exprs)?.build()?)
}

/// `e` with each of `found` (aggregate or window calls) replaced by the column a
/// plan below computed it into.
fn replace_with_columns(e: Expr, found: &[Expr]) -> Result<Expr, SparkError> {
    Ok(e.transform_down(|node| {
        if found.contains(&node) {
            let name = node.schema_name().to_string();
            return Ok(Transformed::yes(Expr::Column(Column::from_name(name))));
        }
        Ok(Transformed::no(node))
    })?
    .data)
}

/// `exceptAll` (`LeftAnti`) or `intersectAll` (`LeftSemi`) as Spark counts: each row
/// is numbered among its duplicates on both sides, so `n` copies on the left less `m`
/// on the right leave `n - m` (and intersecting leaves `min(n, m)`); NULLs match.
fn counted_set_operation(
    left: LogicalPlan,
    right: LogicalPlan,
    join: JoinType,
) -> Result<LogicalPlan, SparkError> {
    use datafusion::logical_expr::ExprFunctionExt;
    const COPY: &str = "__copy";
    let number = |input: LogicalPlan| -> Result<(LogicalPlan, Vec<Column>), SparkError> {
        let columns = input.schema().columns();
        let mut exprs: Vec<Expr> = columns.iter().cloned().map(Expr::Column).collect();
        let partition: Vec<Expr> = exprs.clone();
        exprs.push(
            datafusion::functions_window::expr_fn::row_number()
                .partition_by(partition)
                .build()?
                .alias(COPY),
        );
        Ok((project(input, exprs)?, columns))
    };
    let (left, left_columns) = number(left)?;
    let (right, right_columns) = number(right)?;
    let alias_right = datafusion::common::TableReference::bare("__right");
    let right = LogicalPlanBuilder::from(right)
        .alias(alias_right.clone())?
        .build()?;
    let mut left_keys: Vec<Column> = left_columns.clone();
    left_keys.push(Column::from_name(COPY));
    let mut right_keys: Vec<Column> = right_columns
        .iter()
        .map(|c| Column::new(Some(alias_right.clone()), c.name.clone()))
        .collect();
    right_keys.push(Column::new(Some(alias_right), COPY));
    let joined = LogicalPlanBuilder::from(left)
        .join_detailed(
            right,
            join,
            (left_keys, right_keys),
            None,
            datafusion::common::NullEquality::NullEqualsNull,
        )?
        .build()?;
    project(joined, left_columns.into_iter().map(Expr::Column).collect())
}

/// Batches from Arrow IPC stream bytes.
pub fn read_ipc(data: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>), SparkError> {
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(data), None)
        .map_err(|e| SparkError::invalid(format!("local relation is not Arrow IPC data: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SparkError::invalid(format!("local relation is not Arrow IPC data: {e}")))?;
    Ok((schema, batches))
}

/// Batches renamed and cast to the schema the client declared.
fn conform(
    declared: &Schema,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>), SparkError> {
    let schema = Arc::new(declared.clone());
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        if batch.num_columns() != declared.fields().len() {
            return Err(SparkError::invalid(format!(
                "[AXIS_LENGTH_MISMATCH] the data has {} columns, the schema {}",
                batch.num_columns(),
                declared.fields().len()
            )));
        }
        let columns = batch
            .columns()
            .iter()
            .zip(declared.fields())
            .map(|(c, f)| {
                if c.data_type() == f.data_type() {
                    Ok(Arc::clone(c))
                } else {
                    arrow::compute::cast(c, f.data_type()).map_err(|e| {
                        SparkError::invalid(format!(
                            "column {} does not fit the type {}: {e}",
                            f.name(),
                            crate::types::type_name(f.data_type())
                        ))
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let relaxed = Arc::new(Schema::new(
            declared
                .fields()
                .iter()
                .zip(&columns)
                .map(|(f, c)| {
                    f.as_ref()
                        .clone()
                        .with_nullable(f.is_nullable() || c.null_count() > 0)
                })
                .collect::<Vec<_>>(),
        ));
        out.push(RecordBatch::try_new(relaxed, columns).map_err(|e| {
            SparkError::invalid(format!("local relation does not fit its schema: {e}"))
        })?);
    }
    if let Some(first) = out.first() {
        let schema = first.schema();
        let out = out
            .into_iter()
            .map(|b| b.with_schema(Arc::clone(&schema)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SparkError::invalid(e.to_string()))?;
        return Ok((schema, out));
    }
    Ok((schema, out))
}

/// `input` with its rows numbered in their order, as column `name`.
fn numbered(input: LogicalPlan, name: &str) -> Result<(LogicalPlan, Vec<Expr>), SparkError> {
    let columns: Vec<Expr> = input
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let mut exprs = columns.clone();
    exprs.push(datafusion::functions_window::expr_fn::row_number().alias(name));
    Ok((project(input, exprs)?, columns))
}

/// The last `n` rows of `input` (`df.tail(n)`), in their order.
fn tail(input: LogicalPlan, n: usize) -> Result<LogicalPlan, SparkError> {
    const ROW: &str = "__tail_row";
    let (rows, columns) = numbered(input, ROW)?;
    let row = || datafusion::prelude::col(ROW);
    Ok(LogicalPlanBuilder::from(rows)
        .sort(vec![row().sort(false, false)])?
        .limit(0, Some(n))?
        .sort(vec![row().sort(true, false)])?
        .project(columns)?
        .build()?)
}

/// Spark's `unpivot`: for each row of `input` and each of `values` in turn, a row of
/// `ids`, the value's name (column `variable`) and the value (column `value`, of the
/// values' common type).
fn unpivot(
    input: LogicalPlan,
    ids: Vec<Expr>,
    values: Vec<Expr>,
    variable: &str,
    value: &str,
) -> Result<LogicalPlan, SparkError> {
    const ROW: &str = "__unpivot_row";
    const INDEX: &str = "__unpivot_index";
    if values.is_empty() {
        return Err(SparkError::invalid(
            "[UNPIVOT_REQUIRES_VALUE_COLUMNS] at least one value column needs to be specified",
        ));
    }
    let mut common: Option<DataType> = None;
    for v in &values {
        let t = v.get_type(input.schema())?;
        common = Some(match common {
            None => t,
            Some(c) => datafusion::logical_expr::type_coercion::binary::comparison_coercion(&c, &t)
                .ok_or_else(|| {
                    SparkError::invalid(format!(
                        "[UNPIVOT_VALUE_DATA_TYPE_MISMATCH] unpivot value columns must share a \
                     common type: {c} and {t} do not"
                    ))
                })?,
        });
    }
    let common = common.unwrap_or(DataType::Null);
    // Ids and values evaluated once per row, then one branch per value.
    let value_names: Vec<String> = (0..values.len())
        .map(|i| format!("__unpivot_{i}"))
        .collect();
    let mut exprs = ids.clone();
    for (v, name) in values.iter().zip(&value_names) {
        exprs.push(unalias(v.clone()).alias(name));
    }
    exprs.push(datafusion::functions_window::expr_fn::row_number().alias(ROW));
    let rows = project(input, exprs)?;
    let id_columns: Vec<Expr> = (0..ids.len())
        .map(|i| Expr::Column(Column::from(rows.schema().qualified_field(i))))
        .collect();
    let col = |name: &str| Expr::Column(Column::from_name(name));
    let mut union: Option<LogicalPlanBuilder> = None;
    for (i, (v, name)) in values.iter().zip(&value_names).enumerate() {
        let mut branch = id_columns.clone();
        branch.push(lit(output_name(v)).alias(variable));
        branch.push(Expr::Cast(Cast::new(Box::new(col(name)), common.clone())).alias(value));
        branch.push(col(ROW));
        branch.push(lit(i as i64).alias(INDEX));
        let plan = LogicalPlanBuilder::from(rows.clone())
            .project(branch)?
            .build()?;
        union = Some(match union {
            None => LogicalPlanBuilder::from(plan),
            Some(u) => u.union(plan)?,
        });
    }
    let Some(union) = union else {
        return Err(SparkError::invalid("unpivot without value columns"));
    };
    let unioned = union.build()?;
    let output: Vec<Expr> = (0..ids.len() + 2)
        .map(|i| Expr::Column(Column::from(unioned.schema().qualified_field(i))))
        .collect();
    Ok(LogicalPlanBuilder::from(unioned)
        .sort(vec![
            col(ROW).sort(true, false),
            col(INDEX).sort(true, false),
        ])?
        .project(output)?
        .build()?)
}

/// `groupBy(...).pivot(column, values).agg(aggs)`: each aggregate once per value,
/// over the rows whose `column` is that value, named by the value (and the
/// aggregate's name when there are several), as Spark names them.
fn pivoted(aggs: &[Expr], column: &Expr, values: &[ScalarValue]) -> Result<Vec<Expr>, SparkError> {
    let mut out = Vec::new();
    for value in values {
        let matches = Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr::new(
            Box::new(column.clone()),
            datafusion::logical_expr::Operator::IsNotDistinctFrom,
            Box::new(lit(value.clone())),
        ));
        let value_name = if value.is_null() {
            "null".to_string()
        } else {
            value.to_string()
        };
        for agg in aggs {
            let filtered = unalias(agg.clone())
                .transform(|e| {
                    Ok(match e {
                        Expr::AggregateFunction(mut f) => {
                            let filter = match f.params.filter.take() {
                                Some(existing) => existing.and(matches.clone()),
                                None => matches.clone(),
                            };
                            f.params.filter = Some(Box::new(filter));
                            Transformed::yes(Expr::AggregateFunction(f))
                        }
                        other => Transformed::no(other),
                    })
                })?
                .data;
            let name = if aggs.len() == 1 {
                value_name.clone()
            } else {
                format!("{value_name}_{}", output_name(agg))
            };
            out.push(filtered.alias(name));
        }
    }
    Ok(out)
}

/// The name a column gets from expression `e` (without its qualifier).
fn output_name(e: &Expr) -> String {
    match e {
        Expr::Alias(a) => a.name.clone(),
        Expr::Column(c) => c.name.clone(),
        other => other.schema_name().to_string(),
    }
}

fn unalias(e: Expr) -> Expr {
    match e {
        Expr::Alias(a) => *a.expr,
        other => other,
    }
}

/// The text of a SQL relation with its parameters (`spark.sql(q, args=...)`) bound.
#[allow(deprecated)]
pub fn bound_sql(sql: &sparkling_proto::spark::Sql) -> crate::error::Result<String> {
    use sparkling_proto::spark::expression::ExprType;
    let expression_text = |e: &sparkling_proto::spark::Expression| match &e.expr_type {
        Some(ExprType::Literal(l)) => crate::literal::sql_text(l),
        _ => Err(SparkError::unsupported(
            "[UNSUPPORTED_FEATURE] SQL parameters that are not literals",
        )),
    };
    let mut named = Vec::new();
    for (name, value) in &sql.named_arguments {
        named.push((name.clone(), expression_text(value)?));
    }
    for (name, value) in &sql.args {
        named.push((name.clone(), crate::literal::sql_text(value)?));
    }
    let mut positional = Vec::new();
    for value in &sql.pos_arguments {
        positional.push(expression_text(value)?);
    }
    for value in &sql.pos_args {
        positional.push(crate::literal::sql_text(value)?);
    }
    sparkling_sql::parameters::bind(&sql.query, &named, &positional)
        .map_err(|e| SparkError::invalid(e.to_string()))
}

/// `show()`/`_repr_html_()` of a plan: one row more than shown, to tell whether there are more.
fn show_of(
    input: LogicalPlan,
    num_rows: i32,
    truncate: i32,
    vertical: bool,
    html: bool,
) -> Result<Planned, SparkError> {
    let num_rows = num_rows.max(0) as usize;
    Ok(Planned::Show {
        plan: LogicalPlanBuilder::from(input)
            .limit(0, Some(num_rows + 1))?
            .build()?,
        num_rows,
        truncate: truncate.max(0) as usize,
        vertical,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, StringArray};
    use arrow::datatypes::Field;
    use datafusion::prelude::SessionContext;
    use sparkling_proto::spark::expression::{self, ExprType, literal::LiteralType};
    use sparkling_proto::spark::{Expression, LocalRelation, Project};

    struct Local(SessionContext);

    #[async_trait::async_trait]
    impl PlanContext for Local {
        type Error = SparkError;
        fn state(&self) -> SessionState {
            self.0.state()
        }
        async fn sql(&self, _: &str) -> Result<LogicalPlan, SparkError> {
            Err(SparkError::unsupported(
                "SQL (the engine's entry point plans it)",
            ))
        }
        async fn table(&self, name: &str) -> Result<LogicalPlan, SparkError> {
            Ok(self.0.table(name).await?.into_unoptimized_plan())
        }
        async fn read(
            &self,
            _: &str,
            _: &[String],
            _: &BTreeMap<String, String>,
            _: Option<SchemaRef>,
        ) -> Result<LogicalPlan, SparkError> {
            Err(SparkError::unsupported("files"))
        }
        async fn range(&self, _: i64, _: i64, _: i64) -> Result<LogicalPlan, SparkError> {
            Err(SparkError::unsupported("range"))
        }
        async fn collect(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>, SparkError> {
            Ok(self.0.execute_logical_plan(plan).await?.collect().await?)
        }
        async fn extension(&self, _: &str, _: &[u8]) -> Result<LogicalPlan, SparkError> {
            Err(SparkError::unsupported("extension"))
        }
        fn temp_views(&self) -> Vec<String> {
            Vec::new()
        }
        async fn register_temp_view(&self, _: &str, _: LogicalPlan) -> Result<(), SparkError> {
            Err(SparkError::unsupported("views"))
        }
        async fn drop_temp_view(&self, _: &str) -> Result<bool, SparkError> {
            Ok(false)
        }
        async fn drop_global_temp_view(&self, _: &str) -> Result<bool, SparkError> {
            Ok(false)
        }
    }

    fn local() -> Relation {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
            ],
        )
        .unwrap();
        let mut data = Vec::new();
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut data, &schema).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        drop(w);
        Relation {
            common: None,
            rel_type: Some(relation::RelType::LocalRelation(LocalRelation {
                data: Some(data.into()),
                schema: None,
            })),
        }
    }

    fn attr(name: &str) -> Expression {
        Expression {
            common: None,
            expr_type: Some(ExprType::UnresolvedAttribute(
                expression::UnresolvedAttribute {
                    unparsed_identifier: name.into(),
                    plan_id: None,
                    is_metadata_column: None,
                },
            )),
        }
    }

    fn int(v: i32) -> Expression {
        Expression {
            common: None,
            expr_type: Some(ExprType::Literal(expression::Literal {
                literal_type: Some(LiteralType::Integer(v)),
                data_type: None,
            })),
        }
    }

    fn call(name: &str, args: Vec<Expression>) -> Expression {
        Expression {
            common: None,
            expr_type: Some(ExprType::UnresolvedFunction(
                expression::UnresolvedFunction {
                    function_name: name.into(),
                    arguments: args,
                    is_distinct: false,
                    is_user_defined_function: false,
                    is_internal: None,
                },
            )),
        }
    }

    async fn run(rel: Relation) -> (Vec<String>, String) {
        // As the engine configures sessions (see sparkling_engine::session).
        let config = datafusion::prelude::SessionConfig::new()
            .set_bool("datafusion.optimizer.enable_topk_aggregation", false);
        let state = datafusion::execution::SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_analyzer_rules(crate::rules::analyzer_rules())
            .build();
        let ctx = Local(SessionContext::new_with_state(state));
        let plan = Planner::new(&ctx).relation(rel).await.unwrap();
        let names = plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let batches = ctx
            .0
            .execute_logical_plan(plan)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        (names, text)
    }

    #[tokio::test]
    async fn projections_are_named_and_divide_as_spark_does() {
        let rel = Relation {
            common: None,
            rel_type: Some(relation::RelType::Project(Box::new(Project {
                input: Some(Box::new(local())),
                expressions: vec![
                    attr("ID"),
                    call("/", vec![attr("id"), int(2)]),
                    call("upper", vec![attr("name")]),
                ],
            }))),
        };
        let (names, text) = run(rel).await;
        assert_eq!(names, vec!["id", "(id / 2)", "upper(name)"]);
        let first = text.lines().nth(3).unwrap_or_default().replace(' ', "");
        assert_eq!(first, "|1|0.5|A|", "{text}");
    }

    #[tokio::test]
    async fn describe_and_summary_give_statistics_as_strings() {
        let rel = Relation {
            common: None,
            rel_type: Some(relation::RelType::Describe(Box::new(
                sparkling_proto::spark::StatDescribe {
                    input: Some(Box::new(local())),
                    cols: vec![],
                },
            ))),
        };
        let (names, text) = run(rel).await;
        assert_eq!(names, vec!["summary", "id", "name"]);
        let rows: Vec<String> = text.lines().skip(3).map(|l| l.replace(' ', "")).collect();
        assert_eq!(rows[0], "|count|3|2|", "{text}");
        assert_eq!(rows[1], "|mean|2.0||", "{text}");
        assert_eq!(rows[2], "|stddev|1.0||", "{text}");
        assert_eq!(rows[3], "|min|1|a|", "{text}");
        assert_eq!(rows[4], "|max|3|c|", "{text}");

        let rel = Relation {
            common: None,
            rel_type: Some(relation::RelType::Summary(Box::new(
                sparkling_proto::spark::StatSummary {
                    input: Some(Box::new(local())),
                    statistics: vec!["25%".into(), "50%".into(), "max".into()],
                },
            ))),
        };
        let (_, text) = run(rel).await;
        let rows: Vec<String> = text.lines().skip(3).map(|l| l.replace(' ', "")).collect();
        assert_eq!(rows[0], "|25%|1||", "{text}");
        assert_eq!(rows[1], "|50%|2||", "{text}");
        assert_eq!(rows[2], "|max|3|c|", "{text}");
    }

    #[tokio::test]
    async fn pivot_turns_values_into_columns() {
        use sparkling_proto::spark::{Aggregate, aggregate::Pivot};
        let pivot = |values: Vec<expression::Literal>| Relation {
            common: None,
            rel_type: Some(relation::RelType::Aggregate(Box::new(Aggregate {
                input: Some(Box::new(local())),
                group_type: aggregate::GroupType::Pivot as i32,
                grouping_expressions: vec![],
                aggregate_expressions: vec![call("sum", vec![attr("id")])],
                pivot: Some(Pivot {
                    col: Some(attr("name")),
                    values,
                }),
                grouping_sets: vec![],
            }))),
        };
        let (names, text) = run(pivot(vec![])).await;
        assert_eq!(names, vec!["null", "a", "c"], "{text}");
        let row = text.lines().nth(3).unwrap_or_default().replace(' ', "");
        assert_eq!(row, "|2|1|3|", "{text}");
        let only_c = expression::Literal {
            literal_type: Some(LiteralType::String("c".into())),
            data_type: None,
        };
        let (names, _) = run(pivot(vec![only_c])).await;
        assert_eq!(names, vec!["c"]);
    }

    #[tokio::test]
    async fn unknown_columns_name_the_candidates() {
        let state = SessionContext::new();
        let ctx = Local(state);
        let rel = Relation {
            common: None,
            rel_type: Some(relation::RelType::Project(Box::new(Project {
                input: Some(Box::new(local())),
                expressions: vec![attr("nope")],
            }))),
        };
        let Err(e) = Planner::new(&ctx).relation(rel).await else {
            panic!("planned an unknown column")
        };
        let message = e.to_string();
        assert!(
            message.contains("UNRESOLVED_COLUMN") && message.contains("`name`"),
            "{message}"
        );
    }
}
