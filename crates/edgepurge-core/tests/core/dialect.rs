//! Instance dialects (issue 19): what each contract is sent, how its answers and its cache
//! status are read, which items go where, and what the instance check makes of an instance.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{addr, answer_with, completed, config, token};
use edgepurge_core::api::{CacheStatusFormat, Contract, Outcome, PurgeRequest, Role};
use edgepurge_core::check::{self, CheckGroup};
use edgepurge_core::dialect::{Dialect, Support, TokenHeader};
use edgepurge_core::discovery::Instance;
use edgepurge_core::http1::{Answer, FieldValue};
use edgepurge_core::outcome::{classify, DeliveryError};
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::request::{labels, purges_for, skipped_groups};
use edgepurge_core::scopes::Grant;
use edgepurge_core::target::Target;
use edgepurge_core::verify::{confirmation, read_answer, read_cache_status, verify_result};
use std::collections::BTreeMap;

fn plain() -> Dialect {
    Dialect::plain(TokenHeader::new("Purge-Token"))
}

fn url(soft: bool) -> Purge {
    Purge::Url { target: Target::parse("https://www.example.com/episodes/1?x=1").unwrap(), soft }
}

fn key(soft: bool) -> Purge {
    Purge::Key { key: FieldValue::new("episode-1").unwrap(), host: "www.example.com".into(), soft }
}

fn prefix() -> Purge {
    Purge::Prefix { target: Target::parse("https://www.example.com/episodes/").unwrap() }
}

fn host() -> Purge {
    Purge::Host { host: "www.example.com".into() }
}

fn written(dialect: &Dialect, purge: &Purge) -> Option<String> {
    dialect.request(purge, &token(), None, true).map(|b| String::from_utf8(b).unwrap())
}

// ---------------------------------------------------------------------------------------------
// Capabilities and requests

#[test]
fn each_dialect_states_which_kinds_it_can_do() {
    let edgepurge = Dialect::edgepurge();
    let cases = [
        (url(false), Support::Yes, Support::Yes),
        (url(true), Support::Yes, Support::Hard),
        (key(false), Support::Yes, Support::No),
        (key(true), Support::Yes, Support::No),
        (prefix(), Support::Yes, Support::No),
        (host(), Support::Yes, Support::No),
    ];
    for (purge, on_edgepurge, on_plain) in cases {
        assert_eq!(edgepurge.support(&purge), on_edgepurge, "{purge:?}");
        assert_eq!(plain().support(&purge), on_plain, "{purge:?}");
        // A purge it cannot do is never written, and says why.
        assert_eq!(written(&plain(), &purge).is_none(), on_plain == Support::No, "{purge:?}");
        assert_eq!(plain().refusal(&purge).is_some(), on_plain == Support::No, "{purge:?}");
        assert!(edgepurge.refusal(&purge).is_none());
    }
}

#[test]
fn each_dialect_writes_its_own_requests() {
    let token_line = "Purge-Token: s3cret\r\n";
    // The edgepurge contract: the kind, keys, prefix and softness in its headers.
    let cases: [(Purge, &str, &[&str]); 5] = [
        (url(false), "PURGE /episodes/1?x=1 HTTP/1.1\r\nHost: www.example.com\r\n", &[]),
        (url(true), "PURGE /episodes/1?x=1 HTTP/1.1\r\n", &["Purge-Soft: 1\r\n"]),
        (key(true), "PURGE / HTTP/1.1\r\n", &["Purge-Keys: episode-1\r\n", "Purge-Kind: key\r\n", "Purge-Soft: 1\r\n"]),
        (prefix(), "PURGE / HTTP/1.1\r\n", &["Purge-Kind: prefix\r\n", "Purge-Prefix: /episodes/\r\n"]),
        (host(), "PURGE / HTTP/1.1\r\n", &["Purge-Kind: host\r\n"]),
    ];
    for (purge, start, fields) in cases {
        let text = written(&Dialect::edgepurge(), &purge).unwrap();
        assert!(text.starts_with(start), "{text}");
        assert!(text.contains(token_line), "{text}");
        for field in fields {
            assert!(text.contains(field), "{field} in {text}");
        }
    }
    // Plain: the URL's own request line, the token, nothing else of the contract; soft done hard.
    for soft in [false, true] {
        let text = written(&plain(), &url(soft)).unwrap();
        assert!(text.starts_with("PURGE /episodes/1?x=1 HTTP/1.1\r\nHost: www.example.com\r\n"), "{text}");
        assert!(text.contains(token_line));
        assert!(!text.contains("Purge-Soft") && !text.contains("Purge-Kind"), "{text}");
        assert!(text.ends_with("Connection: keep-alive\r\n\r\n"));
    }
    // Its own token header, or none.
    let custom = Dialect::plain(TokenHeader::new("X-Purge-Secret"));
    let text = written(&custom, &url(false)).unwrap();
    assert!(text.contains("X-Purge-Secret: s3cret\r\n") && !text.contains("Purge-Token"), "{text}");
    let text = written(&Dialect::plain(None), &url(false)).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
}

#[test]
fn a_token_header_name_is_a_field_name() {
    for good in ["purge-token", "X-Purge-Token", "a!#$%&'*+-.^_`|~z"] {
        assert!(TokenHeader::new(good).is_some(), "{good}");
    }
    for bad in ["", "Purge Token", "Purge-Token:", "X\r\nEvil", "tök", &"x".repeat(65)] {
        assert!(TokenHeader::new(bad).is_none(), "{bad:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Rules

#[test]
fn rules_declare_their_contract() {
    let c = config(&[
        ("ALLOWED_HOSTS", "a.example, b.example, c.example, d.example"),
        (
            "DISCOVERY",
            "a.example=static:10.0.0.1:80:contract=plain; b.example=static:10.0.0.2:443:tls:contract=plain:\
             token-header=X-Purge; c.example=dns:i.example.net:80:token-header=none:contract=plain; \
             dns:j.example.net:80:contract=edgepurge",
        ),
        ("ALLOW_PRIVATE_INSTANCES", "true"),
    ]);
    let rule = |h: &str| c.discovery_rule(h).unwrap().clone();
    assert_eq!(rule("a.example").dialect, plain());
    assert_eq!(rule("a.example").to_string(), "static:contract=plain");
    assert_eq!(rule("b.example").dialect, Dialect::plain(TokenHeader::new("X-Purge")));
    assert_eq!(rule("b.example").to_string(), "static:tls:contract=plain:token-header=X-Purge");
    assert_eq!(rule("c.example").dialect, Dialect::plain(None));
    assert_eq!(rule("c.example").to_string(), "dns:i.example.net:80:contract=plain:token-header=none");
    // A rule for every host may carry options too; edgepurge is the default and not shown.
    assert_eq!(rule("d.example").dialect, Dialect::edgepurge());
    assert_eq!(rule("d.example").to_string(), "dns:j.example.net:80");
    // The instances a rule finds speak its dialect.
    let found = edgepurge_core::discovery::Found::Addrs(vec!["10.0.0.1:80".parse().unwrap()]);
    assert_eq!(rule("a.example").instances("a.example", &found).unwrap()[0].dialect, plain());

    for bad in [
        "static:10.0.0.1:80:contract=fastly",
        "static:10.0.0.1:80:contract=plain:contract=plain",
        "static:10.0.0.1:80:token-header=X-Purge",
        "static:10.0.0.1:80:contract=plain:token-header=Bad Name",
    ] {
        let e = edgepurge_core::config::Config::from_lookup(super::settings(&[
            ("DISCOVERY", bad),
            ("ALLOW_PRIVATE_INSTANCES", "true"),
        ]))
        .unwrap_err();
        assert_eq!(e.setting, "DISCOVERY", "{bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

#[test]
fn a_plain_cache_is_believed_on_any_success() {
    type Case = (Answer, Outcome, Outcome);
    // (answer, as edgepurge reads it, as plain reads it)
    let cases: Vec<Case> = vec![
        // Pipely's return(purge): Varnish's synthetic 200, no count.
        (answer_with(200, &[("cache-status", "region=fra; synth")]), Outcome::Unconfirmed, Outcome::Purged),
        (answer_with(204, &[]), Outcome::Unconfirmed, Outcome::Purged),
        // nginx cache_purge and ATS: 404 for a URL they did not hold.
        (answer_with(404, &[]), Outcome::Unconfirmed, Outcome::NotCached),
        // A count is believed whoever sends it.
        (answer_with(200, &[("Purge-Count", "0")]), Outcome::NotCached, Outcome::NotCached),
        (answer_with(200, &[("Purge-Count", "3")]), Outcome::Purged, Outcome::Purged),
        (answer_with(401, &[]), Outcome::Rejected, Outcome::Rejected),
        (answer_with(405, &[]), Outcome::Rejected, Outcome::Rejected),
        (answer_with(503, &[]), Outcome::Failed, Outcome::Failed),
    ];
    for (answer, edgepurge, plain) in cases {
        let reply = Ok(answer);
        assert_eq!(classify(&reply, Contract::Edgepurge).outcome, edgepurge, "{reply:?}");
        let c = classify(&reply, Contract::Plain);
        assert_eq!(c.outcome, plain, "{reply:?}");
        assert_eq!(c.error.is_none(), plain.is_success() && plain != Outcome::Unconfirmed, "{reply:?}");
    }
    let c = classify(&Ok(answer_with(200, &[])), Contract::Edgepurge);
    assert!(c.error.unwrap().contains("contract=plain"), "the edgepurge reading names the fix");
    assert!(classify(&Ok(answer_with(503, &[])), Contract::Plain).retryable);
}

// ---------------------------------------------------------------------------------------------
// Cache status

/// Pipely's exact strings (varnish/vcl/default.vcl and fly/region.vcl), with and without a host
/// name in the origin part, as the local CDN's Pipely-style varnishd sends them.
const PIPELY_HIT: &str = "region=fra; origin=app,changelog-2025-05-05.internal; ttl=59.849; grace=86400.000; \
                          keep=604800.000; storage=storage.memory; hit; hits=2";
const PIPELY_HIT_NO_FQDN: &str =
    "region=fra; origin=app,; ttl=59.849; grace=86400.000; keep=604800.000; storage=storage.memory; hit; hits=2";
const PIPELY_MISS: &str =
    "region=iad; origin=app,changelog-2025-05-05.internal; ttl=60.000; grace=86400.000; keep=604800.000; \
     storage=none; miss; hits=0";
const PIPELY_STALE: &str = "region=fra; origin=app,; ttl=-2.010; grace=86400.000; keep=604800.000; \
                            storage=storage.memory; hit; stale; hits=5";

#[test]
fn cache_status_readers_never_mistake_a_hit_for_fresh() {
    use CacheStatusFormat::{Pipely, Rfc9211};
    // (value, format, hit, stale, ttl); None: no reader is confident.
    type Case<'a> = (&'a str, Option<(CacheStatusFormat, bool, bool, Option<i64>)>);
    let cases: Vec<Case<'_>> = vec![
        // The edgepurge VCL (RFC 9211).
        ("edge-1; hit; ttl=3542", Some((Rfc9211, true, false, Some(3542)))),
        ("edge-1; fwd=uri-miss; stored", Some((Rfc9211, false, false, None))),
        ("edge-1; hit; fwd=stale; ttl=-12", Some((Rfc9211, true, true, Some(-12)))),
        ("origin; fwd=miss, edge-1; hit; ttl=5", Some((Rfc9211, true, false, Some(5)))),
        // A host name that is not an sf-token, read loosely.
        ("3f2a9c1b7d0e; hit; ttl=3542", Some((Rfc9211, true, false, Some(3542)))),
        // Pipely: the comma inside origin= is not a member boundary, with or without a host name.
        (PIPELY_HIT, Some((Pipely, true, false, Some(59)))),
        (PIPELY_HIT_NO_FQDN, Some((Pipely, true, false, Some(59)))),
        (PIPELY_MISS, Some((Pipely, false, false, Some(60)))),
        (PIPELY_STALE, Some((Pipely, true, true, Some(-2)))),
        ("region=fra; origin=app,changelog.internal; bypass", Some((Pipely, false, false, None))),
        // As Pipely's dynamic backends name themselves (`app(<host>:<port>)`), and as the local
        // CDN's Pipely-style varnishd sends it.
        (
            "region=fra; origin=app(127.0.0.1:16580),origin.edgepurge.test; ttl=59.991; grace=86400.000; \
             keep=604800.000; storage=storage.memory; hit; hits=1",
            Some((Pipely, true, false, Some(59))),
        ),
        // Pipely's synthetic answers, and values that say nothing: no verdict, never "fresh".
        ("region=fra; synth", None),
        ("region=fra; origin=app,x; hit; miss", None),
        ("edge-1", None),
        ("edge-1; stored", None),
        ("HIT", None),
        ("", None),
        ("; hit", None),
        ("a=b; hit", None),
    ];
    for (value, want) in cases {
        let got = read_cache_status(value).map(|r| (r.format, r.hit, r.stale, r.ttl));
        assert_eq!(got, want, "{value:?}");
    }
    assert_eq!(read_cache_status(PIPELY_HIT).unwrap().cache.as_deref(), Some("fra"), "region= names the cache");
}

#[test]
fn x_cache_and_age_are_read_when_there_is_no_cache_status() {
    use CacheStatusFormat::{Age, XCache};
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<(CacheStatusFormat, bool)>, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (&[("X-Cache", "HIT")], Some((XCache, true)), Some("HIT")),
        (&[("X-Cache", "MISS")], Some((XCache, false)), Some("MISS")),
        (&[("X-Cache", "MISS, HIT")], Some((XCache, true)), Some("MISS, HIT")),
        (&[("X-Cache", "Hit from cloudfront")], Some((XCache, true)), Some("Hit from cloudfront")),
        (&[("X-Cache", "HIT from squid.example:3128")], Some((XCache, true)), Some("HIT from squid.example:3128")),
        (&[("X-Cache", "RefreshHit from cloudfront")], None, None),
        (&[("Age", "120")], Some((Age, true)), None),
        (&[("Age", "0")], None, None),
        (&[("X-Cache", "PASS"), ("Age", "7")], Some((Age, true)), None),
        // A readable Cache-Status wins over the others.
        (
            &[("Cache-Status", PIPELY_MISS), ("X-Cache", "HIT"), ("Age", "9")],
            Some((CacheStatusFormat::Pipely, false)),
            Some(PIPELY_MISS),
        ),
        // An unreadable one is kept as sent, without a verdict.
        (&[("Cache-Status", "region=fra; synth")], None, Some("region=fra; synth")),
        (&[], None, None),
    ];
    for (headers, want, raw) in cases {
        let (got_raw, reading) = read_answer(&answer_with(200, headers));
        assert_eq!(reading.map(|r| (r.format, r.hit)), want, "{headers:?}");
        assert_eq!(got_raw.as_deref(), raw, "{headers:?}");
    }
}

#[test]
fn confirm_and_verify_read_pipely() {
    let hit = Ok(answer_with(200, &[("cache-status", PIPELY_HIT_NO_FQDN)]));
    let miss = Ok(answer_with(200, &[("cache-status", PIPELY_MISS)]));
    let stale = Ok(answer_with(200, &[("cache-status", PIPELY_STALE)]));
    let synth = Ok(answer_with(200, &[("cache-status", "region=fra; synth")]));
    assert_eq!(confirmation(&hit, false).fresh, Some(false), "a hit is never fresh");
    assert_eq!(confirmation(&miss, false).fresh, Some(true));
    assert_eq!(confirmation(&miss, false).format, Some(CacheStatusFormat::Pipely));
    assert_eq!(confirmation(&stale, true).fresh, Some(true), "after a soft purge a stale hit is fresh");
    assert_eq!(confirmation(&stale, false).fresh, Some(false));
    let c = confirmation(&synth, false);
    assert_eq!((c.fresh, c.cache_status.as_deref()), (None, Some("region=fra; synth")));
    assert!(c.error.is_some());

    let row = verify_result("127.0.5.1:6081".into(), &hit);
    assert_eq!((row.hit, row.ttl, row.format), (Some(true), Some(59), Some(CacheStatusFormat::Pipely)));
    let row = verify_result("127.0.5.1:6081".into(), &synth);
    assert_eq!((row.hit, row.format), (None, None));
}

// ---------------------------------------------------------------------------------------------
// Which items go where

fn mixed() -> edgepurge_core::config::Config {
    config(&[
        ("ALLOWED_HOSTS", "www.example.com, pipely.example.com, legacy.example.com"),
        (
            "DISCOVERY",
            "pipely.example.com=static:10.0.5.1:80,10.0.5.2:80:contract=plain; \
             legacy.example.com=static:10.0.5.3:80; *=dns:instances.example.net:80",
        ),
        ("ALLOW_PRIVATE_INSTANCES", "true"),
    ])
}

fn request(f: impl FnOnce(&mut PurgeRequest)) -> PurgeRequest {
    let mut r = PurgeRequest::default();
    f(&mut r);
    r
}

#[test]
fn prefixes_and_hosts_of_a_plain_group_are_refused_before_anything_is_sent() {
    let c = mixed();
    let prefix = request(|r| r.prefixes = vec!["https://pipely.example.com/episodes/".into()]);
    let e = purges_for(&c, &Grant::unscoped(Role::Admin), &prefix).unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.detail.starts_with("prefixes[0]:"), "{}", e.detail);
    assert!(e.detail.contains("pipely.example.com=static:contract=plain"), "names the group: {}", e.detail);
    assert!(e.detail.contains("prefix purge"), "names the kind: {}", e.detail);
    let hosts = request(|r| r.hosts = vec!["pipely.example.com".into()]);
    let e = purges_for(&c, &Grant::unscoped(Role::Admin), &hosts).unwrap_err();
    assert!(e.detail.starts_with("hosts[0]:") && e.detail.contains("host purge"), "{}", e.detail);
    // The same kinds to an edgepurge group are fine.
    let fine = request(|r| r.prefixes = vec!["https://www.example.com/episodes/".into()]);
    assert_eq!(purges_for(&c, &Grant::unscoped(Role::Admin), &fine).unwrap().len(), 1);
}

#[test]
fn keys_go_only_to_groups_with_keys_and_the_others_are_named() {
    let c = mixed();
    let keys = request(|r| r.keys = vec!["episode-1".into()]);
    let purges = purges_for(&c, &Grant::unscoped(Role::Editor), &keys).unwrap();
    let hosts: Vec<&str> = purges.iter().map(Purge::host).collect();
    // The plain group gets nothing; the misdeclared one (declared edgepurge) is sent its key.
    assert_eq!(hosts, ["www.example.com", "legacy.example.com"]);
    let skipped = skipped_groups(&c, &Grant::unscoped(Role::Editor), &keys);
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].item, "key:episode-1@pipely.example.com");
    assert_eq!(skipped[0].group, "pipely.example.com=static:contract=plain");
    assert_eq!(skipped[0].contract, Contract::Plain);
    assert!(skipped[0].reason.contains("home page"), "{}", skipped[0].reason);
    assert_eq!(labels(&c, &keys), ["key:episode-1@www.example.com", "key:episode-1@legacy.example.com"]);
    // URLs skip nothing.
    let urls = request(|r| r.urls = vec!["https://pipely.example.com/a".into()]);
    assert!(skipped_groups(&c, &Grant::unscoped(Role::Editor), &urls).is_empty());

    // Where no group can purge keys, the request is a 400 naming them.
    let only_plain = config(&[
        ("ALLOWED_HOSTS", "pipely.example.com"),
        ("DISCOVERY", "*=static:10.0.5.1:80:contract=plain"),
        ("ALLOW_PRIVATE_INSTANCES", "true"),
    ]);
    let e = purges_for(&only_plain, &Grant::unscoped(Role::Editor), &keys).unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.detail.contains("no instance group can purge a key"), "{}", e.detail);
    assert!(e.detail.contains("contract=plain"), "{}", e.detail);
}

fn plain_at(s: &str) -> Instance {
    Instance { dialect: plain(), ..addr(s) }
}

#[test]
fn a_soft_purge_of_a_plain_group_is_done_hard_and_the_row_says_so() {
    let target = Target::parse("https://a.example/1").unwrap();
    let mut instances = BTreeMap::new();
    instances.insert("a.example".to_owned(), vec![addr("10.0.0.1:80"), plain_at("10.0.0.2:80")]);
    let plan = Plan::build(vec![Purge::Url { target, soft: true }], &instances, &token(), 6, true).unwrap();
    let text = |j: usize| String::from_utf8(plan.jobs[j].requests[0].bytes.clone()).unwrap();
    assert!(text(0).contains("Purge-Soft: 1"));
    assert!(!text(1).contains("Purge-Soft"));
    let mut report = ReportBuilder::new(&plan);
    let stale = answer_with(200, &[("Cache-Status", "edge-1; hit; fwd=stale; ttl=-1")]);
    report.record(&plan, 0, &completed(0, Ok(answer_with(200, &[("Purge-Count", "1")])), 1, 1));
    report.record(&plan, 0, &completed(1, Ok(stale), 1, 1));
    report.record(&plan, 1, &completed(0, Ok(answer_with(200, &[])), 1, 1));
    // A stale hit after a purge done hard is the old copy still served.
    report.record(&plan, 1, &completed(1, Ok(answer_with(200, &[("cache-status", PIPELY_STALE)])), 1, 1));
    let r = report.finish();
    assert_eq!((r.results[0].done_hard, r.results[1].done_hard), (false, true));
    assert_eq!(r.results[1].outcome, Outcome::Unconfirmed, "the plan's classification comes from delivery");
    assert_eq!(r.results[0].confirm.as_ref().unwrap().fresh, Some(true));
    assert_eq!(r.results[1].confirm.as_ref().unwrap().fresh, Some(false));
}

#[test]
fn the_plan_never_sends_an_instance_what_it_would_misread() {
    let mut instances = BTreeMap::new();
    instances.insert("www.example.com".to_owned(), vec![plain_at("10.0.0.2:80")]);
    // Whoever asks (redelivery of a key to a group since declared plain, say): refused, not sent.
    let e = Plan::build(vec![key(false)], &instances, &token(), 6, false).unwrap_err();
    assert_eq!(e.status(), 400);
    let plan = Plan::for_pairs(vec![(key(false), plain_at("10.0.0.2:80"))], &token(), 6);
    assert!(plan.jobs.is_empty());
    // Mixed: only the instances that can.
    instances.insert("www.example.com".to_owned(), vec![addr("10.0.0.1:80"), plain_at("10.0.0.2:80")]);
    let plan = Plan::build(vec![key(false)], &instances, &token(), 6, false).unwrap();
    assert_eq!(plan.jobs.len(), 1);
    assert_eq!(plan.jobs[0].instance.key(), "10.0.0.1:80");
}

// ---------------------------------------------------------------------------------------------
// The instance check

#[test]
fn the_check_plans_a_reserved_purge_and_a_head_per_instance() {
    let c = mixed();
    let groups = check::groups(&c);
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "www.example.com=dns:instances.example.net:80",
            "pipely.example.com=static:contract=plain",
            "legacy.example.com=static"
        ]
    );
    let found = vec![(&groups[1], vec![plain_at("10.0.5.1:80"), plain_at("10.0.5.2:80")])];
    let plan = check::plan(&found, &token(), 6);
    assert_eq!(plan.jobs.len(), 2);
    let text = |r: usize| String::from_utf8(plan.jobs[0].requests[r].bytes.clone()).unwrap();
    assert!(text(0).starts_with("PURGE /.well-known/edgepurge-check HTTP/1.1\r\nHost: pipely.example.com\r\n"));
    assert!(text(0).contains("Purge-Token: s3cret"));
    assert!(text(1).starts_with("HEAD / HTTP/1.1\r\nHost: pipely.example.com\r\n"));
    assert!(plan.jobs[0].requests[1].head && !plan.jobs[0].requests[0].head);
}

#[test]
fn the_check_names_what_each_instance_speaks_and_flags_a_misdeclared_group() {
    let c = mixed();
    let groups = check::groups(&c);
    let group = |i: usize| -> &CheckGroup<'_> { &groups[i] };
    let edge = addr("10.0.0.1:80");
    let pip = plain_at("10.0.5.1:80");
    let legacy = addr("10.0.5.3:80");
    let counted = Ok(answer_with(200, &[("Purge-Count", "0")]));
    let synth = Ok(answer_with(200, &[("cache-status", "region=fra; synth")]));
    let rfc = Ok(answer_with(200, &[("Cache-Status", "edge-1; hit; ttl=5")]));
    let pipely = Ok(answer_with(200, &[("cache-status", PIPELY_MISS)]));
    let none = Ok(answer_with(200, &[]));

    let row = check::row(group(0), &edge, &counted, Some(&rfc));
    assert_eq!((row.reachable, row.token_accepted, row.seen), (true, Some(true), Some(Contract::Edgepurge)));
    assert_eq!((row.cache_status_format, row.warning.as_deref()), (Some(CacheStatusFormat::Rfc9211), None));

    let row = check::row(group(1), &pip, &synth, Some(&pipely));
    assert_eq!((row.declared, row.seen), (Contract::Plain, Some(Contract::Plain)));
    assert_eq!((row.cache_status_format, row.warning.as_deref()), (Some(CacheStatusFormat::Pipely), None));

    // The misconfiguration that otherwise reports `unconfirmed` without a word.
    let row = check::row(group(2), &legacy, &synth, Some(&pipely));
    assert_eq!((row.declared, row.seen), (Contract::Edgepurge, Some(Contract::Plain)));
    assert!(row.warning.as_deref().unwrap().contains("contract=plain"), "{:?}", row.warning);

    let row = check::row(group(1), &pip, &counted, Some(&rfc));
    assert!(row.warning.as_deref().unwrap().contains("drop :contract=plain"), "{:?}", row.warning);

    let row = check::row(group(1), &pip, &Ok(answer_with(401, &[])), Some(&pipely));
    assert_eq!((row.token_accepted, row.seen), (Some(false), None));
    assert!(row.warning.as_deref().unwrap().contains("purge token"), "{:?}", row.warning);

    let row = check::row(group(0), &edge, &counted, Some(&none));
    assert_eq!(row.cache_status_format, None);
    assert!(row.warning.as_deref().unwrap().contains("cannot be read"), "{:?}", row.warning);

    let tls = Instance { tls: Some("www.example.com".into()), ..addr("10.0.0.9:443") };
    let row = check::row(group(0), &tls, &Err(DeliveryError::Connect("refused".into())), None);
    assert_eq!((row.reachable, row.tls_verified, row.token_accepted), (false, Some(false), None));
    assert!(row.warning.as_deref().unwrap().starts_with("unreachable"));
    let row = check::row(group(0), &tls, &counted, Some(&rfc));
    assert_eq!(row.tls_verified, Some(true));
}

#[test]
fn the_checks_rows_follow_its_plan_and_its_history_status_the_warnings() {
    use edgepurge_core::api::{GroupError, HistoryStatus};
    let c = mixed();
    let groups = check::groups(&c);
    let found = vec![
        (&groups[1], vec![plain_at("10.0.5.1:80"), plain_at("10.0.5.2:80")]),
        (&groups[2], vec![addr("10.0.5.3:80")]),
    ];
    let plan = check::plan(&found, &token(), 6);
    let synth = || Some(Ok(answer_with(200, &[("cache-status", "region=fra; synth")])));
    let pipely = || Some(Ok(answer_with(200, &[("cache-status", PIPELY_MISS)])));
    let rows = check::rows(&found, &plan, vec![[synth(), pipely()], [synth(), None], [None, None]]);
    let got: Vec<(&str, &str, bool)> =
        rows.iter().map(|r| (r.instance.as_str(), r.group.as_str(), r.warning.is_some())).collect();
    assert_eq!(
        got,
        [
            ("10.0.5.1:80", "pipely.example.com=static:contract=plain", false),
            ("10.0.5.2:80", "pipely.example.com=static:contract=plain", false),
            ("10.0.5.3:80", "legacy.example.com=static", true),
        ]
    );
    assert_eq!(rows[1].error.as_deref(), Some("HEAD /: no answer"));
    assert!(!rows[2].reachable && rows[2].error.as_deref().unwrap().contains("no answer"), "{:?}", rows[2]);

    assert_eq!(check::history_status(&rows[..2], &[]), HistoryStatus::Purged);
    assert_eq!(check::history_status(&rows, &[]), HistoryStatus::Partial);
    assert_eq!(check::history_status(&rows[2..], &[]), HistoryStatus::Failed);
    let lost = GroupError { group: "g".into(), host: "h".into(), error: "DoH down".into() };
    assert_eq!(check::history_status(&rows[..2], std::slice::from_ref(&lost)), HistoryStatus::Partial);
    let summary = check::summary(&rows, &[lost]);
    assert!(summary.starts_with("instance check: 3 instances, 1 with a warning; 10.0.5.3:80"), "{summary}");
    assert!(summary.ends_with("g: discovery failed: DoH down"), "{summary}");
}
