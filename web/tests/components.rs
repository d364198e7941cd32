//! Component tests of the console, in headless Chromium (`wasm-pack test --headless --chrome web`).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)]

use edgepurge_core::api::{
    CacheStatusFormat, Confirmation, Contract, Outcome, Pair, PlanSummary, PurgeEvent, PurgeReport, PurgeResult,
    PurgeStatus, SkippedGroup, Summary,
};
use edgepurge_core::ndjson::LineBuffer;
use edgepurge_web::app::{AppState, Page, SignInForm};
use edgepurge_web::live::{purge_request, urls_from_text, Kind, LivePurge};
use edgepurge_web::ui::LiveTable;
use leptos::prelude::*;
use leptos::task::tick;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn container() -> web_sys::HtmlElement {
    let doc = document();
    let div = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&div).unwrap();
    div.unchecked_into()
}

fn result(instance: &str, outcome: Outcome, status: Option<u16>) -> PurgeResult {
    PurgeResult {
        url: "https://www.example.com/a".into(),
        instance: instance.into(),
        outcome,
        http_status: status,
        error: (!outcome.is_success()).then(|| "connection failed: refused".to_owned()),
        retryable: !outcome.is_success(),
        elapsed_ms: Some(3),
        started_ms: None,
        attempts: if outcome.is_success() { 1 } else { 3 },
        pending: !outcome.is_success(),
        confirm: None,
        done_hard: false,
    }
}

fn pairs() -> Vec<Pair> {
    ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]
        .iter()
        .map(|i| Pair { url: "https://www.example.com/a".into(), instance: (*i).into() })
        .collect()
}

fn rows(root: &web_sys::HtmlElement) -> Vec<(String, String)> {
    let list = root.query_selector_all("[data-testid=live-row]").unwrap();
    (0..list.length())
        .map(|i| {
            let el: web_sys::Element = list.item(i).unwrap().unchecked_into();
            (el.get_attribute("data-instance").unwrap(), el.get_attribute("data-outcome").unwrap())
        })
        .collect()
}

#[wasm_bindgen_test]
async fn live_table_fills_in_as_instances_answer() {
    let root = container();
    let live = RwSignal::new(LivePurge::default());
    let _handle = leptos::mount::mount_to(root.clone(), move || view! { <LiveTable live=live/> });

    live.update(|l| l.apply(PurgeEvent::Started { pairs: pairs() }));
    tick().await;
    assert_eq!(
        rows(&root),
        vec![
            ("10.0.0.1:80".into(), "waiting…".into()),
            ("10.0.0.2:80".into(), "waiting…".into()),
            ("10.0.0.3:80".into(), "waiting…".into())
        ]
    );
    assert!(root.inner_text().contains("0 of 3 instances answered"));

    live.update(|l| l.apply(PurgeEvent::Result(result("10.0.0.2:80", Outcome::Purged, Some(200)))));
    tick().await;
    assert_eq!(rows(&root)[1], ("10.0.0.2:80".into(), "purged".into()));
    assert_eq!(rows(&root)[0].1, "waiting…");
    assert!(root.inner_text().contains("1 of 3 instances answered"));

    // Confirmed rows say what the instance served right after: a fresh copy, or the old one.
    let confirmed = |fresh, cache_status: &str| {
        Some(Confirmation {
            fresh,
            http_status: Some(200),
            cache_status: Some(cache_status.to_owned()),
            format: Some(CacheStatusFormat::Rfc9211),
            error: None,
            url: None,
        })
    };
    let results = vec![
        PurgeResult {
            confirm: confirmed(Some(true), "edge-1; fwd=uri-miss; stored"),
            ..result("10.0.0.1:80", Outcome::Purged, Some(200))
        },
        PurgeResult {
            confirm: confirmed(Some(false), "edge-2; hit; ttl=3599"),
            done_hard: true,
            ..result("10.0.0.2:80", Outcome::Purged, Some(200))
        },
        result("10.0.0.3:80", Outcome::Failed, None),
    ];
    let report = PurgeReport {
        status: PurgeStatus::Partial,
        summary: Summary { total: 3, purged: 2, not_cached: 0, unconfirmed: 0, rejected: 0, failed: 1 },
        plan: PlanSummary { instances: 3, requests: 3, concurrency: 3 },
        results,
        skipped: vec![SkippedGroup {
            item: "key:episode-1@pipely.example.com".into(),
            group: "pipely.example.com=static:contract=plain".into(),
            contract: Contract::Plain,
            reason: "a plain contract instance purges only the URL of its request line".into(),
        }],
        skipped_instances: Vec::new(),
        audit_error: None,
        trace_id: None,
    };
    live.update(|l| l.apply(PurgeEvent::Done(report)));
    tick().await;
    let got: Vec<String> = rows(&root).into_iter().map(|(_, o)| o).collect();
    assert_eq!(got, ["purged", "purged", "failed"]);
    let cells = root.query_selector_all("[data-testid=confirm]").unwrap();
    let confirm: Vec<(String, String)> = (0..cells.length())
        .map(|i| {
            let cell: web_sys::HtmlElement = cells.item(i).unwrap().unchecked_into();
            (cell.get_attribute("data-confirm").unwrap(), cell.title())
        })
        .collect();
    assert_eq!(
        confirm,
        [
            ("freshcopy".to_owned(), "edge-1; fwd=uri-miss; stored".to_owned()),
            ("oldcopy".to_owned(), "edge-2; hit; ttl=3599".to_owned()),
            (String::new(), String::new())
        ]
    );
    let text = root.inner_text();
    assert!(text.contains("Partly purged: 2 purged, 0 not cached, 0 rejected, 1 failed"), "{text}");
    assert!(text.contains("connection failed: refused"), "{text}");
    assert!(text.contains("after 3 tries; queued for background redelivery"), "{text}");
    // A soft purge done hard says so on its row only; a group an item was not sent to is named.
    let hard = root.query_selector_all("[data-testid=done-hard]").unwrap();
    assert_eq!(hard.length(), 1);
    let row: web_sys::HtmlElement =
        hard.item(0).unwrap().unchecked_into::<web_sys::Element>().closest("tr").unwrap().unwrap().unchecked_into();
    assert_eq!(row.get_attribute("data-instance").as_deref(), Some("10.0.0.2:80"));
    let skipped = root.query_selector("[data-testid=skipped-group]").unwrap().unwrap();
    assert_eq!(skipped.get_attribute("data-group").as_deref(), Some("pipely.example.com=static:contract=plain"));
    assert!(text.contains("key:episode-1@pipely.example.com not sent to pipely.example.com"), "{text}");
    // Successes that are not the contract's answer are counted apart in the caption.
    live.update(|l| l.report.as_mut().unwrap().summary.unconfirmed = 1);
    tick().await;
    let text = root.inner_text();
    assert!(text.contains("Partly purged: 2 purged, 0 not cached, 1 unconfirmed, 0 rejected, 1 failed"), "{text}");
}

#[wasm_bindgen_test]
async fn sign_in_form_explains_why_it_is_shown() {
    let root = container();
    let state = AppState { me: RwSignal::new(None), notice: RwSignal::new(None), page: RwSignal::new(Page::Purge) };
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        provide_context(state);
        view! { <SignInForm/> }
    });
    tick().await;
    assert!(root.query_selector("[data-testid=signin-notice]").unwrap().is_none());
    let input = root.query_selector("[data-testid=signin-token]").unwrap().unwrap();
    assert_eq!(input.get_attribute("type").as_deref(), Some("password"));

    state.notice.set(Some("Your session has expired: sign in again.".into()));
    tick().await;
    let notice = root.query_selector("[data-testid=signin-notice]").unwrap().unwrap();
    assert_eq!(notice.text_content().unwrap(), "Your session has expired: sign in again.");
}

#[wasm_bindgen_test]
fn progress_lines_are_split_across_chunks() {
    let mut buf = LineBuffer::default();
    assert!(buf.push(b"{\"event\":").is_empty());
    assert_eq!(buf.push(b"\"a\"}\n{\"b\":1}\n\n{\"c\""), vec!["{\"event\":\"a\"}", "{\"b\":1}"]);
    assert_eq!(buf.push(b":2}\n"), vec!["{\"c\":2}"]);
}

#[wasm_bindgen_test]
fn url_box_and_hash_routes() {
    assert_eq!(
        urls_from_text(" https://a.example/1 \n\n https://a.example/2\n"),
        ["https://a.example/1", "https://a.example/2"]
    );
    // URLs confirm themselves; keys (which name no URL) through the URLs given for them.
    let named = "https://a.example/1\n https://a.example/2 ";
    let urls = purge_request(Kind::Urls, "https://a.example/1", false, true, named);
    assert!(urls.confirm && urls.confirm_urls.is_empty());
    let keys = purge_request(Kind::Keys, "episode-1", false, true, named);
    assert!(!keys.confirm);
    assert_eq!(keys.confirm_urls, ["https://a.example/1", "https://a.example/2"]);
    assert!(purge_request(Kind::Keys, "episode-1", false, false, named).confirm_urls.is_empty());
    assert!(!purge_request(Kind::Urls, "https://a.example/1", false, false, "").confirm);
    let cases = [
        ("", Page::Purge),
        ("#/verify", Page::Verify),
        ("#/history", Page::History),
        ("#/people", Page::People),
        ("#/x", Page::Purge),
    ];
    for (hash, page) in cases {
        assert_eq!(Page::from_hash(hash), page, "{hash}");
    }
}

#[wasm_bindgen_test]
async fn the_waterfall_draws_one_bar_per_instance_spanning_its_requests_in_its_worst_colour() {
    let at = |instance: &str, outcome, start, elapsed| PurgeResult {
        started_ms: Some(start),
        elapsed_ms: Some(elapsed),
        ..result(instance, outcome, Some(200))
    };
    let rows = vec![
        at("10.0.0.1:80", Outcome::Purged, 0, 10),
        at("10.0.0.2:80", Outcome::Purged, 2, 30),
        at("10.0.0.1:80", Outcome::Failed, 12, 20),
        // No times (an older history entry): no bar of its own.
        PurgeResult { started_ms: None, ..result("10.0.0.3:80", Outcome::Purged, Some(200)) },
    ];
    let bars = edgepurge_web::waterfall::bars(&rows);
    let got: Vec<_> = bars.iter().map(|b| (b.instance.as_str(), b.start, b.end, b.outcome)).collect();
    assert_eq!(got, [("10.0.0.1:80", 0, 32, Outcome::Failed), ("10.0.0.2:80", 2, 32, Outcome::Purged)]);

    let root = container();
    let _mount = leptos::mount::mount_to(
        root.clone(),
        move || view! { <edgepurge_web::waterfall::Waterfall rows=rows.clone()/> },
    );
    tick().await;
    let rects = root.query_selector_all("[data-testid=waterfall-bar]").unwrap();
    assert_eq!(rects.length(), 2);
    let first: web_sys::Element = rects.item(0).unwrap().unchecked_into();
    assert_eq!(first.get_attribute("data-outcome").as_deref(), Some("failed"));
    assert_eq!(first.get_attribute("data-end").as_deref(), Some("32"));
}
