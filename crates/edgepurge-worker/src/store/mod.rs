//! D1 storage, one file per aggregate, each row struct beside the SQL that reads it: [`people`]
//! (people), [`tokens`] (their personal tokens), [`sessions`], [`history`] (entries opened and
//! read), [`leases`] (a purge's write-ahead, lease and completion), [`idempotency`]
//! (`Idempotency-Key`s), [`rollups`] (each instance's hourly figures, and retention),
//! [`deliveries`] (background redelivery), [`limits`] (rate-limit counters) and
//! [`notifications`] (webhook notifications' rate and figures).
//!
//! SQL lives here and nowhere else. Every statement is a named constant (the few that depend on
//! the histogram's size are built by a function) and each file lists its own in `STATEMENTS`;
//! a native test applies `migrations/*.sql` in order to SQLite (D1 is SQLite) and prepares
//! every one of them, so a statement that names a column the schema lacks fails `cargo test`,
//! not a deploy.
//!
//! Rows are read with serde into private row structs, then turned into the core's API types; a
//! stored value that does not read back (an unknown role or status, broken JSON, a figure out
//! of range) is an error naming its table and row, never a silent default and never a dropped
//! row.
//!
//! This file is [`Store`] itself: opening it, counting each invocation's statements against its
//! budget (`D1_STATEMENT_BUDGET`) and the rows they wrote, and binding and running statements.

use crate::problem::internal;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::writes::Usage;
use edgepurge_core::ApiError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::cell::Cell;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

/// Lists a file's statements for the SQL test (`tests.rs`): `STATEMENTS`, its constants, and
/// `built()`, those it builds at run time, built as it builds them.
macro_rules! statements {
    ($($sql:expr),+ $(; built: $($built:expr),+)?) => {
        #[cfg(all(test, not(target_arch = "wasm32")))]
        pub(super) const STATEMENTS: &[&str] = &[$($sql),+];
        $(
            #[cfg(all(test, not(target_arch = "wasm32")))]
            pub(super) fn built() -> Vec<String> {
                vec![$($built),+]
            }
        )?
    };
}

mod deliveries;
mod history;
mod idempotency;
mod leases;
mod limits;
mod notifications;
mod people;
mod rollups;
mod sessions;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
mod tokens;

pub use history::{HistoryRecord, Lease};
pub use idempotency::Keyed;
pub use leases::{Completion, Expired};

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
fn opt_n(v: Option<i64>) -> JsValue {
    v.map_or(JsValue::NULL, n)
}

/// A stored value that does not read back: names the table, the row and what is wrong with it.
fn corrupt(table: &str, row: impl std::fmt::Display, what: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorKind::Internal, format!("{table} row {row}: {what}"))
}

/// A row's id, as `RETURNING id` gives it.
#[derive(Deserialize)]
struct Id {
    id: i64,
}

/// The first row statement `i` of a batch returned, if it returned any.
fn first_row<T: DeserializeOwned>(results: &[D1Result], i: usize) -> Result<Option<T>, ApiError> {
    let rows = results.get(i).map(|r| r.results::<T>()).transpose().map_err(internal)?;
    Ok(rows.and_then(|rows| rows.into_iter().next()))
}

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
}
