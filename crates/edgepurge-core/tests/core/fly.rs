//! Fly.io Machines discovery: the rule, the Machines API's answer, and the instances it makes.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{config, settings, token};
use edgepurge_core::api::{SkippedInstance, Transport};
use edgepurge_core::config::Config;
use edgepurge_core::discovery::{DiscoverySpec, Endpoint, Found};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::fly::{machines_url, parse_machines, Machine};
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::target::parse_all;
use std::collections::BTreeMap;

const ANSWER: &str = r#"[
  {"id": "3d8d9e1f0e9d87", "name": "pipely-fra", "state": "started", "region": "fra", "private_ip": "fdaa::3"},
  {"id": "148e272b4e5d89", "state": "stopped", "region": "syd"},
  {"id": "e784079b449483", "state": "started", "region": "iad", "config": {"image": "x"}}
]"#;

fn fly_config(rule: &str) -> Config {
    config(&[
        ("ALLOWED_HOSTS", "changelog.com"),
        ("DISCOVERY", rule),
        ("FLY_API_TOKEN", "fo1_secret"),
        ("ALLOW_PRIVATE_INSTANCES", "true"),
    ])
}

fn machines() -> Vec<Machine> {
    parse_machines("pipely", 200, ANSWER.as_bytes()).unwrap()
}

#[test]
fn fly_rules_name_the_app_regions_and_edge() {
    let c = fly_config("fly:pipely");
    let rule = c.discovery_rule("changelog.com").unwrap();
    assert_eq!(rule.spec, DiscoverySpec::Fly { app: "pipely".into(), regions: vec![], edge: None });
    assert_eq!(rule.transport, Transport::Tls);
    let c = fly_config("fly:pipely:FRA,iad@127.0.4.1:8443");
    let rule = c.discovery_rule("changelog.com").unwrap();
    assert_eq!(rule.to_string(), "fly:pipely:fra,iad@127.0.4.1:8443:tls");
    let fly = c.fly.as_ref().unwrap();
    assert_eq!((fly.api_url.as_str(), fly.token.as_str()), ("https://api.machines.dev", "fo1_secret"));
    assert!(!format!("{c:?}").contains("fo1_secret"));
    assert_eq!(machines_url("https://api.machines.dev/", "pipely"), "https://api.machines.dev/v1/apps/pipely/machines");
}

#[test]
fn fly_rules_need_their_token_and_a_safe_api() {
    let load = |o: &[(&str, &str)]| Config::from_lookup(settings(o)).map_err(|e| (e.setting, e.reason));
    let base = [("ALLOWED_HOSTS", "changelog.com"), ("DISCOVERY", "fly:pipely")];
    assert_eq!(load(&base).unwrap_err().0, "FLY_API_TOKEN");
    let with = |more: &[(&'static str, &'static str)]| {
        let mut all = base.to_vec();
        all.push(("FLY_API_TOKEN", "t"));
        all.extend_from_slice(more);
        load(&all)
    };
    assert_eq!(with(&[("FLY_API_URL", "http://api.machines.dev")]).unwrap_err().0, "FLY_API_URL");
    assert!(with(&[("FLY_API_URL", "http://127.0.0.1:4280")]).is_ok());
    for bad in ["fly:", "fly:pipe ly", "fly:pipely:fr-a", "fly:pipely@nowhere", "fly:pipely:insecure"] {
        let all = [("ALLOWED_HOSTS", "changelog.com"), ("DISCOVERY", bad), ("FLY_API_TOKEN", "t")];
        assert_eq!(load(&all).unwrap_err().0, "DISCOVERY", "{bad}");
    }
    // A pinned edge is an address like any other: private ones need the local-network setting.
    let private =
        [("ALLOWED_HOSTS", "changelog.com"), ("DISCOVERY", "fly:pipely@10.0.0.1:443"), ("FLY_API_TOKEN", "t")];
    assert_eq!(load(&private).unwrap_err().0, "DISCOVERY");
}

#[test]
fn the_machines_api_answer_is_read_or_refused_as_what_it_means() {
    let m = machines();
    assert_eq!(
        m.iter().map(Machine::key).collect::<Vec<_>>(),
        ["fra 3d8d9e1f0e9d87", "iad e784079b449483", "syd 148e272b4e5d89"]
    );
    let refused = parse_machines("pipely", 401, b"{}").unwrap_err();
    assert_eq!((refused.status(), refused.setting.as_deref()), (500, Some("FLY_API_TOKEN")));
    assert_eq!(parse_machines("pipely", 403, b"").unwrap_err().kind, ErrorKind::Config);
    for (status, body) in [(404, "[]"), (500, "[]"), (200, "{\"machines\": []}"), (200, "not json")] {
        let e = parse_machines("pipely", status, body.as_bytes()).unwrap_err();
        assert_eq!((e.kind, e.subject.as_deref()), (ErrorKind::DiscoveryFailed, Some("fly:pipely")), "{status} {body}");
    }
    // Ids and regions go into headers: anything but letters and digits is refused.
    let hostile = r#"[{"id": "abc\r\nX-Evil: 1", "state": "started", "region": "fra"}]"#;
    assert_eq!(parse_machines("pipely", 200, hostile.as_bytes()).unwrap_err().kind, ErrorKind::DiscoveryFailed);
}

#[test]
fn started_machines_in_the_rules_regions_are_the_instances_the_rest_are_skipped() {
    let found = Found::Machines(machines());
    let c = fly_config("fly:pipely");
    let rule = c.discovery_rule("changelog.com").unwrap();
    let instances = rule.instances("changelog.com", &found).unwrap();
    let keys: Vec<_> = instances.iter().map(|i| i.key()).collect();
    assert_eq!(keys, ["fra 3d8d9e1f0e9d87", "iad e784079b449483"]);
    // Without an edge: the site's host on 443, over TLS with its own name.
    assert_eq!(instances[0].connect, Endpoint::Host { name: "changelog.com".into(), port: 443 });
    assert_eq!(instances[0].tls.as_deref(), Some("changelog.com"));
    assert_eq!(rule.skipped(&found), [not_serving("syd 148e272b4e5d89", "stopped", false)]);

    let c = fly_config("fly:pipely:iad,syd@127.0.4.1:8443");
    let rule = c.discovery_rule("changelog.com").unwrap();
    let instances = rule.instances("changelog.com", &found).unwrap();
    assert_eq!(instances.iter().map(|i| i.key()).collect::<Vec<_>>(), ["iad e784079b449483"]);
    assert_eq!(instances[0].connect, Endpoint::Addr("127.0.4.1:8443".parse().unwrap()));
    assert_eq!(instances[0].tls.as_deref(), Some("changelog.com"));
    assert_eq!(rule.skipped(&found).len(), 1);
}

#[test]
fn every_request_to_a_machine_names_it_for_the_edge() {
    let c = fly_config("fly:pipely");
    let rule = c.discovery_rule("changelog.com").unwrap();
    let instances = rule.instances("changelog.com", &Found::Machines(machines())).unwrap();
    let mut by_host = BTreeMap::new();
    by_host.insert("changelog.com".to_owned(), instances);
    let targets = parse_all(&["https://changelog.com/a", "https://changelog.com/b"].map(String::from)).unwrap();
    let plan = Plan::build(Purge::urls(targets.clone(), false), &by_host, &token(), 6, false).unwrap();
    assert_eq!(plan.jobs.len(), 2);
    for job in &plan.jobs {
        let id = job.instance.route.as_ref().unwrap().as_str().to_owned();
        for r in &job.requests {
            let text = String::from_utf8(r.bytes.clone()).unwrap();
            assert!(text.starts_with("PURGE /"), "{text}");
            assert!(text.contains(&format!("\r\nfly-force-instance-id: {id}\r\n")), "{text}");
            assert!(text.contains("\r\nHost: changelog.com\r\n"), "{text}");
        }
    }
    let verify = Plan::verify(targets, &by_host, 6).unwrap();
    let head = String::from_utf8(verify.jobs[0].requests[0].bytes.clone()).unwrap();
    assert!(head.starts_with("HEAD /a HTTP/1.1\r\n") && head.contains("fly-force-instance-id: "), "{head}");
    // Verification's HEADs share a connection too.
    assert!(head.ends_with("Connection: keep-alive\r\n\r\n"), "{head}");
    let last = String::from_utf8(verify.jobs[0].requests[1].bytes.clone()).unwrap();
    assert!(last.starts_with("HEAD /b HTTP/1.1\r\n") && last.ends_with("Connection: keep-alive\r\n\r\n"), "{last}");
}

#[test]
fn every_documented_machine_state_says_whether_its_cache_may_hold_old_copies() {
    use edgepurge_core::fly::{cache_of, Cache, STATES};
    // The Machines API's documented states ("Machine states and lifecycle"), each classified.
    let documented = [
        "created",
        "started",
        "stopped",
        "suspended",
        "failed",
        "creating",
        "starting",
        "stopping",
        "restarting",
        "suspending",
        "destroying",
        "launch_failed",
        "updating",
        "replacing",
        "destroyed",
    ];
    for state in documented {
        assert!(STATES.iter().any(|(s, _)| *s == state), "{state} is in the table");
    }
    assert_eq!(STATES.len(), documented.len(), "and nothing else is");
    assert_eq!(cache_of("started"), Cache::Serving);
    // Suspended Machines resume from their memory snapshot, old copies included.
    for state in ["suspended", "suspending", "starting"] {
        assert_eq!(cache_of(state), Cache::MayHold, "{state}");
    }
    for state in ["stopped", "created", "destroyed", "restarting", "replacing", "failed"] {
        assert_eq!(cache_of(state), Cache::Empty, "{state}");
    }
    // A state the API may add later is never silently skipped.
    assert_eq!(cache_of("hibernating"), Cache::MayHold);
}

#[test]
fn a_suspended_machine_is_held_not_skipped_and_its_rows_are_queued() {
    use edgepurge_core::api::{Outcome, PurgeStatus};
    use edgepurge_core::report::ReportBuilder;
    let mut listed = machines();
    listed.push(Machine { id: "5683945a107d18".into(), region: "ams".into(), state: "suspended".into() });
    let found = Found::Machines(listed);
    let c = fly_config("fly:pipely");
    let rule = c.discovery_rule("changelog.com").unwrap();
    assert_eq!(rule.skipped(&found), [not_serving("syd 148e272b4e5d89", "stopped", false)]);
    assert_eq!(rule.held(&found), [not_serving("ams 5683945a107d18", "suspended", true)]);
    let both = rule.not_serving(&found);
    assert_eq!(
        both,
        [not_serving("ams 5683945a107d18", "suspended", true), not_serving("syd 148e272b4e5d89", "stopped", false)]
    );
    let instances = rule.instances("changelog.com", &found).unwrap();
    assert_eq!(instances.len(), 2, "nothing is sent to it");
    let mut by_host = BTreeMap::new();
    by_host.insert("changelog.com".to_owned(), instances);
    let targets = parse_all(&["https://changelog.com/a", "https://changelog.com/b"].map(String::from)).unwrap();
    let plan = Plan::build(Purge::urls(targets, false), &by_host, &token(), 6, false).unwrap();
    let mut builder = ReportBuilder::new(&plan);
    let mut held = BTreeMap::new();
    // What the resolver keeps per host: every Machine not serving; only the pending ones get rows.
    held.insert("changelog.com".to_owned(), both);
    let added = builder.hold(&plan, &held);
    assert_eq!(added.len(), 2, "one row per item");
    assert!(added.iter().all(|r| r.instance == "ams 5683945a107d18" && r.outcome == Outcome::Failed && r.retryable));
    assert!(added[0].error.as_deref().unwrap().contains("suspended"));
    assert_eq!(builder.pairs().len(), 6);
    let queued = builder.queue_retryable();
    assert!(queued.iter().any(|r| r.instance == "ams 5683945a107d18"));
    let report = builder.finish();
    assert!(report.results.iter().filter(|r| r.instance == "ams 5683945a107d18").all(|r| r.pending));
    assert_ne!(report.status, PurgeStatus::Purged, "a purge that left old copies behind is not purged");
}

/// A Machine listed but not serving, as the report and the Instances page show it.
fn not_serving(instance: &str, state: &str, pending: bool) -> SkippedInstance {
    SkippedInstance { instance: instance.into(), state: state.into(), pending }
}
