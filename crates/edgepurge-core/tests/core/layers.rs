//! Several layers per host: upstream groups (Fastly services, Cloudflare zones) beside a host's
//! own instances, from the settings to the plan, the report and redelivery.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{addr, settings, token};
use edgepurge_core::api::{Delivery, DeliveryStatus, Outcome, PurgeRequest, Role};
use edgepurge_core::config::Config;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::plan::{Confirm, Plan};
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::request::purges_for;
use edgepurge_core::retry::RedeliveryPolicy;
use edgepurge_core::scopes::Grant;
use edgepurge_core::upstream::{names_upstream, CallRow, Vendor};
use std::collections::BTreeMap;

const SERVICE: &str = "SU1Z0isxPaozGVKXdv0eY";
const ZONE: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// www.example.com: its own instances, a Fastly service and a Cloudflare zone; cdn.example.com:
/// its own instances and a Cloudflare zone only.
fn layered(extra: &[(&str, &str)]) -> Result<Config, edgepurge_core::config::ConfigError> {
    let discovery = format!(
        "www.example.com=static:192.0.2.1:80,192.0.2.2:80:insecure; www.example.com=fastly:{SERVICE}; \
         www.example.com=cloudflare:{ZONE}; cdn.example.com=static:192.0.2.10:80:insecure; \
         cdn.example.com=cloudflare:c0ffee"
    );
    let mut all = vec![
        ("DISCOVERY", discovery.as_str()),
        ("FASTLY_API_TOKEN", "fastly-token"),
        ("CLOUDFLARE_API_TOKEN", "cloudflare-token"),
        ("FASTLY_API_URL", "http://127.0.0.1:9000"),
    ];
    all.extend_from_slice(extra);
    Config::from_lookup(settings(&all))
}

fn instances(config: &Config) -> BTreeMap<String, Vec<edgepurge_core::discovery::Instance>> {
    let _ = config;
    BTreeMap::from([
        ("www.example.com".to_owned(), vec![addr("192.0.2.1:80"), addr("192.0.2.2:80")]),
        ("cdn.example.com".to_owned(), vec![addr("192.0.2.10:80")]),
    ])
}

fn plan(config: &Config, json: &str, confirm: bool) -> Plan {
    let request: PurgeRequest = serde_json::from_str(json).unwrap();
    let purges = purges_for(config, &Grant::unscoped(Role::Admin), &request).unwrap();
    let confirm = Confirm { urls: confirm, named: Vec::new() };
    Plan::confirming_with(purges, &instances(config), &config.upstreams, &token(), 6, &confirm).unwrap()
}

#[test]
fn a_host_may_name_upstream_groups_beside_its_own_instances() {
    let c = layered(&[]).unwrap();
    let www: Vec<String> = c.upstreams_for("www.example.com").map(|u| u.key()).collect();
    assert_eq!(www, [format!("fastly:{SERVICE}"), format!("cloudflare:{ZONE}")]);
    assert_eq!(c.upstreams_for("cdn.example.com").map(|u| u.key()).collect::<Vec<_>>(), ["cloudflare:c0ffee"]);
    assert!(c.upstream("cdn.example.com", &format!("fastly:{SERVICE}")).is_none(), "a group is its host's only");
    let fastly = c.upstream_api(Vendor::Fastly).unwrap();
    assert_eq!(fastly.url, "http://127.0.0.1:9000");
    assert_eq!(c.upstream_api(Vendor::Cloudflare).unwrap().url, "https://api.cloudflare.com");
    // The tokens never show.
    let shown = format!("{c:?}");
    assert!(!shown.contains("fastly-token") && !shown.contains("cloudflare-token"), "{shown}");
}

#[test]
fn upstream_rules_are_checked_and_name_the_setting_at_fault() {
    // (settings, the setting at fault)
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("FASTLY_API_TOKEN", "")], "FASTLY_API_TOKEN"),
        (&[("CLOUDFLARE_API_TOKEN", "")], "CLOUDFLARE_API_TOKEN"),
        (&[("FASTLY_API_URL", "http://api.fastly.example")], "FASTLY_API_URL"),
        (&[("CLOUDFLARE_PURGE_PER_CALL", "101")], "CLOUDFLARE_PURGE_PER_CALL"),
        (&[("DISCOVERY", "www.example.com=static:192.0.2.1:80; www.example.com=fastly:no-dashes!")], "DISCOVERY"),
        (&[("DISCOVERY", "www.example.com=static:192.0.2.1:80; *=fastly:abc")], "DISCOVERY"),
        (
            &[("DISCOVERY", "*=static:192.0.2.1:80; www.example.com=fastly:abc; www.example.com=fastly:abc")],
            "DISCOVERY",
        ),
        (&[("DISCOVERY", "www.example.com=fastly:abc")], "DISCOVERY"),
    ];
    for (extra, setting) in cases {
        let e = layered(extra).unwrap_err();
        assert_eq!(e.setting, *setting, "{extra:?}: {}", e.reason);
    }
    // Without upstream rules, no vendor setting is needed.
    let plain = Config::from_lookup(settings(&[])).unwrap();
    assert!(plain.upstreams.is_empty() && plain.fastly.is_none() && plain.cloudflare.is_none());
}

#[test]
fn one_url_purge_goes_to_every_layer_of_its_host_with_a_connection_kept_for_the_calls() {
    let c = layered(&[]).unwrap();
    let p = plan(&c, r#"{"urls": ["https://www.example.com/a"]}"#, false);
    assert_eq!(p.jobs.len(), 2, "the host's own two instances");
    let groups: Vec<String> = p.upstream.iter().map(|u| u.upstream.key()).collect();
    assert_eq!(groups, [format!("fastly:{SERVICE}"), format!("cloudflare:{ZONE}")]);
    assert_eq!(p.upstream_calls(), 2);
    assert_eq!(p.concurrency, 5, "one of the six connections is the upstream calls'");
    assert_eq!(p.upstream[0].calls[0].path, "/purge/www.example.com/a");
    // A URL of the other host reaches its own zone only.
    let p = plan(&c, r#"{"urls": ["https://cdn.example.com/b"]}"#, false);
    assert_eq!(p.upstream.iter().map(|u| u.upstream.key()).collect::<Vec<_>>(), ["cloudflare:c0ffee"]);
}

#[test]
fn keys_reach_fastly_in_one_batched_call() {
    let c = layered(&[]).unwrap();
    let p = plan(&c, r#"{"keys": ["a", "b", "c"]}"#, false);
    let fastly = p.upstream.iter().find(|u| u.upstream.vendor == Vendor::Fastly).unwrap();
    assert_eq!(fastly.calls.len(), 1);
    assert_eq!(fastly.calls[0].header("Surrogate-Key"), Some("a b c"));
    assert_eq!(fastly.calls[0].items.len(), 3);
}

#[test]
fn a_prefix_purge_is_refused_where_fastly_cannot_do_it_and_reaches_cloudflare_elsewhere() {
    let c = layered(&[]).unwrap();
    let request: PurgeRequest = serde_json::from_str(r#"{"prefixes": ["https://www.example.com/episodes/"]}"#).unwrap();
    let e = purges_for(&c, &Grant::unscoped(Role::Admin), &request).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert!(e.detail.contains(&format!("fastly:{SERVICE}")), "{}", e.detail);
    let p = plan(&c, r#"{"prefixes": ["https://cdn.example.com/episodes/"]}"#, false);
    let cloudflare = &p.upstream[0];
    assert_eq!(cloudflare.upstream.key(), "cloudflare:c0ffee");
    assert!(cloudflare.calls[0].body.as_deref().unwrap().contains("cdn.example.com/episodes/"));
}

#[test]
fn the_report_has_a_row_per_item_and_layer_filled_from_the_vendors_answer() {
    let c = layered(&[]).unwrap();
    let p = plan(&c, r#"{"urls": ["https://www.example.com/a", "https://www.example.com/b"]}"#, true);
    let mut report = ReportBuilder::new(&p);
    assert_eq!(report.pairs().len(), 2 * 4, "two URLs on two instances, Fastly and Cloudflare");
    // Fastly answered 429 for the first URL's call.
    let call = &p.upstream[0].calls[0];
    let rows = vec![CallRow {
        item: call.items[0],
        outcome: Outcome::Failed,
        error: Some("fastly is rate limiting (HTTP 429)".into()),
        retryable: true,
        retry_after_secs: Some(2),
        id: None,
        request_id: Some("req-1".into()),
    }];
    let done = report.record_upstream(&p, 0, &rows, Some(429), 0, 12);
    assert_eq!(done.len(), 1);
    let row = &done[0];
    assert_eq!(
        (row.instance.as_str(), row.outcome, row.http_status),
        (&*format!("fastly:{SERVICE}"), Outcome::Failed, Some(429))
    );
    assert_eq!((row.retry_after_secs, row.upstream_id.as_deref(), row.elapsed_ms), (Some(2), Some("req-1"), Some(12)));
    let confirm = row.confirm.as_ref().expect("asked to confirm, the row says why not");
    assert_eq!(confirm.fresh, None);
    assert!(confirm.error.as_deref().unwrap().contains("upstream"));
    let queued = report.queue_retryable();
    assert!(queued.iter().any(|r| r.instance.starts_with("fastly:") && r.pending && r.retry_after_secs == Some(2)));
    // A row of an item the call does not carry is left alone.
    let other = CallRow { item: 99, ..rows[0].clone() };
    assert!(report.record_upstream(&p, 0, &[other], Some(200), 0, 1).is_empty());
}

#[test]
fn an_upstreams_retry_after_is_when_its_delivery_is_due() {
    let policy = RedeliveryPolicy { base_ms: 30_000, cap_ms: 3_600_000, max_age_ms: 86_400_000 };
    let d = delivery(&format!("fastly:{SERVICE}"), 0);
    let mut row = super::redelivery::row(Outcome::Failed, true, Some("rate limited"));
    row.retry_after_secs = Some(2);
    let u = policy.after_attempt(&d, &row, 1_000_000, 0);
    assert_eq!((u.status, u.next_at), (DeliveryStatus::Pending, 1_002_000));
    row.retry_after_secs = None;
    assert!(policy.after_attempt(&d, &row, 1_000_000, 0).next_at >= 1_003_000, "otherwise the backoff");
}

fn delivery(instance: &str, first_at: i64) -> Delivery {
    Delivery {
        id: 1,
        purge_id: 1,
        url: "https://www.example.com/a".into(),
        instance: instance.into(),
        status: DeliveryStatus::Pending,
        attempts: 1,
        first_at,
        next_at: first_at,
        updated_at: first_at,
        last_error: None,
    }
}

#[test]
fn an_upstream_delivery_goes_to_its_group_while_the_rule_names_it() {
    let c = layered(&[]).unwrap();
    let policy = c.redelivery;
    let key = format!("fastly:{SERVICE}");
    let d = delivery(&key, 1_000);
    let group = c.upstream("www.example.com", &key);
    assert_eq!(policy.triage_upstream(&d, group, 2_000).unwrap().key(), key);
    let gone = policy.triage_upstream(&d, None, 2_000).unwrap_err();
    assert_eq!(gone.status, DeliveryStatus::Abandoned);
    assert!(gone.last_error.unwrap().contains("no longer in DISCOVERY"));
    let old = policy.triage_upstream(&d, group, 1_000 + 86_400_001).unwrap_err();
    assert!(old.last_error.unwrap().contains("REDELIVERY_MAX_AGE_MS"));
}

#[test]
fn upstream_names_are_told_from_instance_names() {
    let cases = [
        ("fastly:SU1Z0", true),
        ("cloudflare:023e", true),
        ("192.0.2.1:80", false),
        ("[2001:db8::1]:443", false),
        ("fra 3d8d9e1f0e9d87", false),
        ("fastlyx:1", false),
    ];
    for (instance, upstream) in cases {
        assert_eq!(names_upstream(instance), upstream, "{instance}");
    }
}

#[test]
fn upstream_calls_count_against_the_subrequest_budget() {
    let c = layered(&[]).unwrap();
    let p = plan(&c, r#"{"urls": ["https://www.example.com/a"]}"#, false);
    assert!(p.check_budget(4).is_ok(), "two instances and two calls");
    let e = p.check_budget(3).unwrap_err();
    assert_eq!(e.kind, ErrorKind::OverBudget);
    assert!(e.detail.contains("2 upstream calls"), "{}", e.detail);
}

#[test]
fn an_upstream_call_gets_the_attempt_timeout_cut_to_the_fan_outs_deadline() {
    use edgepurge_core::delivery::Limits;
    let c = layered(&[]).unwrap();
    let p = plan(&c, r#"{"urls": ["https://www.example.com/a"]}"#, false);
    let limits = Limits::for_plan(&c, &p, 10);
    assert_eq!(limits.connections, 4, "the two calls' subrequests first, the rest shared by the two instances");
    // (deadline, now) -> time for the call
    let cases = [
        (None, 0, Some(5000)),
        (Some(10_000), 1_000, Some(5000)),
        (Some(10_000), 8_000, Some(2000)),
        (Some(10_000), 10_000, None),
        (Some(10_000), 12_000, None),
    ];
    for (deadline, now, time) in cases {
        let l = match deadline {
            Some(at) => limits.until(at),
            None => limits,
        };
        assert_eq!(l.call_time(now), time, "{deadline:?} at {now}");
    }
}

#[test]
fn a_purges_lease_lasts_as_long_as_its_upstream_calls_may() {
    use edgepurge_core::delivery::Limits;
    use edgepurge_core::lease::deadline_ms;
    let c = layered(&[("INSTANCE_TIMEOUT_MS", "100"), ("RETRY_ATTEMPTS", "1")]).unwrap();
    let urls: Vec<String> = (0..60).map(|i| format!("\"https://www.example.com/{i}\"")).collect();
    let p = plan(&c, &format!(r#"{{"urls": [{}]}}"#, urls.join(",")), false);
    let limits = Limits::for_plan(&c, &p, 10_000);
    // Fastly: a call per URL; the zone: 2 calls of 30. Each instance: 60 requests, at once.
    assert_eq!(p.upstream_calls(), 60 + 2);
    assert_eq!(deadline_ms(&p, &limits, 60_000), 62 * 100, "the calls, one at a time, outlast the jobs");
    assert_eq!(deadline_ms(&p, &limits, 1_000), 1_000, "never past the platform's deadline");
}
