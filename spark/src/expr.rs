//! Spark Connect expressions as DataFusion expressions over an input schema.
//!
//! Column names resolve as Spark resolves them: ignoring case, qualified by a
//! relation's alias (`t.a`), into struct fields (`s.f`), or through the plan id
//! PySpark attaches to `df["a"]` so a join can tell its sides apart.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::{Column, DFSchema, DFSchemaRef, ScalarValue, TableReference};
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::{Sort, WindowFunction};
use datafusion::logical_expr::{
    Cast, Expr, ExprSchemable, LogicalPlan, TryCast, WindowFrame, WindowFrameBound,
    WindowFrameUnits, lit,
};
use sparkling_proto::spark::Expression;
use sparkling_proto::spark::expression::cast::{CastToType, EvalMode};
use sparkling_proto::spark::expression::sort_order::{NullOrdering, SortDirection};
use sparkling_proto::spark::expression::window::window_frame::{
    FrameBoundary, FrameType, frame_boundary,
};
use sparkling_proto::spark::expression::{self, ExprType};

use crate::error::{Result, SparkError};
use crate::functions;
use crate::literal;
use crate::names::{self, split_identifier};
use crate::types::{arrow_type, parse_type};

/// The schemas of relations by the plan id PySpark gave them (`df["a"]` names a
/// column of the DataFrame `df`, whatever joins came after), and the relations
/// subquery expressions refer to by plan id (`sub.scalar()`, `sub.exists()`).
#[derive(Debug, Default, Clone)]
pub struct PlanIds {
    schemas: HashMap<i64, DFSchemaRef>,
    subqueries: HashMap<i64, Arc<LogicalPlan>>,
}

impl PlanIds {
    /// Remembers the output schema of the relation with `id`.
    pub fn insert(&mut self, id: i64, schema: DFSchemaRef) {
        self.schemas.insert(id, schema);
    }

    fn get(&self, id: i64) -> Option<&DFSchemaRef> {
        self.schemas.get(&id)
    }

    /// Remembers a relation subquery expressions may refer to by `id`.
    pub fn insert_subquery(&mut self, id: i64, plan: LogicalPlan) {
        self.subqueries.insert(id, Arc::new(plan));
    }

    /// Relations whose output was `before` now read as `after` (the same columns
    /// under a new qualifier), so `df["col"]` still finds them.
    pub fn requalify(&mut self, before: &DFSchema, after: &DFSchemaRef) {
        for schema in self.schemas.values_mut() {
            if schema.as_ref() == before {
                *schema = Arc::clone(after);
            }
        }
    }
}

/// A generator function call (`explode(x)`, `posexplode(x).alias("p", "v")`): its
/// name, arguments and the names it was aliased to.
fn generator_call(e: &Expression) -> Option<(&str, &[Expression], &[String])> {
    let (inner, aliases) = match &e.expr_type {
        Some(ExprType::Alias(a)) => (a.expr.as_deref()?, a.name.as_slice()),
        _ => (e, &[][..]),
    };
    let Some(ExprType::UnresolvedFunction(f)) = &inner.expr_type else {
        return None;
    };
    matches!(
        f.function_name.to_ascii_lowercase().as_str(),
        "explode" | "explode_outer" | "posexplode" | "posexplode_outer" | "inline" | "inline_outer"
    )
    .then_some((f.function_name.as_str(), f.arguments.as_slice(), aliases))
}

/// Where an expression is translated: the session and the input it reads.
pub struct Scope<'a> {
    /// The session (functions, configuration).
    pub state: &'a SessionState,
    /// The columns the expression may use.
    pub schema: &'a DFSchema,
    /// Relations by plan id.
    pub plan_ids: &'a PlanIds,
    /// The variables of the lambda functions around the expression (`x` of
    /// `transform(xs, x -> x + 1)`), innermost last: each name with the column of
    /// `schema` that holds it.
    pub lambda_variables: Vec<(String, String)>,
}

impl<'a> Scope<'a> {
    /// A scope over `schema`.
    pub fn new(state: &'a SessionState, schema: &'a DFSchema, plan_ids: &'a PlanIds) -> Self {
        Self {
            state,
            schema,
            plan_ids,
            lambda_variables: Vec::new(),
        }
    }

    /// The expression, named as Spark names the column it makes. A star expands
    /// to several.
    pub fn named(&self, e: &Expression) -> Result<Vec<Expr>> {
        if let Some((function, arguments, aliases)) = generator_call(e) {
            return self.generator(function, arguments, aliases);
        }
        if let Some(ExprType::UnresolvedFunction(f)) = &e.expr_type
            && f.function_name.eq_ignore_ascii_case("json_tuple")
        {
            // A generator of one column per field (`c0`, `c1`, ...), one row per row.
            let tuple = self.expr(e)?;
            let DataType::Struct(fields) = tuple.get_type(self.schema)? else {
                return Ok(vec![tuple.alias(names::name(e))]);
            };
            return Ok(fields
                .iter()
                .map(|field| functions::get_field(tuple.clone(), field.name()).alias(field.name()))
                .collect());
        }
        match &e.expr_type {
            Some(ExprType::UnresolvedStar(star)) => self.star(star),
            Some(ExprType::Alias(a)) => Ok(vec![self.alias(a)?]),
            Some(ExprType::ExpressionString(s)) if s.expression.trim() == "*" => {
                self.star(&expression::UnresolvedStar::default())
            }
            Some(ExprType::ExpressionString(s)) => {
                let expr = self.sql_expr(&s.expression)?;
                Ok(vec![match expr {
                    Expr::Alias(_) | Expr::Column(_) => expr,
                    other => {
                        let name = names::sql_name(&other);
                        other.alias(name)
                    }
                }])
            }
            // A map's value is named `m[key]`, a struct's field `s.key`.
            Some(ExprType::UnresolvedExtractValue(x))
                if x.child.as_deref().is_some_and(|child| {
                    self.expr(child)
                        .and_then(|c| Ok(c.get_type(self.schema)?))
                        .is_ok_and(|t| matches!(t, DataType::Map(..)))
                }) =>
            {
                let child = x.child.as_deref().map(names::name).unwrap_or_default();
                let key = x.extraction.as_deref().map(names::name).unwrap_or_default();
                Ok(vec![self.expr(e)?.alias(format!("{child}[{key}]"))])
            }
            Some(ExprType::UnresolvedAttribute(_)) => {
                let expr = self.expr(e)?;
                match expr {
                    Expr::Column(_) => Ok(vec![expr]),
                    other => Ok(vec![other.alias(names::name(e))]),
                }
            }
            _ => Ok(vec![self.expr(e)?.alias(names::name(e))]),
        }
    }

    /// Every expression of a list, named, stars expanded.
    pub fn named_list(&self, exprs: &[Expression]) -> Result<Vec<Expr>> {
        let mut out = Vec::new();
        for e in exprs {
            out.extend(self.named(e)?);
        }
        Ok(out)
    }

    /// The columns a generator (`explode`, `posexplode`, `inline` and their `_outer`
    /// forms) makes, named as Spark names them (`col`; `key`, `value`; `pos`) or as
    /// aliased. Each holds an `Expr::Unnest` of a list that [`crate::plan::project`]
    /// turns into rows; lists of one generator have the same length.
    pub fn generator(
        &self,
        function: &str,
        arguments: &[Expression],
        aliases: &[String],
    ) -> Result<Vec<Expr>> {
        let function = function.to_ascii_lowercase();
        let outer = function.ends_with("_outer");
        let base = function.trim_end_matches("_outer");
        let [argument] = arguments else {
            return Err(SparkError::invalid(format!(
                "{function} takes one argument, not {}",
                arguments.len()
            )));
        };
        let arg = self.expr(argument)?;
        let t = arg.get_type(self.schema)?;
        let scalar = |name: &str, args: Vec<Expr>| functions::scalar(self.state, name, args);
        let positions = |list: &Expr| -> Result<Expr> {
            let count = Expr::Cast(Cast::new(
                Box::new(scalar("cardinality", vec![list.clone()])?),
                DataType::Int64,
            ));
            let range = scalar("range", vec![lit(0i64), count])?;
            Ok(Expr::Cast(Cast::new(
                Box::new(range),
                DataType::new_list(DataType::Int32, true),
            )))
        };
        let (mut names, lists): (Vec<String>, Vec<Expr>) = match (base, &t) {
            ("explode" | "posexplode", DataType::List(_) | DataType::LargeList(_)) => {
                (vec!["col".into()], vec![arg.clone()])
            }
            ("explode" | "posexplode", DataType::Map(..)) => (
                vec!["key".into(), "value".into()],
                vec![
                    scalar("map_keys", vec![arg.clone()])?,
                    scalar("map_values", vec![arg.clone()])?,
                ],
            ),
            ("inline", DataType::List(field) | DataType::LargeList(field)) => {
                let DataType::Struct(fields) = field.data_type() else {
                    return Err(SparkError::invalid(format!(
                        "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] inline takes an array of \
                         structs, not {}",
                        crate::types::type_name(&t)
                    )));
                };
                let names = fields.iter().map(|f| f.name().clone()).collect();
                (names, vec![arg.clone()])
            }
            _ => {
                return Err(SparkError::invalid(format!(
                    "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] {function} takes an array{}, \
                     not {}",
                    if base == "inline" {
                        " of structs"
                    } else {
                        " or a map"
                    },
                    crate::types::type_name(&t)
                )));
            }
        };
        let mut lists = lists;
        if base == "posexplode" {
            names.insert(0, "pos".into());
            let first = lists[0].clone();
            lists.insert(0, positions(&first)?);
        }
        if outer {
            // A NULL or empty input still makes one row, of NULLs.
            let empty = arg.clone().is_null().or(Expr::Cast(Cast::new(
                Box::new(scalar("cardinality", vec![arg.clone()])?),
                DataType::Int64,
            ))
            .eq(lit(0i64)));
            lists = lists
                .into_iter()
                .map(|list| {
                    let list_type = list.get_type(self.schema)?;
                    let single_null = Expr::Cast(Cast::new(
                        Box::new(scalar("make_array", vec![lit(ScalarValue::Null)])?),
                        list_type,
                    ));
                    Ok(datafusion::logical_expr::when(empty.clone(), single_null)
                        .otherwise(list)?)
                })
                .collect::<Result<_>>()?;
        }
        let columns: Vec<Expr> = if base == "inline" {
            let unnested =
                Expr::Unnest(datafusion::logical_expr::expr::Unnest::new(lists.remove(0)));
            names
                .iter()
                .map(|n| scalar("get_field", vec![unnested.clone(), lit(n.clone())]))
                .collect::<Result<_>>()?
        } else {
            lists
                .into_iter()
                .map(|l| Expr::Unnest(datafusion::logical_expr::expr::Unnest::new(l)))
                .collect()
        };
        if !aliases.is_empty() {
            if aliases.len() != names.len() {
                return Err(SparkError::invalid(format!(
                    "[UDTF_ALIAS_NUMBER_MISMATCH] {function} makes {} columns but {} aliases \
                     were given",
                    names.len(),
                    aliases.len()
                )));
            }
            names = aliases.to_vec();
        }
        Ok(columns
            .into_iter()
            .zip(names)
            .map(|(e, n)| e.alias(n))
            .collect())
    }

    /// An aliased expression (`col.alias("a")`, with Spark metadata if given).
    pub fn alias(&self, a: &expression::Alias) -> Result<Expr> {
        let inner = a
            .expr
            .as_deref()
            .ok_or_else(|| SparkError::invalid("alias without an expression"))?;
        match a.name.as_slice() {
            [name] => match &a.metadata {
                // Spark's column metadata (a JSON object) rides on the Arrow field.
                Some(json) => {
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json)
                        .map_err(|e| {
                            SparkError::invalid(format!("alias metadata is not a JSON object: {e}"))
                        })?;
                    let metadata = std::collections::BTreeMap::from([(
                        crate::types::SPARK_METADATA.to_string(),
                        json.clone(),
                    )]);
                    Ok(self
                        .expr(inner)?
                        .alias_with_metadata(name, Some(metadata.into())))
                }
                None => Ok(self.expr(inner)?.alias(name)),
            },
            [] => Err(SparkError::invalid("alias without a name")),
            _ => Err(SparkError::unsupported(
                "aliasing one expression to several names (multi-alias)",
            )),
        }
    }

    /// The column holding the lambda variable `name`, innermost lambda first.
    pub fn lambda_variable(&self, name: &str) -> Option<Expr> {
        self.lambda_variables
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, column)| Expr::Column(Column::from_name(column.clone())))
    }

    /// The DataFusion expression of a Spark expression.
    pub fn expr(&self, e: &Expression) -> Result<Expr> {
        let Some(expr_type) = &e.expr_type else {
            return Err(SparkError::invalid("an expression without a type"));
        };
        match expr_type {
            ExprType::Literal(l) => Ok(Expr::Literal(literal::scalar(l)?, None)),
            ExprType::UnresolvedAttribute(a) => self.column(&a.unparsed_identifier, a.plan_id),
            ExprType::UnresolvedFunction(f) => {
                functions::call(self, &f.function_name, &f.arguments, f.is_distinct)
            }
            ExprType::CallFunction(f) => {
                functions::call(self, &f.function_name, &f.arguments, false)
            }
            ExprType::Alias(a) => self.alias(a),
            ExprType::Cast(c) => self.cast(c),
            ExprType::ExpressionString(s) => self.sql_expr(&s.expression),
            ExprType::UnresolvedExtractValue(x) => {
                let child = x
                    .child
                    .as_deref()
                    .ok_or_else(|| SparkError::invalid("extract value without a child"))?;
                let extraction = x
                    .extraction
                    .as_deref()
                    .ok_or_else(|| SparkError::invalid("extract value without a key"))?;
                self.extract(self.expr(child)?, extraction)
            }
            ExprType::Window(w) => self.window(w),
            ExprType::SortOrder(_) => Err(SparkError::invalid(
                "a sort order can only be used to sort (orderBy, sortWithinPartitions, a window's orderBy)",
            )),
            ExprType::UnresolvedStar(_) => Err(SparkError::invalid(
                "`*` can only be used in a select list or a function such as count(*)",
            )),
            ExprType::NamedArgumentExpression(n) => {
                let value = n
                    .value
                    .as_deref()
                    .ok_or_else(|| SparkError::invalid("named argument without a value"))?;
                self.expr(value)
            }
            ExprType::SubqueryExpression(q) => self.subquery(q),
            ExprType::UpdateFields(u) => {
                let base = u
                    .struct_expression
                    .as_deref()
                    .ok_or_else(|| SparkError::invalid("withField/dropFields without a struct"))?;
                let value = u
                    .value_expression
                    .as_deref()
                    .map(|v| self.expr(v))
                    .transpose()?;
                self.update_fields(self.expr(base)?, &split_identifier(&u.field_name), value)
            }
            ExprType::UnresolvedNamedLambdaVariable(v) => {
                let name = v.name_parts.join(".");
                self.lambda_variable(&name).ok_or_else(|| {
                    SparkError::invalid(format!(
                        "[UNRESOLVED_COLUMN] the lambda variable `{name}` is not bound here"
                    ))
                })
            }
            ExprType::LambdaFunction(_) => Err(SparkError::invalid(
                "a lambda function can only be an argument of a higher-order function \
                 (transform, filter, exists, forall, aggregate, zip_with, map_filter, ...)",
            )),
            ExprType::CommonInlineUserDefinedFunction(f) => Err(SparkError::unsupported(format!(
                "[UNSUPPORTED_FEATURE] user-defined functions in Python, Scala or Java ({})",
                f.function_name
            ))),
            ExprType::UnresolvedRegex(r) => Err(SparkError::unsupported(format!(
                "[UNSUPPORTED_FEATURE] selecting columns by regular expression ({})",
                r.col_name
            ))),
            other => Err(SparkError::unsupported(format!(
                "[UNSUPPORTED_FEATURE] the expression {}",
                names::variant_name(other)
            ))),
        }
    }

    /// `sub.scalar()`, `sub.exists()`, `col.isin(sub)`: a subquery over a relation the
    /// plan sent alongside (`WithRelations`). Correlated subqueries (`col.outer()`)
    /// are not translated: their outer columns do not resolve in the subquery.
    fn subquery(&self, q: &sparkling_proto::spark::SubqueryExpression) -> Result<Expr> {
        use datafusion::logical_expr::{Subquery, expr::Exists, expr::InSubquery};
        use sparkling_proto::spark::subquery_expression::SubqueryType;
        let Some(plan) = self.plan_ids.subqueries.get(&q.plan_id) else {
            return Err(SparkError::invalid(format!(
                "a subquery refers to relation {} that the plan does not carry",
                q.plan_id
            )));
        };
        let subquery = Subquery {
            subquery: Arc::clone(plan),
            outer_ref_columns: vec![],
            spans: Default::default(),
        };
        match SubqueryType::try_from(q.subquery_type) {
            Ok(SubqueryType::Scalar) => Ok(Expr::ScalarSubquery(subquery)),
            Ok(SubqueryType::Exists) => Ok(Expr::Exists(Exists::new(subquery, false))),
            Ok(SubqueryType::In) => {
                let [value] = q.in_subquery_values.as_slice() else {
                    return Err(SparkError::unsupported(
                        "[UNSUPPORTED_FEATURE] IN subqueries over several columns",
                    ));
                };
                Ok(Expr::InSubquery(InSubquery::new(
                    Box::new(self.expr(value)?),
                    subquery,
                    false,
                )))
            }
            _ => Err(SparkError::unsupported(
                "[UNSUPPORTED_FEATURE] table-valued subquery arguments",
            )),
        }
    }

    /// `*`, `t.*` or `s.*` (the fields of a struct column).
    fn star(&self, star: &expression::UnresolvedStar) -> Result<Vec<Expr>> {
        let columns = self.schema.columns();
        let Some(target) = &star.unparsed_target else {
            return Ok(match star.plan_id.and_then(|id| self.plan_ids.get(id)) {
                Some(of) => columns
                    .into_iter()
                    .filter(|c| of.has_column(c))
                    .map(Expr::Column)
                    .collect(),
                None => columns.into_iter().map(Expr::Column).collect(),
            });
        };
        let target = target.strip_suffix(".*").unwrap_or(target);
        let parts = split_identifier(target);
        let of_relation: Vec<Expr> = columns
            .iter()
            .filter(|c| {
                c.relation
                    .as_ref()
                    .is_some_and(|r| qualifier_matches(r, &parts))
            })
            .cloned()
            .map(Expr::Column)
            .collect();
        if !of_relation.is_empty() {
            return Ok(of_relation);
        }
        // The fields of a struct.
        let base = self.column(target, star.plan_id)?;
        match base.get_type(self.schema)? {
            arrow::datatypes::DataType::Struct(fields) => Ok(fields
                .iter()
                .map(|f| functions::get_field(base.clone(), f.name()).alias(f.name()))
                .collect()),
            _ => Err(SparkError::invalid(format!(
                "[CANNOT_RESOLVE_STAR_EXPAND] Cannot resolve {target}.* given input columns {}",
                self.column_list()
            ))),
        }
    }

    fn column_list(&self) -> String {
        format!(
            "[{}]",
            self.schema
                .fields()
                .iter()
                .map(|f| format!("`{}`", f.name()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// A column by Spark's rules.
    pub fn column(&self, identifier: &str, plan_id: Option<i64>) -> Result<Expr> {
        let parts = split_identifier(identifier);
        if let Some(variable) = self.lambda_variable(&parts[0]) {
            return Ok(fields(self, variable, &parts[1..]));
        }
        if let Some(of) = plan_id.and_then(|id| self.plan_ids.get(id))
            && let Some(found) = self.in_relation(of, &parts)
        {
            return Ok(found);
        }
        // Longest qualifier first: `t.a` is column `a` of `t` before field `a` of
        // struct column `t`.
        for skip in (1..parts.len()).rev() {
            let (qualifier, rest) = parts.split_at(skip);
            let matches: Vec<Column> = self
                .schema
                .columns()
                .into_iter()
                .filter(|c| {
                    c.relation
                        .as_ref()
                        .is_some_and(|r| qualifier_matches(r, qualifier))
                        && c.name.eq_ignore_ascii_case(&rest[0])
                })
                .collect();
            if let Some(c) = pick(matches, &rest[0])? {
                return Ok(fields(self, Expr::Column(c), &rest[1..]));
            }
        }
        let matches: Vec<Column> = self
            .schema
            .columns()
            .into_iter()
            .filter(|c| c.name.eq_ignore_ascii_case(&parts[0]))
            .collect();
        match pick(matches, &parts[0]) {
            Ok(Some(c)) => Ok(fields(self, Expr::Column(c), &parts[1..])),
            Ok(None) => Err(SparkError::invalid(format!(
                "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `{}` cannot be resolved. Did you mean one of the following? {}.",
                identifier,
                self.column_list()
            ))),
            Err(e) => Err(e),
        }
    }

    /// `parts` as a column of the relation whose schema is `of`, if the input has it.
    fn in_relation(&self, of: &DFSchemaRef, parts: &[String]) -> Option<Expr> {
        let columns = of.columns();
        let candidates: Vec<&Column> = columns
            .iter()
            .filter(|c| c.name.eq_ignore_ascii_case(&parts[0]))
            .collect();
        let exact = candidates
            .iter()
            .find(|c| c.name == parts[0])
            .or(candidates.first())?;
        if self.schema.has_column(exact) {
            return Some(fields(self, Expr::Column((*exact).clone()), &parts[1..]));
        }
        None
    }

    fn cast(&self, c: &expression::Cast) -> Result<Expr> {
        let child = c
            .expr
            .as_deref()
            .ok_or_else(|| SparkError::invalid("cast without an expression"))?;
        let to = match &c.cast_to_type {
            Some(CastToType::Type(t)) => arrow_type(t)?,
            Some(CastToType::TypeStr(s)) => parse_type(s)?,
            None => return Err(SparkError::invalid("cast without a type")),
        };
        let expr = self.expr(child)?;
        let text = expr
            .get_type(self.schema)
            .is_ok_and(|t| crate::types::is_string(&t));
        if text
            && let DataType::Timestamp(unit, Some(_)) = &to
            && EvalMode::try_from(c.eval_mode) != Ok(EvalMode::Try)
        {
            // Text without an offset is a time in the session's zone.
            let naive = Expr::Cast(Cast::new(Box::new(expr), DataType::Timestamp(*unit, None)));
            return Ok(functions::in_session_zone(self.state, naive));
        }
        if let Ok(DataType::Timestamp(unit, _)) = expr.get_type(self.schema)
            && (to.is_integer() || to.is_floating())
        {
            // A timestamp as a number is seconds since the epoch (whole seconds, rounded
            // down, for integers).
            use arrow::datatypes::TimeUnit;
            let per_second: i64 = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let count = Expr::Cast(Cast::new(Box::new(expr), DataType::Int64));
            let seconds = if to.is_integer() {
                functions::scalar(
                    self.state,
                    "floor",
                    vec![
                        Expr::Cast(Cast::new(Box::new(count), DataType::Float64))
                            / lit(per_second as f64),
                    ],
                )?
            } else {
                Expr::Cast(Cast::new(Box::new(count), DataType::Float64)) / lit(per_second as f64)
            };
            return Ok(Expr::Cast(Cast::new(Box::new(seconds), to)));
        }
        let expr = Box::new(expr);
        Ok(match EvalMode::try_from(c.eval_mode) {
            Ok(EvalMode::Try) => Expr::TryCast(TryCast::new(expr, to)),
            _ => Expr::Cast(Cast::new(expr, to)),
        })
    }

    /// A SQL expression (`expr("a + 1")`, `selectExpr`, `filter("a > 1")`).
    pub fn sql_expr(&self, sql: &str) -> Result<Expr> {
        Ok(self.state.create_logical_expr(sql, self.schema)?)
    }

    /// `col[key]`, `col.field`, `col.getItem(i)`: a struct field, a map value, or an
    /// array element (Spark counts from 0).
    fn extract(&self, child: Expr, extraction: &Expression) -> Result<Expr> {
        let key = self.expr(extraction)?;
        let child_type = child.get_type(self.schema)?;
        use arrow::datatypes::DataType as T;
        match (&child_type, &key) {
            (T::Struct(_), Expr::Literal(ScalarValue::Utf8(Some(name)), _)) => {
                Ok(functions::get_field(child, name))
            }
            (T::List(_) | T::LargeList(_) | T::FixedSizeList(..), _) => {
                let one_based = key.cast_to(&T::Int64, self.schema)? + lit(1i64);
                functions::scalar(self.state, "array_element", vec![child, one_based])
            }
            (T::Map(..), _) => {
                // The value under the key (NULL without one).
                let values = functions::scalar(self.state, "map_extract", vec![child, key])?;
                functions::scalar(self.state, "array_element", vec![values, lit(1i64)])
            }
            _ => Err(SparkError::invalid(format!(
                "[INVALID_EXTRACT_BASE_FIELD_TYPE] Can't extract a value from {}: need a struct, an array or a map, got {}",
                child.schema_name(),
                crate::types::type_name(&child_type)
            ))),
        }
    }

    /// `s.withField(path, value)` (`value` given) or `s.dropFields(path)`: the struct
    /// rebuilt with the field at the dotted path replaced, added at the end, or
    /// left out; a NULL struct stays NULL.
    fn update_fields(&self, base: Expr, path: &[String], value: Option<Expr>) -> Result<Expr> {
        use arrow::datatypes::DataType as T;
        let T::Struct(fields) = base.get_type(self.schema)? else {
            return Err(SparkError::invalid(format!(
                "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] withField/dropFields takes a struct, \
                 not {}",
                base.schema_name()
            )));
        };
        let Some((first, rest)) = path.split_first() else {
            return Err(SparkError::invalid(
                "withField/dropFields needs a field name",
            ));
        };
        let mut pairs = Vec::new();
        let mut found = false;
        for f in fields.iter() {
            let field = functions::get_field(base.clone(), f.name());
            if !f.name().eq_ignore_ascii_case(first) {
                pairs.extend([lit(f.name().as_str()), field]);
                continue;
            }
            found = true;
            if !rest.is_empty() {
                pairs.extend([
                    lit(f.name().as_str()),
                    self.update_fields(field, rest, value.clone())?,
                ]);
            } else if let Some(v) = &value {
                pairs.extend([lit(f.name().as_str()), v.clone()]);
            }
        }
        if !found {
            match (&value, rest.is_empty()) {
                (Some(v), true) => pairs.extend([lit(first.as_str()), v.clone()]),
                (None, true) => {}
                _ => {
                    return Err(SparkError::invalid(format!(
                        "[FIELD_NOT_FOUND] No such struct field `{first}`"
                    )));
                }
            }
        }
        if pairs.is_empty() {
            return Err(SparkError::invalid(
                "[DATATYPE_MISMATCH.CANNOT_DROP_ALL_FIELDS] Cannot drop all fields in struct",
            ));
        }
        let rebuilt = functions::scalar(self.state, "named_struct", pairs)?;
        Ok(
            datafusion::logical_expr::when(base.is_null(), lit(ScalarValue::Null))
                .otherwise(rebuilt)?,
        )
    }

    /// A sort key, with Spark's null ordering (nulls first ascending, last descending)
    /// unless the order says otherwise.
    pub fn sort(&self, s: &expression::SortOrder) -> Result<Sort> {
        let child = s
            .child
            .as_deref()
            .ok_or_else(|| SparkError::invalid("sort order without an expression"))?;
        let asc = s.direction != SortDirection::Descending as i32;
        let nulls_first = match NullOrdering::try_from(s.null_ordering) {
            Ok(NullOrdering::SortNullsFirst) => true,
            Ok(NullOrdering::SortNullsLast) => false,
            _ => asc,
        };
        Ok(Sort::new(self.expr(child)?, asc, nulls_first))
    }

    /// A sort key from any expression: a sort order, or a column sorted ascending.
    pub fn sort_key(&self, e: &Expression) -> Result<Sort> {
        match &e.expr_type {
            Some(ExprType::SortOrder(s)) => self.sort(s),
            _ => Ok(Sort::new(self.expr(e)?, true, true)),
        }
    }

    fn window(&self, w: &expression::Window) -> Result<Expr> {
        let f = w
            .window_function
            .as_deref()
            .ok_or_else(|| SparkError::invalid("window without a function"))?;
        let function = self.expr(f)?;
        let (fun, args, distinct) = match function {
            Expr::AggregateFunction(a) => (
                datafusion::logical_expr::expr::WindowFunctionDefinition::AggregateUDF(a.func),
                a.params.args,
                a.params.distinct,
            ),
            Expr::WindowFunction(wf) => (wf.fun, wf.params.args, false),
            other => {
                return Err(SparkError::invalid(format!(
                    "[UNSUPPORTED_EXPR_FOR_WINDOW] Expression {} not supported within a window function",
                    other.schema_name()
                )));
            }
        };
        let partition_by = w
            .partition_spec
            .iter()
            .map(|e| self.expr(e))
            .collect::<Result<Vec<_>>>()?;
        let order_by = w
            .order_spec
            .iter()
            .map(|s| self.sort(s))
            .collect::<Result<Vec<_>>>()?;
        let window_frame = match &w.frame_spec {
            Some(frame) => self.frame(frame)?,
            None => WindowFrame::new(if order_by.is_empty() {
                None
            } else {
                Some(false)
            }),
        };
        // Spark's ranks are `int`s; DataFusion's unsigned.
        let int_result = matches!(
            fun.to_string().as_str(),
            "row_number" | "rank" | "dense_rank" | "ntile"
        );
        let mut wf = WindowFunction::new(fun, args);
        wf.params.partition_by = partition_by;
        wf.params.order_by = order_by;
        wf.params.window_frame = window_frame;
        wf.params.distinct = distinct;
        let window = Expr::WindowFunction(Box::new(wf));
        if int_result {
            return Ok(Expr::Cast(Cast::new(
                Box::new(window),
                arrow::datatypes::DataType::Int32,
            )));
        }
        Ok(window)
    }

    fn frame(&self, frame: &expression::window::WindowFrame) -> Result<WindowFrame> {
        let units = match FrameType::try_from(frame.frame_type) {
            Ok(FrameType::Row) => WindowFrameUnits::Rows,
            Ok(FrameType::Range) => WindowFrameUnits::Range,
            _ => return Err(SparkError::invalid("window frame without ROWS or RANGE")),
        };
        let bound = |b: &Option<Box<FrameBoundary>>, lower: bool| -> Result<WindowFrameBound> {
            let Some(b) = b.as_deref().and_then(|b| b.boundary.as_ref()) else {
                return Err(SparkError::invalid("window frame without a boundary"));
            };
            Ok(match b {
                frame_boundary::Boundary::CurrentRow(_) => WindowFrameBound::CurrentRow,
                frame_boundary::Boundary::Unbounded(_) => {
                    if lower {
                        WindowFrameBound::Preceding(ScalarValue::UInt64(None))
                    } else {
                        WindowFrameBound::Following(ScalarValue::UInt64(None))
                    }
                }
                frame_boundary::Boundary::Value(v) => {
                    let value = match self.expr(v)? {
                        Expr::Literal(v, _) => v,
                        other => {
                            return Err(SparkError::invalid(format!(
                                "window frame boundary must be a literal, got {}",
                                other.schema_name()
                            )));
                        }
                    };
                    let n = match &value {
                        ScalarValue::Int32(Some(n)) => Some(*n as i64),
                        ScalarValue::Int64(Some(n)) => Some(*n),
                        _ => None,
                    };
                    match (n, units) {
                        (Some(0), _) => WindowFrameBound::CurrentRow,
                        (Some(n), WindowFrameUnits::Rows) if n < 0 => {
                            WindowFrameBound::Preceding(ScalarValue::UInt64(Some(n.unsigned_abs())))
                        }
                        (Some(n), WindowFrameUnits::Rows) => {
                            WindowFrameBound::Following(ScalarValue::UInt64(Some(n as u64)))
                        }
                        (Some(n), _) if n < 0 => {
                            WindowFrameBound::Preceding(ScalarValue::Int64(Some(-n)))
                        }
                        (Some(n), _) => WindowFrameBound::Following(ScalarValue::Int64(Some(n))),
                        (None, _) => WindowFrameBound::Following(value),
                    }
                }
            })
        };
        Ok(WindowFrame::new_bounds(
            units,
            bound(&frame.lower, true)?,
            bound(&frame.upper, false)?,
        ))
    }
}

fn qualifier_matches(relation: &TableReference, parts: &[String]) -> bool {
    let names: Vec<&str> = match relation {
        TableReference::Bare { table } => vec![table],
        TableReference::Partial { schema, table } => vec![schema, table],
        TableReference::Full {
            catalog,
            schema,
            table,
        } => vec![catalog, schema, table],
    };
    parts.len() <= names.len()
        && names[names.len() - parts.len()..]
            .iter()
            .zip(parts)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// The one column among `matches` (an exact-case match wins), none, or an
/// ambiguity error.
fn pick(matches: Vec<Column>, name: &str) -> Result<Option<Column>> {
    match matches.len() {
        0 => Ok(None),
        1 => Ok(matches.into_iter().next()),
        _ => {
            let exact: Vec<&Column> = matches.iter().filter(|c| c.name == name).collect();
            if exact.len() == 1 {
                return Ok(Some(exact[0].clone()));
            }
            Err(SparkError::invalid(format!(
                "[AMBIGUOUS_REFERENCE] Reference `{name}` is ambiguous, could be: [{}].",
                matches
                    .iter()
                    .map(|c| format!("`{}`", c.flat_name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

/// `base.a.b`: struct fields by name, map values by key.
fn fields(scope: &Scope<'_>, base: Expr, path: &[String]) -> Expr {
    path.iter()
        .fold(base, |e, field| match e.get_type(scope.schema) {
            Ok(arrow::datatypes::DataType::Map(..)) => {
                let key = lit(field.as_str());
                functions::scalar(scope.state, "map_extract", vec![e.clone(), key])
                    .and_then(|values| {
                        functions::scalar(scope.state, "array_element", vec![values, lit(1i64)])
                    })
                    .unwrap_or_else(|_| functions::get_field(e, field))
            }
            _ => functions::get_field(e, field),
        })
}

/// A column expression for `name` in the schema (by qualified name).
pub fn column_expr(column: &Column) -> Expr {
    Expr::Column(column.clone())
}

/// Wraps `expr` to carry `name` unless it already has it.
pub fn named_as(expr: Expr, name: &str) -> Expr {
    match &expr {
        Expr::Column(c) if c.name == name => expr,
        Expr::Alias(a) if a.name == name => expr,
        _ => expr.alias(name),
    }
}

/// A DataFusion scalar as an expression.
pub fn literal(value: ScalarValue) -> Expr {
    Expr::Literal(value, None)
}
