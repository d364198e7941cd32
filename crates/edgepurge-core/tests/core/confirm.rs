//! Purge and confirm (issue 12): a `HEAD` of each URL right behind its `PURGE`, and what each
//! row then says of the instance's fresh copy.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{addr, answer_with, completed, token};
use edgepurge_core::api::{Outcome, Role};
use edgepurge_core::http1::FieldValue;
use edgepurge_core::outcome::DeliveryError;
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::scopes::Grant;
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

/// A key purge and a prefix purge of a.example (two instances), a host purge of b.example (its
/// own instance), confirmed through `urls`.
fn named_plan(urls: &[&str]) -> Result<Plan, edgepurge_core::ApiError> {
    use edgepurge_core::plan::Confirm;
    use edgepurge_core::target::Target;
    let purges = vec![
        Purge::Key { key: FieldValue::new("episode-1").unwrap(), host: "a.example".into(), soft: false },
        Purge::Prefix { target: Target::parse("https://a.example/news/").unwrap() },
        Purge::Host { host: "b.example".into() },
    ];
    let mut instances = BTreeMap::new();
    instances.insert("a.example".to_owned(), vec![addr("10.0.0.1:80"), addr("10.0.0.2:80")]);
    instances.insert("b.example".to_owned(), vec![addr("10.0.0.3:80")]);
    instances.insert("d.example".to_owned(), vec![addr("10.0.0.4:80")]);
    let named = urls.iter().map(|u| Target::parse(u).unwrap()).collect();
    Plan::confirming(purges, &instances, &token(), 6, &Confirm { urls: true, named })
}

#[test]
fn named_urls_confirm_the_key_prefix_and_host_purges_that_cover_them() {
    let p = named_plan(&["https://a.example/news/1", "https://a.example/about", "https://b.example/x"]).unwrap();
    let lines = |j: usize| -> Vec<String> {
        let reqs = &p.jobs[j].requests;
        let line = |r: &edgepurge_core::plan::PlannedRequest| {
            let text = String::from_utf8(r.bytes.clone()).unwrap();
            let host = text.lines().find_map(|l| l.strip_prefix("Host: ")).unwrap().to_owned();
            format!("{} {host} -> {}", text.lines().next().unwrap(), r.target)
        };
        reqs.iter().map(line).collect()
    };
    // On each a.example instance: the key purge, then both of its host's URLs; the prefix
    // purge, then only the URL under it. b.example's URL is not on these instances.
    let a = [
        "PURGE / HTTP/1.1 a.example -> 0",
        "HEAD /news/1 HTTP/1.1 a.example -> 0",
        "HEAD /about HTTP/1.1 a.example -> 0",
        "PURGE / HTTP/1.1 a.example -> 1",
        "HEAD /news/1 HTTP/1.1 a.example -> 1",
    ];
    assert_eq!((lines(0), lines(1)), (a.map(String::from).to_vec(), a.map(String::from).to_vec()));
    assert_eq!(lines(2), ["PURGE / HTTP/1.1 b.example -> 2", "HEAD /x HTTP/1.1 b.example -> 2"]);
    assert_eq!(p.jobs[0].requests[2].confirms.as_deref(), Some("https://a.example/about"));

    // The key row's verdict is the worst of its two HEADs, naming that URL.
    let mut b = ReportBuilder::new(&p);
    assert_eq!(b.pairs().len(), 5, "HEADs add to rows, not rows");
    let purged = answer_with(200, &[("purge-count", "3")]);
    let miss = answer_with(200, &[("cache-status", "edge-1; fwd=uri-miss; stored")]);
    let hit = answer_with(200, &[("cache-status", "edge-1; hit; ttl=3599")]);
    assert_eq!(b.record(&p, 0, &completed(0, Ok(purged.clone()), 5, 1)), None);
    assert_eq!(b.record(&p, 0, &completed(1, Ok(miss.clone()), 6, 1)), None, "waits for every HEAD");
    let row = b.record(&p, 0, &completed(2, Ok(hit), 6, 1)).unwrap();
    let c = row.confirm.unwrap();
    assert_eq!((c.fresh, c.url.as_deref()), (Some(false), Some("https://a.example/about")));
    // All fresh: fresh, naming the first.
    b.record(&p, 1, &completed(0, Ok(purged), 5, 1));
    b.record(&p, 1, &completed(1, Ok(miss.clone()), 6, 1));
    let c = b.record(&p, 1, &completed(2, Ok(miss), 6, 1)).unwrap().confirm.unwrap();
    assert_eq!((c.fresh, c.url.as_deref()), (Some(true), Some("https://a.example/news/1")));
    // A URL purge's own HEAD names no URL.
    let own = plan(false, true);
    let mut b = ReportBuilder::new(&own);
    b.record(&own, 0, &completed(0, Ok(answer_with(200, &[("purge-count", "1")])), 5, 1));
    let c = b.record(&own, 0, &completed(1, Ok(answer_with(200, &[("cache-status", "e; fwd=miss")])), 5, 1));
    assert_eq!(c.unwrap().confirm.unwrap().url, None);
}

#[test]
fn a_named_url_no_purge_covers_is_refused() {
    // Any a.example URL is on the key purge's instances (a key is not bound to a port), so it is
    // covered; d.example's instance has no purge, and c.example no instance at all.
    assert!(named_plan(&["https://a.example/other", "http://a.example:8080/x"]).is_ok());
    for url in ["https://c.example/x", "https://d.example/news/1"] {
        let e = named_plan(&[url]).unwrap_err();
        assert_eq!(e.status(), 400, "{url}");
        assert!(e.detail.contains("covers"), "{}", e.detail);
    }
}

#[test]
fn confirm_urls_are_bounded_parsed_and_allowed() {
    use edgepurge_core::api::PurgeRequest;
    use edgepurge_core::request::{confirm_for, MAX_CONFIRM_URLS};
    let config = super::config(&[]);
    let ask = |urls: Vec<String>| {
        confirm_for(&config, &Grant::unscoped(Role::Editor), &PurgeRequest { confirm_urls: urls, ..Default::default() })
    };
    let same = vec!["https://WWW.example.com/a".to_owned(), "https://www.example.com/a".to_owned()];
    assert_eq!(ask(same).unwrap().named.len(), 1, "the same URL twice is asked for once");
    let many = (0..=MAX_CONFIRM_URLS).map(|i| format!("https://www.example.com/{i}")).collect();
    assert_eq!(ask(many).unwrap_err().status(), 400);
    assert_eq!(ask(vec!["https://evil.example/".into()]).unwrap_err().status(), 403);
    let e = ask(vec!["https://www.example.com/ok".into(), "not a url".into()]).unwrap_err();
    assert!(e.detail.starts_with("confirm_urls[1]:"), "{}", e.detail);
    // Over MAX_NAMED_HEADS on one instance: 100 key purges, each covering two named URLs.
    use edgepurge_core::plan::{Confirm, MAX_NAMED_HEADS};
    let purges: Vec<Purge> = (0..MAX_NAMED_HEADS)
        .map(|i| Purge::Key { key: FieldValue::new(&format!("k{i}")).unwrap(), host: "a.example".into(), soft: false })
        .collect();
    let mut instances = BTreeMap::new();
    instances.insert("a.example".to_owned(), vec![addr("10.0.0.1:80")]);
    let named = parse_all(&["https://a.example/1", "https://a.example/2"].map(String::from)).unwrap();
    let e = Plan::confirming(purges, &instances, &token(), 6, &Confirm { urls: false, named }).unwrap_err();
    assert!(e.detail.contains("at most 100"), "{}", e.detail);
}

/// A verification plan of one URL over these instances.
fn verify_plan(instances: &[&str]) -> edgepurge_core::plan::Plan {
    let target = edgepurge_core::target::Target::parse("https://www.example.com/a").unwrap();
    let found = std::collections::BTreeMap::from([(
        "www.example.com".to_owned(),
        instances.iter().map(|i| super::addr(i)).collect::<Vec<_>>(),
    )]);
    edgepurge_core::plan::Plan::verify(vec![target], &found, 6).unwrap()
}

fn refused() -> Result<edgepurge_core::http1::Answer, edgepurge_core::outcome::DeliveryError> {
    Err(edgepurge_core::outcome::DeliveryError::Connect("refused".into()))
}

#[test]
fn verify_rows_come_in_instance_order_whatever_order_the_answers_came_in() {
    let plan = verify_plan(&["10.0.0.3:80", "10.0.0.1:80", "10.0.0.2:80"]);
    let replies = (0..plan.jobs.len()).rev().map(|j| (j, refused())).collect();
    let rows = edgepurge_core::verify::verify_rows(&plan, replies);
    let names: Vec<&str> = rows.iter().map(|r| r.instance.as_str()).collect();
    assert_eq!(names, ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
}

#[test]
fn a_reply_for_a_job_the_plan_does_not_have_gives_no_row_and_no_panic() {
    let plan = verify_plan(&["10.0.0.1:80"]);
    let rows = edgepurge_core::verify::verify_rows(&plan, vec![(0, refused()), (5, refused())]);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].error.as_deref().is_some_and(|e| e.contains("refused")), "{:?}", rows[0].error);
}
