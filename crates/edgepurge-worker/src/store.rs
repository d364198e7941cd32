//! D1 storage: people, token hashes, sessions, and the purge history.
//!
//! SQL lives here and nowhere else. Rows come back as JSON values and are turned into the core's
//! API types by hand, so the only serialised contract stays `edgepurge_core::api`.

use crate::problem::internal;
use edgepurge_core::api::{
    DeliveriesReply, Delivery, HistoryEntry, HistoryPage, LastPurge, Outcome, Person, PurgeResult, Role, TokenInfo,
};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::ApiError;
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

/// The name of the person the bootstrap tokens (`API_TOKENS`) sign in as.
pub const BOOTSTRAP_ADMIN: &str = "admin";

pub struct Store {
    db: D1Database,
}

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}
fn n(v: i64) -> JsValue {
    // D1 takes JS numbers; every id and millisecond time here is far below 2^53.
    JsValue::from_f64(v as f64)
}
fn opt(v: Option<&str>) -> JsValue {
    v.map_or(JsValue::NULL, s)
}
fn int(row: &Value, key: &str) -> i64 {
    row.get(key).and_then(Value::as_f64).map_or(0, |f| f as i64)
}
fn text(row: &Value, key: &str) -> String {
    row.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}
fn opt_int(row: &Value, key: &str) -> Option<i64> {
    row.get(key).and_then(Value::as_f64).map(|f| f as i64)
}
fn role(row: &Value) -> Role {
    if text(row, "role") == "admin" {
        Role::Admin
    } else {
        Role::Editor
    }
}
fn role_str(r: Role) -> &'static str {
    match r {
        Role::Admin => "admin",
        Role::Editor => "editor",
    }
}

fn person(row: &Value) -> Person {
    Person {
        id: int(row, "id"),
        name: text(row, "name"),
        email: row.get("email").and_then(Value::as_str).map(str::to_owned),
        role: role(row),
        created_at: int(row, "created_at"),
    }
}

fn token_info(row: &Value) -> TokenInfo {
    TokenInfo {
        id: int(row, "id"),
        person_id: int(row, "person_id"),
        label: text(row, "label"),
        hint: text(row, "hint"),
        created_at: int(row, "created_at"),
        revoked_at: opt_int(row, "revoked_at"),
    }
}

/// A session found by its hash.
pub struct SessionRow {
    pub person: Person,
    pub csrf: String,
    pub expires_at: i64,
}

impl Store {
    pub fn open(env: &Env) -> Result<Store, ApiError> {
        let db = env.d1("DB").map_err(|e| {
            ApiError::new(ErrorKind::Config, format!("D1 binding DB is missing: {e}")).with_setting("DB")
        })?;
        Ok(Store { db })
    }

    async fn rows(&self, sql: &str, args: &[JsValue]) -> Result<Vec<Value>, ApiError> {
        let stmt = self.db.prepare(sql).bind(args).map_err(internal)?;
        stmt.all().await.map_err(internal)?.results::<Value>().map_err(internal)
    }

    async fn row(&self, sql: &str, args: &[JsValue]) -> Result<Option<Value>, ApiError> {
        Ok(self.rows(sql, args).await?.into_iter().next())
    }

    async fn run(&self, sql: &str, args: &[JsValue]) -> Result<(), ApiError> {
        let stmt = self.db.prepare(sql).bind(args).map_err(internal)?;
        stmt.run().await.map_err(internal)?;
        Ok(())
    }

    // ---- people ---------------------------------------------------------------------------

    pub async fn people(&self) -> Result<Vec<Person>, ApiError> {
        Ok(self.rows("SELECT * FROM people ORDER BY name", &[]).await?.iter().map(person).collect())
    }

    pub async fn person(&self, id: i64) -> Result<Option<Person>, ApiError> {
        Ok(self.row("SELECT * FROM people WHERE id = ?1", &[n(id)]).await?.as_ref().map(person))
    }

    pub async fn person_by_email(&self, email: &str) -> Result<Option<Person>, ApiError> {
        Ok(self.row("SELECT * FROM people WHERE lower(email) = lower(?1)", &[s(email)]).await?.as_ref().map(person))
    }

    pub async fn create_person(&self, name: &str, email: Option<&str>, r: Role, now: i64) -> Result<Person, ApiError> {
        let taken = self
            .row(
                "SELECT id FROM people WHERE name = ?1 OR (email IS NOT NULL AND lower(email) = lower(?2))",
                &[s(name), opt(email)],
            )
            .await?;
        if taken.is_some() {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                format!("a person named {name:?} or with that e-mail exists"),
            ));
        }
        let row = self
            .row(
                "INSERT INTO people (name, email, role, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING *",
                &[s(name), opt(email), s(role_str(r)), n(now)],
            )
            .await?
            .ok_or_else(|| internal("INSERT returned no row"))?;
        Ok(person(&row))
    }

    /// The person the bootstrap tokens act as, created on first use.
    pub async fn bootstrap_admin(&self, now: i64) -> Result<Person, ApiError> {
        self.run(
            "INSERT OR IGNORE INTO people (name, email, role, created_at) VALUES (?1, NULL, 'admin', ?2)",
            &[s(BOOTSTRAP_ADMIN), n(now)],
        )
        .await?;
        let row = self.row("SELECT * FROM people WHERE name = ?1", &[s(BOOTSTRAP_ADMIN)]).await?;
        row.as_ref().map(person).ok_or_else(|| internal("bootstrap admin missing"))
    }

    // ---- tokens ---------------------------------------------------------------------------

    pub async fn tokens(&self, person_id: i64) -> Result<Vec<TokenInfo>, ApiError> {
        let rows = self.rows("SELECT * FROM tokens WHERE person_id = ?1 ORDER BY id DESC", &[n(person_id)]).await?;
        Ok(rows.iter().map(token_info).collect())
    }

    pub async fn create_token(
        &self,
        person_id: i64,
        label: &str,
        hint: &str,
        hash: &str,
        now: i64,
    ) -> Result<TokenInfo, ApiError> {
        let row = self
            .row(
                "INSERT INTO tokens (person_id, label, hint, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING *",
                &[n(person_id), s(label), s(hint), s(hash), n(now)],
            )
            .await?
            .ok_or_else(|| internal("INSERT returned no row"))?;
        Ok(token_info(&row))
    }

    /// Revokes a token and ends the sessions signed in with it; false if there is no such token.
    pub async fn revoke_token(&self, id: i64, now: i64) -> Result<bool, ApiError> {
        self.run("DELETE FROM sessions WHERE token_id = ?1", &[n(id)]).await?;
        let row = self
            .row("UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1 RETURNING id", &[n(id), n(now)])
            .await?;
        Ok(row.is_some())
    }

    /// The person owning a live token with this hash, and the token's id.
    pub async fn person_by_token_hash(&self, hash: &str) -> Result<Option<(Person, i64)>, ApiError> {
        let row = self
            .row(
                "SELECT p.*, t.id AS t_id FROM tokens t JOIN people p ON p.id = t.person_id \
                 WHERE t.hash = ?1 AND t.revoked_at IS NULL",
                &[s(hash)],
            )
            .await?;
        Ok(row.map(|r| (person(&r), int(&r, "t_id"))))
    }

    // ---- sessions -------------------------------------------------------------------------

    pub async fn create_session(
        &self,
        hash: &str,
        person_id: i64,
        token_id: Option<i64>,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), ApiError> {
        self.run("DELETE FROM sessions WHERE expires_at < ?1", &[n(now)]).await?;
        self.run(
            "INSERT INTO sessions (hash, person_id, token_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &[s(hash), n(person_id), token_id.map_or(JsValue::NULL, n), s(csrf), n(now), n(expires_at)],
        )
        .await
    }

    pub async fn session(&self, hash: &str, now: i64) -> Result<Option<SessionRow>, ApiError> {
        let row = self
            .row(
                "SELECT p.*, s.csrf AS s_csrf, s.expires_at AS s_expires FROM sessions s JOIN people p ON p.id = s.person_id \
                 WHERE s.hash = ?1 AND s.expires_at > ?2",
                &[s(hash), n(now)],
            )
            .await?;
        Ok(row.map(|r| SessionRow { person: person(&r), csrf: text(&r, "s_csrf"), expires_at: int(&r, "s_expires") }))
    }

    pub async fn delete_session(&self, hash: &str) -> Result<(), ApiError> {
        self.run("DELETE FROM sessions WHERE hash = ?1", &[s(hash)]).await
    }

    // ---- history --------------------------------------------------------------------------

    /// Records one purge attempt, each (URL, instance) result of a purge that ran, and the
    /// deliveries queued for background redelivery, in one D1 batch: all of it or none.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_purge(
        &self,
        at: i64,
        actor: &str,
        person_id: Option<i64>,
        urls: &[String],
        status: &str,
        http_status: u16,
        detail: Option<&str>,
        results: &[PurgeResult],
        queued: &[PurgeResult],
        next_at: i64,
    ) -> Result<(), ApiError> {
        let urls_json = serde_json::to_string(urls).map_err(internal)?;
        let results_json = serde_json::to_string(results).map_err(internal)?;
        let stmt = |sql: &str, args: &[JsValue]| self.db.prepare(sql).bind(args).map_err(internal);
        let mut batch = vec![stmt(
            "INSERT INTO purges (at, actor, person_id, urls, status, http_status, detail, results) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[
                n(at),
                s(actor),
                person_id.map_or(JsValue::NULL, n),
                s(&urls_json),
                s(status),
                n(http_status.into()),
                opt(detail),
                s(&results_json),
            ],
        )?];
        // A batch is one transaction, so max(id) is the row inserted just above.
        for r in results {
            let outcome = serde_json::to_value(r.outcome).map_err(internal)?;
            batch.push(stmt(
                "INSERT INTO purge_results (purge_id, at, url, instance, outcome) \
                 VALUES ((SELECT max(id) FROM purges), ?1, ?2, ?3, ?4)",
                &[n(at), s(&r.url), s(&r.instance), s(outcome.as_str().unwrap_or("failed"))],
            )?);
        }
        for r in queued {
            batch.push(stmt(
                "INSERT INTO deliveries (purge_id, url, instance, status, attempts, first_at, next_at, updated_at, last_error) \
                 VALUES ((SELECT max(id) FROM purges), ?1, ?2, 'pending', 0, ?3, ?4, ?3, ?5)",
                &[s(&r.url), s(&r.instance), n(at), n(next_at), opt(r.error.as_deref())],
            )?);
        }
        self.db.batch(batch).await.map_err(internal)?;
        Ok(())
    }

    /// A page of history, newest first, optionally filtered by URL substring and actor.
    pub async fn history(
        &self,
        url: Option<&str>,
        actor: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<HistoryPage, ApiError> {
        let rows = self
            .rows(
                "SELECT * FROM purges WHERE (?1 IS NULL OR instr(urls, ?1) > 0) AND (?2 IS NULL OR actor = ?2) \
                 AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4",
                &[opt(url), opt(actor), before.map_or(JsValue::NULL, n), n(i64::from(limit) + 1)],
            )
            .await?;
        let mut entries: Vec<HistoryEntry> = rows
            .iter()
            .map(|r| HistoryEntry {
                id: int(r, "id"),
                at: int(r, "at"),
                actor: text(r, "actor"),
                urls: serde_json::from_str(&text(r, "urls")).unwrap_or_default(),
                status: text(r, "status"),
                http_status: u16::try_from(int(r, "http_status")).unwrap_or(0),
                detail: r.get("detail").and_then(Value::as_str).map(str::to_owned),
                results: serde_json::from_str(&text(r, "results")).unwrap_or_default(),
            })
            .collect();
        let next_before = if entries.len() > limit as usize {
            entries.truncate(limit as usize);
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(HistoryPage { entries, next_before })
    }

    /// Each instance's most recent purge result.
    pub async fn last_purges(&self, instances: &[String]) -> Result<Vec<LastPurge>, ApiError> {
        let mut out = Vec::new();
        for instance in instances {
            let row = self
                .row(
                    "SELECT * FROM purge_results WHERE instance = ?1 ORDER BY at DESC, purge_id DESC LIMIT 1",
                    &[s(instance)],
                )
                .await?;
            if let Some(r) = row {
                let outcome: Outcome =
                    serde_json::from_value(Value::String(text(&r, "outcome"))).unwrap_or(Outcome::Failed);
                out.push(LastPurge { instance: instance.clone(), at: int(&r, "at"), url: text(&r, "url"), outcome });
            }
        }
        Ok(out)
    }

    // ---- durable redelivery ---------------------------------------------------------------

    /// Pending deliveries due at `now`, oldest first.
    pub async fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<Delivery>, ApiError> {
        let rows = self
            .rows(
                "SELECT * FROM deliveries WHERE status = 'pending' AND next_at <= ?1 ORDER BY next_at, id LIMIT ?2",
                &[n(now), n(limit.into())],
            )
            .await?;
        Ok(rows.iter().map(delivery).collect())
    }

    /// Records a background attempt's result.
    pub async fn update_delivery(
        &self,
        id: i64,
        status: &str,
        attempts: u32,
        next_at: i64,
        last_error: Option<&str>,
        now: i64,
    ) -> Result<(), ApiError> {
        self.run(
            "UPDATE deliveries SET status = ?2, attempts = ?3, next_at = ?4, last_error = ?5, updated_at = ?6 WHERE id = ?1",
            &[n(id), s(status), n(attempts.into()), n(next_at), opt(last_error), n(now)],
        )
        .await
    }

    /// Counts by status, and the newest deliveries of `status` (all statuses if `None`).
    pub async fn deliveries(&self, status: Option<&str>, limit: u32) -> Result<DeliveriesReply, ApiError> {
        let counts = self.rows("SELECT status, count(*) AS n FROM deliveries GROUP BY status", &[]).await?;
        let count = |st: &str| counts.iter().find(|r| text(r, "status") == st).map_or(0, |r| int(r, "n") as usize);
        let rows = self
            .rows(
                "SELECT * FROM deliveries WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC LIMIT ?2",
                &[opt(status), n(limit.into())],
            )
            .await?;
        Ok(DeliveriesReply {
            pending: count("pending"),
            delivered: count("delivered"),
            abandoned: count("abandoned"),
            deliveries: rows.iter().map(delivery).collect(),
        })
    }

    // ---- rate limiting --------------------------------------------------------------------

    /// Counts one request by `key` in the current minute; `Some(seconds)` to wait if over `limit`.
    pub async fn rate_limit(&self, key: &str, now: i64, limit: u32) -> Result<Option<u32>, ApiError> {
        let window = now / 60_000;
        let row = self
            .row(
                "INSERT INTO rate_limits (key, window, count) VALUES (?1, ?2, 1) \
                 ON CONFLICT (key, window) DO UPDATE SET count = count + 1 RETURNING count",
                &[s(key), n(window)],
            )
            .await?;
        let count = row.as_ref().map_or(0, |r| int(r, "count"));
        if count == 1 {
            // First request of a new window for this key: forget its old windows.
            self.run("DELETE FROM rate_limits WHERE key = ?1 AND window < ?2", &[s(key), n(window)]).await?;
        }
        if count > i64::from(limit) {
            let next_window_ms = (window + 1) * 60_000;
            Ok(Some(u32::try_from((next_window_ms - now + 999) / 1000).unwrap_or(60)))
        } else {
            Ok(None)
        }
    }
}

fn delivery(row: &Value) -> Delivery {
    Delivery {
        id: int(row, "id"),
        purge_id: int(row, "purge_id"),
        url: text(row, "url"),
        instance: text(row, "instance"),
        status: text(row, "status"),
        attempts: u32::try_from(int(row, "attempts")).unwrap_or(0),
        first_at: int(row, "first_at"),
        next_at: int(row, "next_at"),
        updated_at: int(row, "updated_at"),
        last_error: row.get("last_error").and_then(Value::as_str).map(str::to_owned),
    }
}
