//! The purge history: each attempt's entry (refused ones whole, accepted ones opened before
//! their fan-out and completed after it, see [`super::leases`]), and pages of it newest first.

use super::{corrupt, n, opt, opt_n, s, Id, Store};
use crate::problem::internal;
use edgepurge_core::api::{HistoryEntry, HistoryKind, HistoryPage, HistoryStatus, Replay};
use edgepurge_core::history;
use edgepurge_core::request::HistoryFilter;
use edgepurge_core::ApiError;
use serde::Deserialize;
use wasm_bindgen::JsValue;

/// A `purges` row.
#[derive(Deserialize)]
struct PurgeRow {
    id: i64,
    at: i64,
    actor: String,
    urls: String,
    status: String,
    http_status: u16,
    detail: Option<String>,
    results: String,
    item_count: Option<usize>,
    trace_id: Option<String>,
    kind: String,
    recovered: i64,
    token: Option<String>,
}

impl PurgeRow {
    fn entry(self) -> Result<HistoryEntry, ApiError> {
        let id = self.id;
        Ok(HistoryEntry {
            id,
            at: self.at,
            actor: self.actor,
            token: self.token,
            urls: serde_json::from_str(&self.urls).map_err(|e| corrupt("purges", id, format!("urls: {e}")))?,
            status: HistoryStatus::parse(&self.status)
                .ok_or_else(|| corrupt("purges", id, format!("unknown status {:?}", self.status)))?,
            http_status: self.http_status,
            detail: self.detail,
            results: serde_json::from_str(&self.results).map_err(|e| corrupt("purges", id, format!("results: {e}")))?,
            item_count: self.item_count,
            trace_id: self.trace_id,
            kind: HistoryKind::parse(&self.kind)
                .ok_or_else(|| corrupt("purges", id, format!("unknown kind {:?}", self.kind)))?,
            recovered: self.recovered != 0,
        })
    }
}

/// A running purge's lease: until when, whose, and what to run again if it is cut off.
pub struct Lease {
    pub until: i64,
    pub owner: String,
    pub replay: Replay,
}

/// A purge attempt as the history opens it: a refused one whole, an accepted one before its
/// fan-out (status `running`), to be completed by a [`super::Completion`].
pub struct HistoryRecord {
    pub at: i64,
    pub actor: String,
    /// The label of the token the caller came with, when they came with one.
    pub token: Option<String>,
    pub person_id: Option<i64>,
    /// The items, as the core labels them (stored bounded, see `edgepurge_core::history`).
    pub labels: Vec<String>,
    pub status: HistoryStatus,
    pub http_status: u16,
    pub detail: Option<String>,
    /// The W3C trace id of the request, when it was traced.
    pub trace_id: Option<String>,
    /// A purge or an instance check.
    pub kind: HistoryKind,
    /// For a purge written ahead of its fan-out: its lease (`edgepurge_core::lease`).
    pub lease: Option<Lease>,
}

/// A new entry's `INSERT` around `$values` (`?1` to `?14`, from [`entry_args`]; `results` is
/// `'[]'`): `$before` and `$after` make it `VALUES (...)` or a conditional `SELECT`.
macro_rules! new_entry {
    ($before:literal, $after:literal) => {
        concat!(
            "INSERT INTO purges (at, actor, person_id, urls, status, http_status, detail, results, item_count, \
             trace_id, kind, replay, lease_until, lease_owner, token) ",
            $before,
            "?1, ?2, ?3, ?4, ?5, ?6, ?7, '[]', ?8, ?9, ?10, ?11, ?12, ?13, ?14",
            $after
        )
    };
}
pub(super) use new_entry;

const RECORD: &str = new_entry!("VALUES (", ") RETURNING id");
const ENTRY: &str = "SELECT * FROM purges WHERE id = ?1";
/// A page: entries whose items contain `?1` and whose actor is `?2` (each if not null), before
/// id `?3`, newest first, at most `?4`.
const PAGE: &str = "SELECT * FROM purges WHERE (?1 IS NULL OR instr(urls, ?1) > 0) AND (?2 IS NULL OR actor = ?2) \
                    AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4";

statements![RECORD, ENTRY, PAGE];

/// A record's values for [`new_entry`], `?1` to `?14`.
pub(super) fn entry_args(r: &HistoryRecord) -> Result<Vec<JsValue>, ApiError> {
    let items = serde_json::to_string(&history::bounded_items(&r.labels)).map_err(internal)?;
    Ok(vec![
        n(r.at),
        s(&r.actor),
        opt_n(r.person_id),
        s(&items),
        s(r.status.as_str()),
        n(r.http_status.into()),
        opt(r.detail.as_deref()),
        n(r.labels.len() as i64),
        opt(r.trace_id.as_deref()),
        s(r.kind.as_str()),
        match &r.lease {
            Some(lease) => s(&serde_json::to_string(&lease.replay).map_err(internal)?),
            None => JsValue::NULL,
        },
        opt_n(r.lease.as_ref().map(|l| l.until)),
        opt(r.lease.as_ref().map(|l| l.owner.as_str())),
        opt(r.token.as_deref()),
    ])
}

impl Store {
    /// Opens a history entry; returns its id.
    pub async fn record(&self, r: &HistoryRecord) -> Result<i64, ApiError> {
        let row: Option<Id> = self.row(RECORD, &entry_args(r)?).await?;
        row.map(|r| r.id).ok_or_else(|| internal("INSERT returned no row"))
    }

    /// One history entry by id.
    pub async fn entry(&self, id: i64) -> Result<HistoryEntry, ApiError> {
        let row: Option<PurgeRow> = self.row(ENTRY, &[n(id)]).await?;
        row.ok_or_else(|| internal(format!("history entry {id} is gone")))?.entry()
    }

    /// A page of history, newest first, optionally filtered by item substring and actor.
    pub async fn history(&self, f: &HistoryFilter) -> Result<HistoryPage, ApiError> {
        let args = [opt(f.url.as_deref()), opt(f.actor.as_deref()), opt_n(f.before), n(i64::from(f.limit) + 1)];
        let rows: Vec<PurgeRow> = self.rows(PAGE, &args).await?;
        let mut entries = rows.into_iter().map(PurgeRow::entry).collect::<Result<Vec<_>, _>>()?;
        let next_before = if entries.len() > f.limit as usize {
            entries.truncate(f.limit as usize);
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(HistoryPage { entries, next_before })
    }
}
