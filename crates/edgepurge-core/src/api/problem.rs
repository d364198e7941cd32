//! RFC 9457 problem details: how every refusal and failure is answered.

use super::wire::str_enum;
use serde::{Deserialize, Serialize};

/// An RFC 9457 problem details object (`application/problem+json`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the problem type, e.g. `urn:edgepurge:problem:unauthorized`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for a human.
    pub detail: String,
    /// Where the fault lies: `caller`, `config`, `discovery`, `instance`, `worker`, `store` or
    /// `access`.
    pub source: ErrorSource,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// The configuration setting at fault, for `config` problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// The offending URL or host, when one is at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

str_enum! {
    /// Where a fault lies.
    pub enum ErrorSource {
        /// The request: its token, body or URLs.
        Caller = "caller",
        /// The deployment's configuration.
        Config = "config",
        /// Instance discovery (DNS over HTTPS).
        Discovery = "discovery",
        /// A cache instance.
        Instance = "instance",
        /// The worker itself: a failure no request should cause.
        Worker = "worker",
        /// The store (D1): the history or the invocation's statement budget.
        Store = "store",
        /// Cloudflare Access: its key set could not be fetched.
        Access = "access",
    }
}

/// The media type of [`Problem`] bodies (RFC 9457 section 3).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
