//! How the store writes: set-based statements, and a budget of statements per invocation.
//!
//! A purge's rows (its rollups, its failed pairs' deliveries) are written by statements that
//! each read one bound JSON array (`json_each`), so a purge of any size costs a handful of
//! statements. One array stays within a statement's size limit; only rows that would pass it go
//! to a further statement ([`json_chunks`]). The store counts what each invocation ran and
//! wrote ([`Usage`]) and refuses a statement past the configured budget instead of letting the
//! platform cut the invocation off halfway.

use crate::error::{ApiError, ErrorKind};

/// Most bytes of one bound JSON array: within the 100 KB a statement may have, with room left
/// for its SQL.
pub const MAX_CHUNK_BYTES: usize = 90_000;

/// `rows` (each one JSON value, serialized) as JSON arrays of at most `max_bytes` each, in
/// order; a row longer than that alone goes in an array of its own. No rows, no arrays.
pub fn json_chunks(rows: &[String], max_bytes: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::from("[");
    for row in rows {
        // The row, its comma and the closing bracket must still fit.
        if current.len() > 1 && current.len() + 1 + row.len() + 1 > max_bytes {
            current.push(']');
            chunks.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(row);
    }
    if current.len() > 1 {
        current.push(']');
        chunks.push(current);
    }
    chunks
}

/// What one invocation ran on the store: statements (each one of a batch counts) and the rows
/// they wrote, against a budget of statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Statements allowed in this invocation (`D1_STATEMENT_BUDGET`).
    pub budget: u32,
    /// Statements run so far.
    pub statements: u32,
    /// Rows written so far, as the store reports them (indexes included).
    pub rows_written: u64,
}

impl Usage {
    /// Nothing run yet, `budget` statements allowed.
    pub fn new(budget: u32) -> Usage {
        Usage { budget, statements: 0, rows_written: 0 }
    }

    /// Counts `n` statements about to run for `what`, or refuses them all (nothing counted) if
    /// they would pass the budget.
    pub fn take(&mut self, n: usize, what: &str) -> Result<(), ApiError> {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        match self.statements.checked_add(n) {
            Some(total) if total <= self.budget => {
                self.statements = total;
                Ok(())
            }
            _ => Err(ApiError::new(
                ErrorKind::StoreBudget,
                format!(
                    "{what} needs {n} more statements, and this invocation has run {} of its {}",
                    self.statements, self.budget
                ),
            )
            .with_setting("D1_STATEMENT_BUDGET")),
        }
    }

    /// Counts rows the store reports written.
    pub fn wrote(&mut self, rows: u64) {
        self.rows_written = self.rows_written.saturating_add(rows);
    }
}
