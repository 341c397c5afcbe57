//! The object stores DataFusion reads and writes through, on the gateway, the
//! scheduler and every executor: local files, and any `s3://bucket` (or `s3a://`)
//! reached with the process's AWS settings (see `sparkling_storage::S3Settings`). A
//! bucket's client is created the first time a plan touches it.

use std::sync::{Arc, LazyLock};

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use object_store::ObjectStore;
use sparkling_storage::{S3Settings, s3_store};
use url::Url;

/// DataFusion's registry (local files and explicitly registered stores) that also
/// resolves S3 buckets on first use.
#[derive(Debug, Default)]
pub struct SparklingObjectStores {
    registered: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for SparklingObjectStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.registered.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.registered.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.registered.get_store(url) {
            return Ok(store);
        }
        match (url.scheme(), url.host_str()) {
            ("s3" | "s3a", Some(bucket)) => s3_store(&S3Settings::from_env(), bucket)
                .map_err(|e| DataFusionError::External(Box::new(e))),
            _ => self.registered.get_store(url),
        }
    }
}

/// The one registry of this process, shared by every session and task so that
/// clients (and their connection pools) are reused.
pub fn registry() -> Arc<dyn ObjectStoreRegistry> {
    static REGISTRY: LazyLock<Arc<dyn ObjectStoreRegistry>> =
        LazyLock::new(|| Arc::new(SparklingObjectStores::default()));
    Arc::clone(&REGISTRY)
}

/// A runtime environment builder whose object stores are [`registry`], without
/// DataFusion's cache of directory listings: it never expires, so a path read after
/// an overwrite (or a table after a commit) would still list the deleted files.
/// Spark lists a path on every read too.
pub fn runtime_env_builder() -> RuntimeEnvBuilder {
    RuntimeEnvBuilder::new()
        .with_object_store_registry(registry())
        .with_cache_manager(uncached_listings(CacheManagerConfig::default()))
}

/// `config` without the cache of directory listings (see [`runtime_env_builder`]).
pub fn uncached_listings(config: CacheManagerConfig) -> CacheManagerConfig {
    config.with_list_files_cache_limit(0)
}

/// `builder` with a runtime environment over [`registry`].
pub fn with_object_stores(builder: SessionStateBuilder) -> Result<SessionStateBuilder> {
    Ok(builder.with_runtime_env(runtime_env_builder().build_arc()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_local_files_and_s3_buckets() {
        let registry = registry();
        let local = registry.get_store(&Url::parse("file:///").unwrap());
        assert!(local.is_ok());
        let bucket = registry
            .get_store(&Url::parse("s3://some-bucket/").unwrap())
            .unwrap();
        assert!(bucket.to_string().contains("some-bucket"), "{bucket}");
        let unknown = registry.get_store(&Url::parse("gs://b/").unwrap());
        assert!(unknown.is_err());
    }
}
