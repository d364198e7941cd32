//! Webhook notifications: the settings, the body and its Slack `text`, the signature (RFC 4231
//! vectors), the rate per kind and minute, and the health figures.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::redelivery::row;
use super::settings;
use edgepurge_core::api::{
    Delivery, DeliveryStatus, HistoryStatus, Notification, NotifyKind, Outcome, PurgeReport, PurgeStatus, Summary,
};
use edgepurge_core::config::Config;
use edgepurge_core::notify::{
    abandoned, body, escape, held_back, hmac_sha256, message, purge, rate, signature, signed, status, Minute, Rate,
    Window, MAX_LISTED,
};

/// Settings, the setting named and part of the reason.
type Broken<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

const HOOK: &str = "https://hooks.example.com/services/T0/B0/secret-part";
const SECRET: &str = "0123456789abcdef-notify";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn hmac_sha256_matches_rfc_4231() {
    let cases: [(Vec<u8>, Vec<u8>, &str); 4] = [
        // Test case 1.
        (vec![0x0b; 20], b"Hi There".to_vec(), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        // Test case 2: a key shorter than the output.
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        // Test case 3: key and data of repeated bytes.
        (vec![0xaa; 20], vec![0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        // Test case 6: a key longer than the block, hashed first.
        (
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
    ];
    for (key, data, expected) in cases {
        assert_eq!(hex(&hmac_sha256(&key, &data)), expected);
    }
}

#[test]
fn the_signature_header_is_sha256_hex_of_the_body_and_a_receiver_can_check_it() {
    assert_eq!(
        signature("Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let body = br#"{"text":"hi"}"#;
    let header = signature(SECRET, body);
    assert!(signed(SECRET, body, &header));
    assert!(signed(SECRET, body, &format!(" {header} ")), "surrounding spaces are not the signature");
    for (secret, body, header) in [
        ("another-secret-of-16", &body[..], header.as_str()),
        (SECRET, br#"{"text":"hi!"}"#, header.as_str()),
        (SECRET, &body[..], header.trim_start_matches("sha256=")),
        (SECRET, &body[..], ""),
    ] {
        assert!(!signed(secret, body, header), "{secret} {header}");
    }
}

#[test]
fn settings_are_read_and_every_problem_names_its_setting_without_showing_a_secret() {
    let none = Config::from_lookup(settings(&[])).unwrap();
    assert!(none.notify.is_none());
    let c = Config::from_lookup(settings(&[
        ("NOTIFY_WEBHOOKS", &format!("{HOOK}, http://127.0.0.1:9/hook")),
        ("NOTIFY_SECRET", SECRET),
        ("CONSOLE_URL", "https://purge.example.com/"),
    ]))
    .unwrap();
    let n = c.notify.as_ref().unwrap();
    assert_eq!(n.webhooks, [HOOK, "http://127.0.0.1:9/hook"]);
    assert_eq!(n.on, [NotifyKind::Partial, NotifyKind::Failed, NotifyKind::Abandoned]);
    assert_eq!((n.per_minute, n.timeout_ms), (3, 5000));
    assert_eq!(n.console_url.as_deref(), Some("https://purge.example.com"));
    let shown = format!("{c:?}");
    assert!(!shown.contains("secret-part") && !shown.contains(SECRET), "{shown}");
    // Each webhook keeps a subrequest of its own out of the instances' share.
    assert_eq!(none.instance_budget(0) - c.instance_budget(0), 2);

    let all = Config::from_lookup(settings(&[
        ("NOTIFY_WEBHOOKS", HOOK),
        ("NOTIFY_SECRET", SECRET),
        ("NOTIFY_ON", "abandoned, all"),
        ("NOTIFY_PER_MINUTE", "10"),
    ]))
    .unwrap();
    assert_eq!(all.notify.as_ref().unwrap().on, NotifyKind::ALL);
    assert_eq!(all.notify.as_ref().unwrap().per_minute, 10);

    let six = [HOOK; 6].join(",");
    let cases: &[Broken<'_>] = &[
        (&[("NOTIFY_WEBHOOKS", HOOK)], "NOTIFY_SECRET", "required when NOTIFY_WEBHOOKS is set"),
        (&[("NOTIFY_WEBHOOKS", HOOK), ("NOTIFY_SECRET", "short")], "NOTIFY_SECRET", "at least 16"),
        (
            &[("NOTIFY_WEBHOOKS", "https://ok.example/, http://hooks.example.com/x"), ("NOTIFY_SECRET", SECRET)],
            "NOTIFY_WEBHOOKS",
            "URL 2 of 2 must be an https URL",
        ),
        (&[("NOTIFY_WEBHOOKS", &six), ("NOTIFY_SECRET", SECRET)], "NOTIFY_WEBHOOKS", "at most 5"),
        (
            &[("NOTIFY_WEBHOOKS", HOOK), ("NOTIFY_SECRET", SECRET), ("NOTIFY_ON", "partial,sometimes")],
            "NOTIFY_ON",
            "\"sometimes\" is not one of partial, failed, abandoned, purged or all",
        ),
        (&[("NOTIFY_WEBHOOKS", HOOK), ("NOTIFY_SECRET", SECRET), ("NOTIFY_ON", ",")], "NOTIFY_ON", "names no kind"),
        (
            &[("NOTIFY_WEBHOOKS", HOOK), ("NOTIFY_SECRET", SECRET), ("NOTIFY_PER_MINUTE", "0")],
            "NOTIFY_PER_MINUTE",
            "from 1 to 60",
        ),
        (
            &[("NOTIFY_WEBHOOKS", HOOK), ("NOTIFY_SECRET", SECRET), ("NOTIFY_TIMEOUT_MS", "60000")],
            "NOTIFY_TIMEOUT_MS",
            "from 100 to 10000",
        ),
        (&[("NOTIFY_SECRET", SECRET)], "NOTIFY_SECRET", "set without NOTIFY_WEBHOOKS"),
        (&[("CONSOLE_URL", "purge.example.com")], "CONSOLE_URL", "not an http(s) URL"),
    ];
    for (overrides, setting, reason) in cases {
        let err = Config::from_lookup(settings(overrides)).unwrap_err();
        assert_eq!(err.setting, *setting, "{overrides:?}");
        assert!(err.reason.contains(reason), "{overrides:?}: {}", err.reason);
        assert!(!err.reason.contains("secret-part") && !err.reason.contains(SECRET), "{}", err.reason);
    }
}

fn result(instance: &str, outcome: Outcome, error: Option<&str>) -> edgepurge_core::api::PurgeResult {
    edgepurge_core::api::PurgeResult { instance: instance.into(), ..row(outcome, outcome == Outcome::Failed, error) }
}

fn partial_report() -> PurgeReport {
    let results = vec![
        result("10.0.0.1:80", Outcome::Purged, None),
        result("10.0.0.2:80", Outcome::Failed, Some("connection refused")),
        result("10.0.0.3:80", Outcome::Rejected, Some("HTTP 401 <check PURGE_TOKEN>")),
        result("10.0.0.3:80", Outcome::Failed, Some("timed out")),
        result("10.0.0.1:80", Outcome::NotCached, None),
    ];
    PurgeReport {
        status: PurgeStatus::Partial,
        summary: Summary::of(&results),
        plan: Default::default(),
        results,
        skipped: Vec::new(),
        skipped_instances: Vec::new(),
        audit_error: None,
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
    }
}

#[test]
fn a_partial_purge_names_who_what_counts_the_failing_instances_worst_first_and_links() {
    let labels = vec!["https://www.example.com/a".to_owned(), "key:t1&t2@www.example.com".to_owned()];
    let event = purge(&partial_report(), "ada <admin>", &labels, 42, 1_000);
    assert_eq!(event.kind(), NotifyKind::Partial);
    let n = message(
        &event,
        61_000,
        0,
        None,
        Some("https://purge.example.com"),
        Some("https://ui.honeycomb.io/t/{trace_id}"),
    );
    assert_eq!((n.kind, n.status, n.at, n.sent_at), (NotifyKind::Partial, Some(HistoryStatus::Partial), 1_000, 61_000));
    assert_eq!(n.actor.as_deref(), Some("ada <admin>"));
    assert_eq!((n.items.clone(), n.item_count), (labels.clone(), 2));
    let s = n.summary.unwrap();
    assert_eq!((s.total, s.purged, s.not_cached, s.failed, s.rejected), (5, 1, 1, 2, 1));
    let failing: Vec<_> = n.failing.iter().map(|f| (f.instance.as_str(), f.failed, f.rejected)).collect();
    assert_eq!(failing, [("10.0.0.3:80", 1, 1), ("10.0.0.2:80", 1, 0)]);
    assert_eq!(n.failing[0].error.as_deref(), Some("HTTP 401 <check PURGE_TOKEN>"));
    assert_eq!(n.failing_count, 2);
    assert_eq!(n.entry, Some(42));
    assert_eq!(n.console_url.as_deref(), Some("https://purge.example.com/#/history/42"));
    assert_eq!(n.trace_url.as_deref(), Some("https://ui.honeycomb.io/t/4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(n.held_back, 0);
    assert_eq!(
        n.text,
        ":warning: *edgepurge: purge partial* by ada &lt;admin&gt;: 2 of 5 pairs succeeded, 2 failed, 1 rejected. \
         Items: https://www.example.com/a, key:t1&amp;t2@www.example.com. Failing: 10.0.0.3:80 (HTTP 401 \
         &lt;check PURGE_TOKEN&gt;), 10.0.0.2:80 (connection refused). \
         <https://purge.example.com/#/history/42|entry 42> <https://ui.honeycomb.io/t/4bf92f3577b34da6a3ce929d0e0e4736|trace>"
    );
    // The body is the notification as JSON, and reads back as one.
    let bytes = body(&n);
    let back: Notification = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(back, n);
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["text"], n.text.as_str());
    assert_eq!(json["kind"], "partial");
}

#[test]
fn long_lists_are_capped_in_the_body_and_the_text_says_how_many_more() {
    let results: Vec<_> =
        (0..30).map(|i| result(&format!("10.0.1.{i}:80"), Outcome::Failed, Some(&"x".repeat(500)))).collect();
    let report = PurgeReport {
        status: PurgeStatus::Failed,
        summary: Summary::of(&results),
        results,
        trace_id: None,
        ..partial_report()
    };
    let labels: Vec<String> = (0..25).map(|i| format!("https://www.example.com/{i}")).collect();
    let n = message(&purge(&report, "ci", &labels, 7, 0), 0, 0, None, None, None);
    assert_eq!((n.kind, n.items.len(), n.item_count), (NotifyKind::Failed, MAX_LISTED, 25));
    assert_eq!((n.failing.len(), n.failing_count), (MAX_LISTED, 30));
    assert!(n.failing.iter().all(|f| f.error.as_ref().unwrap().chars().count() <= 301));
    assert!(n.text.starts_with(":x: *edgepurge: purge failed* by ci: 0 of 30 pairs succeeded"), "{}", n.text);
    assert!(n.text.contains("https://www.example.com/4, and 20 more. Failing: "), "{}", n.text);
    assert!(n.text.contains(", and 25 more."), "{}", n.text);
    assert!(n.text.ends_with("History entry 7."), "{}", n.text);
    assert!(n.console_url.is_none() && n.trace_url.is_none());
}

fn gone(id: i64, purge_id: i64, url: &str, instance: &str) -> Delivery {
    Delivery {
        id,
        purge_id,
        url: url.into(),
        instance: instance.into(),
        status: DeliveryStatus::Abandoned,
        attempts: 4,
        first_at: 0,
        next_at: 0,
        updated_at: 5,
        last_error: Some("no longer in discovery".into()),
    }
}

#[test]
fn abandoned_deliveries_make_one_message_per_run_naming_them() {
    assert_eq!(abandoned(&[], 0, None), None);
    let one = [gone(1, 9, "https://www.example.com/a", "10.0.0.9:80")];
    let n = message(&abandoned(&one, 5, Some("ab".repeat(16))).unwrap(), 6, 0, None, None, None);
    assert_eq!((n.kind, n.entry, n.delivery_count, n.status), (NotifyKind::Abandoned, Some(9), Some(1), None));
    assert_eq!(n.deliveries, one);
    assert_eq!(
        n.text,
        ":wastebasket: *edgepurge: 1 delivery abandoned*. URLs: https://www.example.com/a. \
         Failing: 10.0.0.9:80 (no longer in discovery). History entry 9."
    );
    let several = [
        gone(1, 9, "https://www.example.com/a", "10.0.0.9:80"),
        gone(2, 9, "https://www.example.com/b", "10.0.0.9:80"),
        gone(3, 10, "https://www.example.com/a", "10.0.0.8:80"),
    ];
    let n = message(&abandoned(&several, 5, None).unwrap(), 6, 0, None, None, None);
    assert_eq!((n.entry, n.delivery_count, n.item_count, n.failing_count), (None, Some(3), 2, 2));
    assert_eq!(n.failing[0].instance, "10.0.0.9:80");
    assert!(n.text.starts_with(":wastebasket: *edgepurge: 3 deliveries abandoned*"), "{}", n.text);
}

#[test]
fn at_most_per_minute_of_a_kind_are_sent_and_the_next_one_sent_stands_for_those_held_back() {
    let w = |count, held, held_since| Window { count, held, held_since };
    let cases = [
        (w(1, 0, None), 3, Rate::Send { held: 0, since: None }),
        (w(3, 0, None), 3, Rate::Send { held: 0, since: None }),
        (w(4, 0, None), 3, Rate::Hold),
        (w(9, 5, Some(10)), 3, Rate::Hold),
        // A new minute: the first one goes, with what the last minute held back.
        (w(1, 6, Some(10)), 3, Rate::Send { held: 6, since: Some(10) }),
        (w(2, 0, None), 1, Rate::Hold),
    ];
    for (window, per_minute, expected) in cases {
        assert_eq!(rate(window, per_minute), expected, "{window:?} at {per_minute} a minute");
    }
    let event = purge(&partial_report(), "ada", &[], 1, 0);
    let n = message(&event, 0, 6, Some(3_723_000), None, None);
    assert_eq!((n.held_back, n.held_back_since), (6, Some(3_723_000)));
    assert!(n.text.contains(" And 6 more partial held back since 01:02 UTC."), "{}", n.text);
    // Nothing held back: no time either.
    assert_eq!(message(&event, 0, 0, Some(5), None, None).held_back_since, None);
}

#[test]
fn what_a_burst_held_back_is_told_once_on_its_own_by_the_cron() {
    let console = Some("https://purge.example.com");
    let n = message(&held_back(NotifyKind::Partial, 5, Some("ab".into())), 7, 2, Some(3_723_000), console, None);
    assert_eq!(
        (n.kind, n.held_back, n.held_back_since, n.at, n.sent_at),
        (NotifyKind::Partial, 2, Some(3_723_000), 5, 7)
    );
    assert!(n.items.is_empty() && n.status.is_none() && n.summary.is_none() && n.entry.is_none(), "{n:?}");
    assert_eq!(
        n.text,
        ":hourglass: *edgepurge: 2 partial purges held back* since 01:02 UTC, over the rate of notifications a \
         minute. <https://purge.example.com/#/history|history>"
    );
    let one = message(&held_back(NotifyKind::Abandoned, 5, None), 7, 1, None, None, None);
    assert_eq!(
        one.text,
        ":hourglass: *edgepurge: 1 notice of abandoned deliveries held back*, over the rate of notifications a minute."
    );
    // A purge's own notification (it has its summary) is never read as one of these.
    let purge_text = message(&purge(&partial_report(), "ada", &[], 1, 0), 0, 2, None, None, None).text;
    assert!(purge_text.contains("*edgepurge: purge partial*"), "{purge_text}");
}

#[test]
fn health_sums_the_hour_and_shows_why_the_last_failure_happened_to_callers_only() {
    let minutes = [
        Minute { sent: 2, failed: 1, held_back: 0, last_failure_at: Some(50), last_error: Some("HTTP 500".into()) },
        Minute { sent: 0, failed: 0, held_back: 3, last_failure_at: None, last_error: None },
        Minute { sent: 1, failed: 2, held_back: 0, last_failure_at: Some(70), last_error: Some("timed out".into()) },
    ];
    let s = status(&minutes, true);
    assert_eq!((s.sent, s.failed, s.held_back, s.last_failure_at), (3, 3, 3, Some(70)));
    assert_eq!(s.last_error.as_deref(), Some("timed out"));
    let anonymous = status(&minutes, false);
    assert_eq!((anonymous.failed, anonymous.last_failure_at, anonymous.last_error), (3, Some(70), None));
    assert_eq!(status(&[], true), Default::default());
    let one = edgepurge_core::notify::sent(&[Ok(()), Err("refused".into()), Ok(())], 9);
    assert_eq!(
        (one.sent, one.failed, one.last_failure_at, one.last_error.as_deref()),
        (2, 1, Some(9), Some("refused"))
    );
    assert_eq!(edgepurge_core::notify::sent(&[Ok(())], 9).last_failure_at, None);
}

#[test]
fn a_failure_names_the_webhook_by_position_never_its_url() {
    let hooks = [HOOK.to_owned(), "http://127.0.0.1:9/hook".to_owned()];
    assert_eq!(
        edgepurge_core::notify::failure(1, "fetch to http://127.0.0.1:9/hook failed: refused", &hooks),
        "webhook 2: fetch to webhook 2 failed: refused"
    );
    assert_eq!(edgepurge_core::notify::failure(0, "answered HTTP 500", &hooks), "webhook 1: answered HTTP 500");
}

#[test]
fn mrkdwn_control_characters_are_escaped() {
    assert_eq!(escape("<!channel> & <https://x|y>"), "&lt;!channel&gt; &amp; &lt;https://x|y&gt;");
}
