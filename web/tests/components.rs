//! Component tests of the console, in headless Chromium (`wasm-pack test --headless --chrome web`).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)]

use edgepurge_core::api::{
    CacheStatusFormat, Confirmation, Contract, Outcome, Pair, PlanSummary, PurgeEvent, PurgeReport, PurgeResult,
    PurgeStatus, SkippedGroup, Summary,
};
use edgepurge_core::ndjson::LineBuffer;
use edgepurge_web::app::{App, AppState, Page, SignInForm};
use edgepurge_web::live::{purge_request, urls_from_text, Kind, LivePurge};
use edgepurge_web::pages::{InstancesPage, PeoplePage};
use edgepurge_web::ui::LiveTable;
use js_sys::{Function, Promise, Reflect};
use leptos::prelude::*;
use leptos::task::tick;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn container() -> web_sys::HtmlElement {
    let doc = document();
    let div = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&div).unwrap();
    div.unchecked_into()
}

/// The worker, faked for one test: `window.fetch` answers each `METHOD /path` from the routes
/// given (the last one given wins; anything else is a 404) and notes every request as
/// `METHOD /path body`. While held, answers wait for [`FakeApi::release`] and are looked up
/// then. Dropping it puts the browser's own `fetch` back.
struct FakeApi {
    requests: Rc<RefCell<Vec<String>>>,
    routes: Rc<RefCell<Vec<(String, u16, String)>>>,
    held: Rc<RefCell<Option<Vec<Function>>>>,
    original: JsValue,
    _fetch: Closure<dyn FnMut(web_sys::Request) -> Promise>,
}

impl FakeApi {
    fn install() -> FakeApi {
        let requests = Rc::new(RefCell::new(Vec::new()));
        let routes = Rc::new(RefCell::new(Vec::<(String, u16, String)>::new()));
        let held = Rc::new(RefCell::new(None::<Vec<Function>>));
        let (log, table, waiting) = (requests.clone(), routes.clone(), held.clone());
        let fetch = Closure::new(move |req: web_sys::Request| {
            let (log, table, waiting) = (log.clone(), table.clone(), waiting.clone());
            wasm_bindgen_futures::future_to_promise(async move {
                let url = req.url();
                // gloo-net ends a URL that has a query with `&` (its own query parameters, none here).
                let path = url[url.find("/api").unwrap_or(0)..].trim_end_matches('&');
                let route = format!("{} {path}", req.method());
                let body = JsFuture::from(req.text()?).await?.as_string().unwrap_or_default();
                log.borrow_mut().push(format!("{route} {body}").trim_end().to_owned());
                let hold = waiting.borrow_mut().as_mut().map(|w| Promise::new(&mut |resolve, _| w.push(resolve)));
                if let Some(hold) = hold {
                    JsFuture::from(hold).await?;
                }
                let (status, text) = table
                    .borrow()
                    .iter()
                    .rev()
                    .find(|(r, _, _)| *r == route)
                    .map(|(_, status, text)| (*status, text.clone()))
                    .unwrap_or((404, problem(404, "Not found", "no such route", false).to_string()));
                let init = web_sys::ResponseInit::new();
                init.set_status(status);
                let text = (status != 204).then_some(text);
                Ok(web_sys::Response::new_with_opt_str_and_init(text.as_deref(), &init)?.into())
            })
        });
        let original = Reflect::get(&window(), &"fetch".into()).unwrap();
        Reflect::set(&window(), &"fetch".into(), fetch.as_ref()).unwrap();
        FakeApi { requests, routes, held, original, _fetch: fetch }
    }

    /// Answers `route` (`"GET /api/me"`) with `status` and `body` from now on.
    fn answer(&self, route: &str, status: u16, body: Value) {
        self.routes.borrow_mut().push((route.to_owned(), status, body.to_string()));
    }

    /// Every request so far, as `METHOD /path body`.
    fn requests(&self) -> Vec<String> {
        self.requests.borrow().clone()
    }

    /// Answers nothing until [`FakeApi::release`].
    fn hold(&self) {
        *self.held.borrow_mut() = Some(Vec::new());
    }

    /// Answers what was held, and from now on at once.
    fn release(&self) {
        for resolve in self.held.borrow_mut().take().unwrap_or_default() {
            resolve.call0(&JsValue::UNDEFINED).unwrap();
        }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        Reflect::set(&window(), &"fetch".into(), &self.original).unwrap();
    }
}

/// An RFC 9457 problem as the worker sends it.
fn problem(status: u16, title: &str, detail: &str, retryable: bool) -> Value {
    json!({ "type": "urn:edgepurge:problem:test", "title": title, "status": status, "detail": detail,
            "source": "config", "retryable": retryable })
}

fn me(role: &str) -> Value {
    json!({ "name": "Alice", "role": role, "via": "session", "csrf_token": "csrf-1" })
}

fn signed_in(role: &str) -> AppState {
    let state = AppState::new(Page::Purge);
    state.me.set(Some(serde_json::from_value(me(role)).unwrap()));
    state
}

async fn sleep(ms: i32) {
    let timer = Promise::new(&mut |resolve, _| {
        window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    JsFuture::from(timer).await.unwrap();
}

/// Waits (up to 3 s) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        sleep(10).await;
    }
    panic!("still not {what} after 3 s");
}

fn find(root: &web_sys::HtmlElement, selector: &str) -> Option<web_sys::HtmlElement> {
    root.query_selector(selector).unwrap().map(JsCast::unchecked_into)
}

/// Sends a bubbling `event` (`input`, `change`) to `target`, as typing or choosing does.
fn send(target: &web_sys::EventTarget, event: &str) {
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    target.dispatch_event(&web_sys::Event::new_with_event_init_dict(event, &init).unwrap()).unwrap();
}

fn active_element() -> Option<web_sys::Element> {
    document().active_element()
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
        retry_after_secs: None,
        upstream_id: None,
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
    tick().await;
    // Before a purge: no table, and an empty polite live region, there before anything is said.
    assert!(find(&root, "[data-testid=live-table]").is_none());
    let progress = find(&root, "[data-testid=live-progress]").unwrap();
    assert_eq!(progress.get_attribute("aria-live").as_deref(), Some("polite"));
    assert_eq!(progress.text_content().unwrap(), "");

    live.update(|l| l.apply(PurgeEvent::Started { pairs: pairs() }));
    tick().await;
    assert_eq!(progress.text_content().unwrap(), "0 of 3 instances answered");
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
    assert_eq!(progress.text_content().unwrap(), "Partly purged: 2 purged, 0 not cached, 0 rejected, 1 failed");
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
async fn sign_in_form_explains_why_it_is_shown_and_refuses_a_wrong_token_in_the_common_box() {
    let api = FakeApi::install();
    api.answer("POST /api/session", 401, problem(401, "Unauthorized", "unknown token", false));
    let root = container();
    let state = AppState::new(Page::Purge);
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        provide_context(state);
        view! { <SignInForm/> }
    });
    tick().await;
    assert!(root.query_selector("[data-testid=signin-notice]").unwrap().is_none());
    let input = root.query_selector("[data-testid=signin-token]").unwrap().unwrap();
    assert_eq!(input.get_attribute("type").as_deref(), Some("password"));
    until("titled", || document().title() == "Sign in · edgepurge").await;

    state.notice.set(Some("Your session has expired: sign in again.".into()));
    tick().await;
    let notice = root.query_selector("[data-testid=signin-notice]").unwrap().unwrap();
    assert_eq!(notice.text_content().unwrap(), "Your session has expired: sign in again.");

    // A 401 here is a wrong token (not a lost session), shown in the box every problem uses.
    let token: web_sys::HtmlInputElement = input.unchecked_into();
    token.set_value("ep_wrong");
    send(&token, "input");
    find(&root, "[data-testid=signin-submit]").unwrap().click();
    until("refused", || find(&root, "[data-testid=signin-error]").is_some()).await;
    let error = find(&root, "[data-testid=signin-error]").unwrap();
    assert_eq!(error.text_content().unwrap(), "That token is not valid (unknown or revoked).");
    assert_eq!((error.class_name(), error.get_attribute("role")), ("error".to_owned(), Some("alert".to_owned())));
    assert_eq!(api.requests(), [r#"POST /api/session {"token":"ep_wrong"}"#]);
    assert!(state.me.get_untracked().is_none());
}

#[wasm_bindgen_test]
async fn until_the_session_is_known_neither_the_sign_in_form_nor_a_page_shows() {
    let api = FakeApi::install();
    api.hold();
    api.answer("GET /api/me", 401, problem(401, "Unauthorized", "Not signed in.", false));
    let root = container();
    let _handle = leptos::mount::mount_to(root.clone(), App);
    until("asked", || api.requests() == ["GET /api/me"]).await;
    sleep(50).await;
    assert!(find(&root, "[data-testid=signin-form]").is_none(), "no sign-in flash");
    assert!(find(&root, "[data-testid=page]").is_none());
    assert_eq!(root.text_content().unwrap(), "Loading…");

    api.release();
    until("at sign-in", || find(&root, "[data-testid=signin-form]").is_some()).await;
    assert!(find(&root, ".loading").is_none());
}

#[wasm_bindgen_test]
async fn navigating_names_the_page_in_the_title_and_moves_focus_to_its_heading() {
    let api = FakeApi::install();
    api.answer("GET /api/me", 200, me("editor"));
    let root = container();
    let _handle = leptos::mount::mount_to(root.clone(), App);
    let heading = || find(&root, "main h1");
    until("on the Purge page", || heading().is_some_and(|h| h.text_content().unwrap() == "Purge")).await;
    until("titled", || document().title() == "Purge · edgepurge").await;
    // The first page of a load leaves focus where the browser put it.
    assert_ne!(active_element(), heading().map(Into::into));

    window().location().set_hash("#/verify").unwrap();
    until("on the Verify page", || heading().is_some_and(|h| h.text_content().unwrap() == "Verify")).await;
    until("titled", || document().title() == "Verify · edgepurge").await;
    until("focused", || active_element() == heading().map(Into::into)).await;
    assert_eq!(heading().unwrap().get_attribute("tabindex").as_deref(), Some("-1"));

    window().location().set_hash("").unwrap();
    until("back on the Purge page", || heading().is_some_and(|h| h.text_content().unwrap() == "Purge")).await;
    until("focused", || active_element() == heading().map(Into::into)).await;
}

#[wasm_bindgen_test]
async fn a_failed_load_shows_its_problem_and_the_retry_loads_again() {
    let api = FakeApi::install();
    api.answer("GET /api/instances", 503, problem(503, "Store unavailable", "D1 did not answer", true));
    let root = container();
    let state = signed_in("editor");
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        provide_context(state);
        view! { <InstancesPage/> }
    });
    until("failed", || find(&root, "[data-testid=error]").is_some()).await;
    let error = find(&root, "[data-testid=error]").unwrap();
    assert_eq!(error.get_attribute("role").as_deref(), Some("alert"));
    assert_eq!(find(&error, "span").unwrap().text_content().unwrap(), "Store unavailable: D1 did not answer");
    assert!(find(&error, "[data-testid=retry]").is_some(), "the problem says a retry may help");

    api.answer(
        "GET /api/instances",
        200,
        json!({ "hosts": [{ "host": "www.example.com", "discovery": "static:10.0.0.1:80", "contract": "edgepurge",
                            "transport": "plain", "instances": ["10.0.0.1:80"], "last": [] }] }),
    );
    find(&root, "[data-testid=retry]").unwrap().click();
    until("loaded", || find(&root, "[data-testid=instance-row]").is_some()).await;
    assert!(find(&root, "[data-testid=error]").is_none());
    assert!(!error.is_connected());
    assert_eq!(api.requests(), ["GET /api/instances", "GET /api/instances"]);
}

/// The People page with Alice (an editor) and her token `ci-deploy`.
fn people_api() -> FakeApi {
    let api = FakeApi::install();
    let alice = json!({ "id": 1, "name": "Alice", "role": "editor", "created_at": 0 });
    api.answer("GET /api/people", 200, json!([alice]));
    api.answer(
        "GET /api/people/1/tokens",
        200,
        json!([{ "id": 7, "person_id": 1, "label": "ci-deploy", "hint": "ep_AbC", "created_at": 0 }]),
    );
    api
}

#[wasm_bindgen_test]
async fn every_button_of_a_person_says_whom_or_what_it_acts_on() {
    let _api = people_api();
    let root = container();
    let state = signed_in("admin");
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        provide_context(state);
        view! { <PeoplePage/> }
    });
    until("listed", || find(&root, "[data-testid=token-revoke]").is_some()).await;
    let label = |testid: &str| find(&root, &format!("[data-testid={testid}]")).unwrap().get_attribute("aria-label");
    assert_eq!(label("person-remove").as_deref(), Some("Remove Alice"));
    assert_eq!(label("token-revoke").as_deref(), Some("Revoke token ci-deploy"));
    assert_eq!(label("token-issue").as_deref(), Some("Issue token for Alice"));
    assert_eq!(label("person-set-role").as_deref(), Some("Role of Alice"));
    // Each name starts with the button's visible text (WCAG 2.5.3, label in name).
    for testid in ["person-remove", "token-revoke", "token-issue"] {
        let button = find(&root, &format!("[data-testid={testid}]")).unwrap();
        assert!(label(testid).unwrap().starts_with(&button.text_content().unwrap()), "{testid}");
    }
}

/// Pins what the console's end-to-end test drives: choosing a role saves it at once (one PATCH),
/// then the list reloads; no Save button yet.
#[wasm_bindgen_test]
async fn choosing_a_role_sends_one_patch_and_reloads_the_list() {
    let api = people_api();
    let root = container();
    let state = signed_in("admin");
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        provide_context(state);
        view! { <PeoplePage/> }
    });
    until("listed", || find(&root, "[data-testid=token]").is_some()).await;
    let admin = json!({ "id": 1, "name": "Alice", "role": "admin", "created_at": 0 });
    api.answer("PATCH /api/people/1", 200, admin.clone());
    api.answer("GET /api/people", 200, json!([admin]));

    let select: web_sys::HtmlSelectElement = find(&root, "[data-testid=person-set-role]").unwrap().unchecked_into();
    select.set_value("admin");
    send(&select, "change");
    until("promoted", || find(&root, "[data-testid=person] .badge").unwrap().text_content().unwrap() == "admin").await;
    let sent: Vec<String> = api.requests().into_iter().filter(|r| !r.starts_with("GET /api/people/1/tokens")).collect();
    assert_eq!(sent, ["GET /api/people", r#"PATCH /api/people/1 {"role":"admin"}"#, "GET /api/people"]);
}

#[wasm_bindgen_test]
async fn a_failed_sign_out_shows_the_problem_and_keeps_the_person_signed_in() {
    let api = FakeApi::install();
    api.answer("GET /api/me", 200, me("editor"));
    api.answer("DELETE /api/session", 503, problem(503, "Store unavailable", "D1 did not answer", true));
    let root = container();
    let _handle = leptos::mount::mount_to(root.clone(), App);
    until("signed in", || find(&root, "[data-testid=signout]").is_some()).await;
    find(&root, "[data-testid=signout]").unwrap().click();
    until("failed", || find(&root, "[data-testid=error]").is_some()).await;
    assert_eq!(
        find(&root, "[data-testid=error] span").unwrap().text_content().unwrap(),
        "Store unavailable: D1 did not answer"
    );
    assert!(find(&root, "[data-testid=signin-form]").is_none());
    assert_eq!(find(&root, "[data-testid=me]").unwrap().text_content().unwrap(), "Alice (editor)");

    // Once the worker has ended the session, the sign-in form says so.
    api.answer("DELETE /api/session", 204, Value::Null);
    find(&root, "[data-testid=retry]").unwrap().click();
    until("signed out", || find(&root, "[data-testid=signin-notice]").is_some()).await;
    assert_eq!(find(&root, "[data-testid=signin-notice]").unwrap().text_content().unwrap(), "Signed out.");
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
    // A notification's link names one history entry.
    assert_eq!(Page::from_hash("#/history/42"), Page::History);
    assert_eq!(Page::history_entry("#/history/42"), Some(42));
    for hash in ["#/history", "#/history/", "#/history/0", "#/history/x", "#/people/42"] {
        assert_eq!(Page::history_entry(hash), None, "{hash}");
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

#[wasm_bindgen_test]
async fn a_lost_session_sends_the_person_back_to_sign_in_with_its_message() {
    let api = FakeApi::install();
    api.answer("GET /api/me", 200, me("editor"));
    let expired = problem(401, "Unauthorized", "Your session has expired: sign in again.", false);
    api.answer("GET /api/history?url=&actor=", 401, expired);
    let root = container();
    let _handle = leptos::mount::mount_to(root.clone(), App);
    until("signed in", || find(&root, "[data-testid=signout]").is_some()).await;
    window().location().set_hash("#/history").unwrap();
    until("at sign-in", || find(&root, "[data-testid=signin-notice]").is_some()).await;
    let notice = find(&root, "[data-testid=signin-notice]").unwrap().text_content().unwrap();
    assert_eq!(notice, "Your session has expired: sign in again.");
    assert!(find(&root, "[data-testid=page]").is_none());
    window().location().set_hash("").unwrap();
}

#[wasm_bindgen_test]
async fn signing_out_from_a_loaded_page_leaves_a_console_that_signs_in_again() {
    // A page that read who is signed in while it loaded was loaded again when that changed on
    // signing out, after the page and its resource were gone: the console panicked and stopped.
    thread_local!(static PANICKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    let previous = std::sync::Arc::new(std::panic::take_hook());
    let chained = previous.clone();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.with(|p| p.set(true));
        chained(info);
    }));
    let api = FakeApi::install();
    api.answer("GET /api/me", 200, me("editor"));
    api.answer("GET /api/history?url=&actor=", 200, json!({ "entries": [], "next_before": null }));
    api.answer("DELETE /api/session", 204, Value::Null);
    api.answer("POST /api/session", 200, me("editor"));
    window().location().set_hash("#/history").unwrap();
    let root = container();
    let _handle = leptos::mount::mount_to(root.clone(), App);
    until("on the History page", || find(&root, "[data-testid=history-list]").is_some()).await;
    find(&root, "[data-testid=signout]").unwrap().click();
    until("signed out", || find(&root, "[data-testid=signin-notice]").is_some()).await;
    // Still alive: signing in again works and shows the page.
    let token: web_sys::HtmlInputElement = find(&root, "[data-testid=signin-token]").unwrap().unchecked_into();
    token.set_value("ep_again");
    send(&token, "input");
    find(&root, "[data-testid=signin-submit]").unwrap().click();
    until("signed in again", || find(&root, "[data-testid=history-list]").is_some()).await;
    assert!(api.requests().iter().any(|r| r.starts_with("POST /api/session") && r.contains("ep_again")));
    window().location().set_hash("").unwrap();
    sleep(50).await;
    assert!(!PANICKED.with(std::cell::Cell::get), "nothing panicked on the way");
    let _ = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| previous(info)));
}
