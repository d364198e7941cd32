//! Console sessions: stored as hashes, each bound to what it was signed in with (a personal
//! token's id, or a bootstrap token's hash). Expired ones are never found, and the cron trigger
//! forgets them ([`Store::prune_sessions`]): signing in writes only the new session.

use super::people::PersonWith;
use super::tokens::scopes;
use super::{n, opt, opt_n, s, Store};
use edgepurge_core::api::{Person, TokenScopes};
use edgepurge_core::ApiError;
use serde::Deserialize;

/// The session's columns beside its person's `p.*`.
#[derive(Deserialize)]
struct SessionCols {
    s_csrf: String,
    s_expires: i64,
    s_token_id: Option<i64>,
    s_token_hash: Option<String>,
    s_token_label: Option<String>,
    s_token_scopes: Option<String>,
}

/// A session found by its hash.
pub struct SessionRow {
    pub person: Person,
    pub csrf: String,
    pub expires_at: i64,
    /// For a session signed in with a bootstrap token, that token's hash (`None` for a personal
    /// token's session, whose token the lookup checked is unrevoked).
    pub bootstrap_hash: Option<String>,
    /// Whether it was signed in with a personal token.
    pub personal: bool,
    /// That token's label and scopes (the session does no more than its token may).
    pub token: Option<(String, TokenScopes)>,
}

const CREATE_SESSION: &str = "INSERT INTO sessions (hash, person_id, token_id, token_hash, csrf, created_at, \
                              expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// The live session with hash `?1` at `?2` (an index seek: `hash` is the primary key), its
/// person not removed and its personal token, if any, not revoked (with its label and scopes).
pub(super) const SESSION: &str = "SELECT p.*, s.csrf AS s_csrf, s.expires_at AS s_expires, \
                                  s.token_id AS s_token_id, s.token_hash AS s_token_hash, \
                                  t.label AS s_token_label, t.scopes AS s_token_scopes \
                                  FROM sessions s JOIN people p ON p.id = s.person_id \
                                  LEFT JOIN tokens t ON t.id = s.token_id \
                                  WHERE s.hash = ?1 AND s.expires_at > ?2 AND p.removed_at IS NULL \
                                  AND (s.token_id IS NULL OR (t.id IS NOT NULL AND t.revoked_at IS NULL))";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE hash = ?1";
const PRUNE_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at < ?1";

statements![CREATE_SESSION, SESSION, DELETE_SESSION, PRUNE_SESSIONS];

impl Store {
    /// Stores a session bound to what it was signed in with: a personal token's id, or a
    /// bootstrap token's hash.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_session(
        &self,
        hash: &str,
        person_id: i64,
        token_id: Option<i64>,
        bootstrap_hash: Option<&str>,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), ApiError> {
        let args = [s(hash), n(person_id), opt_n(token_id), opt(bootstrap_hash), s(csrf), n(now), n(expires_at)];
        self.run(CREATE_SESSION, &args).await
    }

    pub async fn session(&self, hash: &str, now: i64) -> Result<Option<SessionRow>, ApiError> {
        let row: Option<PersonWith<SessionCols>> = self.row(SESSION, &[s(hash), n(now)]).await?;
        row.map(|r| {
            let token = match (r.with.s_token_id, r.with.s_token_label, r.with.s_token_scopes.as_deref()) {
                (Some(id), Some(label), Some(raw)) => Some((label, scopes(id, raw)?)),
                _ => None,
            };
            Ok(SessionRow {
                token,
                person: r.person.person()?,
                csrf: r.with.s_csrf,
                expires_at: r.with.s_expires,
                personal: r.with.s_token_id.is_some(),
                bootstrap_hash: r.with.s_token_hash,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, hash: &str) -> Result<(), ApiError> {
        self.run(DELETE_SESSION, &[s(hash)]).await
    }

    /// Forgets the sessions expired before `now` (the cron trigger calls it).
    pub async fn prune_sessions(&self, now: i64) -> Result<(), ApiError> {
        self.run(PRUNE_SESSIONS, &[n(now)]).await
    }
}
