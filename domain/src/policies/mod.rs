//! Access policies: applications (hostnames, path prefixes, session duration), their ordered
//! Allow, Block and Bypass policies, and evaluation.
//!
//! - [`model`]: the types and their stable JSON shape.
//! - [`validate`]: checks and normalisation, with errors that say what to fix.
//! - [`eval`]: matching a person ([`Subject`]) against selectors and rules; decisions and
//!   their explanation.
//! - [`snapshot`]: the compiled, immutable [`Snapshot`] that forward auth routes and decides
//!   with, in memory.
//! - [`export`]: the versioned export document.
//! - [`service`]: [`PolicyService`], the operations behind the policy builder's pages.
//!
//! Evaluation order: enabled Bypass and Block policies first, in the admin's order; then
//! Allow policies in order; the first whose rules match decides. No match: blocked.

pub mod error;
pub mod eval;
pub mod export;
pub mod model;
pub mod path;
#[cfg(test)]
mod proptests;
pub mod service;
pub mod snapshot;
pub mod validate;

pub use error::PolicyError;
pub use eval::{Decision, Facts, Matches, Outcome, Step, StepResult, Subject};
pub use export::{ImportMode, ImportResult, ImportTarget, PolicyDocument, Reference};
pub use model::{
    Action, Application, ApplicationInput, GroupRef, HostRule, Policy, PolicyInput, Rules, Selector, UserRef,
};
pub use portcullis_types::{ExportedProvider, ProviderMatch, ProviderMatchKind, ProviderOption};
pub use service::{
    GroupOption, GroupUse, Labels, Move, PolicyService, PolicyView, Preview, PreviewUser, SelectorView, UserOption,
    WantedApplication,
};
pub use snapshot::{CompiledApp, Snapshot, Verdict};
