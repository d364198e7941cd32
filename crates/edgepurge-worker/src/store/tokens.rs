//! Personal tokens: stored as SHA-256 hashes with a hint, found by hash at sign-in, revoked
//! (never deleted) with the sessions signed in with them.

use super::people::PersonWith;
use super::{corrupt, first_row, n, s, Id, Store};
use crate::problem::internal;
use edgepurge_core::api::{Person, TokenInfo, TokenScopes};
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
    scopes: String,
}

impl TokenRow {
    fn info(self) -> Result<TokenInfo, ApiError> {
        Ok(TokenInfo {
            scopes: scopes(self.id, &self.scopes)?,
            id: self.id,
            person_id: self.person_id,
            label: self.label,
            hint: self.hint,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// A token's stored scopes (`api::TokenScopes` as JSON); a row that does not read is an error
/// naming it, never a wider token.
pub(super) fn scopes(id: i64, raw: &str) -> Result<TokenScopes, ApiError> {
    serde_json::from_str(raw).map_err(|e| corrupt("tokens", id, format!("scopes: {e}")))
}

/// A live token as its look-up finds it, beside its person's `p.*`.
#[derive(Deserialize)]
struct TokenCols {
    t_id: i64,
    t_label: String,
    t_scopes: String,
}

/// A personal token found by its hash: its id, label and scopes.
#[derive(Debug, Clone)]
pub struct FoundToken {
    pub id: i64,
    pub label: String,
    pub scopes: TokenScopes,
}

const TOKENS: &str = "SELECT * FROM tokens WHERE person_id = ?1 ORDER BY id DESC";
const CREATE_TOKEN: &str = "INSERT INTO tokens (person_id, label, hint, hash, created_at, scopes) \
                            VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING *";
const END_SESSIONS_WITH: &str = "DELETE FROM sessions WHERE token_id = ?1";
const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1 RETURNING id";
/// The live token with hash `?1` and its person, not removed (an index seek: `hash` is UNIQUE).
pub(super) const PERSON_BY_TOKEN_HASH: &str =
    "SELECT p.*, t.id AS t_id, t.label AS t_label, t.scopes AS t_scopes FROM tokens t JOIN people p ON p.id = t.person_id \
                                    WHERE t.hash = ?1 AND t.revoked_at IS NULL AND p.removed_at IS NULL";

statements![TOKENS, CREATE_TOKEN, END_SESSIONS_WITH, REVOKE_TOKEN, PERSON_BY_TOKEN_HASH];

impl Store {
    pub async fn tokens(&self, person_id: i64) -> Result<Vec<TokenInfo>, ApiError> {
        let rows: Vec<TokenRow> = self.rows(TOKENS, &[n(person_id)]).await?;
        rows.into_iter().map(TokenRow::info).collect()
    }

    pub async fn create_token(
        &self,
        person_id: i64,
        label: &str,
        hint: &str,
        hash: &str,
        scopes: &TokenScopes,
        now: i64,
    ) -> Result<TokenInfo, ApiError> {
        let scopes = serde_json::to_string(scopes).map_err(internal)?;
        let row: TokenRow = self
            .row(CREATE_TOKEN, &[n(person_id), s(label), s(hint), s(hash), n(now), s(&scopes)])
            .await?
            .ok_or_else(|| internal("INSERT returned no row"))?;
        row.info()
    }

    /// Revokes a token and ends the sessions signed in with it, in one batch; false if there is
    /// no such token.
    pub async fn revoke_token(&self, id: i64, now: i64) -> Result<bool, ApiError> {
        let batch = vec![self.stmt(END_SESSIONS_WITH, &[n(id)])?, self.stmt(REVOKE_TOKEN, &[n(id), n(now)])?];
        let results = self.batch(batch, "revoking a token").await?;
        Ok(first_row::<Id>(&results, 1)?.is_some())
    }

    /// The person owning a live token with this hash, and the token.
    pub async fn person_by_token_hash(&self, hash: &str) -> Result<Option<(Person, FoundToken)>, ApiError> {
        let row: Option<PersonWith<TokenCols>> = self.row(PERSON_BY_TOKEN_HASH, &[s(hash)]).await?;
        row.map(|r| {
            let TokenCols { t_id, t_label, t_scopes } = r.with;
            let token = FoundToken { id: t_id, label: t_label, scopes: scopes(t_id, &t_scopes)? };
            Ok((r.person.person()?, token))
        })
        .transpose()
    }
}
