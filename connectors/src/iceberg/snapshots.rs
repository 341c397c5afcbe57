//! Reading and making snapshots beyond what the iceberg client's scans and
//! transactions offer: the data files a range of append snapshots added (what a
//! stream over a table reads, batch by batch), the live data files of a snapshot, and
//! an overwrite snapshot that replaces all of a table's rows in one commit (what a
//! materialized view's refresh needs; the client can only append).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use futures::{StreamExt, TryStreamExt};
use iceberg::spec::{
    DataContentType, DataFile, DataFileFormat, FormatVersion, ManifestContentType, ManifestFile,
    ManifestListWriter, ManifestStatus, ManifestWriterBuilder, Operation, Snapshot,
    SnapshotReference, SnapshotRetention, SnapshotSummaryCollector, Summary,
};
use iceberg::table::Table;
use iceberg::{ErrorKind, TableRequirement, TableUpdate};

use super::catalog::IcebergCatalog;

/// A data file to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFile {
    /// Its location.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its rows.
    pub records: u64,
}

fn error(message: String) -> iceberg::Error {
    iceberg::Error::new(ErrorKind::DataInvalid, message)
}

/// The live data files of snapshot `snapshot_id` (none for `None`, a table without
/// snapshots). Fails on delete files, which the engine cannot apply.
pub async fn live_files(table: &Table, snapshot_id: Option<i64>) -> iceberg::Result<Vec<DataFile>> {
    let Some(id) = snapshot_id else {
        return Ok(Vec::new());
    };
    let metadata = table.metadata();
    let snapshot = metadata
        .snapshot_by_id(id)
        .ok_or_else(|| error(format!("{} has no snapshot {id}", table.identifier())))?;
    let list = table.manifest_list_reader(snapshot).load().await?;
    if list
        .entries()
        .iter()
        .any(|m| m.content != ManifestContentType::Data)
    {
        return Err(error(format!(
            "{} has delete files; reading row-level deletes is not supported yet",
            table.identifier()
        )));
    }
    let per_manifest: Vec<Arc<Vec<DataFile>>> = futures::stream::iter(list.entries().to_vec())
        .map(|manifest| live_files_of_manifest(table, manifest))
        .buffered(MANIFEST_READS)
        .try_collect()
        .await?;
    Ok(per_manifest
        .iter()
        .flat_map(|files| files.iter().cloned())
        .collect())
}

/// Manifests read at once.
const MANIFEST_READS: usize = 8;
/// Manifests whose live files [`live_files_of_manifest`] keeps.
const MANIFEST_CACHE_ENTRIES: usize = 4096;

/// The live data files one manifest lists. A manifest file never changes once written,
/// so they are kept by its path: a table that grew by many small appends (a streaming
/// table, one manifest per batch) is not read whole again on every scan.
async fn live_files_of_manifest(
    table: &Table,
    manifest: ManifestFile,
) -> iceberg::Result<Arc<Vec<DataFile>>> {
    static CACHE: LazyLock<Mutex<HashMap<String, Arc<Vec<DataFile>>>>> =
        LazyLock::new(Default::default);
    let path = &manifest.manifest_path;
    if let Some(files) = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(path)
    {
        return Ok(Arc::clone(files));
    }
    let loaded = manifest.load_manifest(table.file_io()).await?;
    let files = Arc::new(
        loaded
            .entries()
            .iter()
            .filter(|e| e.is_alive() && e.content_type() == DataContentType::Data)
            .map(|e| e.data_file().clone())
            .collect::<Vec<_>>(),
    );
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if cache.len() >= MANIFEST_CACHE_ENTRIES {
        cache.clear();
    }
    cache.insert(path.clone(), Arc::clone(&files));
    Ok(files)
}

/// The data files the snapshots after `after` up to `upto` added, in commit order:
/// what a stream that has read the table up to `after` reads next (`after` = `None`:
/// everything `upto` holds). Every snapshot in between must be an append and
/// `after` an ancestor of `upto`; anything else (an overwrite, a compaction, a table
/// rewritten or expired past `after`) is an error, since a stream reads appends only.
pub async fn appended_files(
    table: &Table,
    after: Option<i64>,
    upto: Option<i64>,
) -> iceberg::Result<Vec<ScanFile>> {
    let name = table.identifier();
    let Some(upto) = upto else {
        if let Some(after) = after {
            return Err(error(format!(
                "{name} no longer has snapshot {after}, where this stream stands (it was \
                 rewritten or emptied); the stream cannot go on from there"
            )));
        }
        return Ok(Vec::new());
    };
    let Some(after) = after else {
        return Ok(live_files(table, Some(upto))
            .await?
            .iter()
            .map(scan_file)
            .collect());
    };
    let metadata = table.metadata();
    // Walk back from `upto` to `after`.
    let mut chain = Vec::new();
    let mut at = Some(upto);
    while let Some(id) = at {
        if id == after {
            break;
        }
        let snapshot = metadata.snapshot_by_id(id).ok_or_else(|| {
            error(format!(
                "{name}: snapshot {after}, where this stream stands, is no longer an ancestor \
                 of the current snapshot (the table was rewritten, or its history expired); \
                 the stream cannot go on from there"
            ))
        })?;
        if snapshot.summary().operation != Operation::Append {
            return Err(error(format!(
                "{name}: snapshot {id} is an {:?}, not an append; a stream over a table reads \
                 appended rows only, so it cannot go on past it",
                snapshot.summary().operation
            )));
        }
        chain.push(snapshot.clone());
        at = snapshot.parent_snapshot_id();
    }
    if at.is_none() {
        return Err(error(format!(
            "{name}: snapshot {after}, where this stream stands, is no longer an ancestor of \
             the current snapshot (the table was rewritten, or its history expired); the \
             stream cannot go on from there"
        )));
    }
    let mut files = Vec::new();
    for snapshot in chain.iter().rev() {
        let id = snapshot.snapshot_id();
        let list = table.manifest_list_reader(snapshot).load().await?;
        for manifest in list.entries() {
            if manifest.added_snapshot_id != id {
                continue;
            }
            let manifest = manifest.load_manifest(table.file_io()).await?;
            for entry in manifest.entries() {
                if entry.status() == ManifestStatus::Added
                    && entry.content_type() == DataContentType::Data
                {
                    files.push(scan_file(entry.data_file()));
                }
            }
        }
    }
    Ok(files)
}

fn scan_file(file: &DataFile) -> ScanFile {
    ScanFile {
        path: file.file_path().to_string(),
        size: file.file_size_in_bytes(),
        records: file.record_count(),
    }
}

/// Commits `files` as the whole content of `table`: one overwrite snapshot whose
/// manifest list holds only the new files (the old ones stay reachable through older
/// snapshots until those expire). Fails with `CatalogCommitConflicts` if the table
/// moved on since `table` was loaded.
pub async fn replace_all(
    catalog: &IcebergCatalog,
    table: &Table,
    files: Vec<DataFile>,
    properties: HashMap<String, String>,
) -> iceberg::Result<()> {
    let metadata = table.metadata();
    let format = metadata.format_version();
    if format == FormatVersion::V3 {
        return Err(iceberg::Error::new(
            ErrorKind::FeatureUnsupported,
            format!(
                "replacing the rows of {} (a format v3 table) is not supported yet",
                table.identifier()
            ),
        ));
    }
    if files
        .iter()
        .any(|f| f.file_format() != DataFileFormat::Parquet)
    {
        return Err(error(
            "only Parquet data files can be committed".to_string(),
        ));
    }
    let parent = metadata.current_snapshot_id();
    let old = live_files(table, parent).await?;
    let random_id = || (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64;
    let mut snapshot_id = random_id();
    while metadata.snapshot_by_id(snapshot_id).is_some() {
        snapshot_id = random_id();
    }
    let commit = uuid::Uuid::new_v4();
    let schema = metadata.current_schema().clone();
    let spec = metadata.default_partition_spec().as_ref().clone();
    let sequence = metadata.next_sequence_number();

    let mut manifests = Vec::new();
    if !files.is_empty() {
        let path = format!("{}/metadata/{commit}-m0.avro", metadata.location());
        let builder = ManifestWriterBuilder::new(
            table.file_io().new_output(path)?,
            Some(snapshot_id),
            schema.clone(),
            spec.clone(),
        );
        let mut writer = match format {
            FormatVersion::V1 => builder.build_v1(),
            _ => builder.build_v2_data(),
        };
        for file in &files {
            writer.add_file(file.clone(), sequence)?;
        }
        manifests.push(writer.write_manifest_file().await?);
    }
    let list_path = format!(
        "{}/metadata/snap-{snapshot_id}-0-{commit}.avro",
        metadata.location()
    );
    let output = table
        .file_io()
        .new_output(list_path.clone())?
        .writer()
        .await?;
    let mut list = match format {
        FormatVersion::V1 => ManifestListWriter::v1(output, snapshot_id, parent),
        _ => ManifestListWriter::v2(output, snapshot_id, parent, sequence),
    };
    list.add_manifests(manifests.into_iter())?;
    list.close().await?;

    let mut collector = SnapshotSummaryCollector::default();
    for file in &files {
        collector.add_file(
            file,
            schema.clone(),
            metadata.default_partition_spec().clone(),
        );
    }
    for file in &old {
        collector.remove_file(
            file,
            schema.clone(),
            metadata.default_partition_spec().clone(),
        );
    }
    let mut summary = properties;
    summary.extend(collector.build());
    let total = |f: fn(&DataFile) -> u64| files.iter().map(f).sum::<u64>().to_string();
    summary.insert("total-data-files".into(), files.len().to_string());
    summary.insert("total-records".into(), total(|f| f.record_count()));
    summary.insert("total-files-size".into(), total(|f| f.file_size_in_bytes()));
    for key in [
        "total-delete-files",
        "total-position-deletes",
        "total-equality-deletes",
    ] {
        summary.insert(key.into(), "0".into());
    }
    let snapshot = Snapshot::builder()
        .with_manifest_list(list_path)
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(parent)
        .with_sequence_number(sequence)
        .with_summary(Summary {
            operation: Operation::Overwrite,
            additional_properties: summary,
        })
        .with_schema_id(metadata.current_schema_id())
        .with_timestamp_ms(chrono_now_ms())
        .build();
    let updates = vec![
        TableUpdate::AddSnapshot { snapshot },
        TableUpdate::SetSnapshotRef {
            ref_name: "main".to_string(),
            reference: SnapshotReference::new(
                snapshot_id,
                SnapshotRetention::branch(None, None, None),
            ),
        },
    ];
    let requirements = vec![
        TableRequirement::UuidMatch {
            uuid: metadata.uuid(),
        },
        TableRequirement::RefSnapshotIdMatch {
            r#ref: "main".to_string(),
            snapshot_id: parent,
        },
    ];
    catalog
        .commit_updates(table.identifier(), requirements, updates)
        .await
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
