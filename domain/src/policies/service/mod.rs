//! The policy builder's operations: applications and policies (every change audited in the
//! same transaction), live preview against the synced directory, "Test a user", export and
//! import, labels with current names, and the compiled snapshot for forward auth.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, PoisonError, RwLock,
    },
};

use portcullis_types::{ExportedProvider, ProviderMatch, ProviderMatchKind, ProviderOption};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    eval::{Decision, Facts, Subject},
    export::{ImportMode, ImportResult, ImportTarget, PolicyDocument, Reference},
    model::{Action, Application, ApplicationInput, GroupRef, HostRule, Policy, PolicyInput, Rules, Selector, UserRef},
    snapshot::{Snapshot, Verdict},
    validate::{self, PolicyError, MAX_POLICIES},
};
use crate::{
    audit::{self, Actor, Audit, Event},
    store::{
        new_id, now_ms,
        policies::{ApplicationRow, DirectoryStamp, HostRow, NewApplication, PersonRow, PolicyRow},
        DirectoryQuery, ProviderRow, Store, StoreError, Write,
    },
};

mod access;
mod applications;
mod pickers;
mod policies;
mod preview;
mod rows;
mod transfer;
mod uses;

pub use pickers::{GroupOption, Labels, SelectorView, UserOption};
pub use policies::{Move, PolicyView};
use preview::DirectoryIndex;
pub use preview::{Preview, PreviewUser, TestPerson, PREVIEW_LIST};
use rows::*;
pub use transfer::WantedApplication;
pub use uses::GroupUse;

#[derive(Debug, Default)]
struct Shared {
    /// Bumped by every change: a snapshot built before it is stale.
    generation: AtomicU64,
    snapshot: RwLock<Option<(u64, Arc<Snapshot>)>>,
    directory: tokio::sync::Mutex<Option<(DirectoryStamp, Arc<DirectoryIndex>)>>,
}

/// Clones share the cached snapshot and directory: keep one service per process.
#[derive(Clone, Debug)]
pub struct PolicyService {
    store: Store,
    audit: Audit,
    shared: Arc<Shared>,
}

impl PolicyService {
    pub fn new(store: Store) -> Self {
        let audit = Audit::new(store.clone());
        Self { store, audit, shared: Arc::default() }
    }
}
