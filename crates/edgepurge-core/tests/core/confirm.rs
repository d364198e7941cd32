//! Purge and confirm (issue 12): a `HEAD` of each URL right behind its `PURGE`, and what each
//! row then says of the instance's fresh copy.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{addr, answer_with, completed, token};
use edgepurge_core::api::Outcome;
use edgepurge_core::http1::FieldValue;
use edgepurge_core::outcome::DeliveryError;
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::target::parse_all;
use edgepurge_core::trace::{SpanIds, TraceContext, TraceId};
use std::collections::BTreeMap;

fn plan(soft: bool, confirm: bool) -> Plan {
    let targets = parse_all(&["https://a.example/1", "https://a.example/2"].map(String::from)).unwrap();
    let mut purges = Purge::urls(targets, soft);
    purges.push(Purge::Key { key: FieldValue::new("episode-1").unwrap(), host: "a.example".into(), soft });
    let mut instances = BTreeMap::new();
    instances.insert("a.example".to_owned(), vec![addr("10.0.0.1:80")]);
    Plan::build(purges, &instances, &token(), 6, confirm).unwrap()
}

fn text(plan: &Plan, r: usize) -> String {
    String::from_utf8(plan.jobs[0].requests[r].bytes.clone()).unwrap()
}

#[test]
fn each_url_purge_is_followed_by_a_head_of_the_url_on_the_same_connection() {
    let p = plan(false, true);
    let lines: Vec<String> =
        (0..p.jobs[0].requests.len()).map(|r| text(&p, r).lines().next().unwrap().to_owned()).collect();
    // URLs get their HEAD; a key names no URL to ask for.
    assert_eq!(
        lines,
        ["PURGE /1 HTTP/1.1", "HEAD /1 HTTP/1.1", "PURGE /2 HTTP/1.1", "HEAD /2 HTTP/1.1", "PURGE / HTTP/1.1"]
    );
    let heads: Vec<bool> = p.jobs[0].requests.iter().map(|r| r.head).collect();
    assert_eq!(heads, [false, true, false, true, false]);
    assert!(text(&p, 1).contains("\r\nHost: a.example\r\n") && text(&p, 1).contains("Connection: keep-alive"));
    assert!(!text(&p, 1).contains("Purge-Token"), "a HEAD carries no purge secret");
    assert!(text(&p, 4).ends_with("Connection: keep-alive\r\n\r\n"));
    assert_eq!(p.summary().requests, 5);
    // Without confirm, the plan is the PURGEs alone.
    assert_eq!(plan(false, false).jobs[0].requests.len(), 3);
}

#[test]
fn a_row_is_reported_once_with_its_confirmation_when_both_requests_are_done() {
    let p = plan(false, true);
    let mut b = ReportBuilder::new(&p);
    assert_eq!(b.pairs().len(), 3, "a HEAD adds to its row, not a row");
    let purged = answer_with(200, &[("purge-count", "1")]);
    let miss = answer_with(200, &[("cache-status", "edge-1; fwd=uri-miss; stored")]);
    let hit = answer_with(200, &[("cache-status", "edge-1; hit; ttl=3599")]);
    assert_eq!(b.record(&p, 0, &completed(0, Ok(purged.clone()), 5, 1)), None, "waits for its HEAD");
    let row = b.record(&p, 0, &completed(1, Ok(miss), 6, 1)).expect("complete now");
    assert_eq!(row.outcome, Outcome::Purged);
    let c = row.confirm.unwrap();
    assert_eq!(
        (c.fresh, c.http_status, c.cache_status.as_deref()),
        (Some(true), Some(200), Some("edge-1; fwd=uri-miss; stored"))
    );
    // The HEAD may finish first (its PURGE was retried): the row still waits for both, and a
    // HEAD answered before the PURGE's final answer confirms nothing.
    let at = |mut c: edgepurge_core::delivery::Completed, end| {
        c.timing.ended_at = end;
        c
    };
    assert_eq!(b.record(&p, 0, &at(completed(3, Ok(hit.clone()), 6, 1), 10)), None);
    let row = b.record(&p, 0, &at(completed(2, Ok(purged.clone()), 5, 2), 20)).unwrap();
    let c = row.confirm.unwrap();
    assert_eq!(c.fresh, None, "{c:?}");
    assert!(c.error.unwrap().contains("retry"));
    // In order (the HEAD answered after its PURGE), a hit means the old copy is still served.
    let mut b2 = ReportBuilder::new(&p);
    b2.record(&p, 0, &at(completed(2, Ok(purged.clone()), 5, 1), 20));
    let row = b2.record(&p, 0, &at(completed(3, Ok(hit), 6, 1), 20)).unwrap();
    assert_eq!(row.confirm.unwrap().fresh, Some(false), "a hit after the purge: the old copy is still served");
    // The key row has no HEAD: done with its PURGE.
    let key = b.record(&p, 0, &completed(4, Ok(purged), 5, 1)).unwrap();
    assert_eq!(key.confirm, None);
    let report = b.finish();
    assert_eq!(report.results.len(), 3);
}

#[test]
fn after_a_soft_purge_a_stale_hit_is_fresh_enough_and_no_answer_is_no_verdict() {
    let p = plan(true, true);
    let mut b = ReportBuilder::new(&p);
    let stale = answer_with(200, &[("cache-status", "edge-1; hit; fwd=stale; ttl=-1")]);
    b.record(&p, 0, &completed(0, Ok(answer_with(200, &[("purge-count", "1")])), 5, 1));
    assert_eq!(b.record(&p, 0, &completed(1, Ok(stale), 5, 1)).unwrap().confirm.unwrap().fresh, Some(true));
    b.record(&p, 0, &completed(2, Ok(answer_with(200, &[("purge-count", "1")])), 5, 1));
    let c = b.record(&p, 0, &completed(3, Err(DeliveryError::Timeout(1000)), 5, 1)).unwrap().confirm.unwrap();
    assert_eq!(c.fresh, None);
    assert!(c.error.unwrap().contains("1000"));
    let none = answer_with(200, &[]);
    let mut b = ReportBuilder::new(&p);
    let c = b.record(&p, 0, &completed(1, Ok(none), 5, 1));
    assert_eq!(c, None);
    let c =
        b.record(&p, 0, &completed(0, Ok(answer_with(200, &[("purge-count", "1")])), 5, 1)).unwrap().confirm.unwrap();
    assert_eq!(c.fresh, None, "no Cache-Status: no verdict");
    assert!(c.error.unwrap().contains("Cache-Status"));
}

#[test]
fn the_head_has_its_own_span_next_to_its_purge() {
    let mut p = plan(false, true);
    let context = TraceContext::from_headers(None, None, TraceId([7; 16]));
    let ids = SpanIds::new([42; 16]);
    p.trace(&context, &ids);
    let mut b = ReportBuilder::new(&p);
    b.record(&p, 0, &completed(0, Ok(answer_with(200, &[("purge-count", "1")])), 5, 1));
    b.record(&p, 0, &completed(1, Ok(answer_with(200, &[("cache-status", "edge-1; hit")])), 5, 1));
    let spans = b.spans(&p, ids.id("root", 0, 0), &ids);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["connection", "PURGE", "HEAD"]);
    // The HEAD's span is the one its traceparent named.
    assert!(text(&p, 1).contains(&format!("{}", ids.id("request", 0, 1))));
    assert_eq!(spans[2].parent, Some(spans[0].id));
    assert!(spans[2].error.is_some(), "a hit after the purge is an error on the HEAD's span");
}
