//! The catalog's operations on namespaces and tables: what each REST route does,
//! independent of HTTP. Table metadata files live in the warehouse; the store holds
//! only pointers to them.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use iceberg::io::FileIO;
use iceberg::spec::{
    FormatVersion, SortOrder, TableMetadata, TableMetadataBuilder, UnboundPartitionSpec,
};
use iceberg::table::Table;
use iceberg::{
    MetadataLocation, NamespaceIdent, TableCreation, TableIdent, TableRequirement, TableUpdate,
};
use iceberg_catalog_rest::{
    CommitTableRequest, CommitTableResponse, CreateTableRequest, LoadTableResult,
    RegisterTableRequest, RenameTableRequest,
};

use crate::error::CatalogError;
use crate::store::{MetadataStore, TablePointer};

/// The table property that picks the Iceberg format version at creation.
const FORMAT_VERSION_PROPERTY: &str = "format-version";

/// The catalog: its database and its warehouse.
#[derive(Debug, Clone)]
pub struct CatalogService {
    store: MetadataStore,
    warehouse: String,
    file_io: FileIO,
    /// What clients are told with every table: how to reach the object store (never
    /// credentials).
    client_config: HashMap<String, String>,
}

impl CatalogService {
    /// A catalog over the database at `db_url` whose new tables go under `warehouse`
    /// (a local directory, created if missing, or an `s3://bucket/prefix` URL reached
    /// with the process's AWS settings).
    pub async fn open(
        db_url: &str,
        warehouse: &str,
        catalog_name: &str,
    ) -> Result<Self, CatalogError> {
        let (warehouse, client_config) = warehouse_location(warehouse).await?;
        let store = MetadataStore::open(db_url, catalog_name).await?;
        Ok(Self {
            store,
            warehouse,
            file_io: sparkling_storage::file_io(client_config.clone()),
            client_config,
        })
    }

    /// Where new tables go (a URL such as `file:///...`).
    pub fn warehouse(&self) -> &str {
        &self.warehouse
    }

    /// The namespaces under `parent` (or the top-level ones).
    pub async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> Result<Vec<NamespaceIdent>, CatalogError> {
        if let Some(parent) = parent {
            self.require_namespace(parent).await?;
        }
        let levels = self
            .store
            .list_namespaces(parent.map(|p| p.as_ref().as_slice()))
            .await?;
        levels
            .into_iter()
            .map(|l| NamespaceIdent::from_vec(l).map_err(|e| CatalogError::Database(e.to_string())))
            .collect()
    }

    /// Creates a namespace with properties.
    pub async fn create_namespace(
        &self,
        ns: &NamespaceIdent,
        properties: &HashMap<String, String>,
    ) -> Result<(), CatalogError> {
        let key = namespace_key(ns)?;
        if !self.store.create_namespace(&key, properties).await? {
            return Err(CatalogError::NamespaceAlreadyExists(key));
        }
        Ok(())
    }

    /// A namespace's properties.
    pub async fn namespace_properties(
        &self,
        ns: &NamespaceIdent,
    ) -> Result<HashMap<String, String>, CatalogError> {
        let key = namespace_key(ns)?;
        self.store
            .namespace_properties(&key)
            .await?
            .ok_or(CatalogError::NoSuchNamespace(key))
    }

    /// Sets and removes namespace properties; returns (updated, removed, missing).
    pub async fn update_namespace_properties(
        &self,
        ns: &NamespaceIdent,
        updates: &HashMap<String, String>,
        removals: &[String],
    ) -> Result<(Vec<String>, Vec<String>, Vec<String>), CatalogError> {
        let key = self.require_namespace(ns).await?;
        if let Some(both) = removals.iter().find(|k| updates.contains_key(*k)) {
            return Err(CatalogError::BadRequest(format!(
                "property {both:?} is both updated and removed"
            )));
        }
        let missing = self
            .store
            .update_namespace_properties(&key, updates, removals)
            .await?;
        let removed = removals
            .iter()
            .filter(|k| !missing.contains(k))
            .cloned()
            .collect();
        let mut updated: Vec<String> = updates.keys().cloned().collect();
        updated.sort();
        Ok((updated, removed, missing))
    }

    /// Drops an empty namespace.
    pub async fn drop_namespace(&self, ns: &NamespaceIdent) -> Result<(), CatalogError> {
        let key = namespace_key(ns)?;
        if !self.store.drop_namespace(&key).await? {
            return Err(CatalogError::NoSuchNamespace(key));
        }
        Ok(())
    }

    /// The tables in a namespace.
    pub async fn list_tables(&self, ns: &NamespaceIdent) -> Result<Vec<TableIdent>, CatalogError> {
        let key = self.require_namespace(ns).await?;
        Ok(self
            .store
            .list_tables(&key)
            .await?
            .into_iter()
            .map(|name| TableIdent::new(ns.clone(), name))
            .collect())
    }

    /// Creates a table, or with `stage-create` only returns the metadata it would have
    /// (the table appears when a commit with `assert-create` lands).
    pub async fn create_table(
        &self,
        ns: &NamespaceIdent,
        request: CreateTableRequest,
    ) -> Result<LoadTableResult, CatalogError> {
        let key = self.require_namespace(ns).await?;
        validate_name(&request.name)?;
        if self.store.table(&key, &request.name).await?.is_some() {
            return Err(CatalogError::TableAlreadyExists(format!(
                "{key}.{}",
                request.name
            )));
        }
        let location = match request.location {
            Some(location) => location.trim_end_matches('/').to_string(),
            None => self.default_location(ns, &request.name).await?,
        };
        let mut properties = request.properties;
        let format_version = format_version(properties.remove(FORMAT_VERSION_PROPERTY))?;
        let creation = TableCreation::builder()
            .name(request.name.clone())
            .location(location.clone())
            .schema(request.schema)
            .partition_spec_opt(request.partition_spec)
            .sort_order_opt(request.write_order)
            .properties(properties)
            .format_version(format_version)
            .build();
        let metadata = TableMetadataBuilder::from_table_creation(creation)
            .and_then(|b| b.build())
            .map_err(CatalogError::from_iceberg)?
            .metadata;
        if request.stage_create == Some(true) {
            return Ok(self.load_result(None, metadata));
        }
        let Some(metadata_location) = self
            .publish_new_table(&key, &request.name, &location, &metadata)
            .await?
        else {
            return Err(CatalogError::TableAlreadyExists(format!(
                "{key}.{}",
                request.name
            )));
        };
        Ok(self.load_result(Some(metadata_location), metadata))
    }

    /// A table's current metadata.
    pub async fn load_table(
        &self,
        ns: &NamespaceIdent,
        name: &str,
    ) -> Result<LoadTableResult, CatalogError> {
        let (pointer, metadata) = self.current(ns, name).await?;
        Ok(self.load_result(Some(pointer.metadata_location), metadata))
    }

    /// Whether a table exists.
    pub async fn table_exists(
        &self,
        ns: &NamespaceIdent,
        name: &str,
    ) -> Result<bool, CatalogError> {
        Ok(self.store.table(&namespace_key(ns)?, name).await?.is_some())
    }

    /// Applies a commit: checks its requirements against the current metadata, applies
    /// its updates, writes the new metadata file and swaps the pointer if no other
    /// commit got there first. A failed requirement or a lost race is `CommitFailed`.
    pub async fn commit_table(
        &self,
        ns: &NamespaceIdent,
        name: &str,
        request: CommitTableRequest,
    ) -> Result<CommitTableResponse, CatalogError> {
        let key = namespace_key(ns)?;
        let Some(pointer) = self.store.table(&key, name).await? else {
            if request
                .requirements
                .iter()
                .any(|r| matches!(r, TableRequirement::NotExist))
            {
                return self.commit_staged_create(ns, name, request).await;
            }
            return Err(CatalogError::NoSuchTable(format!("{key}.{name}")));
        };
        let current = self.read_metadata(&pointer.metadata_location).await?;
        for requirement in &request.requirements {
            requirement
                .check(Some(&current))
                .map_err(|e| CatalogError::CommitFailed(e.to_string()))?;
        }
        let mut builder = current.into_builder(Some(pointer.metadata_location.clone()));
        for update in request.updates {
            builder = update.apply(builder).map_err(CatalogError::from_iceberg)?;
        }
        let metadata = builder
            .build()
            .map_err(CatalogError::from_iceberg)?
            .metadata;
        let next = match MetadataLocation::from_str(&pointer.metadata_location) {
            Ok(location) => location.with_next_version().with_new_metadata(&metadata),
            // Registered tables may name their metadata files differently.
            Err(_) => MetadataLocation::new_with_metadata(metadata.location(), &metadata)
                .with_next_version(),
        };
        self.write_metadata(&metadata, &next).await?;
        let next = next.to_string();
        if !self
            .store
            .swap_table_pointer(&key, name, &pointer.metadata_location, &next)
            .await?
        {
            self.delete_quietly(&next).await;
            return Err(CatalogError::CommitFailed(format!(
                "{key}.{name} was changed by another commit; refresh and retry"
            )));
        }
        Ok(CommitTableResponse {
            metadata_location: next,
            metadata,
        })
    }

    /// Creates a table from the commit of a staged create: the updates describe the
    /// whole table (schema, spec, sort order, location, properties, maybe a snapshot).
    async fn commit_staged_create(
        &self,
        ns: &NamespaceIdent,
        name: &str,
        request: CommitTableRequest,
    ) -> Result<CommitTableResponse, CatalogError> {
        let key = self.require_namespace(ns).await?;
        validate_name(name)?;
        let mut schema = None;
        let mut location = None;
        let mut version = FormatVersion::V2;
        for update in &request.updates {
            match update {
                TableUpdate::AddSchema { schema: s } if schema.is_none() => {
                    schema = Some(s.clone())
                }
                TableUpdate::SetLocation { location: l } => location = Some(l.clone()),
                TableUpdate::UpgradeFormatVersion { format_version } => version = *format_version,
                _ => {}
            }
        }
        let schema = schema.ok_or_else(|| {
            CatalogError::BadRequest("a staged create must add a schema".to_string())
        })?;
        let location = match location {
            Some(l) => l,
            None => self.default_location(ns, name).await?,
        };
        let mut builder = TableMetadataBuilder::new(
            schema,
            UnboundPartitionSpec::builder().build(),
            SortOrder::unsorted_order(),
            location.clone(),
            version,
            HashMap::new(),
        )
        .map_err(CatalogError::from_iceberg)?;
        for update in request.updates {
            builder = update.apply(builder).map_err(CatalogError::from_iceberg)?;
        }
        let metadata = builder
            .build()
            .map_err(CatalogError::from_iceberg)?
            .metadata;
        let Some(metadata_location) = self
            .publish_new_table(&key, name, &location, &metadata)
            .await?
        else {
            return Err(CatalogError::CommitFailed(format!(
                "{key}.{name} was created by another commit"
            )));
        };
        Ok(CommitTableResponse {
            metadata_location,
            metadata,
        })
    }

    /// Drops a table; with `purge`, also deletes its data, manifests and metadata files.
    pub async fn drop_table(
        &self,
        ns: &NamespaceIdent,
        name: &str,
        purge: bool,
    ) -> Result<(), CatalogError> {
        let key = namespace_key(ns)?;
        let current = if purge {
            Some(self.current(ns, name).await?)
        } else {
            None
        };
        if !self.store.delete_table(&key, name).await? {
            return Err(CatalogError::NoSuchTable(format!("{key}.{name}")));
        }
        if let Some((pointer, metadata)) = current {
            let table = Table::builder()
                .identifier(TableIdent::new(ns.clone(), name.to_string()))
                .metadata(Arc::new(metadata))
                .metadata_location(pointer.metadata_location)
                .file_io(self.file_io.clone())
                .runtime(iceberg::Runtime::current())
                .build()
                .map_err(CatalogError::from_iceberg)?;
            // The table is gone from the catalog already; files that cannot be deleted
            // are only wasted space, so report them in the log.
            if let Err(e) = iceberg::drop_table_data(&table).await {
                tracing::warn!("purging {key}.{name} left files behind: {e}");
            }
        }
        Ok(())
    }

    /// Renames (and possibly moves) a table.
    pub async fn rename_table(&self, request: RenameTableRequest) -> Result<(), CatalogError> {
        let from_ns = namespace_key(request.source.namespace())?;
        let to_ns = self
            .require_namespace(request.destination.namespace())
            .await?;
        validate_name(request.destination.name())?;
        if self
            .store
            .table(&to_ns, request.destination.name())
            .await?
            .is_some()
        {
            return Err(CatalogError::TableAlreadyExists(format!(
                "{to_ns}.{}",
                request.destination.name()
            )));
        }
        if !self
            .store
            .rename_table(
                (&from_ns, request.source.name()),
                (&to_ns, request.destination.name()),
            )
            .await?
        {
            return Err(CatalogError::NoSuchTable(format!(
                "{from_ns}.{}",
                request.source.name()
            )));
        }
        Ok(())
    }

    /// Registers an existing metadata file as a table (or, with `overwrite`, points an
    /// existing table at it).
    pub async fn register_table(
        &self,
        ns: &NamespaceIdent,
        request: RegisterTableRequest,
    ) -> Result<LoadTableResult, CatalogError> {
        let key = self.require_namespace(ns).await?;
        validate_name(&request.name)?;
        let metadata = self
            .read_metadata(&request.metadata_location)
            .await
            .map_err(|e| {
                CatalogError::BadRequest(format!(
                    "cannot read table metadata at {}: {e}",
                    request.metadata_location
                ))
            })?;
        if !self
            .store
            .insert_table(&key, &request.name, &request.metadata_location)
            .await?
        {
            let existing = self.store.table(&key, &request.name).await?;
            let swapped = match (request.overwrite, existing) {
                (Some(true), Some(existing)) => {
                    self.store
                        .swap_table_pointer(
                            &key,
                            &request.name,
                            &existing.metadata_location,
                            &request.metadata_location,
                        )
                        .await?
                }
                _ => false,
            };
            if !swapped {
                return Err(CatalogError::TableAlreadyExists(format!(
                    "{key}.{}",
                    request.name
                )));
            }
        }
        Ok(self.load_result(Some(request.metadata_location), metadata))
    }

    /// Writes a new table's first metadata file and registers the table; `None` (and
    /// the file removed again) if another request registered the name first.
    async fn publish_new_table(
        &self,
        key: &str,
        name: &str,
        location: &str,
        metadata: &TableMetadata,
    ) -> Result<Option<String>, CatalogError> {
        let metadata_location = MetadataLocation::new_with_metadata(location, metadata);
        self.write_metadata(metadata, &metadata_location).await?;
        let metadata_location = metadata_location.to_string();
        if !self
            .store
            .insert_table(key, name, &metadata_location)
            .await?
        {
            self.delete_quietly(&metadata_location).await;
            return Ok(None);
        }
        Ok(Some(metadata_location))
    }

    async fn current(
        &self,
        ns: &NamespaceIdent,
        name: &str,
    ) -> Result<(TablePointer, TableMetadata), CatalogError> {
        let key = namespace_key(ns)?;
        let pointer = self
            .store
            .table(&key, name)
            .await?
            .ok_or_else(|| CatalogError::NoSuchTable(format!("{key}.{name}")))?;
        let metadata = self.read_metadata(&pointer.metadata_location).await?;
        Ok((pointer, metadata))
    }

    async fn require_namespace(&self, ns: &NamespaceIdent) -> Result<String, CatalogError> {
        let key = namespace_key(ns)?;
        if !self.store.namespace_exists(&key).await? {
            return Err(CatalogError::NoSuchNamespace(key));
        }
        Ok(key)
    }

    /// `<namespace location>/<table>` if the namespace sets `location`, otherwise
    /// `<warehouse>/<ns levels>/<table>`.
    async fn default_location(
        &self,
        ns: &NamespaceIdent,
        name: &str,
    ) -> Result<String, CatalogError> {
        let props = self.namespace_properties(ns).await?;
        Ok(match props.get("location") {
            Some(base) => format!("{}/{name}", base.trim_end_matches('/')),
            None => format!("{}/{}/{name}", self.warehouse, ns.join("/")),
        })
    }

    async fn read_metadata(&self, location: &str) -> Result<TableMetadata, CatalogError> {
        TableMetadata::read_from(&self.file_io, location)
            .await
            .map_err(|e| CatalogError::Storage(format!("cannot read metadata {location}: {e}")))
    }

    async fn write_metadata(
        &self,
        metadata: &TableMetadata,
        location: &MetadataLocation,
    ) -> Result<(), CatalogError> {
        metadata
            .write_to(&self.file_io, location)
            .await
            .map_err(|e| CatalogError::Storage(format!("cannot write metadata {location}: {e}")))
    }

    fn load_result(
        &self,
        metadata_location: Option<String>,
        metadata: TableMetadata,
    ) -> LoadTableResult {
        LoadTableResult {
            metadata_location,
            metadata,
            config: self.client_config.clone(),
            storage_credentials: None,
        }
    }

    async fn delete_quietly(&self, location: &str) {
        if let Err(e) = self.file_io.delete(location).await {
            tracing::warn!("could not delete unused metadata file {location}: {e}");
        }
    }
}

/// The stored form of a namespace: levels joined with dots (as Iceberg's JDBC catalog).
fn namespace_key(ns: &NamespaceIdent) -> Result<String, CatalogError> {
    for level in ns.as_ref() {
        if level.is_empty() || level.contains('.') {
            return Err(CatalogError::BadRequest(format!(
                "invalid namespace level {level:?}: levels must be non-empty and must not contain '.'"
            )));
        }
    }
    Ok(ns.join("."))
}

fn validate_name(name: &str) -> Result<(), CatalogError> {
    if name.is_empty() || name.contains('/') {
        return Err(CatalogError::BadRequest(format!(
            "invalid table name {name:?}"
        )));
    }
    Ok(())
}

fn format_version(value: Option<String>) -> Result<FormatVersion, CatalogError> {
    match value.as_deref() {
        None | Some("2") => Ok(FormatVersion::V2),
        Some("1") => Ok(FormatVersion::V1),
        Some("3") => Ok(FormatVersion::V3),
        Some(other) => Err(CatalogError::BadRequest(format!(
            "unsupported format-version {other:?} (use 1, 2 or 3)"
        ))),
    }
}

/// The warehouse as a URL, and the object-store settings clients are told (empty for
/// a local directory). A local warehouse is created if missing; a bucket must exist and
/// answer, so a wrong endpoint or key is reported at startup rather than at the first
/// CREATE TABLE.
async fn warehouse_location(
    warehouse: &str,
) -> Result<(String, HashMap<String, String>), CatalogError> {
    let location = if warehouse.contains(':') || warehouse.starts_with('/') {
        sparkling_storage::Location::parse(warehouse)
            .map_err(|e| CatalogError::Config(format!("warehouse: {e}")))?
    } else {
        // A relative directory, as in the default `./spark-warehouse`.
        std::fs::create_dir_all(warehouse)
            .and_then(|_| std::fs::canonicalize(warehouse))
            .map(sparkling_storage::Location::Local)
            .map_err(|e| {
                CatalogError::Config(format!(
                    "cannot create the warehouse directory {warehouse}: {e}"
                ))
            })?
    };
    match location {
        sparkling_storage::Location::Local(path) => {
            std::fs::create_dir_all(&path).map_err(|e| {
                CatalogError::Config(format!(
                    "cannot create the warehouse directory {}: {e}",
                    path.display()
                ))
            })?;
            let url = url::Url::from_directory_path(&path).map_err(|_| {
                CatalogError::Config(format!(
                    "the warehouse {} is not an absolute path",
                    path.display()
                ))
            })?;
            Ok((
                url.as_str().trim_end_matches('/').to_string(),
                HashMap::new(),
            ))
        }
        location @ sparkling_storage::Location::S3 { .. } => {
            let settings = sparkling_storage::S3Settings::from_env();
            location.check_listable(&settings).await.map_err(|e| {
                CatalogError::Config(format!(
                    "the warehouse {warehouse} cannot be listed (check the bucket, \
                         AWS_ENDPOINT_URL, AWS_REGION and the access keys): {e}"
                ))
            })?;
            Ok((
                warehouse
                    .trim_end_matches('/')
                    .replacen("s3a://", "s3://", 1),
                settings.client_properties(),
            ))
        }
    }
}
