//! Leases on running purges (issue 20): the deadline a fan-out plans for, when an entry is the
//! cron's to take over, and what the entry keeps to run the purge again.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{addr, token};
use edgepurge_core::delivery::Limits;
use edgepurge_core::http1::FieldValue;
use edgepurge_core::lease::{deadline_ms, due, from_replay, lease_until, replay};
use edgepurge_core::plan::{Confirm, Plan};
use edgepurge_core::purge::Purge;
use edgepurge_core::retry::RetryPolicy;
use edgepurge_core::target::{parse_all, Target};
use std::collections::BTreeMap;

fn limits(timeout_ms: u32, attempts: u32, cap_ms: u32) -> Limits {
    let retry = RetryPolicy { attempts, base_ms: 100, cap_ms };
    Limits { timeout_ms, retry, connections: 10, window: 128, deadline_at: None }
}

fn plan(urls: usize, instances: usize, concurrency: usize) -> Plan {
    let raw: Vec<String> = (0..urls).map(|i| format!("https://a.example/{i}")).collect();
    let mut map = BTreeMap::new();
    map.insert("a.example".to_owned(), (0..instances).map(|i| addr(&format!("10.0.0.{}:80", i + 1))).collect());
    Plan::build(Purge::urls(parse_all(&raw).unwrap(), false), &map, &token(), concurrency, false).unwrap()
}

#[test]
fn the_deadline_is_the_worst_the_delivery_machine_allows() {
    // One request: three attempts that each time out, with the longest backoff between them.
    assert_eq!(deadline_ms(&plan(1, 3, 6), &limits(2000, 3, 500), u32::MAX), 3 * 2000 + 2 * 500);
    // Each request's timeout runs from the answer before it: ten in a row, ten times as long.
    assert_eq!(deadline_ms(&plan(10, 3, 6), &limits(2000, 1, 500), u32::MAX), 10 * 2000);
    // Past `concurrency` instances wait for a connection: in waves.
    assert_eq!(deadline_ms(&plan(1, 7, 6), &limits(2000, 1, 500), u32::MAX), 2 * 2000);
    assert_eq!(deadline_ms(&plan(1, 12, 6), &limits(2000, 1, 500), u32::MAX), 2 * 2000);
    assert_eq!(deadline_ms(&plan(1, 13, 6), &limits(2000, 1, 500), u32::MAX), 3 * 2000);
    // With confirm, each HEAD is a request of its own.
    let mut map = BTreeMap::new();
    map.insert("a.example".to_owned(), vec![addr("10.0.0.1:80")]);
    let urls = parse_all(&["https://a.example/1".to_owned()]).unwrap();
    let confirmed = Plan::build(Purge::urls(urls, false), &map, &token(), 6, true).unwrap();
    assert_eq!(deadline_ms(&confirmed, &limits(1000, 1, 0), u32::MAX), 2000);
    // Never past the fan-out's deadline: the machines give up what is left then.
    assert_eq!(deadline_ms(&plan(10, 3, 6), &limits(2000, 3, 500), 25_000), 25_000);
    assert_eq!(deadline_ms(&plan(1, 3, 6), &limits(2000, 1, 500), 25_000), 2000);
    // Nothing planned: nothing to wait for.
    assert_eq!(deadline_ms(&Plan::for_pairs(Vec::new(), &token(), 6), &limits(1000, 3, 100), u32::MAX), 0);
}

#[test]
fn an_entry_is_the_crons_once_its_lease_has_run_out() {
    let until = lease_until(1_000, 7_000, 30_000);
    assert_eq!(until, 38_000);
    assert!(!due(Some(until), 37_999));
    assert!(!due(Some(until), 38_000), "not before it has run out");
    assert!(due(Some(until), 38_001));
    // No lease (completed, or written before leases): never taken over.
    assert!(!due(None, i64::MAX));
    assert_eq!(lease_until(i64::MAX - 5, u64::MAX, u32::MAX), i64::MAX, "saturates, never wraps to the past");
}

#[test]
fn the_replay_keeps_every_item_in_full_and_reads_back_as_planned() {
    let long = format!("https://a.example/{}", "x".repeat(5000));
    let purges = vec![
        Purge::Url { target: Target::parse(&long).unwrap(), soft: true },
        Purge::Key { key: FieldValue::new("episode-1").unwrap(), host: "a.example".into(), soft: false },
        Purge::Prefix { target: Target::parse("https://a.example/episodes/").unwrap() },
        Purge::Host { host: "b.example".into() },
    ];
    let confirm = Confirm { urls: true, named: vec![Target::parse("https://a.example/episodes/1").unwrap()] };
    let kept = replay(&purges, &confirm);
    // In full: not the history's bounded labels (1,024 characters at most).
    assert!(kept.items[0].len() > 5000, "{}", kept.items[0].len());
    let json = serde_json::to_string(&kept).unwrap();
    let (again, confirmed) = from_replay(&serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(again, purges);
    assert_eq!(confirmed, confirm);
    // A replay that no longer reads is an error, not a guess.
    let mut broken = kept.clone();
    broken.items.push("key:two words@a.example".into());
    assert!(from_replay(&broken).is_err());
}
