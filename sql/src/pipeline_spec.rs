//! A pipeline's files: the spec (`spark-pipeline.yml`, as in Spark Declarative
//! Pipelines) and the SQL files its `libraries` globs name, gathered into a
//! [`PipelineBundle`] by whoever has them (the `sparkling submit` client, or the
//! scheduler for a path on its own disk), with `${key}` references in the SQL filled
//! from the spec's `configuration`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SqlError};
use crate::names::{DEFAULT_CATALOG, DEFAULT_SCHEMA};

/// `spark-pipeline.yml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// The pipeline's name.
    pub name: String,
    /// The catalog its datasets live in (only `spark_catalog`).
    #[serde(default)]
    pub catalog: Option<String>,
    /// The namespace of its datasets (`database` or `schema`).
    #[serde(default, alias = "schema")]
    pub database: Option<String>,
    /// Values for `${key}` in the SQL, and session settings of the update.
    #[serde(default)]
    pub configuration: BTreeMap<String, yaml_serde::Value>,
    /// Where its SQL files are.
    #[serde(default)]
    pub libraries: Vec<Library>,
    /// Continuous mode: streams keep running and views refresh every
    /// `refresh_interval`, until the job is killed.
    #[serde(default)]
    pub continuous: bool,
    /// How often views refresh in continuous mode (`30 seconds`; default 1 minute).
    #[serde(default)]
    pub refresh_interval: Option<String>,
    /// Accepted for compatibility with Spark's specs; checkpoints live in the tables.
    #[serde(default)]
    pub storage: Option<String>,
}

/// One `libraries` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Library {
    /// `glob: {include: pattern}`.
    pub glob: Glob,
}

/// Files by pattern, relative to the spec's directory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Glob {
    /// The pattern (`transformations/**/*.sql`; a directory means everything under it).
    pub include: String,
}

impl PipelineSpec {
    /// Parses `spark-pipeline.yml`'s text.
    pub fn parse(yaml: &str) -> Result<Self> {
        let spec: Self = yaml_serde::from_str(yaml)
            .map_err(|e| SqlError::Invalid(format!("invalid pipeline spec: {e}")))?;
        if spec.name.trim().is_empty() {
            return Err(SqlError::Invalid(
                "invalid pipeline spec: name is empty".to_string(),
            ));
        }
        if let Some(catalog) = &spec.catalog
            && catalog != DEFAULT_CATALOG
        {
            return Err(SqlError::Invalid(format!(
                "invalid pipeline spec: catalog {catalog}: datasets live in {DEFAULT_CATALOG}"
            )));
        }
        if spec.libraries.is_empty() {
            return Err(SqlError::Invalid(
                "invalid pipeline spec: no libraries (add `libraries: [{glob: {include: \
                 transformations/**}}]`)"
                    .to_string(),
            ));
        }
        Ok(spec)
    }

    /// The namespace of the pipeline's datasets.
    pub fn namespace(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| DEFAULT_SCHEMA.to_string())
    }

    /// The configuration as text (YAML numbers and booleans written as they read).
    pub fn configuration(&self) -> BTreeMap<String, String> {
        self.configuration
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    yaml_serde::Value::String(s) => s.clone(),
                    other => yaml_serde::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                (k.clone(), text)
            })
            .collect()
    }
}

/// A pipeline as submitted: the spec's text and the SQL files it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineBundle {
    /// Where the spec was (for messages).
    pub spec_path: String,
    /// The spec's text.
    pub spec: String,
    /// The SQL files, relative to the spec's directory, in name order.
    pub files: Vec<BundledFile>,
}

/// One SQL file of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundledFile {
    /// Its path relative to the spec's directory.
    pub path: String,
    /// Its text.
    pub content: String,
}

/// The largest pipeline bundle accepted (the HTTP body limit is 16 MiB).
const MAX_FILES: usize = 1000;

impl PipelineBundle {
    /// Reads the spec at `spec_path` and the files its globs match.
    pub fn read(spec_path: &Path) -> Result<Self> {
        let unreadable = |path: &Path, e: std::io::Error| {
            SqlError::Invalid(format!("cannot read {}: {e}", path.display()))
        };
        let spec_text = std::fs::read_to_string(spec_path).map_err(|e| unreadable(spec_path, e))?;
        let spec = PipelineSpec::parse(&spec_text)?;
        let base = spec_path.parent().unwrap_or(Path::new("."));
        let mut files = BTreeMap::new();
        for library in &spec.libraries {
            let include = library.glob.include.trim_start_matches("./");
            if include.starts_with('/') || include.split('/').any(|p| p == "..") {
                return Err(SqlError::Invalid(format!(
                    "pipeline library {include}: patterns are relative to the spec's directory \
                     and stay inside it"
                )));
            }
            let pattern = if base.join(include).is_dir() {
                format!("{}/**/*", include.trim_end_matches('/'))
            } else {
                include.to_string()
            };
            let full = base.join(&pattern);
            let matches = glob::glob(&full.to_string_lossy())
                .map_err(|e| SqlError::Invalid(format!("pipeline library {include}: {e}")))?;
            let mut matched = 0;
            for entry in matches {
                let path = entry.map_err(|e| SqlError::Invalid(e.to_string()))?;
                if !path.is_file() {
                    continue;
                }
                matched += 1;
                let relative = path
                    .strip_prefix(base)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                if !relative.ends_with(".sql") {
                    return Err(SqlError::Unsupported(format!(
                        "pipeline file {relative}: only SQL files (.sql) define datasets"
                    )));
                }
                let content = std::fs::read_to_string(&path).map_err(|e| unreadable(&path, e))?;
                files.insert(relative, content);
            }
            if matched == 0 {
                return Err(SqlError::Invalid(format!(
                    "pipeline library {include} matches no files under {}",
                    base.display()
                )));
            }
        }
        if files.len() > MAX_FILES {
            return Err(SqlError::Invalid(format!(
                "the pipeline has {} files; at most {MAX_FILES} are accepted",
                files.len()
            )));
        }
        Ok(Self {
            spec_path: spec_path.to_string_lossy().to_string(),
            spec: spec_text,
            files: files
                .into_iter()
                .map(|(path, content)| BundledFile { path, content })
                .collect(),
        })
    }

    /// A bundle sent as JSON (`appContent` of a submission).
    pub fn from_json(json: &str) -> Result<Self> {
        let bundle: Self = serde_json::from_str(json).map_err(|e| {
            SqlError::Invalid(format!(
                "invalid pipeline bundle (expected {{\"specPath\", \"spec\", \"files\": \
                 [{{\"path\", \"content\"}}]}}): {e}"
            ))
        })?;
        PipelineSpec::parse(&bundle.spec)?;
        if bundle.files.is_empty() {
            return Err(SqlError::Invalid(
                "the pipeline has no SQL files".to_string(),
            ));
        }
        Ok(bundle)
    }

    /// The bundle as JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }
}

/// `sql` with each `${key}` replaced by `values[key]`; an unknown key is an error.
pub fn substitute(sql: &str, values: &BTreeMap<String, String>, file: &str) -> Result<String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(SqlError::Invalid(format!(
                "{file}: unterminated ${{ in the SQL"
            )));
        };
        let key = after[..end].trim();
        let Some(value) = values.get(key) else {
            return Err(SqlError::Invalid(format!(
                "{file}: ${{{key}}} is not in the pipeline's configuration"
            )));
        };
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_in_spark_declarative_pipelines_shape() {
        let spec = PipelineSpec::parse(
            "name: streamify\ncatalog: spark_catalog\nschema: music\nconfiguration:\n  \
             events: 1000\n  kind: listen\nlibraries:\n  - glob:\n      include: \
             transformations/**\n",
        )
        .unwrap();
        assert_eq!(spec.name, "streamify");
        assert_eq!(spec.namespace(), "music");
        assert_eq!(spec.configuration()["events"], "1000");
        assert_eq!(spec.libraries[0].glob.include, "transformations/**");
        assert!(!spec.continuous);
        let e = PipelineSpec::parse("name: x\nlibraries: []\nflavour: 1").unwrap_err();
        assert!(e.to_string().contains("unknown field `flavour`"), "{e}");
        let e = PipelineSpec::parse("name: x\ncatalog: other\nlibraries: [{glob: {include: a}}]")
            .unwrap_err();
        assert!(e.to_string().contains("spark_catalog"), "{e}");
        assert!(PipelineSpec::parse("name: [").is_err());
    }

    #[test]
    fn configuration_fills_placeholders() {
        let values = BTreeMap::from([("n".to_string(), "5".to_string())]);
        assert_eq!(
            substitute("SELECT ${n} + ${ n }", &values, "a.sql").unwrap(),
            "SELECT 5 + 5"
        );
        let e = substitute("SELECT ${m}", &values, "a.sql").unwrap_err();
        assert!(e.to_string().contains("a.sql: ${m} is not in"), "{e}");
    }

    #[test]
    fn bundles_read_the_files_the_globs_match() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("t/sub")).unwrap();
        std::fs::write(dir.path().join("t/a.sql"), "A").unwrap();
        std::fs::write(dir.path().join("t/sub/b.sql"), "B").unwrap();
        let spec = dir.path().join("spark-pipeline.yml");
        std::fs::write(&spec, "name: p\nlibraries:\n  - glob:\n      include: t\n").unwrap();
        let bundle = PipelineBundle::read(&spec).unwrap();
        let paths: Vec<&str> = bundle.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["t/a.sql", "t/sub/b.sql"]);
        let back = PipelineBundle::from_json(&bundle.to_json().unwrap()).unwrap();
        assert_eq!(back, bundle);
        std::fs::write(
            &spec,
            "name: p\nlibraries:\n  - glob:\n      include: none/*.sql\n",
        )
        .unwrap();
        let e = PipelineBundle::read(&spec).unwrap_err();
        assert!(e.to_string().contains("matches no files"), "{e}");
        std::fs::write(
            &spec,
            "name: p\nlibraries:\n  - glob:\n      include: ../x\n",
        )
        .unwrap();
        assert!(PipelineBundle::read(&spec).is_err());
    }
}
