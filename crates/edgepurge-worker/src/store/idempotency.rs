//! `Idempotency-Key`s on `POST /api/purge`: per person, the key, the fingerprint of the request
//! it came with and its history entry, written in the batch that opens that entry
//! ([`Store::record_within`]) and forgotten past their window.

use super::{n, s, Store};
use edgepurge_core::idempotency::Remembered;
use edgepurge_core::ApiError;
use serde::Deserialize;

/// A purge's `Idempotency-Key`, to be remembered with its entry.
pub struct Keyed {
    pub person_id: i64,
    pub key: String,
    pub fingerprint: String,
    /// A remembered purge older than this (the window) is forgotten.
    pub forget_before: i64,
}

/// An `idempotency` row, as [`REMEMBERED`] reads it.
#[derive(Deserialize)]
struct KeyRow {
    fingerprint: String,
    purge_id: i64,
    at: i64,
}

const REMEMBERED: &str = "SELECT fingerprint, purge_id, at FROM idempotency WHERE person_id = ?1 AND key = ?2";
/// Forgets person `?1`'s key `?2` if remembered before `?3` (past its window).
pub(super) const FORGET: &str = "DELETE FROM idempotency WHERE person_id = ?1 AND key = ?2 AND at < ?3";
/// Remembers person `?1`'s key `?2` with fingerprint `?3` at `?4` for the entry just written
/// (the newest, with lease owner `?5`), if it was; a live key makes it fail.
pub(super) const REMEMBER: &str = "INSERT INTO idempotency (person_id, key, fingerprint, purge_id, at) \
                                   SELECT ?1, ?2, ?3, id, ?4 FROM purges \
                                   WHERE id = (SELECT max(id) FROM purges) AND lease_owner = ?5";
const PRUNE: &str = "DELETE FROM idempotency WHERE at < ?1";

statements![REMEMBERED, FORGET, REMEMBER, PRUNE];

impl Store {
    /// What a caller's `Idempotency-Key` remembers, if anything.
    pub async fn remembered(&self, person_id: i64, key: &str) -> Result<Option<Remembered>, ApiError> {
        let row: Option<KeyRow> = self.row(REMEMBERED, &[n(person_id), s(key)]).await?;
        Ok(row.map(|r| Remembered { fingerprint: r.fingerprint, entry: r.purge_id, at: r.at }))
    }

    /// Forgets `Idempotency-Key`s remembered before `before` (past their window).
    pub async fn prune_idempotency(&self, before: i64) -> Result<(), ApiError> {
        self.run(PRUNE, &[n(before)]).await
    }
}
