//! Personal tokens: stored as SHA-256 hashes with a hint, found by hash at sign-in, revoked
//! (never deleted) with the sessions signed in with them.

use super::people::PersonWith;
use super::{first_row, n, s, Store};
use crate::problem::internal;
use edgepurge_core::api::{Person, TokenInfo};
use edgepurge_core::ApiError;
use serde::Deserialize;

/// A `tokens` row.
#[derive(Deserialize)]
struct TokenRow {
    id: i64,
    person_id: i64,
    label: String,
    hint: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<TokenRow> for TokenInfo {
    fn from(r: TokenRow) -> Self {
        TokenInfo {
            id: r.id,
            person_id: r.person_id,
            label: r.label,
            hint: r.hint,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A token's id, as its look-up and revocation return it (`t_id` beside a person's `p.*`).
#[derive(Deserialize)]
struct TokenId {
    t_id: i64,
}

const TOKENS: &str = "SELECT * FROM tokens WHERE person_id = ?1 ORDER BY id DESC";
const CREATE_TOKEN: &str =
    "INSERT INTO tokens (person_id, label, hint, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING *";
const END_SESSIONS_WITH: &str = "DELETE FROM sessions WHERE token_id = ?1";
const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1 RETURNING id AS t_id";
/// The live token with hash `?1` and its person, not removed (an index seek: `hash` is UNIQUE).
pub(super) const PERSON_BY_TOKEN_HASH: &str =
    "SELECT p.*, t.id AS t_id FROM tokens t JOIN people p ON p.id = t.person_id \
                                    WHERE t.hash = ?1 AND t.revoked_at IS NULL AND p.removed_at IS NULL";

statements![TOKENS, CREATE_TOKEN, END_SESSIONS_WITH, REVOKE_TOKEN, PERSON_BY_TOKEN_HASH];

impl Store {
    pub async fn tokens(&self, person_id: i64) -> Result<Vec<TokenInfo>, ApiError> {
        let rows: Vec<TokenRow> = self.rows(TOKENS, &[n(person_id)]).await?;
        Ok(rows.into_iter().map(TokenInfo::from).collect())
    }

    pub async fn create_token(
        &self,
        person_id: i64,
        label: &str,
        hint: &str,
        hash: &str,
        now: i64,
    ) -> Result<TokenInfo, ApiError> {
        let row: TokenRow = self
            .row(CREATE_TOKEN, &[n(person_id), s(label), s(hint), s(hash), n(now)])
            .await?
            .ok_or_else(|| internal("INSERT returned no row"))?;
        Ok(row.into())
    }

    /// Revokes a token and ends the sessions signed in with it, in one batch; false if there is
    /// no such token.
    pub async fn revoke_token(&self, id: i64, now: i64) -> Result<bool, ApiError> {
        let batch = vec![self.stmt(END_SESSIONS_WITH, &[n(id)])?, self.stmt(REVOKE_TOKEN, &[n(id), n(now)])?];
        let results = self.batch(batch, "revoking a token").await?;
        Ok(first_row::<TokenId>(&results, 1)?.is_some())
    }

    /// The person owning a live token with this hash, and the token's id.
    pub async fn person_by_token_hash(&self, hash: &str) -> Result<Option<(Person, i64)>, ApiError> {
        let row: Option<PersonWith<TokenId>> = self.row(PERSON_BY_TOKEN_HASH, &[s(hash)]).await?;
        row.map(|r| Ok((r.person.person()?, r.with.t_id))).transpose()
    }
}
