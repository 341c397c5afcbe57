//! `sparkling catalog`: an Iceberg REST catalog server.
//!
//! Namespaces and table pointers live in SQLite (default) or PostgreSQL ([`store`]);
//! table metadata files live in the warehouse. [`service`] implements the catalog
//! operations (commits are compare-and-swap on the metadata pointer), [`routes`] maps
//! the REST spec's routes onto them, and [`start`] serves them on a port.

pub mod error;
pub mod routes;
pub mod service;
pub mod store;

use std::net::{IpAddr, SocketAddr};

pub use error::CatalogError;
pub use service::CatalogService;

/// The catalog port the seeds use.
pub const DEFAULT_PORT: u16 = 8181;
/// The SQLite file of the default catalog database (the seed's).
pub const DEFAULT_DB_PATH: &str = "./metadata/iceberg_catalog.db";
/// The catalog database `sparkling catalog` opens by default: [`DEFAULT_DB_PATH`].
pub const DEFAULT_DB: &str = "sqlite:./metadata/iceberg_catalog.db";
/// Where new tables go by default (Spark's).
pub const DEFAULT_WAREHOUSE: &str = "./spark-warehouse";

/// How to run the catalog server.
#[derive(Debug, Clone)]
pub struct CatalogOptions {
    /// Address to bind.
    pub bind: IpAddr,
    /// Port (0 picks a free one).
    pub port: u16,
    /// `sqlite:PATH` or `postgres://...`.
    pub db: String,
    /// Directory (or `file://` URL) under which new tables are created.
    pub warehouse: String,
    /// The catalog's name in the database (rows of several catalogs can share one).
    pub name: String,
    /// Bearer token clients must present; required off loopback.
    pub auth_token: Option<String>,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: DEFAULT_PORT,
            db: DEFAULT_DB.to_string(),
            warehouse: DEFAULT_WAREHOUSE.to_string(),
            name: "sparkling".to_string(),
            auth_token: None,
        }
    }
}

/// A running catalog server.
pub struct RunningCatalog {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The warehouse URL new tables go under.
    pub warehouse: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningCatalog {
    /// The URI REST clients use (`http://ADDR`).
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for in-flight requests.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// Opens the database and warehouse and starts serving.
pub async fn start(options: CatalogOptions) -> Result<RunningCatalog, CatalogError> {
    sparkling_auth::require_token_off_loopback(
        options.bind,
        options.auth_token.as_deref(),
        "catalog",
    )
    .map_err(CatalogError::Config)?;
    let service = CatalogService::open(&options.db, &options.warehouse, &options.name).await?;
    let warehouse = service.warehouse().to_string();
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(options.bind, options.port))
        .await
        .map_err(|e| {
            CatalogError::Config(format!(
                "cannot listen on {}:{} for the catalog: {e}",
                options.bind, options.port
            ))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CatalogError::Config(e.to_string()))?;
    let app = routes::router(service, options.auth_token);
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!("catalog server failed: {e}");
        }
    });
    Ok(RunningCatalog {
        addr,
        warehouse,
        shutdown,
        task,
    })
}
