//! D1 storage: people, token hashes, sessions, and the purge history.
//!
//! SQL lives here and nowhere else. Rows are read with serde into private row structs, then
//! turned into the core's API types; a stored value that does not read back (an unknown role or
//! status, broken JSON) is an error naming its table and row, never a silent default.

use crate::problem::internal;
use edgepurge_core::api::{
    DeliveriesReply, Delivery, DeliveryStatus, HistoryEntry, HistoryKind, HistoryPage, HistoryStatus, LastPurge,
    Outcome, Person, PurgeResult, Replay, Role, TokenInfo,
};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::history;
use edgepurge_core::idempotency::Remembered;
use edgepurge_core::limits;
use edgepurge_core::request::HistoryFilter;
use edgepurge_core::retry::DeliveryUpdate;
use edgepurge_core::stats::{self, Last, Rollup, BUCKETS};
use edgepurge_core::writes::{self, Usage};
use edgepurge_core::ApiError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

thread_local! {
    /// The bootstrap admin's row, once read in this isolate.
    static BOOTSTRAP_PERSON: RefCell<Option<Person>> = const { RefCell::new(None) };
}

/// The name of the person the bootstrap tokens (`API_TOKENS`) sign in as.
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// The store, and what this invocation ran on it (one `Store` per invocation).
pub struct Store {
    db: D1Database,
    usage: Cell<Usage>,
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

/// A stored value that does not read back: names the table, the row and the column.
fn corrupt(table: &str, id: i64, what: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorKind::Internal, format!("{table} row {id}: {what}"))
}

/// A `people` row (also the `p.*` part of joins).
#[derive(Deserialize)]
struct PersonRow {
    id: i64,
    name: String,
    email: Option<String>,
    role: String,
    created_at: i64,
}

impl PersonRow {
    fn person(self) -> Result<Person, ApiError> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| corrupt("people", self.id, format!("unknown role {:?}", self.role)))?;
        Ok(Person { id: self.id, name: self.name, email: self.email, role, created_at: self.created_at })
    }
}

/// A person joined with the token or session that authenticated them.
#[derive(Deserialize)]
struct PersonWith<T> {
    #[serde(flatten)]
    person: PersonRow,
    #[serde(flatten)]
    with: T,
}

#[derive(Deserialize)]
struct TokenId {
    t_id: i64,
}

#[derive(Deserialize)]
struct SessionCols {
    s_csrf: String,
    s_expires: i64,
    s_token_id: Option<i64>,
    s_token_hash: Option<String>,
}

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
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    recovered: Option<i64>,
}

impl PurgeRow {
    fn entry(self) -> Result<HistoryEntry, ApiError> {
        let id = self.id;
        Ok(HistoryEntry {
            id,
            at: self.at,
            actor: self.actor,
            urls: serde_json::from_str(&self.urls).map_err(|e| corrupt("purges", id, format!("urls: {e}")))?,
            status: HistoryStatus::parse(&self.status)
                .ok_or_else(|| corrupt("purges", id, format!("unknown status {:?}", self.status)))?,
            http_status: self.http_status,
            detail: self.detail,
            results: serde_json::from_str(&self.results).map_err(|e| corrupt("purges", id, format!("results: {e}")))?,
            item_count: self.item_count,
            trace_id: self.trace_id,
            kind: match self.kind.as_deref() {
                None => HistoryKind::Purge,
                Some(raw) => {
                    HistoryKind::parse(raw).ok_or_else(|| corrupt("purges", id, format!("unknown kind {raw:?}")))?
                }
            },
            recovered: self.recovered.unwrap_or(0) != 0,
        })
    }
}

/// An `instance_hours` row; its histogram read as one JSON array.
#[derive(Deserialize)]
struct HourRow {
    instance: String,
    hour: i64,
    requests: u64,
    failed: u64,
    timed: u64,
    elapsed_sum: u64,
    max_ms: Option<u64>,
    histogram: String,
    last_purge_id: i64,
    last_at: i64,
    last_url: String,
    last_outcome: String,
}

impl HourRow {
    fn rollup(self) -> Result<Rollup, ApiError> {
        let bad = |what: String| {
            ApiError::new(ErrorKind::Internal, format!("instance_hours row ({}, {}): {what}", self.instance, self.hour))
        };
        let counts: Vec<u64> = serde_json::from_str(&self.histogram).map_err(|e| bad(format!("histogram: {e}")))?;
        let histogram: [u64; BUCKETS] =
            counts.try_into().map_err(|c: Vec<u64>| bad(format!("{} histogram buckets", c.len())))?;
        let outcome = Outcome::parse(&self.last_outcome)
            .ok_or_else(|| bad(format!("unknown outcome {:?}", self.last_outcome)))?;
        Ok(Rollup {
            instance: self.instance,
            hour: self.hour,
            requests: self.requests,
            failed: self.failed,
            timed: self.timed,
            elapsed_sum: self.elapsed_sum,
            max_ms: self.max_ms,
            histogram,
            last: Last { entry: self.last_purge_id, at: self.last_at, url: self.last_url, outcome },
        })
    }
}

/// The columns of an `instance_hours` row as [`HourRow`] reads them.
fn hour_columns() -> String {
    let buckets = (0..BUCKETS).map(|i| format!("h.h{i}")).collect::<Vec<_>>().join(", ");
    format!(
        "h.instance, h.hour, h.requests, h.failed, h.timed, h.elapsed_sum, h.max_ms, json_array({buckets}) AS histogram, \
         h.last_purge_id, h.last_at, h.last_url, h.last_outcome"
    )
}

/// A rollup as one element of the JSON array [`upsert_hours`] reads.
fn rollup_json(r: &Rollup) -> String {
    serde_json::json!([
        r.instance,
        r.hour,
        r.requests,
        r.failed,
        r.timed,
        r.elapsed_sum,
        r.max_ms,
        r.histogram,
        r.last.entry,
        r.last.at,
        r.last.url,
        r.last.outcome.as_str()
    ])
    .to_string()
}

/// Adds each rollup of the JSON array `?3` ([`rollup_json`]) to its instance's row for its hour
/// (creating it), if `guard` holds: one statement for every instance of a purge. The last purge
/// is replaced by a later one only.
fn upsert_hours(guard: &str) -> String {
    let buckets: Vec<String> = (0..BUCKETS).map(|i| format!("h{i}")).collect();
    let values: Vec<String> = (0..BUCKETS).map(|i| format!("value ->> '$[7][{i}]'")).collect();
    let sums: Vec<String> = buckets.iter().map(|b| format!("{b} = {b} + excluded.{b}")).collect();
    let newer = |c: &str| format!("{c} = CASE WHEN excluded.last_at >= last_at THEN excluded.{c} ELSE {c} END");
    format!(
        "INSERT INTO instance_hours (instance, hour, requests, failed, timed, elapsed_sum, max_ms, {}, last_purge_id, \
         last_at, last_url, last_outcome) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, {}, \
         value ->> 8, value ->> 9, value ->> 10, value ->> 11 FROM json_each(?3) WHERE {guard} \
         ON CONFLICT (instance, hour) DO UPDATE SET requests = requests + excluded.requests, \
         failed = failed + excluded.failed, timed = timed + excluded.timed, \
         elapsed_sum = elapsed_sum + excluded.elapsed_sum, \
         max_ms = CASE WHEN max_ms IS NULL THEN excluded.max_ms WHEN excluded.max_ms IS NULL THEN max_ms \
                  ELSE max(max_ms, excluded.max_ms) END, \
         {}, {}, {}, {}, {}",
        buckets.join(", "),
        values.join(", "),
        sums.join(", "),
        newer("last_purge_id"),
        newer("last_url"),
        newer("last_outcome"),
        // Last: the conditions above read the old `last_at`.
        "last_at = max(last_at, excluded.last_at)",
    )
}

#[derive(Deserialize)]
struct DeliveryRow {
    id: i64,
    purge_id: i64,
    url: String,
    instance: String,
    status: String,
    attempts: u32,
    first_at: i64,
    next_at: i64,
    updated_at: i64,
    last_error: Option<String>,
}

impl DeliveryRow {
    fn delivery(self) -> Result<Delivery, ApiError> {
        let status = DeliveryStatus::parse(&self.status)
            .ok_or_else(|| corrupt("deliveries", self.id, format!("unknown status {:?}", self.status)))?;
        Ok(Delivery {
            id: self.id,
            purge_id: self.purge_id,
            url: self.url,
            instance: self.instance,
            status,
            attempts: self.attempts,
            first_at: self.first_at,
            next_at: self.next_at,
            updated_at: self.updated_at,
            last_error: self.last_error,
        })
    }
}

#[derive(Deserialize)]
struct StatusCount {
    status: String,
    n: usize,
}

#[derive(Deserialize)]
struct LatencyRow {
    instance: String,
    ms: i64,
}

#[derive(Deserialize)]
struct Id {
    id: i64,
}

#[derive(Deserialize)]
struct Count {
    count: i64,
}

/// A purge attempt as the history opens it: a refused one whole, an accepted one before its
/// fan-out (status `running`), to be completed by a [`Completion`].
pub struct HistoryRecord {
    pub at: i64,
    pub actor: String,
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

/// A running purge's lease: until when, whose, and what to run again if it is cut off.
pub struct Lease {
    pub until: i64,
    pub owner: String,
    pub replay: Replay,
}

/// What a purge that ran adds to its entry: the outcome, each (item, instance) result, and what
/// was queued for background redelivery; written only by its lease's owner.
pub struct Completion {
    pub status: HistoryStatus,
    pub http_status: u16,
    pub results: Vec<PurgeResult>,
    pub queued: Vec<PurgeResult>,
    /// When the queued deliveries are first due.
    pub next_at: i64,
    /// The lease owner completing it.
    pub owner: String,
    /// Completed by the cron after the lease ran out.
    pub recovered: bool,
}

/// A purge's `Idempotency-Key`, to be remembered with its entry.
pub struct Keyed {
    pub person_id: i64,
    pub key: String,
    pub fingerprint: String,
    /// A remembered purge older than this (the window) is forgotten.
    pub forget_before: i64,
}

/// A purge still `running` past its lease, for the cron to take over.
#[derive(Deserialize)]
pub struct Expired {
    pub id: i64,
    pub lease_until: i64,
    replay: Option<String>,
}

impl Expired {
    /// What it keeps to be run again; an entry whose replay does not read is an error naming it.
    pub fn replay(&self) -> Result<Replay, ApiError> {
        let raw = self.replay.as_deref().unwrap_or("null");
        serde_json::from_str(raw).map_err(|e| corrupt("purges", self.id, format!("replay: {e}")))
    }
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
}

/// The first row statement `i` of a batch returned, if it returned any.
fn first_row<T: DeserializeOwned>(results: &[D1Result], i: usize) -> Result<Option<T>, ApiError> {
    let rows = results.get(i).map(|r| r.results::<T>()).transpose().map_err(internal)?;
    Ok(rows.and_then(|rows| rows.into_iter().next()))
}

/// A new history entry's columns, filled from [`entry_args`] (`?1` to `?13`; `results` is `'[]'`).
const NEW_ENTRY: &str = "INSERT INTO purges (at, actor, person_id, urls, status, http_status, detail, results, \
                         item_count, trace_id, kind, replay, lease_until, lease_owner)";
/// Their values: [`entry_args`] as `?1` to `?13`.
const NEW_ENTRY_VALUES: &str = "?1, ?2, ?3, ?4, ?5, ?6, ?7, '[]', ?8, ?9, ?10, ?11, ?12, ?13";

fn entry_args(r: &HistoryRecord) -> Result<Vec<JsValue>, ApiError> {
    let items = serde_json::to_string(&history::bounded_items(&r.labels)).map_err(internal)?;
    Ok(vec![
        n(r.at),
        s(&r.actor),
        r.person_id.map_or(JsValue::NULL, n),
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
        r.lease.as_ref().map_or(JsValue::NULL, |l| n(l.until)),
        opt(r.lease.as_ref().map(|l| l.owner.as_str())),
    ])
}

/// Counts one request by `?1` in window `?2`; returns the count, this one included.
const HIT: &str = "INSERT INTO rate_limits (key, window, count) VALUES (?1, ?2, 1) \
                   ON CONFLICT (key, window) DO UPDATE SET count = count + 1 RETURNING count";

/// [`HIT`] only while the count is below `?3`: at the limit it writes nothing and returns no row.
const HIT_BELOW: &str = "INSERT INTO rate_limits (key, window, count) VALUES (?1, ?2, 1) \
                         ON CONFLICT (key, window) DO UPDATE SET count = count + 1 WHERE count < ?3 RETURNING count";

/// Forgets `?1`'s windows before `?2`.
const FORGET_WINDOWS: &str = "DELETE FROM rate_limits WHERE key = ?1 AND window < ?2";

impl Store {
    /// The `DB` binding, allowed `budget` statements in this invocation (`D1_STATEMENT_BUDGET`).
    pub fn open(env: &Env, budget: u32) -> Result<Store, ApiError> {
        let db = env.d1("DB").map_err(|e| {
            ApiError::new(ErrorKind::Config, format!("D1 binding DB is missing: {e}")).with_setting("DB")
        })?;
        Ok(Store { db, usage: Cell::new(Usage::new(budget)) })
    }

    /// What this invocation ran on the store so far.
    pub fn usage(&self) -> Usage {
        self.usage.get()
    }

    /// Counts `n` statements about to run, or refuses them past the budget.
    fn take(&self, n: usize, what: &str) -> Result<(), ApiError> {
        let mut usage = self.usage.get();
        usage.take(n, what)?;
        self.usage.set(usage);
        Ok(())
    }

    /// Counts the rows a statement wrote, as D1 reports them.
    fn wrote(&self, result: &D1Result) {
        if let Ok(Some(meta)) = result.meta() {
            let mut usage = self.usage.get();
            usage.wrote(meta.rows_written.unwrap_or(0) as u64);
            self.usage.set(usage);
        }
    }

    /// `sql` with its arguments bound: one statement, to run alone or in a batch.
    fn stmt(&self, sql: &str, args: &[JsValue]) -> Result<D1PreparedStatement, ApiError> {
        self.db.prepare(sql).bind(args).map_err(internal)
    }

    /// Runs `sql`, counted.
    async fn all(&self, sql: &str, args: &[JsValue]) -> Result<D1Result, ApiError> {
        let stmt = self.stmt(sql, args)?;
        self.take(1, sql.get(..60).unwrap_or(sql))?;
        let result = stmt.all().await.map_err(internal)?;
        self.wrote(&result);
        Ok(result)
    }

    /// Runs `statements` as one batch (one transaction), counted: each statement counts.
    async fn batch(&self, statements: Vec<D1PreparedStatement>, what: &str) -> Result<Vec<D1Result>, ApiError> {
        self.take(statements.len(), what)?;
        let results = self.db.batch(statements).await.map_err(internal)?;
        results.iter().for_each(|r| self.wrote(r));
        Ok(results)
    }

    async fn rows<T: DeserializeOwned>(&self, sql: &str, args: &[JsValue]) -> Result<Vec<T>, ApiError> {
        self.all(sql, args).await?.results::<T>().map_err(internal)
    }

    async fn row<T: DeserializeOwned>(&self, sql: &str, args: &[JsValue]) -> Result<Option<T>, ApiError> {
        Ok(self.rows(sql, args).await?.into_iter().next())
    }

    async fn run(&self, sql: &str, args: &[JsValue]) -> Result<(), ApiError> {
        self.all(sql, args).await?;
        Ok(())
    }

    async fn person_where(&self, sql: &str, args: &[JsValue]) -> Result<Option<Person>, ApiError> {
        self.row::<PersonRow>(sql, args).await?.map(PersonRow::person).transpose()
    }

    // ---- people ---------------------------------------------------------------------------

    pub async fn people(&self) -> Result<Vec<Person>, ApiError> {
        let rows = self.rows::<PersonRow>("SELECT * FROM people WHERE removed_at IS NULL ORDER BY name", &[]).await?;
        rows.into_iter().map(PersonRow::person).collect()
    }

    pub async fn person(&self, id: i64) -> Result<Option<Person>, ApiError> {
        self.person_where("SELECT * FROM people WHERE id = ?1 AND removed_at IS NULL", &[n(id)]).await
    }

    pub async fn person_by_email(&self, email: &str) -> Result<Option<Person>, ApiError> {
        self.person_where("SELECT * FROM people WHERE lower(email) = lower(?1) AND removed_at IS NULL", &[s(email)])
            .await
    }

    pub async fn create_person(&self, name: &str, email: Option<&str>, r: Role, now: i64) -> Result<Person, ApiError> {
        let taken = self
            .person_where(
                "SELECT * FROM people WHERE name = ?1 OR (email IS NOT NULL AND lower(email) = lower(?2))",
                &[s(name), opt(email)],
            )
            .await?;
        if taken.is_some() {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                format!("a person named {name:?} or with that e-mail exists"),
            ));
        }
        self.person_where(
            "INSERT INTO people (name, email, role, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING *",
            &[s(name), opt(email), s(r.as_str()), n(now)],
        )
        .await?
        .ok_or_else(|| internal("INSERT returned no row"))
    }

    /// The person the bootstrap tokens act as, made on first use: one D1 round trip the first time in an isolate,
    /// none after (it can be neither changed nor removed, so the copy cannot go stale).
    pub async fn bootstrap_admin(&self, now: i64) -> Result<Person, ApiError> {
        if let Some(person) = BOOTSTRAP_PERSON.with(|p| p.borrow().clone()) {
            return Ok(person);
        }
        let batch = vec![
            self.stmt(
                "INSERT OR IGNORE INTO people (name, email, role, created_at) VALUES (?1, NULL, 'admin', ?2)",
                &[s(BOOTSTRAP_ADMIN), n(now)],
            )?,
            self.stmt("SELECT * FROM people WHERE name = ?1", &[s(BOOTSTRAP_ADMIN)])?,
        ];
        let results = self.db.batch(batch).await.map_err(internal)?;
        let person = first_row::<PersonRow>(&results, 1)?.ok_or_else(|| internal("bootstrap admin missing"))?;
        let person = person.person()?;
        BOOTSTRAP_PERSON.with(|p| *p.borrow_mut() = Some(person.clone()));
        Ok(person)
    }

    // ---- tokens ---------------------------------------------------------------------------

    pub async fn tokens(&self, person_id: i64) -> Result<Vec<TokenInfo>, ApiError> {
        let rows: Vec<TokenRow> =
            self.rows("SELECT * FROM tokens WHERE person_id = ?1 ORDER BY id DESC", &[n(person_id)]).await?;
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
            .row(
                "INSERT INTO tokens (person_id, label, hint, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING *",
                &[n(person_id), s(label), s(hint), s(hash), n(now)],
            )
            .await?
            .ok_or_else(|| internal("INSERT returned no row"))?;
        Ok(row.into())
    }

    /// Revokes a token and ends the sessions signed in with it; false if there is no such token.
    pub async fn revoke_token(&self, id: i64, now: i64) -> Result<bool, ApiError> {
        self.run("DELETE FROM sessions WHERE token_id = ?1", &[n(id)]).await?;
        let row: Option<TokenId> = self
            .row(
                "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1 RETURNING id AS t_id",
                &[n(id), n(now)],
            )
            .await?;
        Ok(row.is_some())
    }

    /// The person owning a live token with this hash, and the token's id.
    pub async fn person_by_token_hash(&self, hash: &str) -> Result<Option<(Person, i64)>, ApiError> {
        let row: Option<PersonWith<TokenId>> = self
            .row(
                "SELECT p.*, t.id AS t_id FROM tokens t JOIN people p ON p.id = t.person_id \
                 WHERE t.hash = ?1 AND t.revoked_at IS NULL AND p.removed_at IS NULL",
                &[s(hash)],
            )
            .await?;
        row.map(|r| Ok((r.person.person()?, r.with.t_id))).transpose()
    }

    // ---- sessions -------------------------------------------------------------------------

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
        self.run("DELETE FROM sessions WHERE expires_at < ?1", &[n(now)]).await?;
        self.run(
            "INSERT INTO sessions (hash, person_id, token_id, token_hash, csrf, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                s(hash),
                n(person_id),
                token_id.map_or(JsValue::NULL, n),
                opt(bootstrap_hash),
                s(csrf),
                n(now),
                n(expires_at),
            ],
        )
        .await
    }

    pub async fn session(&self, hash: &str, now: i64) -> Result<Option<SessionRow>, ApiError> {
        let row: Option<PersonWith<SessionCols>> = self
            .row(
                "SELECT p.*, s.csrf AS s_csrf, s.expires_at AS s_expires, s.token_id AS s_token_id, \
                 s.token_hash AS s_token_hash FROM sessions s JOIN people p ON p.id = s.person_id \
                 WHERE s.hash = ?1 AND s.expires_at > ?2 AND p.removed_at IS NULL \
                 AND (s.token_id IS NULL OR EXISTS \
                      (SELECT 1 FROM tokens t WHERE t.id = s.token_id AND t.revoked_at IS NULL))",
                &[s(hash), n(now)],
            )
            .await?;
        row.map(|r| {
            Ok(SessionRow {
                person: r.person.person()?,
                csrf: r.with.s_csrf,
                expires_at: r.with.s_expires,
                personal: r.with.s_token_id.is_some(),
                bootstrap_hash: r.with.s_token_hash,
            })
        })
        .transpose()
    }

    /// Changes a person's role and ends their sessions; `None` if there is no such person.
    pub async fn set_role(&self, id: i64, role: Role) -> Result<Option<Person>, ApiError> {
        let person = self
            .person_where(
                "UPDATE people SET role = ?2 WHERE id = ?1 AND removed_at IS NULL RETURNING *",
                &[n(id), s(role.as_str())],
            )
            .await?;
        if person.is_some() {
            self.run("DELETE FROM sessions WHERE person_id = ?1", &[n(id)]).await?;
        }
        Ok(person)
    }

    /// Removes a person: marked removed (their history stays), every token revoked, every
    /// session ended, in one batch; false if there is no such person.
    pub async fn remove_person(&self, id: i64, now: i64) -> Result<bool, ApiError> {
        if self.person(id).await?.is_none() {
            return Ok(false);
        }
        let batch = vec![
            // The name and e-mail are freed (both are unique), so the person can be added again.
            self.stmt(
                "UPDATE people SET removed_at = ?2, name = name || ' (removed ' || id || ')', email = NULL \
                 WHERE id = ?1 AND removed_at IS NULL",
                &[n(id), n(now)],
            )?,
            self.stmt(
                "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE person_id = ?1",
                &[n(id), n(now)],
            )?,
            self.stmt("DELETE FROM sessions WHERE person_id = ?1", &[n(id)])?,
        ];
        self.batch(batch, "removing a person").await?;
        Ok(true)
    }

    pub async fn delete_session(&self, hash: &str) -> Result<(), ApiError> {
        self.run("DELETE FROM sessions WHERE hash = ?1", &[s(hash)]).await
    }

    // ---- history --------------------------------------------------------------------------

    /// Opens a history entry; returns its id.
    pub async fn record(&self, r: &HistoryRecord) -> Result<i64, ApiError> {
        let sql = format!("{NEW_ENTRY} VALUES ({NEW_ENTRY_VALUES}) RETURNING id");
        let row: Option<Id> = self.row(&sql, &entry_args(r)?).await?;
        row.map(|r| r.id).ok_or_else(|| internal("INSERT returned no row"))
    }

    /// Counts one request by `key` in the current minute and, in the same D1 batch (one round
    /// trip, one transaction), opens the history entry only if that count is within `limit`.
    /// Returns the count (this request included) and the entry's id, `None` when over the limit.
    pub async fn record_within(
        &self,
        r: &HistoryRecord,
        key: &str,
        limit: u32,
        idempotency: Option<&Keyed>,
    ) -> Result<(i64, Option<i64>), ApiError> {
        let window = limits::window(r.at);
        let mut args = entry_args(r)?;
        args.extend([s(key), n(window), n(limit.into())]);
        let insert = format!(
            "{NEW_ENTRY} SELECT {NEW_ENTRY_VALUES} \
             WHERE (SELECT count FROM rate_limits WHERE key = ?14 AND window = ?15) <= ?16 RETURNING id"
        );
        let mut batch = vec![
            self.stmt(HIT, &[s(key), n(window)])?,
            self.stmt(FORGET_WINDOWS, &[s(key), n(window)])?,
            self.stmt(&insert, &args)?,
        ];
        if let (Some(k), Some(lease)) = (idempotency, &r.lease) {
            // The key forgets a purge past its window; a live one makes the insert below fail,
            // and with it the whole batch: the entry is not written, and nothing is sent.
            batch.push(self.stmt(
                "DELETE FROM idempotency WHERE person_id = ?1 AND key = ?2 AND at < ?3",
                &[n(k.person_id), s(&k.key), n(k.forget_before)],
            )?);
            // The entry just written (the newest, with this lease's owner), if it was.
            batch.push(self.stmt(
                "INSERT INTO idempotency (person_id, key, fingerprint, purge_id, at) SELECT ?1, ?2, ?3, id, ?4 \
                 FROM purges WHERE id = (SELECT max(id) FROM purges) AND lease_owner = ?5",
                &[n(k.person_id), s(&k.key), s(&k.fingerprint), n(r.at), s(&lease.owner)],
            )?);
        }
        let results = self.batch(batch, "a purge's write-ahead").await?;
        let count = first_row::<Count>(&results, 0)?.ok_or_else(|| internal("no count returned"))?;
        Ok((count.count, first_row::<Id>(&results, 2)?.map(|r| r.id)))
    }

    /// Completes entry `id` with a purge's outcome, each instance's hourly rollup, and the
    /// deliveries queued for background redelivery, in one D1 batch: all of it or none. Its
    /// statements do not grow with the purge: the rollups (one per instance) and the deliveries
    /// are each one statement over a bound JSON array, another only past a statement's size.
    pub async fn complete(&self, id: i64, at: i64, c: &Completion) -> Result<bool, ApiError> {
        let results_json = serde_json::to_string(&history::bounded_results(&c.results)).map_err(internal)?;
        // Only the lease's owner completes the entry, and only once; the rows below are written
        // only if this batch's update did it (the cron and a late original never both do).
        let mut batch = vec![self.stmt(
            "UPDATE purges SET status = ?2, http_status = ?3, results = ?4, recovered = ?6, replay = NULL, \
             lease_until = NULL WHERE id = ?1 AND status = 'running' AND lease_owner IS ?5 RETURNING id",
            &[
                n(id),
                s(c.status.as_str()),
                n(c.http_status.into()),
                s(&results_json),
                s(&c.owner),
                n(i64::from(c.recovered)),
            ],
        )?];
        let completed_here =
            "EXISTS (SELECT 1 FROM purges WHERE id = ?1 AND lease_owner IS ?2 AND lease_until IS NULL \
                              AND status != 'running')";
        let rollups: Vec<String> = stats::rollups_of(&c.results, id, at).iter().map(rollup_json).collect();
        let upsert = upsert_hours(completed_here);
        for chunk in writes::json_chunks(&rollups, writes::MAX_CHUNK_BYTES) {
            batch.push(self.stmt(&upsert, &[n(id), s(&c.owner), s(&chunk)])?);
        }
        let queued: Vec<String> =
            c.queued.iter().map(|row| serde_json::json!([row.url, row.instance, row.error]).to_string()).collect();
        for chunk in writes::json_chunks(&queued, writes::MAX_CHUNK_BYTES) {
            batch.push(self.stmt(
                &format!(
                    "INSERT INTO deliveries (purge_id, url, instance, status, attempts, first_at, next_at, updated_at, \
                     last_error) SELECT ?1, value ->> 0, value ->> 1, ?4, 0, ?5, ?6, ?5, value ->> 2 \
                     FROM json_each(?3) WHERE {completed_here}"
                ),
                &[n(id), s(&c.owner), s(&chunk), s(DeliveryStatus::Pending.as_str()), n(at), n(c.next_at)],
            )?);
        }
        let results = self.batch(batch, "a purge's completion").await?;
        Ok(first_row::<Id>(&results, 0)?.is_some())
    }

    /// What a caller's `Idempotency-Key` remembers, if anything.
    pub async fn remembered(&self, person_id: i64, key: &str) -> Result<Option<Remembered>, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            fingerprint: String,
            purge_id: i64,
            at: i64,
        }
        let row: Option<Row> = self
            .row(
                "SELECT fingerprint, purge_id, at FROM idempotency WHERE person_id = ?1 AND key = ?2",
                &[n(person_id), s(key)],
            )
            .await?;
        Ok(row.map(|r| Remembered { fingerprint: r.fingerprint, entry: r.purge_id, at: r.at }))
    }

    /// One history entry by id.
    pub async fn entry(&self, id: i64) -> Result<HistoryEntry, ApiError> {
        let row: Option<PurgeRow> = self.row("SELECT * FROM purges WHERE id = ?1", &[n(id)]).await?;
        row.ok_or_else(|| internal(format!("history entry {id} is gone")))?.entry()
    }

    /// Purges still `running` past their lease at `now`, the longest expired first, at most
    /// `limit`.
    pub async fn expired_leases(&self, now: i64, limit: u32) -> Result<Vec<Expired>, ApiError> {
        self.rows(
            "SELECT id, lease_until, replay FROM purges WHERE status = 'running' \
             AND lease_until IS NOT NULL AND lease_until < ?1 ORDER BY lease_until LIMIT ?2",
            &[n(now), n(limit.into())],
        )
        .await
    }

    /// Takes an expired lease over for `owner` until `until`; false when someone else did first
    /// (or the original completed meanwhile).
    pub async fn take_over(&self, e: &Expired, until: i64, owner: &str) -> Result<bool, ApiError> {
        let row: Option<Id> = self
            .row(
                "UPDATE purges SET lease_until = ?3, lease_owner = ?4 WHERE id = ?1 AND status = 'running' \
                 AND lease_until = ?2 RETURNING id",
                &[n(e.id), n(e.lease_until), n(until), s(owner)],
            )
            .await?;
        Ok(row.is_some())
    }

    /// A page of history, newest first, optionally filtered by item substring and actor.
    pub async fn history(&self, f: &HistoryFilter) -> Result<HistoryPage, ApiError> {
        let rows: Vec<PurgeRow> = self
            .rows(
                "SELECT * FROM purges WHERE (?1 IS NULL OR instr(urls, ?1) > 0) AND (?2 IS NULL OR actor = ?2) \
                 AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4",
                &[
                    opt(f.url.as_deref()),
                    opt(f.actor.as_deref()),
                    f.before.map_or(JsValue::NULL, n),
                    n(i64::from(f.limit) + 1),
                ],
            )
            .await?;
        let mut entries = rows.into_iter().map(PurgeRow::entry).collect::<Result<Vec<_>, _>>()?;
        let next_before = if entries.len() > f.limit as usize {
            entries.truncate(f.limit as usize);
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(HistoryPage { entries, next_before })
    }

    /// Each of `instances`' most recent purge (the newest of its hourly rows) and its hourly
    /// rollups from `since_hour`, in one query of index seeks: at most 25 rows an instance,
    /// however long the history.
    pub async fn instance_figures(
        &self,
        instances: &[String],
        since_hour: i64,
    ) -> Result<(Vec<LastPurge>, Vec<Rollup>), ApiError> {
        #[derive(Deserialize)]
        struct Row {
            newest: i64,
            #[serde(flatten)]
            hour: HourRow,
        }
        let names = serde_json::to_string(instances).map_err(internal)?;
        let columns = hour_columns();
        let rows: Vec<Row> = self
            .rows(
                &format!(
                    "SELECT 1 AS newest, {columns} FROM json_each(?1) j CROSS JOIN instance_hours h \
                     WHERE h.instance = j.value \
                     AND h.hour = (SELECT max(hour) FROM instance_hours WHERE instance = j.value) \
                     UNION ALL \
                     SELECT 0 AS newest, {columns} FROM json_each(?1) j CROSS JOIN instance_hours h \
                     WHERE h.instance = j.value AND h.hour >= ?2"
                ),
                &[s(&names), n(since_hour)],
            )
            .await?;
        let (mut last, mut rollups) = (Vec::new(), Vec::new());
        for row in rows {
            let r = row.hour.rollup()?;
            if row.newest == 1 {
                last.push(LastPurge {
                    instance: r.instance.clone(),
                    at: r.last.at,
                    url: r.last.url.clone(),
                    outcome: r.last.outcome,
                });
            } else {
                rollups.push(r);
            }
        }
        Ok((last, rollups))
    }

    /// Each instance's mean request time over the hours from `since_hour`: one query, for the
    /// fan-out's start order.
    pub async fn typical_latencies(&self, since_hour: i64) -> Result<BTreeMap<String, u32>, ApiError> {
        let rows: Vec<LatencyRow> = self
            .rows(
                "SELECT instance, sum(elapsed_sum) / sum(timed) AS ms FROM instance_hours \
                 WHERE hour >= ?1 AND timed > 0 GROUP BY instance LIMIT 100000",
                &[n(since_hour)],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.instance, u32::try_from(r.ms.max(0)).unwrap_or(u32::MAX))).collect())
    }

    /// Forgets hourly rollups before `before_hour` (each instance's newest row stays: it holds
    /// its last purge) and finished deliveries last updated before `before` (ms), at most
    /// `limit` rows of each per call; one batch.
    pub async fn prune_old(&self, before_hour: i64, before: i64, limit: u32) -> Result<(), ApiError> {
        let batch = vec![
            self.stmt(
                "DELETE FROM instance_hours WHERE (instance, hour) IN (SELECT instance, hour FROM instance_hours o \
                 WHERE hour < ?1 AND hour < (SELECT max(hour) FROM instance_hours WHERE instance = o.instance) \
                 LIMIT ?2)",
                &[n(before_hour), n(limit.into())],
            )?,
            self.stmt(
                "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status != ?1 \
                 AND updated_at < ?2 LIMIT ?3)",
                &[s(DeliveryStatus::Pending.as_str()), n(before), n(limit.into())],
            )?,
        ];
        self.batch(batch, "pruning old rows").await?;
        Ok(())
    }

    // ---- durable redelivery ---------------------------------------------------------------

    /// Pending deliveries due at `now`, oldest first.
    pub async fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<Delivery>, ApiError> {
        let rows: Vec<DeliveryRow> = self
            .rows(
                "SELECT * FROM deliveries WHERE status = ?1 AND next_at <= ?2 ORDER BY next_at, id LIMIT ?3",
                &[s(DeliveryStatus::Pending.as_str()), n(now), n(limit.into())],
            )
            .await?;
        rows.into_iter().map(DeliveryRow::delivery).collect()
    }

    /// Records what became of deliveries (by id): one statement over a bound JSON array,
    /// another only past a statement's size; none for no updates.
    pub async fn update_deliveries(&self, updates: &[(i64, DeliveryUpdate)], now: i64) -> Result<(), ApiError> {
        let rows: Vec<String> = updates
            .iter()
            .map(|(id, u)| serde_json::json!([id, u.status.as_str(), u.attempts, u.next_at, u.last_error]).to_string())
            .collect();
        let batch = writes::json_chunks(&rows, writes::MAX_CHUNK_BYTES)
            .iter()
            .map(|chunk| {
                self.stmt(
                    "UPDATE deliveries SET status = u.value ->> 1, attempts = u.value ->> 2, \
                     next_at = u.value ->> 3, last_error = u.value ->> 4, updated_at = ?2 \
                     FROM json_each(?1) u WHERE deliveries.id = u.value ->> 0",
                    &[s(chunk), n(now)],
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !batch.is_empty() {
            self.batch(batch, "recording redeliveries").await?;
        }
        Ok(())
    }

    /// Counts by status, and the newest deliveries of `status` (all statuses if `None`).
    pub async fn deliveries(&self, status: Option<DeliveryStatus>, limit: u32) -> Result<DeliveriesReply, ApiError> {
        let counts: Vec<StatusCount> =
            self.rows("SELECT status, count(*) AS n FROM deliveries GROUP BY status", &[]).await?;
        let count = |st: DeliveryStatus| counts.iter().find(|r| r.status == st.as_str()).map_or(0, |r| r.n);
        let rows: Vec<DeliveryRow> = self
            .rows(
                "SELECT * FROM deliveries WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC LIMIT ?2",
                &[opt(status.map(DeliveryStatus::as_str)), n(limit.into())],
            )
            .await?;
        Ok(DeliveriesReply {
            pending: count(DeliveryStatus::Pending),
            delivered: count(DeliveryStatus::Delivered),
            abandoned: count(DeliveryStatus::Abandoned),
            deliveries: rows.into_iter().map(DeliveryRow::delivery).collect::<Result<_, _>>()?,
        })
    }

    // ---- rate limiting --------------------------------------------------------------------

    /// Counts one request by `key` in the current minute; returns the count, this one included.
    pub async fn hit(&self, key: &str, now: i64) -> Result<i64, ApiError> {
        let window = limits::window(now);
        let row: Option<Count> = self.row(HIT, &[s(key), n(window)]).await?;
        Ok(self.counted(key, window, row).await?.unwrap_or(0))
    }

    /// Counts one request by `key` in the current minute if fewer than `limit` were counted;
    /// returns the count (this one included), or `None` at the limit: a request over it writes
    /// nothing (the upsert's condition fails), however many come.
    pub async fn hit_below(&self, key: &str, now: i64, limit: u32) -> Result<Option<i64>, ApiError> {
        let window = limits::window(now);
        let row: Option<Count> = self.row(HIT_BELOW, &[s(key), n(window), n(limit.into())]).await?;
        self.counted(key, window, row).await
    }

    /// The count a hit returned; on the first request of a new window for `key`, its old
    /// windows are forgotten.
    async fn counted(&self, key: &str, window: i64, row: Option<Count>) -> Result<Option<i64>, ApiError> {
        if row.as_ref().is_some_and(|r| r.count == 1) {
            self.run(FORGET_WINDOWS, &[s(key), n(window)]).await?;
        }
        Ok(row.map(|r| r.count))
    }

    /// Counts one request by `key` and refuses it (429) past `limit` a minute; `what` names the
    /// requests and their setting in the problem. A refused request writes nothing.
    pub async fn within(&self, key: &str, now: i64, limit: u32, what: &str) -> Result<(), ApiError> {
        match self.hit_below(key, now, limit).await? {
            Some(_) => Ok(()),
            None => Err(limits::too_many(limit, now, what)),
        }
    }

    /// The count of `key` in the current minute, without counting (a read, no write).
    pub async fn peek(&self, key: &str, now: i64) -> Result<i64, ApiError> {
        let row: Option<Count> = self
            .row("SELECT count FROM rate_limits WHERE key = ?1 AND window = ?2", &[s(key), n(limits::window(now))])
            .await?;
        Ok(row.map_or(0, |r| r.count))
    }

    /// Forgets every window before the previous minute (the cron trigger calls it).
    pub async fn prune_rate_limits(&self, now: i64) -> Result<(), ApiError> {
        self.run("DELETE FROM rate_limits WHERE window < ?1", &[n(limits::window(now) - 1)]).await
    }

    /// Forgets `Idempotency-Key`s remembered before `before` (past their window).
    pub async fn prune_idempotency(&self, before: i64) -> Result<(), ApiError> {
        self.run("DELETE FROM idempotency WHERE at < ?1", &[n(before)]).await
    }
}
