//! The core's behaviour, pinned down table by table: one file per module or feature, and here the
//! helpers they share. Runs natively (`cargo test`) and in headless Chromium
//! (`wasm-pack test --headless --chrome crates/edgepurge-core`).
#![allow(clippy::unwrap_used)]

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use edgepurge_core::api::Contract;
use edgepurge_core::config::Config;
use edgepurge_core::delivery::Completed;
use edgepurge_core::dialect::Dialect;
use edgepurge_core::discovery::Instance;
use edgepurge_core::http1::{Answer, FieldValue};
use edgepurge_core::outcome::{classify, DeliveryError};
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::target::parse_all;
use std::collections::BTreeMap;

mod access;
#[cfg(feature = "access")]
mod access_keys;
mod api;
mod auth;
mod compat;
mod config;
mod confirm;
mod delivery;
mod dialect;
mod discovery;
mod error;
mod fly;
mod hardening;
mod http1;
mod idempotency;
mod layers;
mod lease;
mod limits;
mod notify;
mod outcome;
mod people;
mod plan;
mod purge;
mod redelivery;
mod report;
mod report_audit;
mod request;
mod retry;
mod routes;
mod scopes;
mod shard;
mod stats;
mod target;
mod trace;
mod transport;
mod upstream;
mod verify;
mod writes;

/// A finished request as the delivery state machine reports it.
pub fn completed(request: usize, reply: Result<Answer, DeliveryError>, elapsed_ms: u64, attempts: u32) -> Completed {
    let classified = classify(&reply, Contract::Edgepurge);
    Completed { request, reply, classified, attempts, elapsed_ms, timing: Default::default() }
}

pub fn settings(overrides: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut map: BTreeMap<String, String> = [
        ("ALLOWED_HOSTS", "www.example.com, cdn.example.com"),
        (
            "DISCOVERY",
            "cdn.example.com=static:192.0.2.10:80,[2001:db8::1]:8080:insecure; *=dns:instances.example.net:80:tls",
        ),
        ("API_TOKENS", "0123456789abcdef-token-one,fedcba9876543210-token-two"),
        ("PURGE_TOKEN", "purge-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in overrides {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    move |name| map.get(name).cloned()
}

pub fn config(overrides: &[(&str, &str)]) -> Config {
    Config::from_lookup(settings(overrides)).unwrap()
}

pub fn token() -> FieldValue {
    FieldValue::new("s3cret").unwrap()
}

/// The `PURGE` the edgepurge contract's writer (the production one) makes of `purge`.
pub fn edgepurge_request(purge: &Purge, keep_alive: bool) -> Vec<u8> {
    Dialect::edgepurge().request(purge, &token(), None, keep_alive).unwrap()
}

pub fn answer_with(status: u16, headers: &[(&str, &str)]) -> Answer {
    Answer {
        status,
        headers: headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned())).collect(),
        body: Vec::new(),
        keep_alive: true,
    }
}

/// An instance reached in clear text at `s` (`ip:port`).
pub fn addr(s: &str) -> Instance {
    Instance::plain(s.parse().unwrap())
}

pub fn two_host_plan() -> Plan {
    let targets =
        parse_all(&["https://a.example/1", "https://b.example/2", "https://a.example/3"].map(String::from)).unwrap();
    let mut instances = BTreeMap::new();
    instances.insert("a.example".to_owned(), vec![addr("10.0.0.2:80"), addr("10.0.0.1:80")]);
    instances.insert("b.example".to_owned(), vec![addr("10.0.0.1:80")]);
    Plan::build(Purge::urls(targets, false), &instances, &token(), 6, false).unwrap()
}
