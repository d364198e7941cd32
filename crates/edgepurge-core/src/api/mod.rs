//! The HTTP API's JSON types: the one serialised contract between the worker and the console.
//!
//! Everything else in the core is plain Rust; keeping serde here means a change to the wire
//! format is a change to this module and nowhere else. Field names are `snake_case`; optional
//! fields are omitted when absent rather than sent as `null`.
//!
//! One file per concern, every type re-exported here (`edgepurge_core::api::Outcome`); string
//! enums are declared once, with `str_enum!` (`wire.rs`).

mod wire;

mod deliveries;
mod health;
mod history;
mod inspect;
mod instance;
mod notify;
mod people;
mod problem;
mod purge;
mod report;

pub mod compat;
pub mod shard;

pub use deliveries::{DeliveriesQuery, DeliveriesReply, Delivery, DeliveryStatus};
pub use health::{ExportStatus, Health};
pub use history::{HistoryEntry, HistoryKind, HistoryPage, HistoryQuery, HistoryStatus, Replay};
pub use inspect::{
    CheckReport, GroupError, HostInstances, InstanceCheck, InstanceStats, InstancesReply, LastPurge, VerifyReport,
    VerifyRequest, VerifyResult, CHECK_PATH,
};
pub use instance::{CacheStatusFormat, Contract, SkippedInstance, Transport};
pub use notify::{FailingInstance, Notification, NotifyKind, NotifyStatus};
pub use people::{
    IssuedToken, Me, NewPerson, NewToken, Person, PersonUpdate, PurgeKinds, Role, SignIn, TokenInfo, TokenScopes, Via,
};
pub use problem::{ErrorSource, Problem, PROBLEM_CONTENT_TYPE};
pub use purge::{Pair, PurgeEvent, PurgeRequest};
pub use report::{Confirmation, Outcome, PlanSummary, PurgeReport, PurgeResult, PurgeStatus, SkippedGroup, Summary};
