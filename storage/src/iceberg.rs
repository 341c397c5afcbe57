//! An Iceberg storage backend over [`object_store`]: `s3://` locations through the
//! shared S3 clients, local ones through iceberg's own local file system storage.
//!
//! Every catalog and `FileIO` in Sparkling is built with [`ObjectStorageFactory`], so
//! a warehouse may be a directory or a bucket without the code above caring which.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use iceberg::io::{
    FileIO, FileIOBuilder, FileMetadata, FileRead, FileWrite, InputFile, LocalFsStorage,
    OutputFile, Storage, StorageConfig, StorageFactory,
};
use iceberg::{Error, ErrorKind, Result};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::{Location, S3Settings};

/// A `FileIO` over local and S3 locations, with Iceberg properties `props` (the
/// `s3.*` ones override the process's AWS environment).
pub fn file_io(props: impl IntoIterator<Item = (String, String)>) -> FileIO {
    FileIOBuilder::new(Arc::new(ObjectStorageFactory))
        .with_props(props)
        .build()
}

/// Builds [`ObjectStorage`] for a `FileIO` (and for the REST catalog client, which
/// builds one `FileIO` per table with the properties the catalog returned).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ObjectStorageFactory;

#[typetag::serde]
impl StorageFactory for ObjectStorageFactory {
    fn build(&self, config: &StorageConfig) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(ObjectStorage::new(config.props().clone())))
    }
}

/// Iceberg storage over local files and S3-compatible object stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectStorage {
    props: HashMap<String, String>,
    #[serde(skip)]
    local: LocalFsStorage,
}

enum Target {
    Local,
    Object(Arc<dyn ObjectStore>, ObjectPath),
}

impl ObjectStorage {
    /// Storage whose S3 settings are the environment's overridden by `props`.
    pub fn new(props: HashMap<String, String>) -> Self {
        Self {
            props,
            local: LocalFsStorage::new(),
        }
    }

    fn target(&self, path: &str) -> Result<Target> {
        match Location::parse(path)
            .map_err(|e| Error::new(ErrorKind::DataInvalid, e.to_string()))?
        {
            Location::Local(_) => Ok(Target::Local),
            location @ Location::S3 { .. } => {
                let settings = S3Settings::from_env().overridden_by(&self.props);
                let (store, key) = location
                    .store(&settings)
                    .map_err(|e| Error::new(ErrorKind::Unexpected, e.to_string()))?;
                Ok(Target::Object(store, key))
            }
        }
    }
}

fn store_error(op: &str, path: &str, e: object_store::Error) -> Error {
    let kind = match e {
        object_store::Error::NotFound { .. } => ErrorKind::DataInvalid,
        _ => ErrorKind::Unexpected,
    };
    Error::new(kind, format!("cannot {op} {path}: {e}"))
}

#[async_trait]
#[typetag::serde]
impl Storage for ObjectStorage {
    async fn exists(&self, path: &str) -> Result<bool> {
        match self.target(path)? {
            Target::Local => self.local.exists(path).await,
            Target::Object(store, key) => match store.head(&key).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(store_error("look up", path, e)),
            },
        }
    }

    async fn metadata(&self, path: &str) -> Result<FileMetadata> {
        match self.target(path)? {
            Target::Local => self.local.metadata(path).await,
            Target::Object(store, key) => {
                let meta = store
                    .head(&key)
                    .await
                    .map_err(|e| store_error("look up", path, e))?;
                Ok(FileMetadata { size: meta.size })
            }
        }
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        match self.target(path)? {
            Target::Local => self.local.read(path).await,
            Target::Object(store, key) => {
                let read = async { store.get(&key).await?.bytes().await };
                read.await.map_err(|e| store_error("read", path, e))
            }
        }
    }

    async fn reader(&self, path: &str) -> Result<Box<dyn FileRead>> {
        match self.target(path)? {
            Target::Local => self.local.reader(path).await,
            Target::Object(store, key) => Ok(Box::new(ObjectRead {
                store,
                key,
                path: path.to_string(),
            })),
        }
    }

    async fn write(&self, path: &str, bs: Bytes) -> Result<()> {
        match self.target(path)? {
            Target::Local => self.local.write(path, bs).await,
            Target::Object(store, key) => store
                .put(&key, bs.into())
                .await
                .map(|_| ())
                .map_err(|e| store_error("write", path, e)),
        }
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn FileWrite>> {
        match self.target(path)? {
            Target::Local => self.local.writer(path).await,
            Target::Object(store, key) => Ok(Box::new(ObjectWrite {
                writer: BufWriter::new(store, key),
                path: path.to_string(),
            })),
        }
    }

    async fn delete(&self, path: &str) -> Result<()> {
        match self.target(path)? {
            Target::Local => self.local.delete(path).await,
            Target::Object(store, key) => match store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(store_error("delete", path, e)),
            },
        }
    }

    async fn delete_prefix(&self, path: &str) -> Result<()> {
        match self.target(path)? {
            Target::Local => self.local.delete_prefix(path).await,
            Target::Object(_, key) if key.as_ref().is_empty() => Err(Error::new(
                ErrorKind::DataInvalid,
                format!("refusing to delete everything in the bucket {path}"),
            )),
            Target::Object(store, key) => {
                // object_store lists by whole path segments: `t/data` does not
                // take `t/data2` with it.
                let locations = store.list(Some(&key)).map(|m| m.map(|m| m.location));
                store
                    .delete_stream(locations.boxed())
                    .for_each(|_| async {})
                    .await;
                let mut left = store.list(Some(&key));
                match left.next().await {
                    None => Ok(()),
                    Some(Ok(meta)) => Err(Error::new(
                        ErrorKind::Unexpected,
                        format!(
                            "could not delete everything under {path}: {} is left",
                            meta.location
                        ),
                    )),
                    Some(Err(e)) => Err(store_error("list", path, e)),
                }
            }
        }
    }

    async fn delete_stream(&self, mut paths: BoxStream<'static, String>) -> Result<()> {
        while let Some(path) = paths.next().await {
            self.delete(&path).await?;
        }
        Ok(())
    }

    fn new_input(&self, path: &str) -> Result<InputFile> {
        Ok(InputFile::new(Arc::new(self.clone()), path.to_string()))
    }

    fn new_output(&self, path: &str) -> Result<OutputFile> {
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_string()))
    }
}

/// Ranged reads of one object.
struct ObjectRead {
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    path: String,
}

#[async_trait]
impl FileRead for ObjectRead {
    async fn read(&self, range: Range<u64>) -> Result<Bytes> {
        self.store
            .get_range(&self.key, range)
            .await
            .map_err(|e| store_error("read", &self.path, e))
    }
}

/// A streaming upload of one object (multipart once it outgrows one request); the
/// object appears only when it is closed.
struct ObjectWrite {
    writer: BufWriter,
    path: String,
}

#[async_trait]
impl FileWrite for ObjectWrite {
    async fn write(&mut self, bs: Bytes) -> Result<()> {
        self.writer
            .put(bs)
            .await
            .map_err(|e| store_error("write", &self.path, e))
    }

    async fn close(&mut self) -> Result<()> {
        self.writer.shutdown().await.map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                format!("cannot finish writing {}: {e}", self.path),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let io = file_io([]);
        let path = format!("file://{}/a/b.txt", dir.path().display());
        let out = io.new_output(&path).unwrap();
        out.write(Bytes::from_static(b"hello")).await.unwrap();
        assert!(io.exists(&path).await.unwrap());
        let input = io.new_input(&path).unwrap();
        assert_eq!(input.read().await.unwrap(), Bytes::from_static(b"hello"));
        assert_eq!(input.metadata().await.unwrap().size, 5);
        io.delete(&path).await.unwrap();
        assert!(!io.exists(&path).await.unwrap());
    }

    #[tokio::test]
    async fn a_whole_bucket_is_never_deleted() {
        let io = file_io([("s3.endpoint".to_string(), "http://127.0.0.1:1".to_string())]);
        for root in ["s3://bucket", "s3://bucket/"] {
            let err = io.delete_prefix(root).await.unwrap_err().to_string();
            assert!(err.contains("refusing"), "{err}");
        }
    }

    #[test]
    fn storage_survives_serialization() {
        let storage: Arc<dyn Storage> = Arc::new(ObjectStorage::new(HashMap::from([(
            "s3.endpoint".to_string(),
            "http://127.0.0.1:3900".to_string(),
        )])));
        let json = serde_json::to_string(&storage).unwrap();
        let back: Box<dyn Storage> = serde_json::from_str(&json).unwrap();
        assert!(format!("{back:?}").contains("127.0.0.1:3900"));
    }
}
