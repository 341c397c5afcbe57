//! Generates the server side of `spark.connect.SparkConnectService`.
//!
//! The `apache-spark-connect-proto` crate generates messages and the client only;
//! the server trait is generated here with tonic's manual service builder, pointing at
//! the crate's message types, so no `.proto` file is copied into this repository.

use tonic_build::manual::{Builder, Method, MethodBuilder, Service};

const MESSAGES: &str = "::spark_connect_proto";
const CODEC: &str = "::tonic_prost::ProstCodec";

fn method(name: &str, route: &str, input: &str, output: &str) -> MethodBuilder {
    Method::builder()
        .name(name)
        .route_name(route)
        .input_type(format!("{MESSAGES}::{input}"))
        .output_type(format!("{MESSAGES}::{output}"))
        .codec_path(CODEC)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let service = Service::builder()
        .name("SparkConnectService")
        .package("spark.connect")
        .method(
            method(
                "execute_plan",
                "ExecutePlan",
                "ExecutePlanRequest",
                "ExecutePlanResponse",
            )
            .server_streaming()
            .build(),
        )
        .method(
            method(
                "analyze_plan",
                "AnalyzePlan",
                "AnalyzePlanRequest",
                "AnalyzePlanResponse",
            )
            .build(),
        )
        .method(method("config", "Config", "ConfigRequest", "ConfigResponse").build())
        .method(
            method(
                "add_artifacts",
                "AddArtifacts",
                "AddArtifactsRequest",
                "AddArtifactsResponse",
            )
            .client_streaming()
            .build(),
        )
        .method(
            method(
                "artifact_status",
                "ArtifactStatus",
                "ArtifactStatusesRequest",
                "ArtifactStatusesResponse",
            )
            .build(),
        )
        .method(
            method(
                "interrupt",
                "Interrupt",
                "InterruptRequest",
                "InterruptResponse",
            )
            .build(),
        )
        .method(
            method(
                "reattach_execute",
                "ReattachExecute",
                "ReattachExecuteRequest",
                "ExecutePlanResponse",
            )
            .server_streaming()
            .build(),
        )
        .method(
            method(
                "release_execute",
                "ReleaseExecute",
                "ReleaseExecuteRequest",
                "ReleaseExecuteResponse",
            )
            .build(),
        )
        .method(
            method(
                "release_session",
                "ReleaseSession",
                "ReleaseSessionRequest",
                "ReleaseSessionResponse",
            )
            .build(),
        )
        .method(
            method(
                "fetch_error_details",
                "FetchErrorDetails",
                "FetchErrorDetailsRequest",
                "FetchErrorDetailsResponse",
            )
            .build(),
        )
        .method(
            method(
                "clone_session",
                "CloneSession",
                "CloneSessionRequest",
                "CloneSessionResponse",
            )
            .build(),
        )
        .method(
            method(
                "get_status",
                "GetStatus",
                "GetStatusRequest",
                "GetStatusResponse",
            )
            .build(),
        )
        .build();
    Builder::new()
        .build_client(false)
        .build_transport(false)
        .compile(&[service]);
}
