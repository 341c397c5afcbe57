//! What the scheduler keeps across restarts: one JSON file per record under a
//! subdirectory of its state directory, each replaced atomically (written aside,
//! synced, renamed). Without a state directory nothing survives a restart.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::EngineError;

/// A directory of JSON records of type `T`, keyed by id.
#[derive(Debug, Clone)]
pub struct JsonStore<T> {
    dir: Option<PathBuf>,
    what: &'static str,
    _records: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> JsonStore<T> {
    /// Records of `what` (for messages) under `state_dir/subdir`, or kept nowhere.
    pub fn new(
        state_dir: Option<&Path>,
        subdir: &str,
        what: &'static str,
    ) -> Result<Self, EngineError> {
        let dir = state_dir.map(|d| d.join(subdir));
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                EngineError::Io(std::io::Error::new(
                    e.kind(),
                    format!("cannot create the state directory {}: {e}", dir.display()),
                ))
            })?;
        }
        Ok(Self {
            dir,
            what,
            _records: PhantomData,
        })
    }

    /// Records `record` under `id` (an id the scheduler made: a UUID or the like).
    pub fn save(&self, id: &str, record: &T) -> Result<(), EngineError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let path = dir.join(format!("{id}.json"));
        let tmp = dir.join(format!(".{id}.json.tmp"));
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| EngineError::Internal(format!("encoding a {}: {e}", self.what)))?;
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| {
            EngineError::Io(std::io::Error::new(
                e.kind(),
                format!("saving {} {}: {e}", self.what, path.display()),
            ))
        })
    }

    /// The record stored under `id`, if there is one that can be read.
    pub fn load(&self, id: &str) -> Option<T> {
        // Ids come from requests too: nothing outside the directory.
        if id.is_empty() || id.starts_with('.') || id.contains(['/', '\\']) {
            return None;
        }
        let path = self.dir.as_ref()?.join(format!("{id}.json"));
        let bytes = std::fs::read(&path).ok()?;
        serde_json::from_slice(&bytes)
            .map_err(|e| tracing::error!("ignoring {} file {}: {e}", self.what, path.display()))
            .ok()
    }

    /// Every stored record; files that cannot be read are reported and skipped.
    pub fn load_all(&self) -> Vec<T> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json")
                || path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<T>(&b).map_err(|e| e.to_string()))
            {
                Ok(record) => out.push(record),
                Err(e) => tracing::error!("ignoring {} file {}: {e}", self.what, path.display()),
            }
        }
        out
    }
}
