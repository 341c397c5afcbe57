//! Bad input gets a clear error and the cluster keeps serving the next query.

use std::time::Duration;

use futures::StreamExt;
use sparkling_proto::spark::spark_connect_service_client::SparkConnectServiceClient;
use sparkling_proto::spark::{ExecutePlanRequest, Plan, Relation, plan, relation};

use crate::cluster::{TestCluster, binary, free_port};

/// A query that runs on the executors for minutes: a triple self-join of client data
/// registered as the temp view `numbers`.
const SLOW_QUERY: &str =
    "select count(*) from numbers a, numbers b, numbers c where (a.x * b.x + c.x) % 7 = 3";

async fn register_numbers(spark: &sparkling_client::SparkSession) {
    let df = spark
        .create_dataframe(vec![crate::cluster::numbers(5000)])
        .unwrap();
    df.create_or_replace_temp_view("numbers").await.unwrap();
}

fn request(session_id: &str, rel_type: relation::RelType) -> ExecutePlanRequest {
    ExecutePlanRequest {
        session_id: session_id.to_string(),
        plan: Some(Plan {
            op_type: Some(plan::OpType::Root(Relation {
                common: None,
                rel_type: Some(rel_type),
            })),
        }),
        ..Default::default()
    }
}

/// A job on the executors still runs and answers correctly.
async fn still_serves(cluster: &TestCluster) {
    let spark = cluster.session().await;
    let df = spark
        .create_dataframe(vec![crate::cluster::numbers(100)])
        .unwrap();
    let sum = df
        .aggregate(
            vec![],
            vec![datafusion::functions_aggregate::expr_fn::sum(
                datafusion::prelude::col("x"),
            )],
        )
        .unwrap();
    assert_eq!(
        sparkling_benches::tpch::normalize(&sum.collect().await.unwrap()).unwrap(),
        vec!["4950"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let cluster = TestCluster::start(2, 1).await;
    let spark = cluster.session().await;

    let err = spark.run_sql("selec 1").await.unwrap_err().to_string();
    assert!(
        err.contains("selec") && err.contains("Line: 1, Column: 1"),
        "{err}"
    );
    still_serves(&cluster).await;

    let err = spark
        .run_sql("select * from no_such_table")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no_such_table") && err.contains("not found"),
        "{err}"
    );
    let err = spark
        .run_sql("select no_such_column from range(0, 3)")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no_such_column"), "{err}");
    let err = spark
        .run_sql("select 'a' + 1")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.to_lowercase().contains("utf8") || err.contains("type"),
        "{err}"
    );
    still_serves(&cluster).await;
    // Ballista's broadcast promotion would return wrong answers for outer joins.
    let err = spark
        .run_sql("SET ballista.optimizer.broadcast_join_threshold_bytes = 10485760")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("wrong answers"), "{err}");
    spark
        .run_sql("SET ballista.optimizer.broadcast_join_threshold_bytes = 0")
        .await
        .unwrap();

    // A corrupt native plan payload.
    let mut client =
        SparkConnectServiceClient::connect(format!("http://127.0.0.1:{}", cluster.connect_port))
            .await
            .unwrap();
    let session_id = uuid::Uuid::new_v4().to_string();
    let corrupt = relation::RelType::Extension(prost_types::Any {
        type_url: sparkling_proto::extension::LOGICAL_PLAN_TYPE_URL.to_string(),
        value: vec![0xff, 0x01, 0x02, 0x03, 0x04],
    });
    let mut stream = client
        .execute_plan(request(&session_id, corrupt))
        .await
        .unwrap()
        .into_inner();
    let status = stream.next().await.unwrap().unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("invalid plan payload"),
        "{}",
        status.message()
    );
    // An extension we do not know.
    let unknown = relation::RelType::Extension(prost_types::Any {
        type_url: "type.googleapis.com/acme.Thing".into(),
        value: vec![],
    });
    let mut stream = client
        .execute_plan(request(&session_id, unknown))
        .await
        .unwrap()
        .into_inner();
    let status = stream.next().await.unwrap().unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status.message().contains("acme.Thing"),
        "{}",
        status.message()
    );
    // A session id that is not a UUID.
    let err = client
        .execute_plan(request(
            "not-a-uuid",
            relation::RelType::Sql(Default::default()),
        ))
        .await
        .unwrap_err();
    assert!(err.message().contains("not a UUID"), "{}", err.message());
    still_serves(&cluster).await;

    // A client that disconnects in the middle of a long query.
    let raw_session = sparkling_client::SparkSession::connect(&format!(
        "{};session_id={session_id}",
        cluster.url() + "/"
    ))
    .await
    .unwrap();
    register_numbers(&raw_session).await;
    let sql = relation::RelType::Sql(sparkling_proto::spark::Sql {
        query: SLOW_QUERY.into(),
        ..Default::default()
    });
    let stream = client
        .execute_plan(request(&session_id, sql))
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(stream);
    drop(client);
    still_serves(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_cancels_a_running_query() {
    let cluster = TestCluster::start(2, 1).await;
    let spark = cluster.session().await;
    register_numbers(&spark).await;
    let operation_id = uuid::Uuid::new_v4().to_string();
    let df = spark.sql(SLOW_QUERY).await.unwrap();
    let running = {
        let df = df.clone();
        let id = operation_id.clone();
        tokio::spawn(async move { df.collect_as(&id).await })
    };
    // Interrupt once the operation is known to the server.
    let mut interrupted = Vec::new();
    for _ in 0..100 {
        interrupted = spark.interrupt_operation(&operation_id).await.unwrap();
        if !interrupted.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(interrupted, vec![operation_id.clone()]);
    let err = running.await.unwrap().unwrap_err();
    match &err {
        sparkling_client::ClientError::Server { code, message } => {
            assert_eq!(*code, tonic::Code::Cancelled, "{message}");
        }
        other => panic!("unexpected error {other}"),
    }
    still_serves(&cluster).await;
}

#[tokio::test]
async fn executor_pointed_at_a_dead_scheduler_fails_clearly() {
    let port = free_port();
    let output = std::process::Command::new(binary())
        .args(["executor", "--scheduler", &format!("127.0.0.1:{port}")])
        .args(["--port", &free_port().to_string()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{port} does not answer")),
        "{stderr}"
    );
}

#[tokio::test]
async fn client_pointed_at_a_dead_gateway_fails_clearly() {
    let port = free_port();
    let output = std::process::Command::new(binary())
        .args([
            "sql",
            "--remote",
            &format!("sc://127.0.0.1:{port}"),
            "select 1",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect to"), "{stderr}");
}
