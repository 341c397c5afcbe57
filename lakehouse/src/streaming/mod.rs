//! Streaming queries: micro-batches from a `STREAM(...)` source into an Iceberg
//! table, exactly once.
//!
//! A query ([`definition`]) belongs to the cluster, not to the client that started
//! it: the [`StreamingManager`] runs it ([`query`]) in its own session, stores it
//! under the scheduler's state directory and starts it again after a restart. Each
//! trigger plans one batch from the offsets the table's last snapshot of the query
//! recorded and commits it as one snapshot carrying the batch's identity ([`batch`]),
//! so no other checkpoint exists to go out of step. Status and progress are kept in
//! Spark's shapes ([`progress`]); [`sql`] starts queries from SQL statements.

pub mod batch;
pub mod definition;
pub mod progress;
pub mod query;
pub mod sql;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use sparkling_connectors::iceberg::IcebergCatalog;

use crate::error::{LakehouseError, Result};
use definition::{Desired, QueryStore, StoredQuery, load_queries, query_store};
pub use definition::{QueryDefinition, StreamingQueryState, TableName, Trigger};
pub use query::{End, QueryHandle};
use sparkling_engine::cluster::Cluster;
use sparkling_engine::session::SessionManager;

/// How long a stopping scheduler waits for its queries' batches to wind down.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// A query as listed: running now, or ended (in this run of the scheduler or before).
#[derive(Debug, Clone)]
pub struct QueryInfo {
    /// Definition.
    pub definition: QueryDefinition,
    /// Where it stands.
    pub state: StreamingQueryState,
    /// The error of a failed query.
    pub error: Option<String>,
    /// The handle, when the query ran in this scheduler's lifetime.
    pub handle: Option<Arc<QueryHandle>>,
}

fn stored_info(stored: StoredQuery) -> QueryInfo {
    let (state, error) = match stored.desired {
        Desired::Active => (StreamingQueryState::Active, None),
        Desired::Inactive { ended, error } => (ended, error),
    };
    QueryInfo {
        definition: stored.definition,
        state,
        error,
        handle: None,
    }
}

fn running_info(handle: Arc<QueryHandle>) -> QueryInfo {
    QueryInfo {
        definition: handle.definition.clone(),
        state: handle.state(),
        error: handle.exception(),
        handle: Some(handle),
    }
}

/// The cluster's streaming queries.
#[derive(Clone)]
pub struct StreamingManager {
    inner: Arc<Inner>,
}

struct Inner {
    cluster: Cluster,
    sessions: Arc<SessionManager>,
    catalog: Option<IcebergCatalog>,
    store: QueryStore,
    running: DashMap<String, Arc<QueryHandle>>,
    /// Ids of queries that ended since the last reset.
    terminated: parking_lot::Mutex<Vec<String>>,
}

impl StreamingManager {
    /// A manager keeping its queries under `state_dir` (nowhere if `None`).
    pub fn new(
        cluster: Cluster,
        sessions: Arc<SessionManager>,
        catalog: Option<IcebergCatalog>,
        state_dir: Option<&Path>,
    ) -> Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                cluster,
                sessions,
                catalog,
                store: query_store(state_dir)?,
                running: DashMap::new(),
                terminated: Default::default(),
            }),
        })
    }

    /// Starts every stored query that was running when the scheduler stopped.
    pub fn resume_all(&self) {
        for stored in load_queries(&self.inner.store) {
            if stored.desired == Desired::Active {
                tracing::info!(
                    "resuming streaming query {} ({}) into {}",
                    stored.definition.name,
                    stored.definition.id,
                    stored.definition.target
                );
                if let Err(e) = self.launch(stored.definition, false) {
                    tracing::error!("could not resume a streaming query: {e}");
                }
            }
        }
    }

    /// Starts a query (stored first, so that it survives a scheduler restart).
    pub fn start(&self, definition: QueryDefinition) -> Result<Arc<QueryHandle>> {
        self.launch(definition, true)
    }

    /// Runs a query (storing it first if `store`); one run per query id at a time.
    fn launch(&self, definition: QueryDefinition, store: bool) -> Result<Arc<QueryHandle>> {
        let Some(catalog) = self.inner.catalog.clone() else {
            return Err(LakehouseError::Unsupported(
                "streaming queries write Iceberg tables: start the scheduler with --catalog".into(),
            ));
        };
        let handle = {
            use dashmap::mapref::entry::Entry;
            let entry = self.inner.running.entry(definition.id.clone());
            if let Entry::Occupied(running) = &entry
                && running.get().is_active()
            {
                return Err(LakehouseError::InvalidInput(format!(
                    "streaming query {} ({}) into {} is already running; stop it first",
                    definition.name, definition.id, definition.target
                )));
            }
            if store {
                self.inner.store.save(
                    &definition.id,
                    &StoredQuery {
                        definition: definition.clone(),
                        desired: Desired::Active,
                    },
                )?;
            }
            let handle = QueryHandle::new(definition);
            entry.insert(Arc::clone(&handle));
            handle
        };
        let env = query::RunEnv {
            cluster: self.inner.cluster.clone(),
            session: self.inner.sessions.detached(&handle.run_id),
            catalog,
        };
        let inner = Arc::clone(&self.inner);
        let task_handle = Arc::clone(&handle);
        tokio::spawn(async move {
            let handle = task_handle;
            // A panic in the query ends it as failed instead of leaving it "active".
            let run = {
                let handle = Arc::clone(&handle);
                tokio::spawn(async move { query::run(&handle, &env).await })
            };
            let end = run
                .await
                .unwrap_or_else(|e| End::Failed(format!("the query's task failed: {e}")));
            let def = &handle.definition;
            match &end {
                End::Failed(e) => {
                    tracing::error!("streaming query {} ({}) failed: {e}", def.name, def.id)
                }
                other => tracing::info!("streaming query {} ({}): {other:?}", def.name, def.id),
            }
            // A query stopped by a scheduler shutdown stays active: it resumes when the
            // scheduler is back.
            let resumes = end == End::Stopped && !handle.stopped_by_user();
            if !resumes {
                let stored = StoredQuery {
                    definition: def.clone(),
                    desired: Desired::Inactive {
                        ended: end.state(),
                        error: match &end {
                            End::Failed(e) => Some(e.clone()),
                            _ => None,
                        },
                    },
                };
                if let Err(e) = inner.store.save(&def.id, &stored) {
                    tracing::error!("recording the end of streaming query {}: {e}", def.id);
                }
            }
            handle.finish(end);
            inner.terminated.lock().push(handle.definition.id.clone());
        });
        Ok(handle)
    }

    /// Whether a query ended since the last [`StreamingManager::reset_terminated`]
    /// (Spark's `awaitAnyTermination`).
    pub fn any_terminated(&self) -> bool {
        !self.inner.terminated.lock().is_empty()
    }

    /// Forgets the queries that ended (Spark's `resetTerminated`).
    pub fn reset_terminated(&self) {
        self.inner.terminated.lock().clear();
    }

    /// The query with this id that ran in this scheduler's lifetime.
    pub fn get(&self, id: &str) -> Option<Arc<QueryHandle>> {
        self.inner.running.get(id).map(|h| Arc::clone(h.value()))
    }

    /// Every query: those that ran in this scheduler's lifetime, and stored ones.
    pub fn list(&self) -> Vec<QueryInfo> {
        let mut out: Vec<QueryInfo> = load_queries(&self.inner.store)
            .into_iter()
            .filter(|stored| !self.inner.running.contains_key(&stored.definition.id))
            .map(stored_info)
            .collect();
        for entry in self.inner.running.iter() {
            out.push(running_info(Arc::clone(entry.value())));
        }
        out.sort_by_key(|q| q.definition.created_ms);
        out
    }

    /// One query, as [`Self::list`] shows it (reading one stored file at most).
    pub fn info(&self, id: &str) -> Option<QueryInfo> {
        match self.get(id) {
            Some(handle) => Some(running_info(handle)),
            None => self.inner.store.load(id).map(stored_info),
        }
    }

    /// Stops a query for good and waits until it has ended.
    pub async fn stop(&self, id: &str) -> Result<()> {
        match self.get(id) {
            Some(handle) => {
                handle.request_stop(true);
                handle.await_end(None).await;
                Ok(())
            }
            None => match self
                .inner
                .store
                .load_all()
                .into_iter()
                .find(|q| q.definition.id == id)
            {
                Some(_) => Ok(()),
                None => Err(LakehouseError::InvalidInput(format!(
                    "no streaming query with id {id}"
                ))),
            },
        }
    }

    /// Stops every query for a scheduler shutdown; they stay active in the store.
    pub async fn shutdown(&self) {
        let handles: Vec<_> = self
            .inner
            .running
            .iter()
            .map(|e| Arc::clone(e.value()))
            .collect();
        for handle in &handles {
            handle.request_stop(false);
        }
        for handle in handles {
            handle.await_end(Some(SHUTDOWN_WAIT)).await;
        }
    }
}
