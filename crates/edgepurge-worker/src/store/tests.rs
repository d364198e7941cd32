//! The store's SQL against the schema: `migrations/*.sql` applied in order to SQLite as D1
//! applies them (each in one transaction, foreign keys enforced), every statement the store
//! runs prepared against the result, and the schema's CHECKs tried with every name the API
//! has and one it does not.

use super::{deliveries, history, idempotency, leases, limits, notifications, people, rollups, sessions, tokens};
use edgepurge_core::api::{DeliveryStatus, HistoryKind, HistoryStatus, NotifyKind, Outcome, Role};
use rusqlite::types::Value;
use rusqlite::Connection;
use std::path::PathBuf;

/// Every statement the store runs: each file's constants, then those built at run time.
fn statements() -> Vec<String> {
    let lists = [
        people::STATEMENTS,
        tokens::STATEMENTS,
        sessions::STATEMENTS,
        history::STATEMENTS,
        leases::STATEMENTS,
        idempotency::STATEMENTS,
        rollups::STATEMENTS,
        deliveries::STATEMENTS,
        limits::STATEMENTS,
        notifications::STATEMENTS,
    ];
    let consts = lists.iter().flat_map(|list| list.iter().map(|sql| sql.to_string()));
    consts.chain(leases::built()).chain(rollups::built()).collect()
}

/// `migrations/*.sql` in order, as (file name, SQL).
fn migrations() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a migrations/ entry reads").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "migrations/ holds {} files", files.len());
    let read = |path: PathBuf| {
        let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), sql)
    };
    files.into_iter().map(read).collect()
}

/// Every migration applied to a new in-memory database with foreign keys enforced, each in one
/// transaction (deferred foreign keys are checked at its commit); `before_0012` runs just
/// before `0012_*` (which rebuilds tables) and what it returns is handed back.
pub(super) fn migrated<T>(before_0012: impl FnOnce(&Connection) -> T) -> (Connection, T) {
    migrated_through("9999", before_0012)
}

/// As [`migrated`], stopping after migration number `last` (four digits).
fn migrated_through<T>(last: &str, before_0012: impl FnOnce(&Connection) -> T) -> (Connection, T) {
    let db = Connection::open_in_memory().expect("SQLite opens");
    db.execute_batch("PRAGMA foreign_keys = ON").expect("foreign keys on");
    let mut before = Some(before_0012);
    let mut seen = None;
    for (name, sql) in migrations() {
        if name.get(..4).is_some_and(|number| number > last) {
            break;
        }
        if name.as_str() >= "0012" {
            if let Some(f) = before.take() {
                seen = Some(f(&db));
            }
        }
        let tx = db.unchecked_transaction().expect("a transaction");
        tx.execute_batch(&sql).unwrap_or_else(|e| panic!("{name}: {e}"));
        tx.commit().unwrap_or_else(|e| panic!("{name}, at its commit: {e}"));
    }
    (db, seen.expect("a migration 0012 or later"))
}

/// Each row of `table`, in key order.
fn dump(db: &Connection, table: &str) -> Vec<Vec<Value>> {
    let mut stmt = db.prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2")).expect("a dump prepares");
    let columns = stmt.column_count();
    let rows = stmt.query_map([], |row| (0..columns).map(|i| row.get::<_, Value>(i)).collect());
    rows.expect("a dump runs").collect::<Result<_, _>>().expect("a dump reads")
}

fn one_column(db: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = db.prepare(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
    let rows = stmt.query_map([], |row| row.get::<_, String>(0)).expect("it runs");
    rows.collect::<Result<_, _>>().expect("it reads")
}

#[test]
fn every_statement_the_store_runs_prepares_against_the_migrations() {
    let (db, ()) = migrated(|_| ());
    let statements = statements();
    let failures: Vec<String> = statements
        .iter()
        .filter_map(|sql| match db.prepare(sql) {
            // D1 takes at most 100 bound parameters a statement.
            Ok(stmt) if stmt.parameter_count() > 100 => Some(format!("over 100 parameters\n    in: {sql}")),
            Ok(_) => None,
            Err(e) => Some(format!("{e}\n    in: {sql}")),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} statements fail:\n{}",
        failures.len(),
        statements.len(),
        failures.join("\n")
    );
    // The check itself can fail: a column the schema lacks is refused.
    assert!(db.prepare("SELECT removd_at FROM people").is_err());
}

#[test]
fn the_token_and_session_look_ups_are_index_seeks() {
    let (db, ()) = migrated(|_| ());
    for (sql, by_hash) in [
        (tokens::PERSON_BY_TOKEN_HASH, "SEARCH t USING INDEX sqlite_autoindex_tokens_1 (hash=?)"),
        (sessions::SESSION, "SEARCH s USING INDEX sqlite_autoindex_sessions_1 (hash=?)"),
    ] {
        let mut stmt = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("the plan prepares");
        let nulls = vec![Value::Null; stmt.parameter_count()];
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(nulls), |row| row.get::<_, String>(3))
            .expect("the plan runs")
            .collect::<Result<_, _>>()
            .expect("the plan reads");
        assert!(plan.iter().any(|step| step == by_hash), "{plan:?}");
        assert!(plan.iter().all(|step| !step.starts_with("SCAN")), "{plan:?}");
    }
}

/// Rows of every table 0012 rebuilds or that references one, as 0011 left the schema.
const ROWS: &str = r#"
INSERT INTO people (id, name, email, role, created_at) VALUES (1, 'ada', 'ada@example.com', 'admin', 1),
    (2, 'bo', NULL, 'editor', 2);
INSERT INTO tokens (id, person_id, label, hint, hash, created_at) VALUES (1, 2, 'ci', 'ab12', 'h1', 3);
INSERT INTO sessions (hash, person_id, token_id, csrf, created_at, expires_at) VALUES ('s1', 2, 1, 'c', 4, 5);
INSERT INTO purges (at, actor, person_id, urls, status, http_status, results, item_count, trace_id, kind) VALUES
    (10, 'ada', 1, '["https://a.example/x"]', 'purged', 200, '[{"url":"x"}]', 1, 'ab', 'purge'),
    (11, 'bo', 2, '["https://a.example/y"]', 'denied', 429, '[]', 1, NULL, 'purge'),
    (12, 'bo', 2, '["edge-1"]', 'partial', 207, '[]', 1, NULL, 'check');
INSERT INTO purges (at, actor, person_id, urls, status, http_status, replay, lease_until, lease_owner) VALUES
    (13, 'ada', 1, '["https://a.example/z"]', 'running', 202, '{"purges":[]}', 99, 'owner-1');
INSERT INTO purges (at, actor, urls, status, http_status, recovered) VALUES (14, 'cron', '[]', 'failed', 502, 1);
INSERT INTO deliveries (purge_id, url, instance, status, attempts, first_at, next_at, updated_at, last_error)
    VALUES (1, 'https://a.example/x', 'edge-1', 'pending', 1, 10, 20, 10, 'timeout'),
           (5, 'https://a.example/w', 'edge-2', 'abandoned', 9, 14, 14, 30, 'gone');
INSERT INTO idempotency (person_id, key, fingerprint, purge_id, at) VALUES (1, 'k1', 'f1', 4, 13);
INSERT INTO instance_hours (instance, hour, requests, failed, timed, elapsed_sum, max_ms, h3, h24, last_purge_id,
    last_at, last_url, last_outcome) VALUES ('edge-1', 1, 3, 1, 2, 40009, 40000, 1, 1, 1, 10, 'x', 'not_cached'),
    ('edge-2', 1, 1, 0, 0, 0, NULL, 0, 0, 5, 14, 'w', 'failed');
"#;

const REBUILT: [&str; 4] = ["purges", "deliveries", "idempotency", "instance_hours"];

#[test]
fn migration_0012_keeps_every_row_id_index_and_reference() {
    let snapshot = |db: &Connection| REBUILT.map(|table| dump(db, table));
    let (db, before) = migrated_through("0012", |db| {
        db.execute_batch(ROWS).expect("the rows are written");
        snapshot(db)
    });
    assert_eq!(snapshot(&db), before);
    assert!(one_column(&db, "SELECT 'row' FROM pragma_foreign_key_check").is_empty());
    let indexes = one_column(&db, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY 1");
    let expected = ["deliveries_due", "deliveries_purge", "idempotency_at", "idempotency_purge", "instance_hours_hour"];
    assert!(expected.iter().all(|name| indexes.contains(&name.to_string())), "{indexes:?}");
    assert!(["purges_actor", "purges_lease"].iter().all(|name| indexes.contains(&name.to_string())), "{indexes:?}");
    // Ids go on from the highest, and the references hold against the new table.
    db.execute_batch(
        "INSERT INTO purges (at, actor, urls, status, http_status) VALUES (15, 'ada', '[]', 'purged', 200)",
    )
    .expect("a new entry");
    assert_eq!(one_column(&db, "SELECT CAST(max(id) AS TEXT) FROM purges"), ["6"]);
    let dangling = db.execute_batch(
        "INSERT INTO deliveries (purge_id, url, instance, status, first_at, next_at, updated_at) \
         VALUES (99, 'u', 'i', 'pending', 0, 0, 0)",
    );
    assert!(dangling.is_err_and(|e| e.to_string().contains("FOREIGN KEY")));
}

/// Each of an enum's names; the `match` stops compiling when a variant is added, until it is
/// listed here (and a migration's CHECK allows it).
macro_rules! every {
    ($enum:ident: $($variant:ident),+) => {{
        let _every_variant = |v: $enum| match v { $($enum::$variant)|+ => () };
        vec![$($enum::$variant.as_str()),+]
    }};
}

#[test]
fn the_checks_allow_every_name_the_api_has_and_refuse_any_other() {
    let (db, ()) = migrated(|_| ());
    db.execute_batch(
        "INSERT INTO purges (id, at, actor, urls, status, http_status) VALUES (1, 0, 'a', '[]', 'purged', 200)",
    )
    .expect("an entry for the deliveries");
    let cases = [
        ("INSERT INTO people (name, role, created_at) VALUES ('p ' || ?1, ?1, 0)", every!(Role: Admin, Editor)),
        (
            "INSERT INTO purges (at, actor, urls, status, http_status) VALUES (0, 'a', '[]', ?1, 200)",
            every!(HistoryStatus: Purged, Partial, Failed, Denied, Running),
        ),
        (
            "INSERT INTO purges (at, actor, urls, status, http_status, kind) VALUES (0, 'a', '[]', 'purged', 200, ?1)",
            every!(HistoryKind: Purge, Check),
        ),
        (
            "INSERT INTO deliveries (purge_id, url, instance, status, first_at, next_at, updated_at) \
             VALUES (1, 'u', 'i', ?1, 0, 0, 0)",
            every!(DeliveryStatus: Pending, Delivered, Abandoned),
        ),
        (
            "INSERT INTO instance_hours (instance, hour, requests, failed, timed, elapsed_sum, last_purge_id, \
             last_at, last_url, last_outcome) VALUES (?1, 0, 1, 0, 0, 0, 1, 0, 'u', ?1)",
            every!(Outcome: Purged, NotCached, Unconfirmed, Rejected, Failed),
        ),
        (
            "INSERT INTO notify_kinds (kind, minute, count, held, prev_held) VALUES (?1, 0, 1, 0, 0)",
            every!(NotifyKind: Partial, Failed, Abandoned, Purged),
        ),
    ];
    for (sql, names) in cases {
        for name in names {
            db.execute(sql, [name]).unwrap_or_else(|e| panic!("{name:?} refused: {e}\n    in: {sql}"));
        }
        let refused = db.execute(sql, ["bogus"]).expect_err(sql);
        assert!(refused.to_string().contains("CHECK constraint failed"), "{refused}\n    in: {sql}");
    }
    let recovered =
        "INSERT INTO purges (at, actor, urls, status, http_status, recovered) VALUES (0, 'a', '[]', 'failed', 500, ?1)";
    db.execute(recovered, [1]).expect("recovered 1");
    assert!(db.execute(recovered, [2]).is_err_and(|e| e.to_string().contains("CHECK constraint failed")));
}

#[test]
fn migration_0013_leaves_every_token_unscoped_and_refuses_scopes_that_do_not_read() {
    let (db, ()) = migrated(|db| db.execute_batch(ROWS).expect("the rows are written"));
    assert_eq!(one_column(&db, "SELECT scopes FROM tokens"), ["{}"]);
    for bad in ["not json", "[]", "\"select\""] {
        let sql =
            "INSERT INTO tokens (person_id, label, hint, hash, created_at, scopes) VALUES (1, 'x', 'h', ?1, 1, ?2)";
        assert!(db.execute(sql, [format!("hash-{bad}"), bad.to_owned()]).is_err(), "{bad}");
    }
    assert!(one_column(&db, "SELECT token FROM purges WHERE token IS NOT NULL").is_empty());
}
