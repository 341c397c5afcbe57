//! Work the cluster runs on its own, outside any client session: submitted jobs
//! ([`submissions`], Spark's REST submission server: SQL scripts run statement by
//! statement), pipelines ([`pipelines`]: a graph of streaming tables and materialized
//! views, updated in order) and their OpenLineage events ([`lineage`]). All of it runs
//! on [`Services`]: the engine, and the lakehouse's streaming queries.

pub mod datasets;
pub mod error;
pub mod lineage;
pub mod pipelines;
pub mod submissions;

pub use error::{JobsError, Result};

use sparkling_engine::Engine;
use sparkling_engine::cluster::Cluster;
use sparkling_engine::session::SessionManager;
use sparkling_lakehouse::streaming::StreamingManager;

/// What jobs and pipelines run on.
#[derive(Clone)]
pub struct Services {
    /// Runs their statements.
    pub engine: Engine,
    /// The cluster's streaming queries (streaming tables are queries).
    pub streams: StreamingManager,
}

impl Services {
    /// The cluster work runs on.
    pub fn cluster(&self) -> &Cluster {
        self.engine.cluster()
    }

    /// The sessions (jobs run in detached sessions of their own).
    pub fn sessions(&self) -> &SessionManager {
        self.engine.sessions()
    }

    /// The streaming queries.
    pub fn streams(&self) -> &StreamingManager {
        &self.streams
    }
}
