//! Regression tests for the security review's findings whose decision is the core's (issue 9);
//! each names its finding.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::config;
use edgepurge_core::api::{PurgeRequest, Role};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::purge::parse_key;
use edgepurge_core::request::purges_for;
use edgepurge_core::scopes::Grant;
use edgepurge_core::target::{normalise_host, Target};
use edgepurge_core::ApiError;

#[test]
fn finding_5_a_trailing_dot_is_the_same_host() {
    // (input, url, host, Host header)
    for (input, url, host, authority) in [
        ("https://WWW.Example.com./a?b", "https://www.example.com/a?b", "www.example.com", "www.example.com"),
        ("https://example.com.:8443/", "https://example.com:8443/", "example.com", "example.com:8443"),
        ("http://example.com.:80/", "http://example.com/", "example.com", "example.com"),
    ] {
        let t = Target::parse(input).unwrap();
        assert_eq!((t.url(), t.host(), t.authority()), (url, host, authority), "{input}");
    }
    assert_eq!(normalise_host("WWW.Example.COM.").as_deref(), Some("www.example.com"));
    assert_eq!(normalise_host("."), None);
    assert_eq!(normalise_host("example.com.."), None, "only one trailing dot is dropped");
    for bad in ["https://./", "https://example.com../", "https://example.com:80./"] {
        assert!(Target::parse(bad).is_err(), "{bad}");
    }
    // The API takes the dotted spelling as the allowed host, as one purge.
    let request = PurgeRequest {
        urls: vec!["https://www.example.com./a".into(), "https://www.example.com/a".into()],
        hosts: vec!["www.example.com.".into()],
        ..Default::default()
    };
    let labels: Vec<String> =
        purges_for(&config(&[]), &Grant::unscoped(Role::Admin), &request).unwrap().iter().map(|p| p.label()).collect();
    assert_eq!(labels, ["https://www.example.com/a", "host:www.example.com"]);
}

#[test]
fn finding_6_one_key_item_is_one_key() {
    for bad in ["a,b,c", "a,", ",", "a, b", "a\tb", "a b"] {
        assert!(parse_key(bad).is_err(), "{bad:?}");
        let request = PurgeRequest { keys: vec![bad.into()], ..Default::default() };
        let e = purges_for(&config(&[]), &Grant::unscoped(Role::Editor), &request).unwrap_err();
        assert_eq!((e.kind, e.detail.contains("without spaces or commas")), (ErrorKind::BadRequest, true), "{bad:?}");
    }
    for good in ["a", "show-1", "ep_2024/01", "k=v;x", &"k".repeat(256)] {
        assert!(parse_key(good).is_ok(), "{good:?}");
    }
}

#[test]
fn finding_7_config_debug_keeps_secrets_out() {
    let c = config(&[("PURGE_TOKEN", "purge-secret-xyz")]);
    let shown = format!("{c:?}");
    for secret in ["0123456789abcdef-token-one", "fedcba9876543210-token-two", "purge-secret-xyz"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("www.example.com") && shown.contains("(2 secrets)"), "{shown}");
}

#[test]
fn finding_7_internal_error_text_never_reaches_the_caller() {
    let e = ApiError::new(ErrorKind::Internal, "D1_ERROR: no such table: people: SQLITE_ERROR");
    let p = e.problem();
    assert_eq!(p.status, 500);
    assert!(!p.detail.contains("D1") && !p.detail.contains("SQLITE"), "{}", p.detail);
    // Configuration problems still name what to fix.
    let c = ApiError::new(ErrorKind::Config, "setting DOH_URL: not a URL").with_setting("DOH_URL").problem();
    assert_eq!((c.detail.as_str(), c.setting.as_deref()), ("setting DOH_URL: not a URL", Some("DOH_URL")));
}

#[test]
fn finding_7_discovery_never_points_purges_at_internal_addresses() {
    use edgepurge_core::config::Config;
    use edgepurge_core::discovery::{non_public, refuse_non_public};
    use std::net::{IpAddr, SocketAddr};
    for (ip, refused) in [
        ("127.0.1.1", true),
        ("10.1.2.3", true),
        ("172.16.0.1", true),
        ("192.168.1.1", true),
        ("100.64.0.1", true),
        ("169.254.169.254", true),
        ("0.0.0.0", true),
        ("224.0.0.1", true),
        ("255.255.255.255", true),
        ("::1", true),
        ("::", true),
        ("fd00::1", true),
        ("fe80::1", true),
        ("ff02::1", true),
        ("::ffff:10.0.0.1", true),
        ("fdaa:0:1::2", true),
        ("192.0.2.10", false),
        ("203.0.113.5", false),
        ("1.1.1.1", false),
        ("2606:4700::1111", false),
        ("::ffff:1.1.1.1", false),
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(non_public(ip).is_some(), refused, "{ip}");
    }
    let addrs: Vec<SocketAddr> = vec!["1.1.1.1:80".parse().unwrap(), "169.254.169.254:80".parse().unwrap()];
    let e = refuse_non_public("instances.example.net", addrs.clone(), false).unwrap_err();
    assert_eq!((e.status(), e.kind), (502, ErrorKind::DiscoveryFailed));
    assert!(e.detail.contains("169.254.169.254:80, a link-local address"), "{}", e.detail);
    assert!(e.detail.contains("ALLOW_PRIVATE_INSTANCES"), "{}", e.detail);
    assert_eq!(refuse_non_public("i", addrs.clone(), true).unwrap(), addrs);

    // Static lists are checked when the settings load, and the setting is read strictly.
    let err = Config::from_lookup(super::settings(&[("DISCOVERY", "static:127.0.0.1:80")])).unwrap_err();
    assert_eq!(err.setting, "DISCOVERY");
    assert!(err.reason.contains("loopback"), "{}", err.reason);
    let ok = Config::from_lookup(super::settings(&[
        ("DISCOVERY", "static:127.0.0.1:80"),
        ("ALLOW_PRIVATE_INSTANCES", "true"),
    ]));
    assert!(ok.unwrap().allow_private_instances);
    assert!(!config(&[]).allow_private_instances, "off by default");
    let err = Config::from_lookup(super::settings(&[("ALLOW_PRIVATE_INSTANCES", "yes")])).unwrap_err();
    assert_eq!(err.setting, "ALLOW_PRIVATE_INSTANCES");
}

#[test]
fn finding_2_every_history_entry_fits_whatever_its_items() {
    use edgepurge_core::api::{Outcome, PurgeResult};
    use edgepurge_core::history::{
        bounded_items, bounded_label, bounded_results, MAX_ITEMS, MAX_LABEL_CHARS, MAX_RESULTS,
    };
    let long = format!("https://www.example.com/{}", "%C3%A9".repeat(4000));
    let cut = bounded_label(&long);
    assert_eq!(cut.chars().count(), MAX_LABEL_CHARS + 1);
    assert!(cut.ends_with('…') && long.starts_with(cut.trim_end_matches('…')));
    assert_eq!(bounded_label("https://www.example.com/a"), "https://www.example.com/a");
    let wide = "é".repeat(2000);
    assert_eq!(bounded_label(&wide).chars().count(), MAX_LABEL_CHARS + 1, "cut on characters, not bytes");

    let labels: Vec<String> = (0..150).map(|i| format!("{long}{i}")).collect();
    let items = bounded_items(&labels);
    assert_eq!(items.len(), MAX_ITEMS);
    // The stored size is bounded whatever came in: 100 items of at most 1,025 characters.
    assert!(serde_json::to_string(&items).unwrap().len() < 110 * 1024);

    let row = |i: usize, outcome| PurgeResult {
        url: format!("{long}{i}"),
        instance: "10.0.0.1:80".into(),
        outcome,
        http_status: None,
        error: None,
        retryable: false,
        elapsed_ms: None,
        started_ms: None,
        attempts: 1,
        pending: false,
        confirm: None,
        done_hard: false,
        retry_after_secs: None,
        upstream_id: None,
    };
    let mut results: Vec<PurgeResult> = (0..MAX_RESULTS + 10).map(|i| row(i, Outcome::Purged)).collect();
    results.push(row(9999, Outcome::Failed));
    let kept = bounded_results(&results);
    assert_eq!(kept.len(), MAX_RESULTS);
    assert_eq!(kept[0].outcome, Outcome::Failed, "what did not succeed is kept first");
    assert!(kept.iter().all(|r| r.url.chars().count() <= MAX_LABEL_CHARS + 1));
}

#[test]
fn finding_7_an_unconfirmed_answer_is_counted_apart_and_never_queued() {
    use edgepurge_core::report::ReportBuilder;
    let plan = super::two_host_plan();
    let mut b = ReportBuilder::new(&plan);
    for (j, job) in plan.jobs.iter().enumerate() {
        for r in 0..job.requests.len() {
            let headers: &[(&str, &str)] = if j == 0 { &[("Purge-Count", "1")] } else { &[] };
            b.record(&plan, j, &super::completed(r, Ok(super::answer_with(200, headers)), 1, 1));
        }
    }
    assert!(b.queue_retryable().is_empty(), "sending it again would change nothing");
    let report = b.finish();
    let s = report.summary;
    assert_eq!((s.purged, s.unconfirmed, s.total), (3, 2, 5));
    assert_eq!(report.status.http_status(), 200);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["summary"]["unconfirmed"], 2);
    assert_eq!(json["results"][1]["outcome"], "unconfirmed");
}

#[test]
fn finding_7_the_jwks_is_fetched_at_most_once_a_minute() {
    use edgepurge_core::access::{jwks_fetch_due, JWKS_REFETCH_MS};
    assert!(jwks_fetch_due(None, 0));
    assert!(!jwks_fetch_due(Some(1_000), 1_000 + JWKS_REFETCH_MS - 1));
    assert!(jwks_fetch_due(Some(1_000), 1_000 + JWKS_REFETCH_MS));
    assert_eq!(JWKS_REFETCH_MS, 60_000);
}

#[test]
fn finding_3_limits_count_every_request_and_bound_the_refusals_recorded() {
    use edgepurge_core::limits::{client_bucket, over, record_refusal, retry_after_secs, window};
    assert_eq!((window(0), window(59_999), window(60_000)), (0, 0, 1));
    assert_eq!((retry_after_secs(60_000), retry_after_secs(119_001), retry_after_secs(119_999)), (60, 1, 1));
    assert!(over(120, 120, 0, "x").is_none());
    let e = over(121, 120, 30_000, "purge requests").unwrap();
    assert_eq!((e.status(), e.retry_after_secs), (429, Some(30)));
    // A caller's refusals are written while under the limit, plus the first 429; no more.
    let written = (1..=300).filter(|&count| record_refusal(count, 120)).count();
    assert_eq!(written, 121);
    // Clients: IPv4 by address, IPv6 by /64, so rotating addresses within one allocation is one client.
    assert_eq!(client_bucket(Some("203.0.113.7")), "203.0.113.7");
    assert_eq!(client_bucket(Some("2001:db8:1:2:aaaa::1")), client_bucket(Some("2001:db8:1:2:ffff::9")));
    assert_eq!(client_bucket(Some("2001:db8:1:2::1")), "2001:db8:1:2::/64");
    // An isolate remembers who is over the limit until the window turns, and no one else.
    let mut seen = edgepurge_core::limits::OverLimit::default();
    seen.saw("person:1", 120, 120, 61_000);
    assert!(!seen.known("person:1", 61_000));
    seen.saw("person:1", 121, 120, 61_000);
    seen.saw("person:2", 5, 120, 61_500);
    assert!(seen.known("person:1", 119_999) && !seen.known("person:2", 119_999));
    assert!(!seen.known("person:1", 120_000), "a new window forgets");
    seen.saw("person:2", 1, 120, 120_000);
    assert!(!seen.known("person:1", 61_000), "the old window is gone");
    assert_ne!(client_bucket(Some("2001:db8:1:2::1")), client_bucket(Some("2001:db8:1:3::1")));
    assert_eq!(client_bucket(Some("::ffff:203.0.113.7")), "203.0.113.7");
    assert_eq!((client_bucket(None), client_bucket(Some("not an address"))), ("unknown".into(), "unknown".into()));
}

#[test]
fn finding_7_sessions_are_host_only_unambiguous_and_bound_to_their_token() {
    use edgepurge_core::auth::{cookie_value, secret_hash, session_cookie, SESSION_COOKIE};
    assert!(session_cookie("abc", 60).starts_with("__Host-ep_session=abc; Path=/;"));
    assert!(!session_cookie("abc", 60).contains("Domain"));
    assert_eq!(cookie_value("__Host-ep_session=a; x=1", SESSION_COOKIE), Some("a"));
    // Two session cookies (one planted): neither is believed, instead of the first winning.
    assert_eq!(cookie_value("__Host-ep_session=planted; __Host-ep_session=mine", SESSION_COOKIE), None);
    assert_eq!(cookie_value("ep_session=old", SESSION_COOKIE), None);
    // A bootstrap session names its token by hash; it lives while that token is configured.
    let c = config(&[]);
    assert!(c.is_bootstrap_hash(&secret_hash("0123456789abcdef-token-one")));
    let rotated = config(&[("API_TOKENS", "fedcba9876543210-token-two")]);
    assert!(!rotated.is_bootstrap_hash(&secret_hash("0123456789abcdef-token-one")));
    assert!(!c.is_bootstrap_hash(""));
}

#[test]
fn review_2_finding_6_the_address_filter_knows_every_form_that_reaches_an_internal_address() {
    use edgepurge_core::discovery::non_public;
    use std::net::IpAddr;
    for (ip, refused) in [
        // IPv4-compatible, NAT64 (well-known and local-use) and 6to4 forms of internal addresses.
        ("::10.0.0.1", true),
        ("::127.0.0.1", true),
        ("64:ff9b::a9fe:a9fe", true),
        ("64:ff9b::7f00:1", true),
        ("64:ff9b:1::1.1.1.1", true),
        ("2002:a00:1::1", true),
        ("2002:7f00:1::", true),
        // Deprecated site-local, benchmarking and IETF protocol assignments.
        ("fec0::1", true),
        ("198.18.0.1", true),
        ("198.19.255.254", true),
        ("192.0.0.8", true),
        // The same forms of public addresses stay public.
        ("64:ff9b::101:101", false),
        ("2002:101:101::1", false),
        ("::1.1.1.1", false),
        ("198.20.0.1", false),
        ("192.0.1.1", false),
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(non_public(ip).is_some(), refused, "{ip}");
    }
}

#[test]
fn review_2_finding_6_machines_answers_are_bounded_and_their_ids_never_echoed_whole() {
    use edgepurge_core::fly::{parse_machines, MAX_MACHINES};
    let many: Vec<serde_json::Value> = (0..=MAX_MACHINES)
        .map(|i| serde_json::json!({"id": format!("{i:014x}"), "region": "fra", "state": "started"}))
        .collect();
    let e = parse_machines("pipely", 200, serde_json::to_string(&many).unwrap().as_bytes()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DiscoveryFailed);
    assert!(e.detail.contains("1001 Machines"), "{}", e.detail);
    let evil = format!("{}\r\nx-injected: 1", "a".repeat(4000));
    let body = serde_json::json!([{"id": evil, "region": "fra", "state": "started"}]).to_string();
    let e = parse_machines("pipely", 200, body.as_bytes()).unwrap_err();
    assert!(e.detail.len() < 200, "{}", e.detail);
    assert!(!e.detail.contains('\r') && !e.detail.contains('\n'), "{}", e.detail);
}

#[test]
fn review_2_finding_6_access_keys_come_over_tls_and_a_refused_alg_is_not_echoed() {
    use edgepurge_core::access::JwtError;
    use edgepurge_core::config::Config;
    let access = |url: &str| {
        Config::from_lookup(super::settings(&[
            ("ACCESS_TEAM_DOMAIN", "team.cloudflareaccess.com"),
            ("ACCESS_AUD", "aud"),
            ("ACCESS_CERTS_URL", url),
        ]))
    };
    let e = access("http://keys.example.com/certs").unwrap_err();
    assert_eq!(e.setting, "ACCESS_CERTS_URL");
    assert!(e.reason.contains("https"), "{}", e.reason);
    assert!(access("https://keys.example.com/certs").is_ok());
    assert!(access("http://127.0.0.1:9/certs").is_ok(), "a local JWKS, as the console tests use");
    let shown = JwtError::Algorithm("<script>none</script>".into()).to_string();
    assert!(!shown.contains("script"), "{shown}");
}

#[test]
fn review_2_finding_2_a_report_too_large_to_build_is_refused_before_anything_is_sent() {
    use edgepurge_core::plan::Plan;
    use edgepurge_core::purge::Purge;
    use edgepurge_core::target::parse_all;
    use std::collections::BTreeMap;
    // 100 URLs of 8 KB to 15 instances: a report of about 12 MB.
    let urls: Vec<String> = (0..100).map(|i| format!("https://a.example/{i}/{}", "x".repeat(8000))).collect();
    let mut by_host = BTreeMap::new();
    by_host.insert("a.example".to_owned(), (1..=15).map(|i| super::addr(&format!("10.0.0.{i}:80"))).collect());
    let plan = Plan::build(Purge::urls(parse_all(&urls).unwrap(), false), &by_host, &super::token(), 6, false).unwrap();
    let bytes = plan.report_bytes();
    assert!((12_000_000..13_000_000).contains(&bytes), "{bytes}");
    let e = plan.check_report(8 << 20).unwrap_err();
    assert_eq!((e.status(), e.kind), (413, ErrorKind::ReportTooLarge));
    assert_eq!(e.setting.as_deref(), Some("MAX_REPORT_BYTES"));
    assert!(e.detail.contains("at most 67 items each"), "{}", e.detail);
    assert!(plan.check_report(16 << 20).is_ok());
}
