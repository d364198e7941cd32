//! `Idempotency-Key` on `POST /api/purge`: a caller that timed out and sends its purge again
//! gets the first purge's answer, and no `PURGE` leaves twice.
//!
//! The key is remembered per caller (person) for `IDEMPOTENCY_WINDOW_MS`, together with a
//! fingerprint of the request it came with and the history entry of its purge, written in the
//! same D1 batch as that entry (so two concurrent requests with one key cannot both start a
//! purge: the second batch fails on the key and writes nothing). Within the window, the same key
//! with the same request answers with that entry; with another request it is a 422.

use crate::api::{HistoryEntry, HistoryStatus, PurgeReport, PurgeRequest, PurgeStatus, Summary};
use crate::auth::secret_hash;
use crate::error::{ApiError, ErrorKind};
use crate::history::MAX_RESULTS;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";
/// The longest header value accepted (255 characters, quoted).
pub const MAX_KEY_LEN: usize = 257;
/// Default `IDEMPOTENCY_WINDOW_MS`: a day.
pub const DEFAULT_WINDOW_MS: u32 = 86_400_000;

/// Reads the header's value: 1 to [`MAX_KEY_LEN`] printable ASCII characters without spaces (a
/// UUID, say), or a 400. The draft standard's quoted sf-string form (`"8e03..."`) is read
/// without its quotes, so both spellings of one key are one key.
pub fn key(raw: &str) -> Result<String, ApiError> {
    let value = raw.trim();
    if value.is_empty() || value.len() > MAX_KEY_LEN || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(format!(
            "{HEADER}: 1 to {MAX_KEY_LEN} printable ASCII characters without spaces"
        )));
    }
    let unquoted = value.strip_prefix('"').and_then(|k| k.strip_suffix('"')).filter(|k| !k.is_empty());
    Ok(unquoted.unwrap_or(value).to_owned())
}

/// What identifies a request for a key: SHA-256 of its JSON as read (fields in their fixed
/// order, absent ones as their defaults), so the same purge sent again matches whatever the
/// spacing or field order of the body.
pub fn fingerprint(request: &PurgeRequest) -> String {
    secret_hash(&serde_json::to_string(request).unwrap_or_default())
}

/// A key as the store remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The fingerprint of the request it came with.
    pub fingerprint: String,
    /// The history entry of that purge.
    pub entry: i64,
    /// When, ms.
    pub at: i64,
}

/// What a request with a key does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A new purge, which remembers the key.
    Fresh,
    /// The purge was asked for already: answer with this history entry, send nothing.
    Again(i64),
}

/// Decides for a request with `fingerprint` what its key's `remembered` purge (if any, and
/// within `window_ms` of `now`) means: a new purge, the same one again, or a 422 for another
/// request under a key already used.
pub fn decide(
    remembered: Option<&Remembered>,
    fingerprint: &str,
    now: i64,
    window_ms: u32,
) -> Result<Decision, ApiError> {
    match remembered {
        Some(r) if now - r.at <= i64::from(window_ms) => {
            if r.fingerprint == fingerprint {
                Ok(Decision::Again(r.entry))
            } else {
                Err(ApiError::new(
                    ErrorKind::IdempotencyKeyReused,
                    format!("this {HEADER} was used for another request (history entry {})", r.entry),
                ))
            }
        }
        _ => Ok(Decision::Fresh),
    }
}

/// The answer to a request sent again: the first purge's report, from its history entry (the
/// rows the history keeps), or a 409 while that purge is still running.
pub fn report_of(entry: &HistoryEntry) -> Result<PurgeReport, ApiError> {
    let status = match entry.status {
        HistoryStatus::Purged => PurgeStatus::Purged,
        HistoryStatus::Partial => PurgeStatus::Partial,
        HistoryStatus::Failed => PurgeStatus::Failed,
        HistoryStatus::Running => {
            let mut e = ApiError::new(
                ErrorKind::IdempotencyKeyInUse,
                format!("the purge with this {HEADER} is still running (history entry {}): ask again", entry.id),
            );
            e.retry_after_secs = Some(1);
            return Err(e);
        }
        HistoryStatus::Denied => {
            return Err(ApiError::new(ErrorKind::Internal, "a refused request does not remember its key"))
        }
    };
    let summary = Summary::of(&entry.results);
    let instances: std::collections::BTreeSet<&str> = entry.results.iter().map(|r| r.instance.as_str()).collect();
    let plan = crate::api::PlanSummary { instances: instances.len(), requests: entry.results.len(), concurrency: 0 };
    Ok(PurgeReport {
        status,
        summary,
        plan,
        results: entry.results.clone(),
        skipped: Vec::new(),
        skipped_instances: Vec::new(),
        // The history keeps at most MAX_RESULTS rows of a purge: say so rather than hide the rest.
        audit_error: (entry.results.len() >= MAX_RESULTS).then(|| {
            format!(
                "the first purge's report as history entry {} keeps it: at most {MAX_RESULTS} rows, those that did \
                 not succeed first",
                entry.id
            )
        }),
        trace_id: entry.trace_id.clone(),
    })
}
