//! The metadata state and its commands: what [`MetaState::apply`] does with each, and the
//! snapshot layout. Every command carries values (never "now" or a random number read while
//! applying), so replaying the log rebuilds exactly the state that was published.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use whippet_coordinator::native_groups::StoredGroup;
use whippet_log::CatalogFile;
use whippet_meta::StateMachine;

use super::catalog::{self, CatalogChange};
use super::groups::GroupsState;
use crate::core::txn::state::{Transactions, TransactionsSnapshot, TxnCommand, TxnRefusal};
use crate::core::users::UserError;
use crate::core::users::commands::{self as user_commands, UserCommand};
use crate::core::users::model::{Directory, User};
use whippet_coordinator::persist::{Changes, Checkpoint};

/// Snapshot layout version; another one is refused rather than misread.
const SNAPSHOT_VERSION: u32 = 1;

/// Everything the metadata log holds, as of the last acknowledged command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaState {
    /// Users, permissions and personal access tokens.
    pub users: Arc<Directory>,
    /// Bumped by every applied user command (not persisted: it tells open sessions of this
    /// process to check themselves again).
    pub users_version: u64,
    /// Native consumer-group definitions (memberships are not metadata: they end with their
    /// connections).
    pub native_groups: Arc<Vec<StoredGroup>>,
    /// No producer id at or above this was ever handed out; the next block starts here.
    pub producer_ids_reserved: i64,
    /// Broker config overrides altered at run time, name → value.
    pub broker_configs: Arc<BTreeMap<String, String>>,
    /// The cluster id Kafka clients see, once created.
    pub cluster_id: Option<String>,
    /// The log's catalog (streams, topics, partition counts, topic settings), once stored.
    pub catalog: Option<Arc<CatalogFile>>,
    /// Consumer groups' durable metadata and committed offsets of both protocols.
    pub groups: Arc<GroupsState>,
    /// Kafka transactions: transactional ids and the partitions' aborted ranges.
    pub txns: Arc<Transactions>,
}

/// One change to the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaCommand {
    /// A change to users, permissions or tokens.
    Users(UserCommand),
    /// The native consumer-group definitions, all of them as they are now (they change
    /// rarely, by admin commands, and are few: a whole set keeps concurrent creates and the
    /// cascade of a deleted topic in one order without a second source of truth).
    NativeGroups(Vec<StoredGroup>),
    /// Producer ids below `below` are taken (never lowers what was reserved).
    ReserveProducerIds {
        /// The new end of the reserved range.
        below: i64,
    },
    /// Broker config overrides set (name → value) and reset (back to their defaults).
    BrokerConfigs {
        /// Overrides set.
        set: BTreeMap<String, String>,
        /// Overrides removed.
        reset: Vec<String>,
    },
    /// The cluster id, set once: refused when another one is already set.
    ClusterId(String),
    /// One change of the log's catalog, as the streams and topics it touched now are.
    Catalog(Vec<CatalogChange>),
    /// One change set of the group coordinator: groups' metadata and committed offsets.
    Groups(Changes),
    /// One change of the transactions' state.
    Txn(TxnCommand),
}

/// What an applied command answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaApplied {
    /// The id of the user a user command involved.
    User(u32),
    /// The command has no value to answer.
    Done,
}

/// Why a command was refused (nothing changed, nothing was logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaRefusal {
    /// A user command's rule refused it.
    Users(UserError),
    /// A cluster id is set already (and it is this one).
    ClusterIdSet(String),
    /// A catalog change names a catalog (or a stream) that is not there.
    NoCatalog,
    /// A transaction command does not fit the transaction's state.
    Txn(TxnRefusal),
}

/// The snapshot layout: every field but the users defaults, so a snapshot written before a
/// part moved onto the log still loads.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    users: Vec<User>,
    #[serde(default)]
    native_groups: Vec<StoredGroup>,
    #[serde(default)]
    producer_ids_reserved: i64,
    #[serde(default)]
    broker_configs: BTreeMap<String, String>,
    #[serde(default)]
    cluster_id: Option<String>,
    #[serde(default)]
    catalog: Option<CatalogFile>,
    #[serde(default)]
    groups: Option<Checkpoint>,
    #[serde(default)]
    txns: Option<TransactionsSnapshot>,
}

impl StateMachine for MetaState {
    type Command = MetaCommand;
    type Applied = MetaApplied;
    type Rejected = MetaRefusal;

    fn apply(&mut self, command: &MetaCommand) -> Result<MetaApplied, MetaRefusal> {
        match command {
            MetaCommand::Users(command) => {
                let id = user_commands::apply(Arc::make_mut(&mut self.users), command)
                    .map_err(MetaRefusal::Users)?;
                self.users_version += 1;
                return Ok(MetaApplied::User(id));
            }
            MetaCommand::NativeGroups(groups) => self.native_groups = Arc::new(groups.clone()),
            MetaCommand::ReserveProducerIds { below } => {
                self.producer_ids_reserved = self.producer_ids_reserved.max(*below);
            }
            MetaCommand::BrokerConfigs { set, reset } => {
                let configs = Arc::make_mut(&mut self.broker_configs);
                for name in reset {
                    configs.remove(name);
                }
                configs.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            MetaCommand::Groups(changes) => Arc::make_mut(&mut self.groups).apply(changes),
            MetaCommand::Catalog(changes) => {
                let mut next = self.catalog.clone();
                catalog::apply(&mut next, changes)?;
                self.catalog = next;
            }
            MetaCommand::Txn(command) => Arc::make_mut(&mut self.txns)
                .apply(command)
                .map_err(MetaRefusal::Txn)?,
            MetaCommand::ClusterId(id) => match &self.cluster_id {
                Some(set) if set != id => return Err(MetaRefusal::ClusterIdSet(set.clone())),
                _ => self.cluster_id = Some(id.clone()),
            },
        }
        Ok(MetaApplied::Done)
    }

    fn encode_command(command: &MetaCommand) -> Result<Vec<u8>, String> {
        serde_json::to_vec(command).map_err(|error| error.to_string())
    }

    fn decode_command(bytes: &[u8]) -> Result<MetaCommand, String> {
        serde_json::from_slice(bytes).map_err(|error| error.to_string())
    }

    fn encode_snapshot(&self) -> Result<Vec<u8>, String> {
        let snapshot = Snapshot {
            version: SNAPSHOT_VERSION,
            users: self.users.users().cloned().collect(),
            native_groups: self.native_groups.to_vec(),
            producer_ids_reserved: self.producer_ids_reserved,
            broker_configs: BTreeMap::clone(&self.broker_configs),
            cluster_id: self.cluster_id.clone(),
            catalog: self.catalog.as_deref().cloned(),
            groups: Some(self.groups.to_checkpoint()),
            txns: Some(self.txns.to_snapshot()),
        };
        serde_json::to_vec(&snapshot).map_err(|error| error.to_string())
    }

    fn decode_snapshot(bytes: &[u8]) -> Result<Self, String> {
        let snapshot: Snapshot =
            serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(format!("unknown snapshot version {}", snapshot.version));
        }
        Ok(Self {
            users: Arc::new(Directory::from_users(snapshot.users)?),
            users_version: 0,
            native_groups: Arc::new(snapshot.native_groups),
            producer_ids_reserved: snapshot.producer_ids_reserved,
            broker_configs: Arc::new(snapshot.broker_configs),
            cluster_id: snapshot.cluster_id,
            catalog: snapshot.catalog.map(Arc::new),
            groups: Arc::new(
                snapshot
                    .groups
                    .as_ref()
                    .map(GroupsState::from_checkpoint)
                    .unwrap_or_default(),
            ),
            txns: Arc::new(
                snapshot
                    .txns
                    .map(Transactions::from_snapshot)
                    .unwrap_or_default(),
            ),
        })
    }
}
