//! The catalog seam: where [`crate::Log`] keeps its catalog. The log hands every catalog
//! change to a [`CatalogStore`] as the whole catalog after the change ([`CatalogFile`]), under
//! its single-writer lock, and publishes the change only once `store` returned; at open it asks
//! the store for the catalog. [`FileCatalogStore`] keeps it in `<data_dir>/catalog.json`
//! (atomic replace); the broker keeps it on its metadata log instead, turning each change into
//! a command of what changed. The log knows nothing of the broker's store; the broker reads
//! the catalog's records, never the log's internals.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use crate::catalog::{self, CatalogFile};
use crate::catalog_scan::{DataDirFinding, FindingKind};
use crate::error::Result;

/// What loading a catalog found.
#[derive(Debug, Default)]
pub struct CatalogLoad {
    /// The catalog, or `None` when this data directory never had one.
    pub catalog: Option<CatalogFile>,
    /// What the store noticed and did while loading (a removed temporary file), reported with
    /// the log's open.
    pub findings: Vec<DataDirFinding>,
}

/// Where the catalog is kept.
pub trait CatalogStore: Send + Sync + Debug {
    /// The catalog as last stored, checked ([`CatalogFile::check`]); `catalog: None` when none
    /// was ever stored. A store that finds no catalog while `<data_dir>/streams` holds data
    /// answers [`crate::LogError::MissingCatalog`] rather than `None`.
    fn load(&self) -> Result<CatalogLoad>;
    /// Durably replaces the stored catalog with `catalog`, the whole catalog after one change.
    /// Returns only once the change would survive a crash; on error the change is not made.
    fn store(&self, catalog: &CatalogFile) -> Result<()>;
    /// Whether this store keeps the partitions' log starts too ([`TopicRecord::log_starts`]):
    /// then a delete-records is a catalog change, and a partition's own `log_start.offset`
    /// (of a data dir from before) is moved into the catalog at open and removed. By default
    /// the partitions keep their own.
    ///
    /// [`TopicRecord::log_starts`]: crate::TopicRecord::log_starts
    fn keeps_log_starts(&self) -> bool {
        false
    }
}

/// The catalog as one JSON file, `<data_dir>/catalog.json`, replaced atomically (temp file,
/// fsync, rename, fsync of the directory) so a crash leaves the old or the new catalog.
#[derive(Debug, Clone)]
pub struct FileCatalogStore {
    data_dir: PathBuf,
}

impl FileCatalogStore {
    /// The catalog file of `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// Where the file is.
    pub fn path(&self) -> PathBuf {
        self.data_dir.join(catalog::CATALOG_FILE_NAME)
    }
}

impl CatalogStore for FileCatalogStore {
    fn load(&self) -> Result<CatalogLoad> {
        let loaded = catalog::load(&self.data_dir)?;
        let findings = loaded
            .removed_tmp
            .map(|path| DataDirFinding {
                path,
                kind: FindingKind::RemovedCatalogTmp,
            })
            .into_iter()
            .collect();
        Ok(CatalogLoad {
            catalog: loaded.catalog,
            findings,
        })
    }

    fn store(&self, catalog: &CatalogFile) -> Result<()> {
        catalog::store(&self.data_dir, catalog)
    }
}
