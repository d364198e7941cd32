//! The core of edgepurge: it turns a purge request plus configuration into a plan of outgoing
//! requests, takes back what each instance answered, and builds the report.
//!
//! It does no I/O and reads no clock. The worker performs the I/O the plan asks for and feeds
//! the bytes back; the console uses the same API types and rules in the browser:
//!
//! 1. [`config::Config`] is read from string settings (`[vars]` and secrets on Workers).
//! 2. [`target::Target::parse`] validates each URL; [`config::Config::check_host`] applies the
//!    allowlist.
//! 3. [`discovery`] builds RFC 8484 DNS queries (the message format is [`dns`]) and turns the
//!    answers into instances.
//! 4. [`request::purges_for`] validates a purge request into [`purge::Purge`]s (the Fastly and
//!    Cloudflare forms first become a request through [`compat`]).
//! 5. [`plan::Plan`] groups purges by instance, one connection per instance, under a
//!    concurrency cap; [`http1`] writes each `PURGE` and reads the answer.
//! 6. [`delivery::InstanceDelivery`] runs one instance's queue as a state machine (timeouts,
//!    retries, reconnects, skips), classifying each answer once ([`outcome::classify`]);
//!    [`report::ReportBuilder`] builds the [`api::PurgeReport`] the caller sees.
//! 7. [`retry::RedeliveryPolicy`] decides what happens to what failed, in the background.
//! 8. [`stats::rollups_of`] turns the results into one hourly rollup per instance, and
//!    [`writes`] keeps the store's statements few and within the invocation's budget.
//!
//! Only [`api`] is serialised: it is the one contract between the worker and the console.
#![deny(missing_docs)]

/// Cloudflare Access JWT checks (RS256, the signature itself by the platform): the worker's;
/// off in the console, which checks no JWT.
#[cfg(feature = "access")]
pub mod access;
pub mod api;
pub mod auth;
pub mod check;
pub mod compat;
pub mod config;
pub mod delivery;
pub mod dialect;
pub mod discovery;
pub mod dns;
pub mod error;
pub mod fly;
pub mod history;
pub mod http1;
pub mod idempotency;
pub mod lease;
pub mod limits;
pub mod ndjson;
pub mod notify;
pub mod outcome;
pub mod people;
pub mod plan;
pub mod purge;
pub mod report;
pub mod request;
pub mod retry;
pub mod routes;
pub mod scopes;
pub mod shard;
pub mod stats;
pub mod target;
pub mod trace;
pub mod upstream;
pub mod verify;
pub mod writes;

pub use error::{ApiError, ErrorSource};
