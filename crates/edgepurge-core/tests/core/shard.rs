//! Fan-out past six connections: a plan split into shards, each shard's jobs on the wire and
//! back, and its finished requests recorded in the caller's one report.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{addr, answer_with, completed, token};
use edgepurge_core::api::shard::ShardEvent;
use edgepurge_core::api::Outcome;
use edgepurge_core::delivery::Limits;
use edgepurge_core::discovery::{Endpoint, Instance};
use edgepurge_core::outcome::DeliveryError;
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::retry::RetryPolicy;
use edgepurge_core::shard::{completed as from_line, finished, from_wire, split, to_wire};
use edgepurge_core::target::parse_all;
use std::collections::BTreeMap;

fn plan(instances: usize, concurrency: usize) -> Plan {
    let targets = parse_all(&["https://a.example/1", "https://a.example/2"].map(String::from)).unwrap();
    let mut by_host = BTreeMap::new();
    let mut list: Vec<Instance> =
        (0..instances).map(|i| addr(&format!("10.0.{}.{}:80", i / 200, i % 200 + 1))).collect();
    list[0] = Instance { tls: Some("a.example".into()), ..Instance::plain("[2001:db8::1]:443".parse().unwrap()) };
    by_host.insert("a.example".to_owned(), list);
    Plan::build(Purge::urls(targets, false), &by_host, &token(), concurrency, true).unwrap()
}

const LIMITS: Limits = Limits {
    timeout_ms: 5000,
    retry: RetryPolicy { attempts: 3, base_ms: 100, cap_ms: 2000 },
    connections: 7,
    window: 128,
    deadline_at: None,
};

#[test]
fn shards_hold_at_most_the_concurrency_and_are_as_even_as_can_be() {
    let sizes = |n, c| split(&plan(n, c)).iter().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(sizes(3, 6), [3], "a plan that fits is one shard: the caller's own");
    assert_eq!(sizes(6, 6), [6]);
    // The caller's own shard (the first) takes the last of the start order: the smaller share.
    assert_eq!(sizes(7, 6), [3, 4]);
    assert_eq!(sizes(15, 6), [5, 5, 5]);
    assert_eq!(sizes(60, 6), [6; 10]);
    assert_eq!(sizes(61, 6), [5, 6, 6, 6, 6, 6, 6, 5, 5, 5, 5]);
    // Every job is in exactly one shard.
    let mut all: Vec<usize> = split(&plan(61, 6)).concat();
    all.sort_unstable();
    assert_eq!(all, (0..61).collect::<Vec<_>>());
    assert!(split(&plan(61, 6)).iter().all(|s| s.len() <= 6 && !s.is_empty()));
}

#[test]
fn the_shards_started_first_hold_the_slowest_instances_the_callers_the_fastest() {
    let mut p = plan(15, 6);
    // Typical times: job j takes j ms, so jobs 14, 13, ... are the slowest.
    let times: std::collections::BTreeMap<String, u32> =
        p.jobs.iter().enumerate().map(|(j, job)| (job.instance.key(), j as u32)).collect();
    p.slowest_first(&times);
    let shards = split(&p);
    // The caller's own shard opens its sockets once the others have answered: the fastest.
    assert_eq!(shards[0], [4, 3, 2, 1, 0]);
    assert_eq!(shards[1], [14, 13, 12, 11, 10], "the first Durable Object shard: the slowest");
    assert_eq!(shards[2], [9, 8, 7, 6, 5]);
}

#[test]
fn shard_requests_fit_in_the_calling_invocations_subrequest_budget() {
    // The budget is checked against every instance and shared among them all, but the calling
    // invocation connects only to its own shard's instances: each shard request stands in for
    // at least one connection it would otherwise have made. So its connections (retries
    // included) plus one request per other shard never pass the budget, and each shard's own
    // connections fit in that shard's budget.
    let config = super::config(&[]);
    for instances in [1, 5, 6, 7, 15, 16, 60, 61, 130] {
        for concurrency in [1, 2, 6] {
            let plan = plan(instances, concurrency);
            for budget in [instances, instances + 1, 2 * instances + 3, 1000] {
                plan.check_budget(budget).unwrap();
                let per_job = Limits::for_plan(&config, &plan, budget).connections as usize;
                let shards = split(&plan);
                let caller = shards[0].len() * per_job + (shards.len() - 1);
                assert!(caller <= budget, "{instances} instances, concurrency {concurrency}, budget {budget}");
                assert!(shards.iter().all(|s| s.len() * per_job <= budget));
            }
        }
    }
}

#[test]
fn within_one_invocation_the_slowest_instances_start_first() {
    let mut plan = plan(5, 2);
    assert_eq!(plan.start_order(), [0, 1, 2, 3, 4], "no figures: plan order");
    let key = |j: usize| plan.jobs[j].instance.key();
    // Job 3 has no figure (a new instance): nothing says it is fast, so it starts first.
    let figures: BTreeMap<String, u32> = [(key(0), 20), (key(1), 250), (key(2), 80), (key(4), 250)].into();
    let before = plan.jobs.clone();
    plan.slowest_first(&figures);
    assert_eq!(plan.start_order(), [3, 1, 4, 2, 0], "longest first, ties in plan order");
    assert_eq!(plan.jobs, before, "the jobs (and so the report's rows) keep plan order");
    assert_eq!(plan.subset(&[4, 0]).jobs, [before[4].clone(), before[0].clone()]);
    assert_eq!(plan.subset(&[4, 0]).start_order(), [0, 1]);
}

#[test]
fn connections_opened_early_are_the_first_to_start_and_leave_one_for_the_history() {
    let mut plan = plan(5, 6);
    assert_eq!(plan.early_connects(false), [0, 1, 2, 3, 4]);
    assert_eq!(plan.early_connects(true), [0, 1, 2, 3, 4], "5 instances under 6: no shards");
    let figures: BTreeMap<String, u32> = [(plan.jobs[2].instance.key(), 250)].into();
    plan.slowest_first(&figures);
    let order = plan.start_order();
    assert_eq!(plan.early_connects(false), order);
    let mut plan = self::plan(6, 6);
    assert_eq!(plan.early_connects(false), [0, 1, 2, 3, 4], "one of six left for the history write");
    plan.concurrency = 2;
    assert_eq!(plan.early_connects(false), [0], "waves: the first wave's, less one");
    assert_eq!(plan.early_connects(true), Vec::<usize>::new(), "shards start first");
    plan.concurrency = 1;
    assert_eq!(plan.early_connects(false), Vec::<usize>::new());
    for (instances, concurrency) in [(1, 6), (15, 6), (60, 6), (3, 3)] {
        let p = self::plan(instances, concurrency);
        assert!(p.early_connects(false).len() < concurrency);
        assert!(p.early_connects(false).iter().all(|&j| j < p.jobs.len()));
    }
}

#[test]
fn a_shard_runs_exactly_the_jobs_it_was_given_as_the_core_wrote_them() {
    let p = plan(15, 6);
    let shards = split(&p);
    let wire = to_wire(&p, &shards[0], LIMITS);
    let wire = serde_json::from_str(&serde_json::to_string(&wire).unwrap()).unwrap();
    let (got, limits) = from_wire(wire).unwrap();
    assert_eq!(limits, LIMITS);
    // The caller's deadline goes along: the shard gives up what is left when the caller does.
    let timed = serde_json::to_string(&to_wire(&p, &shards[0], LIMITS.until(1_764_000_000_000))).unwrap();
    assert_eq!(from_wire(serde_json::from_str(&timed).unwrap()).unwrap().1.deadline_at, Some(1_764_000_000_000));
    assert_eq!(got.concurrency, 6);
    assert_eq!(got.jobs.len(), shards[0].len());
    for (job, &j) in got.jobs.iter().zip(&shards[0]) {
        assert_eq!(job.instance.connect, p.jobs[j].instance.connect);
        assert_eq!(job.instance.tls, p.jobs[j].instance.tls);
        let bytes: Vec<_> = job.requests.iter().map(|r| (r.bytes.clone(), r.head, r.keep_alive)).collect();
        let want: Vec<_> = p.jobs[j].requests.iter().map(|r| (r.bytes.clone(), r.head, r.keep_alive)).collect();
        assert_eq!(bytes, want);
    }
    // A name, not an address, stays a name.
    let mut wire = to_wire(&p, &shards[1], LIMITS);
    wire.jobs[0].connect = "fly.example:443".into();
    let (got, _) = from_wire(wire.clone()).unwrap();
    assert_eq!(got.jobs[0].instance.connect, Endpoint::Host { name: "fly.example".into(), port: 443 });
    // What the core never writes is refused rather than sent.
    wire.jobs[0].requests[0].text.push('\0');
    assert!(from_wire(wire.clone()).is_err());
    wire.jobs[0].connect = "no port".into();
    assert!(from_wire(wire).is_err());
}

#[test]
fn each_finished_request_comes_back_to_its_row_in_the_callers_report() {
    let p = plan(15, 6);
    let shards = split(&p);
    let mut report = ReportBuilder::new(&p);
    // Shard 2's first job (the caller's job shards[2][0]) answers its PURGE and its HEAD.
    let purge = completed(0, Ok(answer_with(200, &[("purge-count", "1")])), 4, 1);
    let head = completed(1, Ok(answer_with(200, &[("cache-status", "edge-9; fwd=uri-miss; stored")])), 2, 1);
    let failed = completed(2, Err(DeliveryError::Timeout(5000)), 5000, 3);
    let mut rows = Vec::new();
    for done in [purge, head, failed] {
        let line = serde_json::to_string(&finished(0, &done)).unwrap();
        let ShardEvent::Finished(f) = serde_json::from_str(&line).unwrap() else { panic!("{line}") };
        let (job, back) = from_line(&shards[2], f).unwrap();
        assert_eq!(job, shards[2][0]);
        assert_eq!(
            (back.request, back.attempts, back.classified.clone()),
            (done.request, done.attempts, done.classified)
        );
        rows.extend(report.record(&p, job, &back));
    }
    assert_eq!(rows.len(), 1, "the first URL's row, once its PURGE and HEAD are both back");
    assert_eq!(rows[0].instance, p.jobs[shards[2][0]].instance.key());
    assert_eq!((rows[0].outcome, rows[0].confirm.as_ref().unwrap().fresh), (Outcome::Purged, Some(true)));
    let report = report.finish();
    let timed_out = report.results.iter().find(|r| r.instance == rows[0].instance && r.url.ends_with("/2")).unwrap();
    assert_eq!(timed_out.outcome, Outcome::Failed);
    assert!(timed_out.retryable);
    assert!(timed_out.error.as_deref().unwrap().contains("5000"));
    // A line naming a job the shard was not given is dropped, not misfiled.
    let ShardEvent::Finished(mut f) = finished(0, &completed(0, Ok(answer_with(200, &[])), 1, 1)) else { panic!() };
    f.job = 9;
    assert!(from_line(&shards[2], f).is_none());
}
