//! The store's writes: set-based chunks within a statement's size, and the statement budget.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use edgepurge_core::error::ErrorKind;
use edgepurge_core::writes::{json_chunks, Usage, MAX_CHUNK_BYTES};

fn rows(n: usize, len: usize) -> Vec<String> {
    (0..n).map(|i| format!("\"{i:0>width$}\"", width = len - 2)).collect()
}

#[test]
fn rows_that_fit_are_one_array() {
    let rows = rows(15, 300);
    let chunks = json_chunks(&rows, MAX_CHUNK_BYTES);
    assert_eq!(chunks.len(), 1);
    let back: Vec<String> = serde_json::from_str(&chunks[0]).unwrap();
    assert_eq!(back.len(), 15);
    assert_eq!(back[14], rows[14].trim_matches('"'));
}

#[test]
fn no_rows_no_statement() {
    assert!(json_chunks(&[], MAX_CHUNK_BYTES).is_empty());
}

#[test]
fn rows_past_the_size_go_to_further_arrays_in_order_each_within_it() {
    // 6,000 rows of 100 bytes: 600 KB, so at least 7 arrays of at most 90 KB.
    let rows = rows(6000, 100);
    let chunks = json_chunks(&rows, MAX_CHUNK_BYTES);
    assert!(
        chunks.iter().all(|c| c.len() <= MAX_CHUNK_BYTES),
        "{:?}",
        chunks.iter().map(String::len).collect::<Vec<_>>()
    );
    // 891 rows fill an array (891 x 101 + 1 bytes): 6,000 rows are 7 arrays.
    assert_eq!(chunks.len(), 7);
    let back: Vec<String> = chunks.iter().flat_map(|c| serde_json::from_str::<Vec<String>>(c).unwrap()).collect();
    assert_eq!(back, rows.iter().map(|r| r.trim_matches('"').to_owned()).collect::<Vec<_>>());
}

#[test]
fn an_exact_fit_stays_in_one_array_and_one_more_byte_does_not() {
    // Three rows of 10 bytes: "[" + 10 + "," + 10 + "," + 10 + "]" = 34 bytes.
    let rows = rows(3, 10);
    assert_eq!(json_chunks(&rows, 34).len(), 1);
    assert_eq!(json_chunks(&rows, 33).len(), 2);
}

#[test]
fn a_row_longer_than_the_limit_goes_alone() {
    let mut rows = rows(2, 10);
    rows.insert(1, format!("\"{}\"", "x".repeat(100)));
    let chunks = json_chunks(&rows, 50);
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[1], format!("[{}]", rows[1]));
}

#[test]
fn the_budget_refuses_what_would_pass_it_and_counts_nothing_then() {
    let mut usage = Usage::new(50);
    usage.take(45, "a purge").unwrap();
    let refused = usage.take(6, "a purge's completion").unwrap_err();
    assert_eq!(refused.kind, ErrorKind::StoreBudget);
    assert_eq!(refused.kind.status(), 503);
    assert!(
        refused.detail.contains("needs 6 more statements") && refused.detail.contains("45 of its 50"),
        "{}",
        refused.detail
    );
    assert_eq!(usage.statements, 45, "a refused batch is not counted");
    usage.take(5, "the rest").unwrap();
    assert_eq!(usage.statements, 50);
    assert!(usage.take(1, "one more").is_err());
    usage.wrote(30);
    usage.wrote(u64::MAX);
    assert_eq!(usage.rows_written, u64::MAX);
}
