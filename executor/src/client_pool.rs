//! Keeps Flight clients to other executors for reuse by later shuffle fetches.
//!
//! Without a pool, Ballista's shuffle reader opens a new gRPC connection for every
//! partition it fetches from another executor. Ballista's own pool is private to its
//! executor binary, so Sparkling's execution engine brings this one: a client goes
//! back to the pool when its fetch has started, and is dropped instead after an error
//! or after `idle_timeout` unused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ballista_core::client::BallistaClient;
use ballista_core::client_pool::{BallistaClientPool, PooledClient};
use ballista_core::error::Result;
use ballista_core::extension::BallistaConfigGrpcEndpoint;
use ballista_core::utils::GrpcClientConfig;

type Key = (String, u16, GrpcClientConfig);
type Idle = Arc<Mutex<HashMap<Key, Vec<(BallistaClient, Instant)>>>>;

/// Idle Flight clients per executor address and client configuration.
pub struct FlightClientPool {
    idle: Idle,
    idle_timeout: Duration,
}

impl std::fmt::Debug for FlightClientPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightClientPool")
            .field("idle", &self.idle_count())
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

impl FlightClientPool {
    /// A pool that drops clients left unused for `idle_timeout`.
    pub fn new(idle_timeout: Duration) -> Self {
        Self {
            idle: Arc::default(),
            idle_timeout,
        }
    }

    /// Number of idle clients held.
    pub fn idle_count(&self) -> usize {
        lock(&self.idle).values().map(Vec::len).sum()
    }
}

fn lock(idle: &Idle) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<(BallistaClient, Instant)>>> {
    // The map is consistent after every operation, so a panic elsewhere cannot
    // leave it half-updated.
    idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl BallistaClientPool for FlightClientPool {
    async fn acquire(
        &self,
        host: &str,
        port: u16,
        config: &GrpcClientConfig,
        customize_endpoint: Option<Arc<BallistaConfigGrpcEndpoint>>,
    ) -> Result<PooledClient> {
        self.evict_idle().await;
        let key: Key = (host.to_string(), port, config.clone());
        let reused = lock(&self.idle)
            .get_mut(&key)
            .and_then(Vec::pop)
            .map(|(client, _)| client);
        let client = match reused {
            Some(client) => client,
            None => {
                BallistaClient::try_new(
                    host,
                    port,
                    config.max_message_size,
                    config.use_tls,
                    customize_endpoint,
                    config.io_retries_times,
                    config.io_retry_wait_time_ms,
                )
                .await?
            }
        };
        let idle = Arc::clone(&self.idle);
        Ok(PooledClient::new(
            client,
            Box::new(move |client| {
                lock(&idle)
                    .entry(key)
                    .or_default()
                    .push((client, Instant::now()));
            }),
        ))
    }

    async fn evict_idle(&self) {
        let now = Instant::now();
        lock(&self.idle).retain(|_, clients| {
            clients.retain(|(_, since)| now.duration_since(*since) < self.idle_timeout);
            !clients.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clients_are_reused_until_discarded_or_idle_too_long() {
        // A Flight server is not needed to build a client: the connection is lazy.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = GrpcClientConfig::default();
        let pool = FlightClientPool::new(Duration::from_secs(60));
        let client = pool
            .acquire("127.0.0.1", port, &config, None)
            .await
            .unwrap();
        assert_eq!(pool.idle_count(), 0);
        drop(client);
        assert_eq!(pool.idle_count(), 1, "a dropped client goes back");
        let client = pool
            .acquire("127.0.0.1", port, &config, None)
            .await
            .unwrap();
        assert_eq!(pool.idle_count(), 0, "and is handed out again");
        client.discard();
        assert_eq!(pool.idle_count(), 0, "a discarded client does not go back");

        let pool = FlightClientPool::new(Duration::ZERO);
        drop(
            pool.acquire("127.0.0.1", port, &config, None)
                .await
                .unwrap(),
        );
        pool.evict_idle().await;
        assert_eq!(pool.idle_count(), 0, "idle clients expire");
    }
}
