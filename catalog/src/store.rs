//! Where the catalog keeps its state: namespaces, their properties and each table's
//! metadata pointer, in SQLite or PostgreSQL.
//!
//! The tables are those of Iceberg's JDBC catalog (`iceberg_tables`,
//! `iceberg_namespace_properties`), so a database written by the Java REST catalog
//! image the seeds run can be served as it is. A commit is a compare-and-swap of the
//! metadata pointer in one `UPDATE ... WHERE metadata_location = <expected>`, which both
//! databases execute atomically.

use std::collections::{BTreeSet, HashMap};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::error::CatalogError;

/// The property row that marks a namespace as created (as Iceberg's JDBC catalog does).
const EXISTS_PROPERTY: &str = "exists";

/// A namespace as stored: its levels joined with dots.
pub type NamespaceKey = String;

/// A table's metadata pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePointer {
    /// The current metadata file.
    pub metadata_location: String,
    /// The one before it, if any.
    pub previous_metadata_location: Option<String>,
}

/// The catalog database.
#[derive(Debug, Clone)]
pub struct MetadataStore {
    pool: AnyPool,
    catalog_name: String,
}

impl MetadataStore {
    /// Opens (creating if needed) the database at `url`: `sqlite:PATH` or
    /// `postgres://...`, and creates the catalog tables if they are missing.
    pub async fn open(url: &str, catalog_name: &str) -> Result<Self, CatalogError> {
        sqlx::any::install_default_drivers();
        let (url, max_connections) = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            if path.is_empty() {
                return Err(CatalogError::Config("the SQLite path is empty".into()));
            }
            if let Some(parent) = std::path::Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    CatalogError::Config(format!(
                        "cannot create the catalog database directory {}: {e}",
                        parent.display()
                    ))
                })?;
            }
            let sep = if path.contains('?') { '&' } else { '?' };
            (format!("sqlite:{path}{sep}mode=rwc"), 4)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (url.to_string(), 8)
        } else {
            return Err(CatalogError::Config(format!(
                "unsupported catalog database {url:?}: use sqlite:PATH or postgres://..."
            )));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .connect(&url)
            .await
            .map_err(|e| CatalogError::Config(format!("cannot open the catalog database: {e}")))?;
        if url.starts_with("sqlite:") {
            // Readers do not block the writer; a busy database waits instead of failing.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await
                .map_err(db_error)?;
        }
        let store = Self {
            pool,
            catalog_name: catalog_name.to_string(),
        };
        store.create_schema().await?;
        Ok(store)
    }

    async fn create_schema(&self) -> Result<(), CatalogError> {
        for ddl in [
            "CREATE TABLE IF NOT EXISTS iceberg_tables (
                catalog_name VARCHAR(255) NOT NULL,
                table_namespace VARCHAR(255) NOT NULL,
                table_name VARCHAR(255) NOT NULL,
                metadata_location VARCHAR(1000),
                previous_metadata_location VARCHAR(1000),
                iceberg_type VARCHAR(5),
                PRIMARY KEY (catalog_name, table_namespace, table_name))",
            "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
                catalog_name VARCHAR(255) NOT NULL,
                namespace VARCHAR(255) NOT NULL,
                property_key VARCHAR(255),
                property_value VARCHAR(1000),
                PRIMARY KEY (catalog_name, namespace, property_key))",
        ] {
            sqlx::query(ddl)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    /// Every namespace that exists: created ones and those that hold tables.
    async fn all_namespaces(&self) -> Result<BTreeSet<NamespaceKey>, CatalogError> {
        let rows = sqlx::query(
            "SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = $1
             UNION SELECT table_namespace FROM iceberg_tables WHERE catalog_name = $1",
        )
        .bind(&self.catalog_name)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(|r| text(r, 0)).collect()
    }

    /// The namespaces directly under `parent` (top-level ones without a parent). A
    /// namespace whose parent was never created itself still makes its parent listed.
    pub async fn list_namespaces(
        &self,
        parent: Option<&[String]>,
    ) -> Result<Vec<Vec<String>>, CatalogError> {
        let depth = parent.map_or(0, |p| p.len());
        let mut out = BTreeSet::new();
        for ns in self.all_namespaces().await? {
            let levels: Vec<String> = ns.split('.').map(str::to_string).collect();
            if levels.len() > depth && parent.is_none_or(|p| levels[..depth] == *p) {
                out.insert(levels[..=depth].to_vec());
            }
        }
        Ok(out.into_iter().collect())
    }

    /// Whether the namespace exists (created, or holding tables or child namespaces).
    pub async fn namespace_exists(&self, ns: &str) -> Result<bool, CatalogError> {
        let prefix = format!("{ns}.");
        Ok(self
            .all_namespaces()
            .await?
            .iter()
            .any(|n| n == ns || n.starts_with(&prefix)))
    }

    /// A namespace's properties, or `None` if it does not exist.
    pub async fn namespace_properties(
        &self,
        ns: &str,
    ) -> Result<Option<HashMap<String, String>>, CatalogError> {
        if !self.namespace_exists(ns).await? {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT property_key, property_value FROM iceberg_namespace_properties
             WHERE catalog_name = $1 AND namespace = $2",
        )
        .bind(&self.catalog_name)
        .bind(ns)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut props = HashMap::new();
        for row in rows {
            let key = text(&row, 0)?;
            if key != EXISTS_PROPERTY {
                props.insert(key, opt_text(&row, 1)?.unwrap_or_default());
            }
        }
        Ok(Some(props))
    }

    /// Creates a namespace; `false` if it already exists.
    pub async fn create_namespace(
        &self,
        ns: &str,
        properties: &HashMap<String, String>,
    ) -> Result<bool, CatalogError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let existing: i64 = sqlx::query(
            "SELECT COUNT(*) FROM iceberg_namespace_properties
             WHERE catalog_name = $1 AND namespace = $2",
        )
        .bind(&self.catalog_name)
        .bind(ns)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?
        .try_get(0)
        .map_err(db_error)?;
        if existing > 0 {
            return Ok(false);
        }
        let mut rows = vec![(EXISTS_PROPERTY, "true")];
        rows.extend(properties.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for (key, value) in rows {
            match self.insert_property(&mut tx, ns, key, value).await {
                Ok(()) => {}
                Err(e) if is_unique_violation(&e) => return Ok(false),
                Err(e) => return Err(db_error(e)),
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    /// Sets and removes namespace properties; returns the removal keys that were missing.
    pub async fn update_namespace_properties(
        &self,
        ns: &str,
        updates: &HashMap<String, String>,
        removals: &[String],
    ) -> Result<Vec<String>, CatalogError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let mut missing = Vec::new();
        for key in removals {
            if self.delete_property(&mut tx, ns, key).await? == 0 {
                missing.push(key.clone());
            }
        }
        for (key, value) in updates {
            self.delete_property(&mut tx, ns, key).await?;
            self.insert_property(&mut tx, ns, key, value)
                .await
                .map_err(db_error)?;
        }
        // A namespace that only existed through its tables becomes an explicit one.
        sqlx::query(
            "INSERT INTO iceberg_namespace_properties
             (catalog_name, namespace, property_key, property_value)
             SELECT $1, $2, $3, 'true' WHERE NOT EXISTS (
               SELECT 1 FROM iceberg_namespace_properties
               WHERE catalog_name = $1 AND namespace = $2 AND property_key = $3)",
        )
        .bind(&self.catalog_name)
        .bind(ns)
        .bind(EXISTS_PROPERTY)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(missing)
    }

    /// Drops an empty namespace; `Err(NamespaceNotEmpty)` if it holds tables or
    /// namespaces, `Ok(false)` if it does not exist.
    pub async fn drop_namespace(&self, ns: &str) -> Result<bool, CatalogError> {
        let prefix = format!("{ns}.");
        let all = self.all_namespaces().await?;
        let has_children = all.iter().any(|n| n.starts_with(&prefix));
        if !all.contains(ns) && !has_children {
            return Ok(false);
        }
        if has_children || !self.list_tables(ns).await?.is_empty() {
            return Err(CatalogError::NamespaceNotEmpty(ns.to_string()));
        }
        sqlx::query(
            "DELETE FROM iceberg_namespace_properties WHERE catalog_name = $1 AND namespace = $2",
        )
        .bind(&self.catalog_name)
        .bind(ns)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(true)
    }

    /// Adds one property row of a namespace.
    async fn insert_property(
        &self,
        conn: &mut sqlx::AnyConnection,
        ns: &str,
        key: &str,
        value: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO iceberg_namespace_properties
             (catalog_name, namespace, property_key, property_value) VALUES ($1, $2, $3, $4)",
        )
        .bind(&self.catalog_name)
        .bind(ns)
        .bind(key)
        .bind(value)
        .execute(conn)
        .await
        .map(|_| ())
    }

    /// Removes one property row of a namespace; returns how many rows went.
    async fn delete_property(
        &self,
        conn: &mut sqlx::AnyConnection,
        ns: &str,
        key: &str,
    ) -> Result<u64, CatalogError> {
        let deleted = sqlx::query(
            "DELETE FROM iceberg_namespace_properties
             WHERE catalog_name = $1 AND namespace = $2 AND property_key = $3",
        )
        .bind(&self.catalog_name)
        .bind(ns)
        .bind(key)
        .execute(conn)
        .await
        .map_err(db_error)?;
        Ok(deleted.rows_affected())
    }

    /// The tables in a namespace (not in its children), sorted.
    pub async fn list_tables(&self, ns: &str) -> Result<Vec<String>, CatalogError> {
        let rows = sqlx::query(
            "SELECT table_name FROM iceberg_tables
             WHERE catalog_name = $1 AND table_namespace = $2
               AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)
             ORDER BY table_name",
        )
        .bind(&self.catalog_name)
        .bind(ns)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(|r| text(r, 0)).collect()
    }

    /// A table's metadata pointer, or `None` if there is no such table.
    pub async fn table(&self, ns: &str, name: &str) -> Result<Option<TablePointer>, CatalogError> {
        let row = sqlx::query(
            "SELECT metadata_location, previous_metadata_location FROM iceberg_tables
             WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3
               AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)",
        )
        .bind(&self.catalog_name)
        .bind(ns)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let Some(metadata_location) = opt_text(&row, 0)? else {
            return Ok(None);
        };
        Ok(Some(TablePointer {
            metadata_location,
            previous_metadata_location: opt_text(&row, 1)?,
        }))
    }

    /// Registers a new table; `false` if the name is taken.
    pub async fn insert_table(
        &self,
        ns: &str,
        name: &str,
        metadata_location: &str,
    ) -> Result<bool, CatalogError> {
        let inserted = sqlx::query(
            "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name,
               metadata_location, previous_metadata_location, iceberg_type)
             VALUES ($1, $2, $3, $4, NULL, 'TABLE')",
        )
        .bind(&self.catalog_name)
        .bind(ns)
        .bind(name)
        .bind(metadata_location)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(db_error(e)),
        }
    }

    /// Points a table at new metadata if it still points at `expected`; `false` if
    /// another commit got there first (or the table is gone).
    pub async fn swap_table_pointer(
        &self,
        ns: &str,
        name: &str,
        expected: &str,
        new: &str,
    ) -> Result<bool, CatalogError> {
        let updated = sqlx::query(
            "UPDATE iceberg_tables SET metadata_location = $1, previous_metadata_location = $2
             WHERE catalog_name = $3 AND table_namespace = $4 AND table_name = $5
               AND metadata_location = $2",
        )
        .bind(new)
        .bind(expected)
        .bind(&self.catalog_name)
        .bind(ns)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(updated.rows_affected() == 1)
    }

    /// Removes a table's entry; `false` if there was none.
    pub async fn delete_table(&self, ns: &str, name: &str) -> Result<bool, CatalogError> {
        let deleted = sqlx::query(
            "DELETE FROM iceberg_tables
             WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3",
        )
        .bind(&self.catalog_name)
        .bind(ns)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Renames a table; `Ok(false)` if the source does not exist, an error if the
    /// destination name is taken.
    pub async fn rename_table(
        &self,
        from: (&str, &str),
        to: (&str, &str),
    ) -> Result<bool, CatalogError> {
        let renamed = sqlx::query(
            "UPDATE iceberg_tables SET table_namespace = $1, table_name = $2
             WHERE catalog_name = $3 AND table_namespace = $4 AND table_name = $5",
        )
        .bind(to.0)
        .bind(to.1)
        .bind(&self.catalog_name)
        .bind(from.0)
        .bind(from.1)
        .execute(&self.pool)
        .await;
        match renamed {
            Ok(r) => Ok(r.rows_affected() > 0),
            Err(e) if is_unique_violation(&e) => Err(CatalogError::TableAlreadyExists(format!(
                "{}.{}",
                to.0, to.1
            ))),
            Err(e) => Err(db_error(e)),
        }
    }
}

fn text(row: &AnyRow, i: usize) -> Result<String, CatalogError> {
    row.try_get::<String, _>(i).map_err(db_error)
}

fn opt_text(row: &AnyRow, i: usize) -> Result<Option<String>, CatalogError> {
    row.try_get::<Option<String>, _>(i).map_err(db_error)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

fn db_error(e: sqlx::Error) -> CatalogError {
    CatalogError::Database(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, MetadataStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("db/catalog.db").display());
        let store = MetadataStore::open(&url, "test").await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn namespaces_nest_and_keep_properties() {
        let (_dir, store) = store().await;
        let props = HashMap::from([("owner".to_string(), "me".to_string())]);
        assert!(store.create_namespace("a", &props).await.unwrap());
        assert!(!store.create_namespace("a", &props).await.unwrap());
        assert!(
            store
                .create_namespace("a.b", &HashMap::new())
                .await
                .unwrap()
        );
        assert_eq!(
            store.list_namespaces(None).await.unwrap(),
            vec![vec!["a".to_string()]]
        );
        assert_eq!(
            store
                .list_namespaces(Some(&["a".to_string()]))
                .await
                .unwrap(),
            vec![vec!["a".to_string(), "b".to_string()]]
        );
        assert_eq!(store.namespace_properties("a").await.unwrap(), Some(props));
        assert!(matches!(
            store.drop_namespace("a").await,
            Err(CatalogError::NamespaceNotEmpty(_))
        ));
        assert!(store.drop_namespace("a.b").await.unwrap());
        let missing = store
            .update_namespace_properties(
                "a",
                &HashMap::from([("k".to_string(), "v".to_string())]),
                &["owner".to_string(), "nope".to_string()],
            )
            .await
            .unwrap();
        assert_eq!(missing, vec!["nope".to_string()]);
        assert_eq!(
            store.namespace_properties("a").await.unwrap(),
            Some(HashMap::from([("k".to_string(), "v".to_string())]))
        );
    }

    #[tokio::test]
    async fn table_pointer_swaps_only_from_the_expected_location() {
        let (_dir, store) = store().await;
        assert!(store.insert_table("ns", "t", "m1").await.unwrap());
        assert!(!store.insert_table("ns", "t", "m1").await.unwrap());
        assert!(
            store
                .swap_table_pointer("ns", "t", "m1", "m2")
                .await
                .unwrap()
        );
        assert!(
            !store
                .swap_table_pointer("ns", "t", "m1", "m3")
                .await
                .unwrap()
        );
        assert_eq!(
            store.table("ns", "t").await.unwrap(),
            Some(TablePointer {
                metadata_location: "m2".into(),
                previous_metadata_location: Some("m1".into())
            })
        );
        assert!(store.rename_table(("ns", "t"), ("ns", "u")).await.unwrap());
        assert_eq!(
            store.list_tables("ns").await.unwrap(),
            vec!["u".to_string()]
        );
        assert!(store.delete_table("ns", "u").await.unwrap());
        assert!(!store.delete_table("ns", "u").await.unwrap());
    }
}
