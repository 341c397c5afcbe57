"""PySpark DataFrame programs, unchanged, on Sparkling and on Spark 4.1: the same
answers."""

import pyspark.sql.functions as F
import pytest
from pyspark.sql import Window
from pyspark.sql.types import LongType, StringType, StructField, StructType
from pyspark.errors import AnalysisException, PySparkException

from compare import assert_same, assert_same_value

PEOPLE = [(1, "Alice", 34, "NL"), (2, "Bob", 45, "DE"), (3, "Carol", None, "NL"),
          (4, "Dan", 29, None), (5, "Eve", 45, "DE")]
PEOPLE_SCHEMA = "id int, name string, age int, country string"


def people(s):
    return s.createDataFrame(PEOPLE, PEOPLE_SCHEMA)


def test_create_data_frame_with_a_ddl_schema(spark, reference):
    assert_same(spark, reference, people)


def test_create_data_frame_infers_types(spark, reference):
    assert_same(spark, reference,
                lambda s: s.createDataFrame([(1, "a", 2.5, True)], ["i", "s", "d", "b"]))


def test_range_filter_count(spark, reference):
    assert_same_value(spark, reference, lambda s: s.range(10).filter("id > 3").count())
    assert_same_value(spark, reference, lambda s: s.range(0, 20, 3).where(F.col("id") % 2 == 0).count())


def test_select_arithmetic_and_names(spark, reference):
    assert_same(spark, reference, lambda s: people(s).select(
        "name", F.col("age") + 1, (F.col("age") / 2).alias("half"), F.col("id") * 2,
        F.lit(7) / F.lit(2), F.upper("name"), F.col("age").cast("string")))


def test_with_column_replaces_in_place_and_appends(spark, reference):
    assert_same(spark, reference, lambda s: people(s)
                .withColumn("age", F.coalesce("age", F.lit(0)))
                .withColumn("senior", F.when(F.col("age") >= 40, "yes").otherwise("no"))
                .withColumnRenamed("country", "cc")
                .drop("id"))


def test_sort_puts_nulls_first_ascending(spark, reference):
    assert_same(spark, reference, lambda s: people(s).orderBy("age", "id"), ordered=True)
    assert_same(spark, reference, lambda s: people(s).orderBy(F.desc("age"), "id"), ordered=True)
    assert_same(spark, reference,
                lambda s: people(s).orderBy(F.col("country").asc_nulls_last(), "id"), ordered=True)


def test_group_by_aggregates(spark, reference):
    assert_same(spark, reference, lambda s: people(s).groupBy("country").agg(
        F.count("*").alias("n"), F.sum("age"), F.avg("age"), F.max("age"),
        F.countDistinct("age")))
    assert_same(spark, reference, lambda s: people(s).groupBy("country").count())
    assert_same(spark, reference, lambda s: people(s).agg(F.round(F.avg("age"), 2).alias("a")))


def test_joins(spark, reference):
    def countries(s):
        return s.createDataFrame([("NL", "Netherlands"), ("DE", "Germany"), ("FR", "France")],
                                 "country string, country_name string")

    assert_same(spark, reference, lambda s: people(s).join(countries(s), "country"))
    assert_same(spark, reference, lambda s: people(s).join(countries(s), "country", "left"))
    assert_same(spark, reference, lambda s: people(s).join(countries(s), ["country"], "full"))
    assert_same(spark, reference, lambda s: people(s).join(countries(s), "country", "left_anti"))

    def on_condition(s):
        p, c = people(s), countries(s)
        return p.join(c, p.country == c.country, "inner").select(p.name, c.country_name)

    assert_same(spark, reference, on_condition)


def test_windows(spark, reference):
    w = Window.partitionBy("country").orderBy("age", "id")
    assert_same(spark, reference, lambda s: people(s).select(
        "id", F.row_number().over(w).alias("rn"), F.lag("age").over(w).alias("prev"),
        F.sum("age").over(w).alias("running")))


def test_set_operations_and_dedup(spark, reference):
    assert_same(spark, reference, lambda s: people(s).select("country").distinct())
    assert_same(spark, reference, lambda s: people(s).dropDuplicates(["country"]).select("country"))
    assert_same(spark, reference, lambda s: people(s).union(people(s)))
    assert_same(spark, reference, lambda s: people(s).select("name", "id")
                .unionByName(people(s).select("id", "name")))
    assert_same(spark, reference, lambda s: people(s).select("country")
                .subtract(s.createDataFrame([("NL",)], "country string")))


def test_na_functions(spark, reference):
    assert_same(spark, reference, lambda s: people(s).fillna(0))
    assert_same(spark, reference, lambda s: people(s).fillna("??"))
    assert_same(spark, reference, lambda s: people(s).dropna())
    assert_same(spark, reference, lambda s: people(s).na.replace("NL", "Holland"))


def test_sql_semantics(spark, reference):
    assert_same(spark, reference, lambda s: s.sql("SELECT 7/2 AS a, 7 div 2 AS b, 1 AS c, 2.5 AS d"))
    assert_same(spark, reference, lambda s: s.sql(
        "SELECT x FROM (VALUES (2), (NULL), (1)) AS t(x) ORDER BY x"), ordered=True)


def test_division_by_zero_fails_as_in_ansi_mode(spark, reference):
    # Spark 4's default (spark.sql.ansi.enabled=true): DIVIDE_BY_ZERO for `/` and `div`
    # and REMAINDER_BY_ZERO for `%`, whole and fractional divisors alike, raised as
    # the same Python exception class as Spark's.
    from pyspark.errors import ArithmeticException

    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
    for query, error in [("SELECT 1/0", "DIVIDE_BY_ZERO"), ("SELECT 7 % 0", "REMAINDER_BY_ZERO"),
                         ("SELECT 7 div 0", "DIVIDE_BY_ZERO"),
                         ("SELECT 1.5 / 0.0", "DIVIDE_BY_ZERO"),
                         ("SELECT id / (id - 3) FROM range(5)", "DIVIDE_BY_ZERO")]:
        for session in (spark, reference):
            with pytest.raises(ArithmeticException, match=error) as raised:
                session.sql(query).collect()
            assert raised.value.getCondition() == error
    # The DataFrame API too; a non-zero divisor divides.
    for session in (spark, reference):
        with pytest.raises(ArithmeticException, match="DIVIDE_BY_ZERO"):
            session.range(3).select((F.col("id") / (F.col("id") - 1)).alias("q")).collect()
    assert_same(spark, reference, lambda s: s.range(1, 4).select(
        (F.lit(10) / F.col("id")).alias("q"), (F.lit(10) % F.col("id")).alias("r")))


def test_show_prints_as_spark_does(spark, reference, capsys):
    printed = []
    for session in (spark, reference):
        people(session).show()
        people(session).show(2, truncate=False)
        people(session).show(1, vertical=True)
        people(session).select(F.array("id", "age"), F.struct("name", "id"),
                               F.lit(None).alias("n"), F.lit(1.5e10)).show()
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1]


def test_unknown_column_is_an_analysis_error(spark):
    with pytest.raises((AnalysisException, PySparkException)) as e:
        people(spark).select("nope").collect()
    assert "nope" in str(e.value)


def test_parameterized_sql(spark, reference):
    assert_same(spark, reference, lambda s: s.sql(
        "SELECT :a + 1 AS x, :b AS y, :c * 2 AS z", args={"a": 41, "b": "it's", "c": 1.25}))
    assert_same(spark, reference, lambda s: s.sql("SELECT ? * 2 AS x, ? AS y", args=[21, "b"]))
    for session in (spark, reference):
        session.range(10).createOrReplaceTempView("numbers")
    assert_same(spark, reference, lambda s: s.sql(
        "SELECT id FROM numbers WHERE id > :lo AND id <> :skip", args={"lo": 5, "skip": 8}))
    # DataFrames and columns as format arguments.
    assert_same(spark, reference, lambda s: s.sql(
        "SELECT {c}, count(*) AS n FROM {df} WHERE age > {lo} GROUP BY {c}",
        df=people(s), c=F.col("country"), lo=30))


def test_tail_and_unpivot(spark, reference):
    assert_same_value(spark, reference, lambda s: s.range(10).tail(3))
    assert_same_value(spark, reference, lambda s: s.range(2).tail(5))

    def wide(s):
        return s.createDataFrame([(1, 11, 1.5), (2, 12, 2.5)], "id int, a int, b double")

    assert_same(spark, reference, lambda s: wide(s).unpivot(
        "id", ["a", "b"], "variable", "value"), ordered=True)
    assert_same(spark, reference, lambda s: wide(s).melt(
        ["id"], None, "k", "v"), ordered=True)


def test_statistics(spark, reference, capsys):
    def measures(s):
        return s.createDataFrame(
            [("Bob", 13, 40.3, 150.5), ("Alice", 12, 37.8, 142.3), ("Tom", 11, 44.1, 142.2),
             ("Eve", None, 39.0, 160.0)], "name string, age int, weight double, height double")

    def numbers(rows):
        # Statistics are strings; deviations may differ in the last digits (the sums
        # are added in another order), so numbers compare to 9 places.
        def value(v):
            try:
                return round(float(v), 9)
            except (TypeError, ValueError):
                return v
        return [tuple(value(v) for v in row) for row in rows]

    for program in [lambda s: measures(s).describe(),
                    lambda s: measures(s).describe(["age"]),
                    lambda s: measures(s).describe("age", "name"),
                    lambda s: measures(s).summary(),
                    lambda s: measures(s).select("age", "height").summary(
                        "count", "min", "25%", "max", "count_distinct")]:
        ours, theirs = program(spark), program(reference)
        assert ours.columns == theirs.columns
        assert [f.dataType for f in ours.schema] == [f.dataType for f in theirs.schema]
        assert numbers(ours.collect()) == numbers(theirs.collect())
    # Exact statistics print as Spark prints them.
    printed = []
    for session in (spark, reference):
        measures(session).select("name", "age").summary("count", "min", "50%", "max").show()
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1]
    assert_same_value(spark, reference, lambda s: measures(s).stat.cov("age", "weight"))
    assert_same_value(spark, reference, lambda s: measures(s).stat.corr("weight", "height"))
    assert_same_value(spark, reference, lambda s: measures(s).approxQuantile(
        ["weight", "height"], [0.0, 0.5, 1.0], 0.0))
    assert_same_value(spark, reference, lambda s: measures(s).approxQuantile("age", [0.25], 0.01))


def test_pivot(spark, reference):
    def earnings(s):
        return s.createDataFrame(
            [("dotNET", 2012, 10000), ("Java", 2012, 20000), ("dotNET", 2012, 5000),
             ("dotNET", 2013, 48000), ("Java", 2013, 30000), (None, 2013, 1)],
            "course string, year int, earnings int")

    # Without values: the distinct values, sorted, become the columns (NULL first).
    assert_same(spark, reference, lambda s: earnings(s).groupBy("year").pivot("course")
                .sum("earnings"))
    assert_same(spark, reference, lambda s: earnings(s).groupBy("year")
                .pivot("course", ["dotNET", "Java"]).agg(F.sum("earnings"), F.count("earnings")))
    assert_same(spark, reference, lambda s: earnings(s).groupBy("course").pivot("year")
                .agg(F.avg("earnings").alias("mean")))
    # A contingency table: a column per year, a row per course (null as "null").
    assert_same(spark, reference, lambda s: earnings(s).stat.crosstab("course", "year"))


def test_save_as_table_and_insert_into(spark, reference):
    for s in (spark, reference):
        s.sql("CREATE NAMESPACE IF NOT EXISTS writes")
        s.sql("DROP TABLE IF EXISTS writes.people")
        people(s).write.saveAsTable("writes.people")
    assert_same(spark, reference, lambda s: s.table("writes.people"))
    # The default mode fails on an existing table and changes nothing.
    for s in (spark, reference):
        with pytest.raises(Exception, match="already exists|ALREADY_EXISTS"):
            people(s).write.saveAsTable("writes.people")
        people(s).filter("id < 3").write.mode("append").saveAsTable("writes.people")
        people(s).write.mode("ignore").saveAsTable("writes.people")
    assert_same(spark, reference, lambda s: s.table("writes.people"))
    for s in (spark, reference):
        people(s).filter("age > 40").write.mode("overwrite").saveAsTable("writes.people")
        # insertInto matches columns by position.
        s.createDataFrame([(9, "Zed", 1, "FR")], "n int, who string, years int, c string") \
            .write.insertInto("writes.people")
    assert_same(spark, reference, lambda s: s.table("writes.people"))


def test_write_files_with_save_modes(spark, reference, tmp_path):
    for name, s in (("ours", spark), ("spark", reference)):
        path = str(tmp_path / name)
        people(s).write.parquet(path)
        with pytest.raises(Exception, match="already exists|ALREADY_EXISTS"):
            people(s).write.parquet(path)
        people(s).write.mode("append").parquet(path)
        assert s.read.parquet(path).count() == 10
        people(s).filter("id = 1").write.mode("overwrite").parquet(path)
        people(s).write.mode("ignore").parquet(path)
        assert [r.name for r in s.read.parquet(path).collect()] == ["Alice"]
        csv = str(tmp_path / (name + "-csv"))
        people(s).write.option("header", True).csv(csv)
        assert s.read.option("header", True).csv(csv).count() == 5
        # Spark writes no header by default, and reads `nullValue` as NULL.
        plain = str(tmp_path / (name + "-plain"))
        people(s).write.csv(plain)
        back = s.read.csv(plain, schema=PEOPLE_SCHEMA, nullValue="Bob")
        assert sorted((r.id, r.name) for r in back.collect()) == [
            (1, "Alice"), (2, None), (3, "Carol"), (4, "Dan"), (5, "Eve")]


def test_more_transformations(spark, reference):
    assert_same(spark, reference, lambda s: people(s).selectExpr("id * 2 AS twice", "upper(name)"))
    assert_same(spark, reference, lambda s: people(s).rollup("country").agg(F.count("*").alias("n")))
    assert_same(spark, reference, lambda s: people(s).cube("country", "age").count())
    assert_same(spark, reference, lambda s: people(s).orderBy("id").offset(2), ordered=True)
    assert_same(spark, reference, lambda s: people(s).repartition(3).hint("broadcast"))
    assert_same(spark, reference, lambda s: people(s).intersect(people(s).filter("id > 2")))
    assert_same(spark, reference, lambda s: people(s).select("id", "name").to(
        StructType([StructField("name", StringType()), StructField("id", LongType())])))
    # A sample keeps a subset (which rows is up to the engine).
    for s in (spark, reference):
        assert people(s).sample(fraction=0.5, seed=3).count() <= 5


def test_pandas_round_trip(spark, reference):
    import pandas as pd

    frame = pd.DataFrame({"k": [1, 2, 3], "v": ["a", None, "c"], "x": [0.5, 1.5, None]})
    assert_same(spark, reference, lambda s: s.createDataFrame(frame))
    ours = people(spark).orderBy("id").toPandas()
    theirs = people(reference).orderBy("id").toPandas()
    assert ours.equals(theirs), f"{ours}\n{theirs}"


def test_catalog_api(spark, reference):
    for s in (spark, reference):
        s.sql("CREATE NAMESPACE IF NOT EXISTS catalog_api")
        s.sql("DROP TABLE IF EXISTS catalog_api.people")
        people(s).write.saveAsTable("catalog_api.people")
        people(s).createOrReplaceTempView("people_view")
    try:
        for s in (spark, reference):
            assert s.catalog.currentCatalog() == "spark_catalog"
            assert s.catalog.currentDatabase() == "default"
            assert s.catalog.databaseExists("catalog_api")
            assert not s.catalog.databaseExists("no_such_namespace")
            assert s.catalog.tableExists("catalog_api.people")
            assert s.catalog.tableExists("people", "catalog_api")
            assert not s.catalog.tableExists("catalog_api.missing")
            assert s.catalog.functionExists("upper")
            assert not s.catalog.isCached("catalog_api.people")
            s.catalog.setCurrentDatabase("catalog_api")
            assert s.catalog.currentDatabase() == "catalog_api"
            assert s.catalog.tableExists("people")
            s.catalog.setCurrentDatabase("default")
            with pytest.raises(AnalysisException):
                s.catalog.setCurrentDatabase("no_such_namespace")
        assert_same_value(spark, reference, lambda s: sorted(
            (t.name, t.catalog, t.namespace, t.tableType, t.isTemporary)
            for t in s.catalog.listTables("catalog_api")))
        assert_same_value(spark, reference, lambda s: [
            (c.name, c.dataType, c.isPartition) for c in s.catalog.listColumns("catalog_api.people")])
        assert_same_value(spark, reference, lambda s: [
            (d.name, d.catalog) for d in s.catalog.listDatabases("catalog_a*")])
        for s in (spark, reference):
            assert s.catalog.dropTempView("people_view") is True
            assert s.catalog.dropTempView("people_view") is False
    finally:
        for s in (spark, reference):
            s.catalog.setCurrentDatabase("default")


def test_subqueries(spark, reference):
    assert_same(spark, reference, lambda s: people(s).select(
        "name", people(s).select(F.max("age")).scalar().alias("oldest")))
    assert_same(spark, reference, lambda s: people(s).where(
        people(s).filter("age > 40").exists()).select("id"))
    assert_same(spark, reference, lambda s: people(s).where(
        F.col("id").isin(s.range(2, 4))).select("id", "name"))


def test_more_functions(spark, reference):
    def frame(s):
        return s.createDataFrame([(1, [3, None, 1], "4142", 10.5, 0), (2, [2], "00", 3.0, 2)],
                                 "id int, xs array<int>, h string, x double, z int")

    assert_same(spark, reference, lambda s: frame(s).select(
        F.typeof("xs").alias("t"), F.sort_array("xs").alias("up"),
        F.sort_array("xs", asc=False).alias("down"), F.ucase(F.lit("a")).alias("u"),
        F.ceiling("x").alias("c"), F.sign("x").alias("sg"), F.try_divide("x", "z").alias("d"),
        F.zeroifnull(F.lit(None).cast("int")).alias("zn"), F.equal_null("z", F.lit(0)).alias("en"),
        F.to_binary("h").alias("b"), F.hypot("x", "x").alias("hy"),
        F.get("xs", F.lit(0)).alias("g"), F.date_from_unix_date("id").alias("dd"),
        F.current_database().alias("db")))
    assert_same(spark, reference, lambda s: s.createDataFrame(
        [("100-200",), ("foo",), (None,)], "s string").select(
        F.regexp_extract("s", r"(\d+)-(\d+)", 1).alias("a"),
        F.regexp_extract("s", r"(\d+)-(\d+)", 2).alias("b"),
        F.regexp_extract("s", r"(\d+)-(\d+)", 0).alias("whole")))
    assert_same(spark, reference, lambda s: frame(s).agg(
        F.count_if(F.col("x") > 5).alias("n"), F.max_by("id", "x").alias("mx"),
        F.min_by("id", "x").alias("mn"), F.every(F.col("x") > 1).alias("ev"),
        F.some(F.col("x") > 5).alias("so")))


def test_generators(spark, reference):
    def frame(s):
        return s.createDataFrame(
            [(1, [1, 2, 3], {"a": 1}), (2, [], {}), (3, None, None), (4, [None, 5], {"b": 2})],
            "id int, xs array<int>, m map<string,int>")

    assert_same(spark, reference, lambda s: frame(s).select("id", F.explode("xs")))
    assert_same(spark, reference, lambda s: frame(s).select("id", F.explode_outer("xs").alias("x")))
    assert_same(spark, reference, lambda s: frame(s).select("id", F.posexplode("xs")))
    assert_same(spark, reference, lambda s: frame(s).select("id", F.posexplode_outer("xs")))
    assert_same(spark, reference, lambda s: frame(s).select("id", F.explode("m")))
    assert_same(spark, reference,
                lambda s: frame(s).select("id", F.explode("m").alias("k", "v")))
    assert_same(spark, reference, lambda s: frame(s).withColumn("x", F.explode("xs")))
    assert_same(spark, reference, lambda s: s.createDataFrame(
        [(1, [(1, "a"), (2, "b")])], "id int, ps array<struct<n:int,s:string>>").select(
        "id", F.inline("ps")))
    assert_same(spark, reference,
                lambda s: s.tvf.explode(F.array(F.lit(1), F.lit(2), F.lit(3))))


def test_higher_order_functions(spark, reference):
    def frame(s):
        return s.createDataFrame(
            [(1, [1, 2, 3], [10, 20], {"a": 1, "b": 2}, 5), (2, [], [1], {}, 0),
             (3, None, None, None, 1), (4, [None, 4], [7, 8, 9], {"c": None}, 2)],
            "id int, xs array<int>, ys array<int>, m map<string,int>, k int")

    assert_same(spark, reference, lambda s: frame(s).select(
        "id",
        F.transform("xs", lambda x: x * 2).alias("doubled"),
        F.transform("xs", lambda x, i: x + i + F.col("k")).alias("shifted"),
        F.filter("xs", lambda x: x > 1).alias("big"),
        F.exists("xs", lambda x: x > 2).alias("any3"),
        F.forall("xs", lambda x: x > 0).alias("allpos"),
        F.aggregate("xs", F.lit(0), lambda acc, x: acc + x).alias("total"),
        F.aggregate("xs", F.lit(0.0), lambda acc, x: acc + x, lambda acc: acc / 2).alias("half"),
        F.zip_with("xs", "ys", lambda x, y: F.coalesce(x, F.lit(0)) + y).alias("zipped"),
        F.transform("xs", lambda x: F.transform("ys", lambda y: x * y)).alias("nested")))
    assert_same(spark, reference, lambda s: frame(s).select(
        "id",
        F.map_filter("m", lambda k, v: v > 1).alias("mf"),
        F.transform_values("m", lambda k, v: v * 10).alias("tv"),
        F.transform_keys("m", lambda k, v: F.upper(k)).alias("tk")))


def test_time_windows_and_hash(spark, reference):
    def events(s):
        return s.createDataFrame(
            [("2024-01-01 10:03:00", 1), ("2024-01-01 10:07:00", 2),
             ("2024-01-01 10:12:00", 3), ("2024-01-01 10:14:59", 4)],
            "t string, v int").select(F.col("t").cast("timestamp").alias("t"), "v")

    assert_same(spark, reference, lambda s: events(s).groupBy(
        F.window("t", "10 minutes")).agg(F.sum("v").alias("total")))
    assert_same(spark, reference, lambda s: events(s).groupBy(
        F.window("t", "10 minutes", "5 minutes")).agg(F.sum("v").alias("total")))
    assert_same(spark, reference, lambda s: events(s).select(
        "v", F.window("t", "1 hour", startTime="15 minutes").alias("w")))
    assert_same(spark, reference, lambda s: s.createDataFrame(
        [(1, 2, "Spark", 1.5, None), (-7, 0, "", -0.0, "x")],
        "i int, l bigint, s string, d double, n string").select(
        F.hash("i"), F.hash("l"), F.hash("s"), F.hash("d"), F.hash("n"),
        F.hash("i", "s", "d").alias("all"), F.hash(F.array("i", "i")).alias("arr"),
        F.xxhash64("i", "l", "s", "d", "n").alias("xx")))
    assert_same(spark, reference, lambda s: s.sql(
        "SELECT hash('Spark', array(123), 2) AS h, xxhash64('Spark', array(123), 2) AS x, "
        "int('7') AS i, string(1) AS s"))


def test_names_spark_gives(spark, reference):
    # Capitalized math functions, defaults Spark shows, trim's SQL form.
    assert_same(spark, reference, lambda s: s.createDataFrame(
        [(2.5, "**x*", [3, 1])], "v double, t string, xs array<int>").select(
        F.acos(F.lit(0.5)), F.sqrt("v"), F.pow("v", 2), F.log(F.lit(2.0), "v"), F.log("v"),
        F.round("v"), F.bround("v"), F.ceil("v"), F.floor("v"), F.signum("v"), F.pi(),
        F.ltrim("t", F.lit("*")), F.rtrim("t", F.lit("*")), F.trim("t", F.lit("*")),
        F.reverse("xs"), F.reverse("t"), F.negative("v"),
        F.substr("t", F.lit(2)), F.rlike("t", F.lit("x"))))
    assert_same(spark, reference, lambda s: s.range(4).select(
        F.std("id"), F.stddev("id"), F.first("id"), F.last("id", True), F.count_distinct("id")))


def test_views_and_tables_as_spark_makes_them(spark, reference):
    def program(s):
        s.createDataFrame([(1, "a")], "id int, v string").createOrReplaceGlobalTempView("gv")
        return s.sql("SELECT * FROM global_temp.gv")

    assert_same(spark, reference, program)
    for s in (spark, reference):
        s.sql("DROP TABLE IF EXISTS parquet_made")
        s.sql("CREATE TABLE parquet_made (name STRING, age INT) USING parquet")
        s.sql("INSERT INTO parquet_made VALUES ('a', 1)")
    assert_same(spark, reference, lambda s: s.table("parquet_made"))
    assert_same(spark, reference, lambda s: s.createDataFrame(
        [(1, 11), (1, 11), (3, 10), (4, 8), (4, 8)], ["c1", "c2"]).freqItems(["c1", "c2"]).select(
        F.sort_array("c1_freqItems"), F.sort_array("c2_freqItems")))
    assert spark.catalog.dropGlobalTempView("gv") is True
    assert spark.catalog.dropGlobalTempView("gv") is False


def test_column_metadata(spark, reference):
    for s in (spark, reference):
        df = people(s).select(F.col("age").alias("a", metadata={"max": 99}), "name")
        assert df.schema["a"].metadata == {"max": 99}
        assert people(s).withMetadata("age", {"unit": "years"}).schema["age"].metadata == {
            "unit": "years"}


def test_struct_fields_and_map_values(spark, reference):
    def frame(s):
        return s.createDataFrame(
            [(1, (1, (2, "x")), {"k": 1}), (2, None, {})],
            "id int, s struct<a:int, b:struct<c:int, d:string>>, m map<string,int>")

    assert_same(spark, reference, lambda s: frame(s).select(
        "id", F.col("s").withField("e", F.lit(3)).alias("added"),
        F.col("s").withField("a", F.lit(9)).alias("replaced"),
        F.col("s").withField("b.c", F.lit(7)).alias("nested"),
        F.col("s").dropFields("a").alias("dropped"),
        F.col("m")["k"].alias("k"), F.col("m").getItem("z").alias("z")))


def test_transpose_and_sample_by(spark, reference):
    def frame(s):
        return s.createDataFrame([("B", 3, 4), ("A", 1, 2), (None, 5, 6)], "id string, v1 int, v2 int")

    assert_same(spark, reference, lambda s: frame(s).transpose(), ordered=True)
    assert_same(spark, reference, lambda s: frame(s).drop("id").transpose(F.col("v2")), ordered=True)
    # Random, as on Spark: only the strata and the extremes are certain.
    sample = people(spark).sampleBy("country", {"NL": 1.0, "DE": 0.0}).collect()
    assert sorted(r.id for r in sample) == [1, 3]


def test_observe_and_implicit_text(spark, reference):
    from pyspark.sql import Observation

    results = []
    for s in (spark, reference):
        observation = Observation("metrics")
        df = people(s).observe(observation, F.count(F.lit(1)).alias("rows"),
                               F.max("age").alias("oldest"), F.sum("id").alias("ids"))
        assert df.filter("age > 30").count() == 3
        results.append(observation.get)
    assert results[0] == results[1] == {"rows": 5, "oldest": 45, "ids": 15}
    assert_same(spark, reference, lambda s: people(s).select(
        F.upper("id").alias("u"), F.lpad("age", 4, "0").alias("p"),
        F.concat_ws("-", "id", "name").alias("c")))


def test_regular_expressions(spark, reference):
    def frame(s):
        return s.createDataFrame([("oneAtwoBthreeC", "100-200, 300-400", "[ABC]"), (None, "x", "a"),
                                  ("abc", "", "")], "s string, r string, p string")

    assert_same(spark, reference, lambda s: frame(s).select(
        F.split("s", "[ABC]"), F.split("s", "[ABC]", 2), F.split("s", "[ABC]", -2),
        F.regexp_extract_all("r", F.lit(r"(\d+)-(\d+)")),
        F.regexp_extract_all("r", F.lit(r"(\d+)-(\d+)"), 2),
        F.regexp_substr("r", F.lit(r"\d+")), F.regexp_substr("s", F.col("p"))))
    assert_same(spark, reference, lambda s: s.sql(
        "SELECT split('a1b22c', '[0-9]+') AS parts, regexp_extract_all('a1b22c', '([0-9]+)', 1) AS n"))


def test_moments(spark, reference):
    def frame(s):
        return s.createDataFrame([(1, 1.0), (1, 1.0), (1, 2.0), (2, 3.0), (2, 3.0), (3, 7.5)],
                                 "g int, x double")

    assert_same(spark, reference, lambda s: frame(s).groupBy("g").agg(
        F.skewness("x").alias("sk"), F.kurtosis("x").alias("ku")))
    assert_same(spark, reference, lambda s: frame(s).select(F.skewness("x"), F.kurtosis("x")))


def test_counted_set_operations(spark, reference):
    def pair(s):
        a = s.createDataFrame([("a", 1), ("a", 1), ("a", 1), ("a", 2), ("b", 3), ("c", 4), (None, 5),
                               (None, 5)], ["C1", "C2"])
        b = s.createDataFrame([("a", 1), ("b", 3), (None, 5)], ["C1", "C2"])
        return a, b

    assert_same(spark, reference, lambda s: pair(s)[0].exceptAll(pair(s)[1]))
    assert_same(spark, reference, lambda s: pair(s)[0].intersectAll(pair(s)[1]))
    assert_same(spark, reference, lambda s: pair(s)[0].subtract(pair(s)[1]))
    assert_same(spark, reference, lambda s: s.createDataFrame([(1, 2, 3)], ["c0", "c1", "c2"])
                .unionByName(s.createDataFrame([(4, 5, 6)], ["c1", "c2", "c3"]),
                             allowMissingColumns=True))


def test_array_and_math_semantics(spark, reference):
    def frame(s):
        return s.createDataFrame([(1, [1, 2, 1, None], [3], "abc", -1.0), (2, None, [4, None], "x", 0.0)],
                                 "id int, xs array<int>, ys array<int>, s string, v double")

    assert_same(spark, reference, lambda s: frame(s).select(
        "id", F.array_append("xs", 9).alias("app"), F.array_prepend("xs", 0).alias("pre"),
        F.array_position("xs", 2).alias("pos"), F.array_position("xs", 7).alias("nopos"),
        F.array_remove("xs", 1).alias("rem"), F.array_size("xs").alias("n"),
        F.size("xs").alias("sz"), F.array_sort("xs").alias("sorted"),
        F.concat("xs", "ys").alias("cat"), F.array_compact("xs").alias("compact"),
        F.flatten(F.array("xs", "ys")).alias("flat"),
        F.ln("v"), F.log10("v"), F.log2("v"), F.log1p("v"), F.log(F.lit(2.0), "v"),
        F.atan2(F.lit(1), F.lit(2)), F.median("id").alias("m") if False else F.lit(1).alias("one"),
        F.overlay("s", F.lit("ZZ"), 2), F.regexp_extract("s", "(a)(x)?(b)", 2).alias("re")))
    assert_same(spark, reference, lambda s: frame(s).agg(F.median("id").alias("m")))


def test_session_time_zone(spark, reference):
    import datetime

    for s in (spark, reference):
        s.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        assert_same(spark, reference, lambda s: s.createDataFrame(
            [("2015-07-22 10:00:00",)], ["t"]).select(
            F.to_timestamp("t").cast("long").alias("a"), F.col("t").cast("timestamp").cast("long").alias("b"),
            F.unix_seconds(F.to_timestamp("t")).alias("c"),
            F.to_timestamp_ltz("t").cast("long").alias("d")))
    finally:
        for s in (spark, reference):
            s.conf.unset("spark.sql.session.timeZone")
    assert spark.conf.get("spark.sql.session.timeZone") in ("UTC", "Etc/UTC")
    assert_same(spark, reference, lambda s: s.createDataFrame(
        [(datetime.datetime(2015, 4, 8, 13, 8, 15),)], ["ts"]).select(F.hour("ts")))


def test_dates_as_text_and_more_functions(spark, reference):
    def frame(s):
        return s.createDataFrame([("2015-04-08", "a", 1, 2), ("2024-10-31", None, 1, None),
                                  ("2024-02-29", "b", 1, 2)], "dt string, s string, x int, y int")

    assert_same(spark, reference, lambda s: frame(s).select(
        F.date_add("dt", 1).alias("a"), F.date_sub("dt", 1).alias("b"),
        F.add_months("dt", 1).alias("c"), F.last_day("dt").alias("d"),
        F.next_day("dt", "Sun").alias("e"), F.trunc("dt", "year").alias("f"),
        F.trunc("dt", "mm").alias("g"), F.encode("s", "UTF-8").alias("h"),
        F.decode(F.encode("s", "UTF-8"), "UTF-8").alias("i")))
    assert_same(spark, reference, lambda s: frame(s).agg(F.count_distinct("x", "y").alias("n")))
    assert_same(spark, reference, lambda s: frame(s).filter("s = 'a'").agg(
        F.string_agg("s", ",").alias("joined"), F.listagg("s").alias("listed")))
    assert_same(spark, reference, lambda s: s.createDataFrame([((1, 2),)], "a struct<b:int,c:int>")
                .withColumn("a", F.col("a").withField("d", F.lit(4))).select("a.d"))


def test_star_arguments_and_generators_of_columns(spark, reference):
    def frame(s):
        return s.createDataFrame([(1, "a", '{"f1": "x", "f2": 2}', [[1, 2], [3]])],
                                 "id int, s string, j string, xs array<array<int>>")

    assert_same(spark, reference, lambda s: frame(s).select(
        F.hash("*").alias("h"), F.struct("*").alias("st"), F.array_size("xs").alias("n"),
        F.levenshtein("s", F.lit("abc"), 1).alias("lv"), F.replace("s", F.lit("a")).alias("r"),
        F.log2(F.lit(3)).alias("l2")))
    assert_same(spark, reference, lambda s: frame(s).select("id", F.json_tuple("j", "f1", "f2")))
    for s in (spark, reference):
        with pytest.raises(Exception, match="SQL_CONF_NOT_FOUND|cannot be found"):
            s.conf.get("no.such.key")


def test_distinct_count_sketches(spark, reference):
    def estimates(s):
        a = s.createDataFrame([(v,) for v in [1, 2, 2, 3, None]], "value int")
        b = s.createDataFrame([(v,) for v in [3, 4, 5, 5, 6]], "value int")
        sa = a.agg(F.hll_sketch_agg("value").alias("h"), F.theta_sketch_agg("value").alias("t"))
        sb = b.agg(F.hll_sketch_agg("value", 10).alias("h"), F.theta_sketch_agg("value").alias("t"))
        both = sa.union(sb)
        pair = sa.select(F.col("h").alias("h1"), F.col("t").alias("t1")).crossJoin(
            sb.select(F.col("h").alias("h2"), F.col("t").alias("t2")))
        return both.agg(
            F.hll_sketch_estimate(F.hll_union_agg("h", True)).alias("hu"),
            F.theta_sketch_estimate(F.theta_union_agg("t")).alias("tu"),
            F.theta_sketch_estimate(F.theta_intersection_agg("t")).alias("ti")).crossJoin(
            pair.select(
                F.hll_sketch_estimate("h1").alias("ha"),
                F.hll_sketch_estimate(F.hll_union("h1", "h2", True)).alias("hb"),
                F.theta_sketch_estimate(F.theta_union("t1", "t2")).alias("tb"),
                F.theta_sketch_estimate(F.theta_intersection("t1", "t2")).alias("tc"),
                F.theta_sketch_estimate(F.theta_difference("t1", "t2")).alias("td")))

    assert_same(spark, reference, estimates)


def test_quantile_sketches(spark, reference):
    def answers(s):
        df = s.createDataFrame([(v,) for v in [1, 2, 3, 4, 5]], "value int")
        sk = df.agg(F.kll_sketch_agg_bigint("value").alias("s"),
                    F.kll_sketch_agg_double(F.col("value").cast("double")).alias("d"))
        return sk.select(
            F.kll_sketch_get_n_bigint("s").alias("n"),
            F.kll_sketch_get_quantile_bigint("s", F.lit(0.5)).alias("median"),
            F.kll_sketch_get_rank_bigint("s", F.lit(3)).alias("rank"),
            F.kll_sketch_get_quantile_double("d", F.lit(0.8)).alias("q"),
            F.kll_sketch_get_n_bigint(F.kll_sketch_merge_bigint("s", "s")).alias("n2"))

    assert_same(spark, reference, answers)


def test_locate_and_sequence(spark, reference):
    assert_same(spark, reference, lambda s: s.createDataFrame(
        [("abcbc", 1, 5), ("xyz", 3, 1)], "s string, a int, b int").select(
        F.locate("bc", "s").alias("l1"), F.locate("bc", "s", 3).alias("l2"),
        F.locate("bc", "s", 0).alias("l3"), F.locate("z", "s", 9).alias("l4"),
        F.sequence("a", "b").alias("q1"), F.sequence("b", "a").alias("q2"),
        F.sequence(F.lit(1), F.lit(10), F.lit(3)).alias("q3")))
