//! How to reach S3: settings from the environment and Iceberg properties, and one
//! shared client per bucket and settings.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use parking_lot::Mutex;

use crate::StorageError;

/// Iceberg's property names for S3 (as Java, PyIceberg and iceberg-rust use them).
pub(crate) mod props {
    pub const ENDPOINT: &str = "s3.endpoint";
    pub const REGION: &str = "s3.region";
    pub const CLIENT_REGION: &str = "client.region";
    pub const ACCESS_KEY_ID: &str = "s3.access-key-id";
    pub const SECRET_ACCESS_KEY: &str = "s3.secret-access-key";
    pub const SESSION_TOKEN: &str = "s3.session-token";
    pub const PATH_STYLE_ACCESS: &str = "s3.path-style-access";
}

/// How to reach an S3-compatible store. Unset fields fall back to what the AWS
/// environment variables say (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct S3Settings {
    /// Endpoint URL of an S3-compatible server (`http://127.0.0.1:3900`).
    pub endpoint: Option<String>,
    /// Region to sign requests for.
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Address buckets by path (`endpoint/bucket/key`) rather than by host name.
    pub path_style: Option<bool>,
}

impl S3Settings {
    /// Settings from the process environment (the variables the AWS tools use),
    /// read once: every file a process opens asks for them.
    pub fn from_env() -> Self {
        static ENV: LazyLock<S3Settings> = LazyLock::new(S3Settings::read_env);
        ENV.clone()
    }

    fn read_env() -> Self {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        };
        Self {
            endpoint: var(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]),
            region: var(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
            access_key_id: var(&["AWS_ACCESS_KEY_ID"]),
            secret_access_key: var(&["AWS_SECRET_ACCESS_KEY"]),
            session_token: var(&["AWS_SESSION_TOKEN"]),
            path_style: var(&["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"]).map(|v| !truthy(&v)),
        }
    }

    /// These settings with Iceberg's `s3.*` properties taking precedence.
    pub fn overridden_by(mut self, props: &HashMap<String, String>) -> Self {
        let get = |k: &str| props.get(k).filter(|v| !v.is_empty()).cloned();
        if let Some(v) = get(props::ENDPOINT) {
            self.endpoint = Some(v);
        }
        if let Some(v) = get(props::CLIENT_REGION).or_else(|| get(props::REGION)) {
            self.region = Some(v);
        }
        if let Some(v) = get(props::ACCESS_KEY_ID) {
            // Keys from the table replace the environment's, session token included.
            self.access_key_id = Some(v);
            self.session_token = None;
        }
        if let Some(v) = get(props::SECRET_ACCESS_KEY) {
            self.secret_access_key = Some(v);
        }
        if let Some(v) = get(props::SESSION_TOKEN) {
            self.session_token = Some(v);
        }
        if let Some(v) = get(props::PATH_STYLE_ACCESS) {
            self.path_style = Some(truthy(&v));
        }
        self
    }

    /// The settings a catalog tells its clients (endpoint, region, addressing), as
    /// Iceberg properties. Credentials are never included: each client brings its own.
    pub fn client_properties(&self) -> HashMap<String, String> {
        let mut out = HashMap::new();
        if let Some(endpoint) = &self.endpoint {
            out.insert(props::ENDPOINT.to_string(), endpoint.clone());
            // A custom endpoint almost always means a self-hosted store that
            // addresses buckets by path.
            out.insert(
                props::PATH_STYLE_ACCESS.to_string(),
                self.path_style.unwrap_or(true).to_string(),
            );
        } else if let Some(path_style) = self.path_style {
            out.insert(props::PATH_STYLE_ACCESS.to_string(), path_style.to_string());
        }
        if let Some(region) = &self.region {
            out.insert(props::REGION.to_string(), region.clone());
        }
        out
    }

    fn build(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, StorageError> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint);
            if endpoint.starts_with("http://") {
                builder = builder.with_allow_http(true);
            }
        }
        if let Some(region) = &self.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &self.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &self.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = &self.session_token {
            builder = builder.with_token(token);
        }
        if let Some(path_style) = self.path_style {
            builder = builder.with_virtual_hosted_style_request(!path_style);
        }
        let store = builder.build().map_err(|source| StorageError::Client {
            bucket: bucket.to_string(),
            source,
        })?;
        Ok(Arc::new(store))
    }
}

/// The client for `bucket` under `settings`, built once per process and shared (so
/// connections are pooled across tables, scans and writes).
pub fn s3_store(settings: &S3Settings, bucket: &str) -> Result<Arc<dyn ObjectStore>, StorageError> {
    type Clients = Mutex<HashMap<(S3Settings, String), Arc<dyn ObjectStore>>>;
    static CLIENTS: LazyLock<Clients> = LazyLock::new(Default::default);
    let key = (settings.clone(), bucket.to_string());
    if let Some(store) = CLIENTS.lock().get(&key) {
        return Ok(Arc::clone(store));
    }
    let store = settings.build(bucket)?;
    Ok(Arc::clone(CLIENTS.lock().entry(key).or_insert(store)))
}

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "t" | "1" | "yes" | "y" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iceberg_properties_override_the_environment() {
        let base = S3Settings {
            endpoint: Some("http://env:9000".into()),
            region: Some("env-region".into()),
            access_key_id: Some("env-key".into()),
            ..Default::default()
        };
        let props = HashMap::from([
            (props::ENDPOINT.to_string(), "http://table:3900".to_string()),
            (props::REGION.to_string(), "garage".to_string()),
            (props::PATH_STYLE_ACCESS.to_string(), "true".to_string()),
        ]);
        let s = base.overridden_by(&props);
        assert_eq!(s.endpoint.as_deref(), Some("http://table:3900"));
        assert_eq!(s.region.as_deref(), Some("garage"));
        assert_eq!(s.access_key_id.as_deref(), Some("env-key"));
        assert_eq!(s.path_style, Some(true));
    }

    #[test]
    fn clients_are_told_no_secrets() {
        let s = S3Settings {
            endpoint: Some("http://127.0.0.1:3900".into()),
            region: Some("garage".into()),
            access_key_id: Some("key".into()),
            secret_access_key: Some("secret".into()),
            ..Default::default()
        };
        let props = s.client_properties();
        assert_eq!(props[props::ENDPOINT], "http://127.0.0.1:3900");
        assert_eq!(props[props::PATH_STYLE_ACCESS], "true");
        assert_eq!(props[props::REGION], "garage");
        assert!(!props.contains_key(props::SECRET_ACCESS_KEY));
        assert!(!props.contains_key(props::ACCESS_KEY_ID));
    }

    #[test]
    fn one_client_per_bucket_and_settings() {
        let s = S3Settings {
            endpoint: Some("http://127.0.0.1:1".into()),
            region: Some("r".into()),
            ..Default::default()
        };
        let a = s3_store(&s, "a").unwrap();
        let again = s3_store(&s, "a").unwrap();
        let b = s3_store(&s, "b").unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert!(!Arc::ptr_eq(&a, &b));
    }
}
