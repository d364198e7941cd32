//! Configuration read from string settings: defaults, discovery rules, the setting a broken
//! value names, bearer tokens and the host allowlist.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{config, settings};
use edgepurge_core::auth::constant_time_eq;
use edgepurge_core::config::{Config, ConfigError};
use edgepurge_core::discovery::DiscoverySpec;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::target::Target;
use std::net::SocketAddr;

#[test]
fn config_reads_defaults_and_discovery_rules() {
    let c = config(&[]);
    assert_eq!(c.allowed_hosts, ["www.example.com", "cdn.example.com"]);
    assert_eq!(c.doh_url, "https://cloudflare-dns.com/dns-query");
    assert_eq!((c.concurrency, c.instance_timeout_ms, c.max_urls), (6, 5000, 100));
    assert_eq!(
        c.discovery_rule("www.example.com").ok().map(|r| &r.spec),
        Some(&DiscoverySpec::Dns { name: "instances.example.net".into(), port: 80 })
    );
    let cdn: Vec<SocketAddr> = vec!["192.0.2.10:80".parse().unwrap(), "[2001:db8::1]:8080".parse().unwrap()];
    assert_eq!(c.discovery_rule("cdn.example.com").ok().map(|r| &r.spec), Some(&DiscoverySpec::Static(cdn)));
    assert_eq!(c.purge_token.as_str(), "purge-secret");
    // The token never shows in debug output.
    assert!(!format!("{c:?}").contains("purge-secret"));
}

#[test]
fn broken_config_names_the_setting() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("ALLOWED_HOSTS", "")], "ALLOWED_HOSTS"),
        (&[("ALLOWED_HOSTS", "https://x.example/")], "ALLOWED_HOSTS"),
        (&[("DISCOVERY", "")], "DISCOVERY"),
        (&[("DISCOVERY", "dns:instances.example.net")], "DISCOVERY"),
        (&[("DISCOVERY", "dns:instances.example.net:0")], "DISCOVERY"),
        (&[("DISCOVERY", "static:not-an-address")], "DISCOVERY"),
        (&[("DISCOVERY", "consul:whatever")], "DISCOVERY"),
        (&[("DISCOVERY", "cdn.example.com=static:192.0.2.1:80")], "DISCOVERY"),
        (&[("DOH_URL", "ftp://dns.example/")], "DOH_URL"),
        (&[("INSTANCE_TIMEOUT_MS", "soon")], "INSTANCE_TIMEOUT_MS"),
        (&[("CONCURRENCY", "0")], "CONCURRENCY"),
        (&[("MAX_URLS", "-3")], "MAX_URLS"),
        (&[("API_TOKENS", "short")], "API_TOKENS"),
        (&[("PURGE_TOKEN", "has space")], "PURGE_TOKEN"),
        (&[("PURGE_TOKEN", "")], "PURGE_TOKEN"),
    ];
    for (overrides, setting) in cases {
        let err: ConfigError = Config::from_lookup(settings(overrides)).unwrap_err();
        assert_eq!(err.setting, *setting, "{overrides:?}: {}", err.reason);
        let problem = edgepurge_core::ApiError::from(err).problem();
        assert_eq!((problem.status, problem.setting.as_deref()), (500, Some(*setting)));
    }
}

#[test]
fn bearer_tokens_are_checked_exactly() {
    let c = config(&[]);
    let cases = [
        (Some("Bearer 0123456789abcdef-token-one"), true),
        (Some("bearer fedcba9876543210-token-two"), true),
        (Some("Bearer 0123456789abcdef-token-on"), false),
        (Some("Bearer 0123456789abcdef-token-one2"), false),
        (Some("Basic 0123456789abcdef-token-one"), false),
        (Some("0123456789abcdef-token-one"), false),
        (Some("Bearer "), false),
        (None, false),
    ];
    for (header, ok) in cases {
        // As the worker does it: the bearer token out of the header, then the bootstrap check.
        assert_eq!(
            header.and_then(edgepurge_core::auth::bearer).is_some_and(|t| c.is_bootstrap_token(t)),
            ok,
            "{header:?}"
        );
    }
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}

#[test]
fn hosts_outside_the_allowlist_are_forbidden() {
    let c = config(&[]);
    assert!(c.check_host(&Target::parse("https://WWW.example.com/x").unwrap()).is_ok());
    let err = c.check_host(&Target::parse("https://evil.example/x").unwrap()).unwrap_err();
    assert_eq!((err.kind, err.status()), (ErrorKind::HostNotAllowed, 403));
}
