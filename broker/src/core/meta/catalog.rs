//! The log's catalog on the metadata log: [`MetaCatalog`] is the [`CatalogStore`] the broker
//! opens the log with. Each catalog change the log makes (under its single-writer lock) becomes
//! one command holding only what changed — a stream's or a topic's new record, or its removal
//! ([`CatalogChange`], values, not deltas) — durable before the log publishes the change.
//! A data dir from before the metadata log has `catalog.json`; its catalog becomes the first
//! catalog command, and the file is removed once that is durable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use whippet_log::{
    CatalogFile, CatalogLoad, CatalogStore, FileCatalogStore, Log, LogConfig, LogError, OpenReport,
    StreamRecord, TopicRecord,
};

use super::{META_DIR, Meta, MetaCommand, MetaRefusal};

/// Opens the metadata log of the data dir in `config`, then the log with its catalog kept on
/// it. A data dir whose stream directories hold data while neither the metadata log nor an old
/// `catalog.json` exists is refused before anything is created ([`LogError::MissingCatalog`],
/// naming the metadata log): the data must not be taken for a new, empty log. Blocking.
pub fn open_log(config: LogConfig) -> Result<(Arc<Log>, OpenReport, Arc<Meta>), LogError> {
    let data_dir = config.data_dir.clone();
    let state_dir = data_dir.join(whippet_log::catalog::STATE_DIR_NAME);
    let meta_dir = state_dir.join(META_DIR);
    if !meta_dir.exists() && !FileCatalogStore::new(&data_dir).path().exists() {
        whippet_log::catalog::refuse_if_streams_remain(&data_dir, &meta_dir)?;
    }
    let (meta, _) = Meta::open(&state_dir)
        .map_err(|error| LogError::io(&meta_dir, std::io::Error::other(error.to_string())))?;
    let meta = Arc::new(meta);
    let catalog = Arc::new(MetaCatalog::new(Arc::clone(&meta), &data_dir));
    let (log, report) = Log::open_with_catalog(config, catalog)?;
    Ok((log, report, meta))
}

/// One change to the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogChange {
    /// The whole catalog (a new data dir's empty one, or a migrated `catalog.json`).
    Replace(CatalogFile),
    /// A stream's name and creation time (a new stream starts with no topics).
    PutStream {
        /// Its id.
        id: u32,
        /// Its name.
        name: String,
        /// Its creation time, µs.
        created_at_us: i64,
    },
    /// A stream and its topics are gone.
    RemoveStream(u32),
    /// A topic's record as it is now (created, renamed, resized or reconfigured).
    PutTopic {
        /// Its stream.
        stream_id: u32,
        /// The record.
        topic: TopicRecord,
    },
    /// A topic is gone.
    RemoveTopic {
        /// Its stream.
        stream_id: u32,
        /// Its id.
        topic_id: u32,
    },
}

/// Applies `changes` to `catalog` (all or, on refusal, none: the caller applies them to a copy).
pub(super) fn apply(
    catalog: &mut Option<Arc<CatalogFile>>,
    changes: &[CatalogChange],
) -> Result<(), MetaRefusal> {
    for change in changes {
        if let CatalogChange::Replace(file) = change {
            *catalog = Some(Arc::new(file.clone()));
            continue;
        }
        let file = Arc::make_mut(catalog.as_mut().ok_or(MetaRefusal::NoCatalog)?);
        apply_one(file, change)?;
    }
    Ok(())
}

fn apply_one(file: &mut CatalogFile, change: &CatalogChange) -> Result<(), MetaRefusal> {
    let position = |streams: &[StreamRecord], id: u32| streams.binary_search_by_key(&id, |s| s.id);
    match change {
        CatalogChange::Replace(_) => {}
        CatalogChange::PutStream {
            id,
            name,
            created_at_us,
        } => match position(&file.streams, *id) {
            Ok(at) => {
                file.streams[at].name.clone_from(name);
                file.streams[at].created_at_us = *created_at_us;
            }
            Err(at) => file.streams.insert(
                at,
                StreamRecord {
                    id: *id,
                    name: name.clone(),
                    created_at_us: *created_at_us,
                    topics: Vec::new(),
                },
            ),
        },
        CatalogChange::RemoveStream(id) => {
            if let Ok(at) = position(&file.streams, *id) {
                file.streams.remove(at);
            }
        }
        CatalogChange::PutTopic { stream_id, topic } => {
            let at = position(&file.streams, *stream_id).map_err(|_| MetaRefusal::NoCatalog)?;
            let topics = &mut file.streams[at].topics;
            match topics.binary_search_by_key(&topic.id, |t| t.id) {
                Ok(at) => topics[at] = topic.clone(),
                Err(at) => topics.insert(at, topic.clone()),
            }
        }
        CatalogChange::RemoveTopic {
            stream_id,
            topic_id,
        } => {
            if let Ok(at) = position(&file.streams, *stream_id) {
                file.streams[at].topics.retain(|t| t.id != *topic_id);
            }
        }
    }
    Ok(())
}

/// What turns `before` into `after`: the streams and topics that differ.
pub(super) fn diff(before: Option<&CatalogFile>, after: &CatalogFile) -> Vec<CatalogChange> {
    let Some(before) = before.filter(|b| b.format_version == after.format_version) else {
        return vec![CatalogChange::Replace(after.clone())];
    };
    let mut changes = Vec::new();
    for old in &before.streams {
        if !after.streams.iter().any(|s| s.id == old.id) {
            changes.push(CatalogChange::RemoveStream(old.id));
        }
    }
    for new in &after.streams {
        let old = before.streams.iter().find(|s| s.id == new.id);
        if old.is_none_or(|old| old.name != new.name || old.created_at_us != new.created_at_us) {
            changes.push(CatalogChange::PutStream {
                id: new.id,
                name: new.name.clone(),
                created_at_us: new.created_at_us,
            });
        }
        let old_topics = old.map_or(&[][..], |old| &old.topics[..]);
        for topic in old_topics {
            if !new.topics.iter().any(|t| t.id == topic.id) {
                changes.push(CatalogChange::RemoveTopic {
                    stream_id: new.id,
                    topic_id: topic.id,
                });
            }
        }
        for topic in &new.topics {
            if !old_topics.contains(topic) {
                changes.push(CatalogChange::PutTopic {
                    stream_id: new.id,
                    topic: topic.clone(),
                });
            }
        }
    }
    changes
}

/// The catalog kept on the metadata log.
#[derive(Debug)]
pub struct MetaCatalog {
    meta: Arc<Meta>,
    data_dir: PathBuf,
}

impl MetaCatalog {
    /// The catalog of the log in `data_dir`, kept on `meta`.
    pub fn new(meta: Arc<Meta>, data_dir: &Path) -> Self {
        Self {
            meta,
            data_dir: data_dir.to_path_buf(),
        }
    }

    fn error(&self, reason: String) -> LogError {
        LogError::io(self.meta.dir(), std::io::Error::other(reason))
    }
}

impl CatalogStore for MetaCatalog {
    fn load(&self) -> whippet_log::Result<CatalogLoad> {
        let legacy = FileCatalogStore::new(&self.data_dir);
        if let Some(catalog) = &self.meta.load().catalog {
            catalog.check().map_err(|reason| LogError::CorruptCatalog {
                path: self.meta.dir().to_path_buf(),
                reason,
            })?;
            remove_file(&legacy.path())?;
            return Ok(CatalogLoad {
                catalog: Some(CatalogFile::clone(catalog)),
                findings: Vec::new(),
            });
        }
        // Nothing on the metadata log yet: a new data dir, or one from before the log (its
        // catalog.json is checked, and refused when missing while stream data remains, by the
        // file store).
        let loaded = legacy.load()?;
        if let Some(file) = &loaded.catalog {
            self.store(file)?;
            remove_file(&legacy.path())?;
        }
        Ok(loaded)
    }

    fn keeps_log_starts(&self) -> bool {
        true
    }

    fn store(&self, catalog: &CatalogFile) -> whippet_log::Result<()> {
        let changes = diff(self.meta.load().catalog.as_deref(), catalog);
        if changes.is_empty() {
            return Ok(());
        }
        self.meta
            .submit_blocking(MetaCommand::Catalog(changes))
            .map(drop)
            .map_err(|error| self.error(format!("catalog change not durable: {error}")))
    }
}

fn remove_file(path: &Path) -> whippet_log::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(LogError::io(path, error))
        }
        _ => Ok(()),
    }
}
