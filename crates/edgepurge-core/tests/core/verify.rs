//! Verification: RFC 9211 `Cache-Status` read, each instance's row, and the `HEAD`s it plans.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{addr, answer_with};
use edgepurge_core::http1::AnswerReader;
use edgepurge_core::outcome::DeliveryError;
use edgepurge_core::plan::Plan;
use edgepurge_core::target::parse_all;
use std::collections::BTreeMap;

#[test]
fn cache_status_follows_rfc9211() {
    use edgepurge_core::verify::parse_cache_status;
    let v = parse_cache_status(r#"OriginCache; hit; ttl=1100, "CDN Company Here"; fwd=uri-miss; stored; collapsed"#);
    assert_eq!(v.len(), 2);
    assert_eq!((v[0].cache.as_str(), v[0].hit, v[0].ttl), ("OriginCache", true, Some(1100)));
    assert_eq!(
        (v[1].cache.as_str(), v[1].hit, v[1].fwd.as_deref(), v[1].stored),
        ("CDN Company Here", false, Some("uri-miss"), true)
    );
    assert!(parse_cache_status("").is_empty());
    // A quoted cache name may hold commas and semicolons (RFC 8941 strings): one member.
    let v = parse_cache_status(r#""edge, one; really"; hit; ttl=5; fwd=stale"#);
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].cache.as_str(), v[0].hit, v[0].ttl, v[0].fwd.as_deref()),
        ("edge, one; really", true, Some(5), Some("stale"))
    );
    // Not a structured List, because the cache's name (a host name, here a container id) is not
    // an sf-token: still read, member by member.
    let v = parse_cache_status("3f2a9c1b7d0e; hit; ttl=3542, 42; fwd=uri-miss; stored");
    let got: Vec<_> = v.iter().map(|c| (c.cache.as_str(), c.hit, c.ttl, c.fwd.as_deref(), c.stored)).collect();
    assert_eq!(got, [("3f2a9c1b7d0e", true, Some(3542), None, false), ("42", false, None, Some("uri-miss"), true)]);
    assert_eq!(parse_cache_status("edge-1; hit; ttl=-12")[0].ttl, Some(-12), "stale: negative ttl");
}

#[test]
fn verify_rows_report_the_instance_closest_to_the_user() {
    use edgepurge_core::verify::verify_result;
    let hit = answer_with(200, &[("Cache-Status", "origin; fwd=miss, edge-1; hit; ttl=3542"), ("Age", "58")]);
    let row = verify_result("127.0.1.1:6081".into(), &Ok(hit));
    assert_eq!((row.hit, row.ttl, row.age, row.http_status), (Some(true), Some(3542), Some(58), Some(200)));
    assert!(row.error.is_none());

    let miss = answer_with(200, &[("Cache-Status", "edge-2; fwd=uri-miss; stored")]);
    let row = verify_result("127.0.1.2:6081".into(), &Ok(miss));
    assert_eq!((row.hit, row.fwd.as_deref()), (Some(false), Some("uri-miss")));

    let row = verify_result("127.0.1.3:6081".into(), &Ok(answer_with(200, &[])));
    assert_eq!(row.hit, None);
    assert!(row.error.unwrap().contains("Cache-Status"));

    let row = verify_result("127.0.1.3:6081".into(), &Err(DeliveryError::Timeout(100)));
    assert_eq!((row.http_status, row.error.as_deref()), (None, Some("no answer within 100 ms")));
}

#[test]
fn verify_plans_head_requests_whose_answers_have_no_body() {
    let targets = parse_all(&["https://a.example/x?y".to_owned()]).unwrap();
    let mut instances = BTreeMap::new();
    instances.insert("a.example".to_owned(), vec![addr("10.0.0.1:80")]);
    let plan = Plan::verify(targets, &instances, 6).unwrap();
    let req = &plan.jobs[0].requests[0];
    assert!(req.head);
    assert!(String::from_utf8_lossy(&req.bytes).starts_with("HEAD /x?y HTTP/1.1\r\nHost: a.example\r\n"));
    // Content-Length on a HEAD answer announces the GET body, which never comes.
    let mut r = AnswerReader::for_head();
    let a = r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nCache-Status: e; hit\r\n\r\n").unwrap().unwrap();
    assert_eq!((a.status, a.body.len()), (200, 0));
}
