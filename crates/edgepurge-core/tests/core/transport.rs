//! How instances are spoken to: `:tls` and `:insecure` rules, the purge token never in clear
//! to a public address, DoH over https, and TLS instances through planning and redelivery.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{config, settings, token};
use edgepurge_core::api::{Delivery, DeliveryStatus, Transport};
use edgepurge_core::config::Config;
use edgepurge_core::dialect::Dialect;
use edgepurge_core::discovery::{DiscoveryRule, DiscoverySpec, Found, Instance};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::retry::RedeliveryPolicy;
use edgepurge_core::target::parse_all;
use std::collections::BTreeMap;
use std::net::SocketAddr;

fn load(overrides: &[(&str, &str)]) -> Result<Config, String> {
    Config::from_lookup(settings(overrides)).map_err(|e| format!("{}: {}", e.setting, e.reason))
}

fn sock(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn rules_say_how_their_instances_are_spoken_to() {
    let c = config(&[
        (
            "DISCOVERY",
            "a.example=dns:i.example.net:443:tls; b.example=static:10.0.0.1:80; *=static:192.0.2.7:80:insecure",
        ),
        ("ALLOW_PRIVATE_INSTANCES", "true"),
    ]);
    let rule = |host: &str| c.discovery_rule(host).unwrap().clone();
    assert_eq!(
        rule("a.example"),
        DiscoveryRule {
            spec: DiscoverySpec::Dns { name: "i.example.net".into(), port: 443 },
            transport: Transport::Tls,
            dialect: Dialect::edgepurge(),
        }
    );
    assert_eq!(rule("a.example").to_string(), "dns:i.example.net:443:tls");
    assert_eq!((rule("b.example").transport, rule("b.example").to_string()), (Transport::Plain, "static".into()));
    assert_eq!(rule("www.example.com").transport, Transport::Insecure);
    assert_eq!(rule("www.example.com").to_string(), "static:insecure");
}

#[test]
fn a_plain_rule_to_a_public_address_is_refused_at_load_naming_the_rule() {
    let e = load(&[
        ("DISCOVERY", "cdn.example.com=static:10.0.0.1:80,192.0.2.10:80; *=dns:i.example.net:443:tls"),
        ("ALLOW_PRIVATE_INSTANCES", "true"),
    ])
    .unwrap_err();
    assert!(e.starts_with("DISCOVERY: "), "{e}");
    assert!(e.contains("the rule static") && e.contains("192.0.2.10:80") && e.contains(":tls"), "{e}");
    // Said knowingly, or over TLS, it loads; clear text to private addresses needs no word.
    for ok in ["static:192.0.2.10:80:insecure", "static:192.0.2.10:443:tls"] {
        assert!(load(&[("DISCOVERY", ok)]).is_ok(), "{ok}");
    }
    let private = [("DISCOVERY", "static:10.0.0.1:80"), ("ALLOW_PRIVATE_INSTANCES", "true")];
    assert!(load(&private).is_ok());
}

#[test]
fn discovery_over_plain_http_is_for_loopback_only() {
    for ok in
        ["https://dns.example/dns-query", "http://127.0.0.1:8053/dns-query", "http://[::1]/q", "http://localhost/q"]
    {
        assert!(load(&[("DOH_URL", ok)]).is_ok(), "{ok}");
    }
    for bad in ["http://dns.example/dns-query", "http://10.0.0.53/dns-query"] {
        let e = load(&[("DOH_URL", bad)]).unwrap_err();
        assert!(e.starts_with("DOH_URL: ") && e.contains("https"), "{bad}: {e}");
    }
}

#[test]
fn discovered_addresses_become_instances_of_their_rule() {
    let tls = DiscoveryRule {
        spec: DiscoverySpec::Dns { name: "i.example.net".into(), port: 443 },
        transport: Transport::Tls,
        dialect: Dialect::edgepurge(),
    };
    let found = Found::Addrs(vec![sock("192.0.2.1:443"), sock("[2001:db8::1]:443")]);
    let instances = tls.instances("www.example.com", &found).unwrap();
    assert_eq!(instances.len(), 2);
    assert!(instances.iter().all(|i| i.tls.as_deref() == Some("www.example.com")));
    assert_eq!(instances[1].key(), "[2001:db8::1]:443");

    // A DNS answer naming a public address for a clear-text rule: refused, nothing planned.
    let plain = DiscoveryRule { transport: Transport::Plain, ..tls.clone() };
    let e = plain.instances("www.example.com", &found).unwrap_err();
    assert_eq!((e.kind, e.subject.as_deref()), (ErrorKind::DiscoveryFailed, Some("dns:i.example.net:443")));
    assert!(e.detail.contains("192.0.2.1:443") && e.detail.contains("dns:i.example.net:443:tls"), "{}", e.detail);
    // Clear text to loopback and private addresses, or said knowingly, stays clear text.
    let local =
        plain.instances("www.example.com", &Found::Addrs(vec![sock("127.0.1.1:80"), sock("10.1.2.3:80")])).unwrap();
    assert!(local.iter().all(|i| i.tls.is_none()));
    let insecure = DiscoveryRule { transport: Transport::Insecure, ..tls };
    assert!(insecure.instances("www.example.com", &found).unwrap().iter().all(|i| i.tls.is_none()));
}

#[test]
fn one_address_serving_two_tls_hosts_is_two_connections_with_their_own_names() {
    let targets = parse_all(&["https://a.example/1", "https://b.example/2"].map(String::from)).unwrap();
    let at = |host: &str| Instance { tls: Some(host.into()), ..Instance::plain(sock("192.0.2.1:443")) };
    let mut instances = BTreeMap::new();
    instances.insert("a.example".to_owned(), vec![at("a.example")]);
    instances.insert("b.example".to_owned(), vec![at("b.example")]);
    let plan = Plan::build(Purge::urls(targets.clone(), false), &instances, &token(), 6, false).unwrap();
    let names: Vec<_> = plan.jobs.iter().map(|j| (j.instance.tls.clone(), j.requests.len())).collect();
    assert_eq!(names, [(Some("a.example".into()), 1), (Some("b.example".into()), 1)]);
    // In clear text the same address is one connection carrying both.
    let plain = Instance::plain(sock("192.0.2.1:443"));
    let mut instances = BTreeMap::new();
    instances.insert("a.example".to_owned(), vec![plain.clone()]);
    instances.insert("b.example".to_owned(), vec![plain]);
    let plan = Plan::build(Purge::urls(targets, false), &instances, &token(), 6, false).unwrap();
    assert_eq!(plan.jobs.len(), 1);
    assert_eq!(plan.jobs[0].requests.len(), 2);
}

#[test]
fn redelivery_goes_to_the_instance_as_discovery_describes_it_now() {
    let policy = RedeliveryPolicy { base_ms: 30_000, cap_ms: 3_600_000, max_age_ms: 86_400_000 };
    let d = Delivery {
        id: 1,
        purge_id: 1,
        url: "https://www.example.com/a".into(),
        instance: "192.0.2.1:443".into(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        first_at: 0,
        next_at: 0,
        updated_at: 0,
        last_error: None,
    };
    let tls = Instance { tls: Some("www.example.com".into()), ..Instance::plain(sock("192.0.2.1:443")) };
    let other = Instance { tls: Some("www.example.com".into()), ..Instance::plain(sock("192.0.2.2:443")) };
    assert_eq!(policy.triage(&d, Ok(&[other.clone(), tls.clone()]), 1000, 0), Ok(tls));
    let gone = policy.triage(&d, Ok(&[other]), 1000, 0).unwrap_err();
    assert_eq!(gone.status, DeliveryStatus::Abandoned);
}
