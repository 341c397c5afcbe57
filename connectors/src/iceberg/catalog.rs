//! A connection to an Iceberg REST catalog (ours or any spec-compliant one), and a
//! namespace of it as a DataFusion schema.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result};
use iceberg::{
    Catalog, CatalogBuilder, ErrorKind, NamespaceIdent, TableIdent, TableRequirement, TableUpdate,
};
use iceberg_catalog_rest::{RestCatalog, RestCatalogBuilder};

use super::table::{IcebergTable, iceberg_error};

/// An Iceberg REST catalog.
#[derive(Debug, Clone)]
pub struct IcebergCatalog {
    catalog: Arc<RestCatalog>,
    uri: String,
    token: Option<String>,
}

impl IcebergCatalog {
    /// Connects to the catalog at `uri` (`http://host:8181`), presenting `token` if
    /// given; fails clearly if nothing answers there.
    pub async fn connect(uri: &str, token: Option<&str>) -> Result<Self> {
        let mut props = HashMap::from([("uri".to_string(), uri.to_string())]);
        if let Some(token) = token {
            props.insert("token".to_string(), token.to_string());
        }
        let catalog = RestCatalogBuilder::default()
            .with_storage_factory(Arc::new(sparkling_storage::ObjectStorageFactory))
            .load("spark_catalog", props)
            .await
            .map_err(|e| {
                DataFusionError::Configuration(format!(
                    "cannot use the Iceberg REST catalog at {uri}: {e}"
                ))
            })?;
        let this = Self {
            catalog: Arc::new(catalog),
            uri: uri.trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
        };
        // The builder is lazy; ask once so a wrong URI is reported at startup.
        this.namespaces().await.map_err(|e| {
            DataFusionError::Configuration(format!(
                "the Iceberg REST catalog at {uri} does not answer: {e}"
            ))
        })?;
        Ok(this)
    }

    /// Creates the namespace if it does not exist (another client may race us to it).
    pub async fn ensure_namespace(&self, namespace: &str) -> Result<()> {
        let ns = ident(namespace);
        if self
            .catalog
            .namespace_exists(&ns)
            .await
            .map_err(iceberg_error)?
        {
            return Ok(());
        }
        match self.catalog.create_namespace(&ns, HashMap::new()).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NamespaceAlreadyExists => Ok(()),
            Err(e) => Err(iceberg_error(e)),
        }
    }

    /// The catalog's URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The iceberg client, for commits.
    pub fn client(&self) -> &RestCatalog {
        &self.catalog
    }

    /// Commits `updates` to a table if `requirements` hold, with the REST protocol's
    /// `POST /v1/namespaces/{ns}/tables/{table}`. The iceberg client builds such
    /// commits only from its own actions; this one is for snapshots it cannot make
    /// yet (an overwrite). A failed requirement is a `CatalogCommitConflicts` error.
    pub async fn commit_updates(
        &self,
        table: &TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> iceberg::Result<()> {
        let unexpected = |what: String| iceberg::Error::new(ErrorKind::Unexpected, what);
        let client = reqwest::Client::new();
        let with_token = |request: reqwest::RequestBuilder| match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        // A catalog may serve its tables under a prefix it announces in its config.
        let config: serde_json::Value = with_token(client.get(format!("{}/v1/config", self.uri)))
            .send()
            .await
            .map_err(|e| unexpected(format!("asking {} for its config: {e}", self.uri)))?
            .json()
            .await
            .map_err(|e| unexpected(format!("the config of {}: {e}", self.uri)))?;
        let prefix = ["overrides", "defaults"]
            .iter()
            .find_map(|k| config[k]["prefix"].as_str())
            .map(|p| format!("{p}/"))
            .unwrap_or_default();
        let namespace = table.namespace().join("\u{1f}");
        let url = format!(
            "{}/v1/{prefix}namespaces/{}/tables/{}",
            self.uri,
            percent_encode(&namespace),
            percent_encode(table.name())
        );
        let body = serde_json::json!({
            "identifier": {"namespace": table.namespace().as_ref(), "name": table.name()},
            "requirements": requirements,
            "updates": updates,
        });
        let response = with_token(client.post(&url).json(&body))
            .send()
            .await
            .map_err(|e| unexpected(format!("committing to {table}: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let kind = if status == reqwest::StatusCode::CONFLICT {
            ErrorKind::CatalogCommitConflicts
        } else {
            ErrorKind::Unexpected
        };
        Err(iceberg::Error::new(
            kind,
            format!("the catalog refused a commit to {table} ({status}): {text}"),
        ))
    }

    /// The top-level namespaces.
    pub async fn namespaces(&self) -> Result<Vec<String>> {
        let namespaces = self
            .catalog
            .list_namespaces(None)
            .await
            .map_err(iceberg_error)?;
        Ok(namespaces.into_iter().map(|ns| ns.join(".")).collect())
    }

    /// The tables of a namespace (none if it does not exist).
    pub async fn table_names(&self, namespace: &str) -> Result<Vec<String>> {
        match self.catalog.list_tables(&ident(namespace)).await {
            Ok(tables) => Ok(tables.into_iter().map(|t| t.name().to_string()).collect()),
            Err(e) if e.kind() == ErrorKind::NamespaceNotFound => Ok(vec![]),
            Err(e) => Err(iceberg_error(e)),
        }
    }

    /// A table's current state, or `None` if there is no such table.
    pub async fn load(&self, namespace: &str, name: &str) -> Result<Option<iceberg::table::Table>> {
        let table = TableIdent::new(ident(namespace), name.to_string());
        match self.catalog.load_table(&table).await {
            Ok(table) => Ok(Some(table)),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::TableNotFound | ErrorKind::NamespaceNotFound
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(iceberg_error(e)),
        }
    }

    /// A namespace as a DataFusion schema.
    pub fn schema(&self, namespace: &str) -> IcebergSchema {
        IcebergSchema {
            catalog: self.clone(),
            namespace: namespace.to_string(),
        }
    }
}

/// `text` as one URL path segment (everything but unreserved characters escaped).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn ident(namespace: &str) -> NamespaceIdent {
    NamespaceIdent::from_vec(namespace.split('.').map(str::to_string).collect())
        .unwrap_or_else(|_| NamespaceIdent::new(namespace.to_string()))
}

/// Runs a catalog call from DataFusion's synchronous catalog API (table listings for
/// `SHOW TABLES` and `information_schema`) on the multi-threaded runtime.
pub fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| {
        DataFusionError::Internal("the Iceberg catalog needs a tokio runtime".to_string())
    })?;
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return Err(DataFusionError::Internal(
            "listing an Iceberg catalog needs a multi-threaded tokio runtime".to_string(),
        ));
    }
    tokio::task::block_in_place(|| handle.block_on(future))
}

/// A namespace of an Iceberg catalog, as DataFusion sees it.
#[derive(Debug)]
pub struct IcebergSchema {
    catalog: IcebergCatalog,
    namespace: String,
}

#[async_trait]
impl SchemaProvider for IcebergSchema {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn table_names(&self) -> Vec<String> {
        block_on(self.catalog.table_names(&self.namespace)).unwrap_or_else(|e| {
            tracing::warn!("listing {}: {e}", self.namespace);
            vec![]
        })
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match self.catalog.load(&self.namespace, name).await? {
            Some(table) => Ok(Some(Arc::new(IcebergTable::new(table, None)?))),
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        block_on(self.catalog.load(&self.namespace, name)).is_ok_and(|t| t.is_some())
    }
}
