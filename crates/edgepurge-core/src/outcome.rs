//! Classification of what one instance did with one `PURGE`: one pure function, [`classify`].
//!
//! Like pingora's purge handling, every possible reply maps to exactly one [`Outcome`], and the
//! mapping lives here and nowhere else. It depends on the instance's contract
//! ([`crate::dialect`]):
//!
//! - `edgepurge` (see `vcl/edgepurge.vcl`): `200` with `Purge-Count: N` objects removed (`0`
//!   means it was not cached) or, for a ban, `Purge-Ban: added`; `401` for a bad purge token. A
//!   success without either, or a 404, did not come from the contract: it is `unconfirmed`,
//!   never `purged`.
//! - `plain` (Varnish's `return(purge)` as in Pipely, nginx cache_purge, Apache Traffic
//!   Server): the cache purges the request's URL and says so with any 2xx, which is `purged`
//!   (a `Purge-Count`, if one comes, is believed); nginx and ATS answer 404 for a URL they did
//!   not hold, which is `not_cached`.

use crate::api::{Contract, Outcome};
use crate::http1::{Answer, AnswerError};
use std::fmt;

/// The answer header carrying how many objects a purge removed.
pub const PURGE_COUNT_HEADER: &str = "Purge-Count";
/// The answer header confirming a ban (prefix and host purges) was added.
pub const PURGE_BAN_HEADER: &str = "Purge-Ban";

/// Why a request produced no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// The TCP connection could not be opened.
    Connect(String),
    /// No complete answer within the per-instance timeout (milliseconds).
    Timeout(u32),
    /// The connection failed while writing or reading.
    Io(String),
    /// The bytes that came back are not a usable HTTP answer.
    Answer(AnswerError),
    /// Not sent, because an earlier request to the same instance could not connect or timed
    /// out; carries that earlier error.
    Skipped(Box<DeliveryError>),
    /// Sent (pipelined behind a request that then failed), but never answered, and not sent
    /// again because the instance became unreachable; carries that error. Whether the instance
    /// acted on it is unknown.
    Unanswered(Box<DeliveryError>),
    /// Not sent, because the job had opened all the connections its share of
    /// `SUBREQUEST_BUDGET` allows (the number).
    Budget(u32),
    /// The error a shard reported for a request it ran (classified there).
    Relayed(String),
    /// Not finished when the fan-out's deadline came (the time the platform allows the path it
    /// runs on): `sent` and unanswered, or never sent. Queued for redelivery.
    Deadline {
        /// Whether it had been written to the instance.
        sent: bool,
    },
}

impl DeliveryError {
    /// Whether the instance is unreachable, so the rest of its queue should not be tried now.
    pub fn instance_unreachable(&self) -> bool {
        matches!(
            self,
            DeliveryError::Connect(_)
                | DeliveryError::Timeout(_)
                | DeliveryError::Skipped(_)
                | DeliveryError::Unanswered(_)
        )
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Connect(e) => write!(f, "connection failed: {e}"),
            DeliveryError::Timeout(ms) => write!(f, "no answer within {ms} ms"),
            DeliveryError::Io(e) => write!(f, "connection broke: {e}"),
            DeliveryError::Answer(e) => e.fmt(f),
            DeliveryError::Skipped(e) => write!(f, "not sent: instance unreachable ({e})"),
            DeliveryError::Unanswered(e) => {
                write!(f, "sent, but no answer came before the instance became unreachable ({e})")
            }
            DeliveryError::Budget(n) => {
                write!(f, "not sent: this instance's {n} connections of SUBREQUEST_BUDGET are spent")
            }
            DeliveryError::Relayed(e) => f.write_str(e),
            DeliveryError::Deadline { sent: true } => f.write_str(
                "sent, but not answered before the fan-out's deadline (FAN_OUT_DEADLINE_MS, the time the platform \
                 allows): queued for redelivery",
            ),
            DeliveryError::Deadline { sent: false } => f.write_str(
                "not sent before the fan-out's deadline (FAN_OUT_DEADLINE_MS, the time the platform allows): queued \
                 for redelivery",
            ),
        }
    }
}

/// One classified (URL, instance) result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// What happened.
    pub outcome: Outcome,
    /// The instance's status code, when it answered.
    pub http_status: Option<u16>,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// Whether the same purge may succeed if sent again.
    pub retryable: bool,
}

/// Maps an instance's answer (or the failure to get one) to an outcome, as its `contract` reads.
pub fn classify(reply: &Result<Answer, DeliveryError>, contract: Contract) -> Classified {
    let answer = match reply {
        Ok(a) => a,
        Err(e) => {
            let retryable = !matches!(e, DeliveryError::Answer(AnswerError::Malformed(_) | AnswerError::TooLarge));
            return Classified { outcome: Outcome::Failed, http_status: None, error: Some(e.to_string()), retryable };
        }
    };
    let status = answer.status;
    let count = answer.header(PURGE_COUNT_HEADER).map(|v| v.parse::<u64>());
    let not_contract = "is the edgepurge VCL included, or should the rule say :contract=plain?";
    let (outcome, error, retryable) = match (contract, status) {
        (_, 200..=299) if count == Some(Ok(0)) => (Outcome::NotCached, None, false),
        (_, 200..=299) if matches!(count, Some(Ok(_))) => (Outcome::Purged, None, false),
        (Contract::Edgepurge, 200..=299) if answer.header(PURGE_BAN_HEADER).is_some() => (Outcome::Purged, None, false),
        (Contract::Plain, 200..=299) => (Outcome::Purged, None, false),
        (Contract::Plain, 404) => (Outcome::NotCached, None, false),
        (Contract::Edgepurge, 200..=299) => (
            Outcome::Unconfirmed,
            Some(format!("instance answered {status} without {PURGE_COUNT_HEADER}: {not_contract}")),
            false,
        ),
        (Contract::Edgepurge, 404 | 410) => (
            Outcome::Unconfirmed,
            Some(format!("instance answered {status}, not the VCL contract's answer: {not_contract}")),
            false,
        ),
        (_, 401 | 403) => (
            Outcome::Rejected,
            Some(format!(
                "instance refused the purge token ({status}): check PURGE_TOKEN (and the rule's token-header) \
                 against the instance"
            )),
            false,
        ),
        (Contract::Edgepurge, 405 | 501) => (
            Outcome::Rejected,
            Some(format!("instance does not accept PURGE ({status}): is the edgepurge VCL included?")),
            false,
        ),
        (Contract::Plain, 405 | 501) => {
            (Outcome::Rejected, Some(format!("instance does not accept PURGE ({status})")), false)
        }
        (_, 400..=499) => (Outcome::Rejected, Some(format!("instance rejected the purge ({status})")), false),
        (_, 500..=599) => (Outcome::Failed, Some(format!("instance error ({status})")), true),
        _ => (Outcome::Failed, Some(format!("unexpected answer status {status}")), false),
    };
    Classified { outcome, http_status: Some(status), error, retryable }
}
