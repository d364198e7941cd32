//! Planning: one connection per instance, kept alive to the end, within the connection budget.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{token, two_host_plan};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::target::parse_all;
use std::collections::BTreeMap;

#[test]
fn plan_opens_one_connection_per_instance_kept_alive_to_the_end() {
    let plan = two_host_plan();
    let shape: Vec<(String, Vec<usize>)> =
        plan.jobs.iter().map(|j| (j.instance.key(), j.requests.iter().map(|r| r.target).collect())).collect();
    assert_eq!(shape, [("10.0.0.1:80".to_owned(), vec![0, 1, 2]), ("10.0.0.2:80".to_owned(), vec![0, 2])]);
    for job in &plan.jobs {
        // All keep-alive, the last too: the driver closes after the last answer, and a retry can
        // use the connection until then.
        assert!(job
            .requests
            .iter()
            .all(|r| r.keep_alive && String::from_utf8_lossy(&r.bytes).contains("Connection: keep-alive")));
    }
    let s = plan.summary();
    assert_eq!((s.instances, s.requests, s.concurrency), (2, 5, 2));
    // Two connections fit a budget of two, not of one: refused up front with the figures.
    assert!(plan.check_budget(2).is_ok());
    let err = plan.check_budget(1).unwrap_err();
    assert_eq!((err.status(), err.kind), (422, ErrorKind::OverBudget));
    assert!(err.detail.contains("needs 2 connections (5 requests)"), "{}", err.detail);

    let targets = parse_all(&["https://c.example/".to_owned()]).unwrap();
    let err = Plan::build(Purge::urls(targets, false), &BTreeMap::new(), &token(), 6, false).unwrap_err();
    assert_eq!(err.status(), 502);
}
