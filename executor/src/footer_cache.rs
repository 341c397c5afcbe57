//! One Parquet footer cache per executor process, shared by every task.
//!
//! Decoding a stage plan, DataFusion gives its Parquet scans a reader that caches
//! parsed footers (and page indexes) in the task's runtime. Ballista builds a runtime
//! per task, so with DataFusion's defaults that cache starts empty in every task and
//! each task re-reads the footers of the files it scans. The executor's runtimes are
//! built with [`cache_manager_config`], whose footer cache is [`footer_cache`]: one per
//! process (DataFusion's default size, 50 MiB, least recently used out first). An entry
//! is only used while the file's size and modification time are the ones it was read
//! with, so a rewritten file is read again.

use std::sync::{Arc, LazyLock};

use datafusion::execution::cache::DefaultFilesMetadataCache;
use datafusion::execution::cache::cache_manager::{
    CacheManagerConfig, DEFAULT_METADATA_CACHE_LIMIT, FileMetadataCache,
};

/// The footer cache of this process.
pub fn footer_cache() -> Arc<dyn FileMetadataCache> {
    static CACHE: LazyLock<Arc<dyn FileMetadataCache>> =
        LazyLock::new(|| Arc::new(DefaultFilesMetadataCache::new(DEFAULT_METADATA_CACHE_LIMIT)));
    Arc::clone(&CACHE)
}

/// The cache configuration of every task's runtime: DataFusion's defaults, with the
/// footer cache of the process and no cache of directory listings (files change
/// between tasks: see `sparkling_connectors::object_stores::runtime_env_builder`).
pub fn cache_manager_config() -> CacheManagerConfig {
    sparkling_connectors::object_stores::uncached_listings(CacheManagerConfig::default())
        .with_file_metadata_cache(Some(footer_cache()))
}
