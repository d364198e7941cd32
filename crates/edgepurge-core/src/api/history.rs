//! `GET /api/history`: every purge attempt, denied ones and instance checks included, and what a
//! running purge keeps to be run again.

use super::wire::str_enum;
use super::{PurgeResult, PurgeStatus};
use serde::{Deserialize, Serialize};

/// One purge attempt in the history, denied ones included.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Id; higher is newer.
    pub id: i64,
    /// When, ms since the epoch.
    pub at: i64,
    /// Who: a person's name, or a description of a refused caller.
    pub actor: String,
    /// The label of the token used (for a console session, the token it was signed in with;
    /// `API_TOKENS` for a bootstrap token); absent for Access and older entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The items asked for, by their labels: at most 100, each cut at 1,024 characters
    /// (`crate::history`); `item_count` says how many there were.
    pub urls: Vec<String>,
    /// How many items the request had (absent in entries older than this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_count: Option<usize>,
    /// `purged`, `partial`, `failed`, `denied` (refused before any purge), or `running`
    /// (written before the fan-out and not completed).
    pub status: HistoryStatus,
    /// The HTTP status the caller got.
    pub http_status: u16,
    /// Why it was denied, for denied attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Per (URL, instance) results.
    #[serde(default)]
    pub results: Vec<PurgeResult>,
    /// The W3C trace id of the request (absent in older entries and untraced refusals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// A purge, or an instance check (whose `urls` are the groups checked and whose `detail`
    /// names each warning).
    #[serde(default)]
    pub kind: HistoryKind,
    /// The purge was cut off mid-fan-out (the worker stopped) and run again by the cron once
    /// its lease ran out: its results are that run's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
}

/// What a running purge's history entry keeps to be run again by the cron if it is cut off
/// (stored while it runs, never sent): its items in full, by their labels, and what it
/// confirms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    /// Every item's label (`Purge::label`), in full.
    pub items: Vec<String>,
    /// `confirm`: a `HEAD` behind each URL's `PURGE`.
    #[serde(default)]
    pub confirm: bool,
    /// `confirm_urls`, normalised.
    #[serde(default)]
    pub confirm_urls: Vec<String>,
}

str_enum! {
    /// What a history entry records.
    #[derive(Default)]
    pub enum HistoryKind {
        /// A purge (or a refused attempt at one).
        #[default]
        Purge = "purge",
        /// An instance check: nothing purged.
        Check = "check",
    }
}

str_enum! {
    /// How a purge attempt ended, as the history keeps it.
    pub enum HistoryStatus {
        /// Every (item, instance) pair succeeded.
        Purged = "purged",
        /// Some pairs succeeded.
        Partial = "partial",
        /// It ran and no pair succeeded, or it failed before running for a reason not the caller's
        /// (a 5xx: configuration, discovery).
        Failed = "failed",
        /// Refused before any purge: authentication, role, validation, rate limit (a 4xx).
        Denied = "denied",
        /// Written before the first `PURGE` left and not completed since: the worker stopped
        /// during the fan-out, or could not write the results.
        Running = "running",
    }
}

impl HistoryStatus {
    /// The status of an attempt refused with HTTP `status` before any purge.
    pub fn refused(status: u16) -> HistoryStatus {
        if status < 500 {
            HistoryStatus::Denied
        } else {
            HistoryStatus::Failed
        }
    }
}

impl From<PurgeStatus> for HistoryStatus {
    fn from(s: PurgeStatus) -> Self {
        match s {
            PurgeStatus::Purged => HistoryStatus::Purged,
            PurgeStatus::Partial => HistoryStatus::Partial,
            PurgeStatus::Failed => HistoryStatus::Failed,
        }
    }
}

/// The query string of `GET /api/history` (`?url=&actor=&before=&limit=`), as sent: every
/// field is text so that `crate::request::history_filter` can refuse a bad one with a clear
/// problem (and ignore empty ones, as a form submits them).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// Only entries whose items contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Only entries by this actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only entries older than this id (the previous page's `next_before`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Entries per page, 1 to 100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// Reply of `GET /api/history`, newest first.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// This page.
    pub entries: Vec<HistoryEntry>,
    /// Pass as `before` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}
