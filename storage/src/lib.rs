//! Object stores for every Sparkling process (catalog, gateway, executors).
//!
//! A location is either local (a plain absolute path or a `file:` URL) or in an
//! S3-compatible object store (`s3://bucket/key`, also `s3a://`). [`S3Settings`] says
//! how to reach S3: the standard AWS environment variables of the process, overridden
//! by Iceberg's `s3.*` properties where a table or catalog carries them. [`s3_store`]
//! hands out one client per bucket and settings, shared by the whole process;
//! [`iceberg`] is an Iceberg storage backend over the same clients.

pub mod iceberg;
mod s3;

use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

pub use iceberg::{ObjectStorage, ObjectStorageFactory, file_io};
pub use s3::{S3Settings, s3_store};

/// Why a location cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The location is not a path or URL Sparkling can reach.
    #[error("unsupported location {location:?}: {reason}")]
    Location {
        /// The location as given.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The object store client could not be built from its settings.
    #[error("cannot reach {bucket:?}: {source}")]
    Client {
        /// The bucket.
        bucket: String,
        /// The client's error.
        source: object_store::Error,
    },
    /// The store answered with an error (or not at all).
    #[error("cannot list {location}: {source}")]
    Unreachable {
        /// The location.
        location: String,
        /// The store's error.
        source: object_store::Error,
    },
}

/// Where a file or directory lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// On the local file system.
    Local(PathBuf),
    /// In an S3-compatible object store.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key inside the bucket (no leading slash).
        key: ObjectPath,
    },
}

impl Location {
    /// Parses a plain absolute path, a `file:` URL or an `s3://` / `s3a://` URL.
    pub fn parse(location: &str) -> Result<Self, StorageError> {
        let bad = |reason: &str| StorageError::Location {
            location: location.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = location.strip_prefix("file://") {
            return Ok(Self::Local(PathBuf::from(format!(
                "/{}",
                rest.trim_start_matches('/')
            ))));
        }
        if let Some(rest) = location.strip_prefix("file:") {
            return Ok(Self::Local(PathBuf::from(format!(
                "/{}",
                rest.trim_start_matches('/')
            ))));
        }
        if location.starts_with('/') {
            return Ok(Self::Local(PathBuf::from(location)));
        }
        let Some((scheme, rest)) = location.split_once("://") else {
            return Err(bad(
                "expected an absolute path, a file: URL or an s3:// URL",
            ));
        };
        if !matches!(scheme, "s3" | "s3a") {
            return Err(bad(
                "only local paths, file: URLs and s3:// (or s3a://) URLs are supported",
            ));
        }
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("the URL names no bucket"));
        }
        Ok(Self::S3 {
            bucket: bucket.to_string(),
            key: object_path(key.trim_matches('/')),
        })
    }

    /// The object store and path a location maps to (local files through the local
    /// file system store), using `settings` for S3.
    pub fn store(
        &self,
        settings: &S3Settings,
    ) -> Result<(Arc<dyn ObjectStore>, ObjectPath), StorageError> {
        match self {
            Self::Local(path) => Ok((
                local_store(),
                ObjectPath::from_absolute_path(path).map_err(|e| StorageError::Location {
                    location: path.display().to_string(),
                    reason: e.to_string(),
                })?,
            )),
            Self::S3 { bucket, key } => Ok((s3_store(settings, bucket)?, key.clone())),
        }
    }

    /// Checks that the location can be listed: for S3, that the endpoint answers, the
    /// bucket exists and the credentials are accepted.
    pub async fn check_listable(&self, settings: &S3Settings) -> Result<(), StorageError> {
        let (store, path) = self.store(settings)?;
        store
            .list_with_delimiter(Some(&path))
            .await
            .map(|_| ())
            .map_err(|source| StorageError::Unreachable {
                location: self.to_string(),
                source,
            })
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(path) => write!(f, "{}", path.display()),
            Self::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// An object key as written by its producer: kept byte for byte where it is a valid
/// path, percent-encoded only where it is not.
pub fn object_path(key: &str) -> ObjectPath {
    ObjectPath::parse(key).unwrap_or_else(|_| ObjectPath::from(key))
}

fn local_store() -> Arc<dyn ObjectStore> {
    static LOCAL: std::sync::LazyLock<Arc<dyn ObjectStore>> =
        std::sync::LazyLock::new(|| Arc::new(object_store::local::LocalFileSystem::new()));
    Arc::clone(&LOCAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_and_s3_locations() {
        assert_eq!(
            Location::parse("file:///tmp/wh/t").unwrap(),
            Location::Local(PathBuf::from("/tmp/wh/t"))
        );
        assert_eq!(
            Location::parse("file:/tmp/wh").unwrap(),
            Location::Local(PathBuf::from("/tmp/wh"))
        );
        assert_eq!(
            Location::parse("/tmp/x").unwrap(),
            Location::Local(PathBuf::from("/tmp/x"))
        );
        assert_eq!(
            Location::parse("s3://bucket/wh/db/t/data/a=1/f.parquet").unwrap(),
            Location::S3 {
                bucket: "bucket".into(),
                key: ObjectPath::parse("wh/db/t/data/a=1/f.parquet").unwrap()
            }
        );
        assert_eq!(
            Location::parse("s3a://bucket").unwrap(),
            Location::S3 {
                bucket: "bucket".into(),
                key: ObjectPath::default()
            }
        );
    }

    #[test]
    fn rejects_what_it_cannot_reach() {
        for bad in ["relative/path", "gs://b/k", "s3:///key", "hdfs://nn/x"] {
            let err = Location::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }
}
