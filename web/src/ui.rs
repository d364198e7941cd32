//! What the pages share: [`Call`] (every request a page makes goes through one), the error box,
//! the live purge table and dates.

use crate::api::Failure;
use crate::live::LivePurge;
use crate::state::AppState;
use edgepurge_core::api::Confirmation;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::future::Future;

/// Why the last call failed, as the person sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The sentence shown.
    pub message: String,
    /// Whether to offer a retry button.
    pub retry: bool,
}

/// The requests of one component: how many are in flight and why the last one failed.
///
/// Starting a call clears the previous error; a failure is shown through [`Call::error_box`]
/// (or [`Call::error`]), and a lost session sends the person back to sign-in
/// ([`AppState::fail`]).
#[derive(Clone, Copy)]
pub struct Call {
    app: AppState,
    in_flight: RwSignal<u32>,
    error: RwSignal<Option<Shown>>,
}

impl Call {
    /// A call helper for the current component; its signals live as long as the component.
    pub fn new(app: AppState) -> Call {
        Call { app, in_flight: RwSignal::new(0), error: RwSignal::new(None) }
    }

    /// Whether a call is in flight (tracked).
    pub fn busy(&self) -> bool {
        self.in_flight.get() > 0
    }

    /// Why the last call failed, if it did (tracked).
    pub fn error(&self) -> Option<Shown> {
        self.error.get()
    }

    /// Shows `message` without calling anything: the form cannot be sent as it is.
    pub fn refuse(&self, message: &str) {
        self.error.set(Some(Shown { message: message.to_owned(), retry: false }));
    }

    /// Runs `call`; a failure is shown, with a retry button when retrying may help.
    pub fn run(self, call: impl Future<Output = Result<(), Failure>> + 'static) {
        self.run_failing(call, true);
    }

    /// Runs `call`; a failure is shown without a retry button (the page's retry redoes
    /// something else).
    pub fn run_once(self, call: impl Future<Output = Result<(), Failure>> + 'static) {
        self.run_failing(call, false);
    }

    fn run_failing(self, call: impl Future<Output = Result<(), Failure>> + 'static, retry: bool) {
        let app = self.app;
        self.start(
            async move { call.await.map_err(|f| Shown { message: app.fail(&f), retry: retry && f.retryable() }) },
        );
    }

    /// Runs `call`, which words its own failure (sign-in: a 401 there is a wrong token, not a
    /// lost session).
    pub fn start(self, call: impl Future<Output = Result<(), Shown>> + 'static) {
        self.in_flight.update(|n| *n += 1);
        self.error.set(None);
        spawn_local(async move {
            if let Err(shown) = call.await {
                self.error.set(Some(shown));
            }
            self.in_flight.update(|n| *n = n.saturating_sub(1));
        });
    }

    /// The error box of the last failure, if any; its retry button calls `retry`.
    pub fn error_box(self, retry: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
        move || {
            self.error()
                .map(|e| view! { <ErrorBox message=e.message retry=e.retry.then(|| Callback::new(move |_| retry()))/> })
        }
    }
}

/// An error with, when it may help, a retry button.
#[component]
fn ErrorBox(message: String, #[prop(optional_no_strip)] retry: Option<Callback<()>>) -> impl IntoView {
    view! {
        <div class="error" role="alert" data-testid="error">
            <span>{message}</span>
            {retry.map(|r| view! { <button type="button" on:click=move |_| r.run(()) data-testid="retry">"Retry"</button> })}
        </div>
    }
}

/// The live table of a purge; used by the Purge page and its tests.
#[component]
pub fn LiveTable(live: RwSignal<LivePurge>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table data-testid="live-table">
                <caption>{move || live.with(LivePurge::caption)}</caption>
                <thead><tr><th scope="col">"URL"</th><th scope="col">"Instance"</th><th scope="col">"Outcome"</th><th scope="col">"Status"</th><th scope="col">"Time"</th><th scope="col">"Now serving"</th><th scope="col">"Detail"</th></tr></thead>
                <tbody>
                    {move || live.get().rows.into_iter().map(|row| {
                        let label = row.outcome_label();
                        let class = format!("outcome {}", label.replace([' ', '…'], ""));
                        let r = row.result.clone();
                        view! {
                            <tr data-testid="live-row" data-instance=row.instance.clone() data-outcome=label>
                                <td class="url">{row.url.clone()}</td>
                                <td>{row.instance.clone()}</td>
                                <td class=class>{label}</td>
                                <td>{r.as_ref().and_then(|r| r.http_status).map(|s| s.to_string()).unwrap_or_default()}</td>
                                <td>{r.as_ref().and_then(|r| r.elapsed_ms).map(|ms| format!("{ms} ms")).unwrap_or_default()}</td>
                                {confirm_cell(r.as_ref().and_then(|r| r.confirm.as_ref()))}
                                <td>
                                    {r.as_ref().and_then(|r| r.error.clone()).unwrap_or_default()}
                                    {r.as_ref().filter(|r| r.pending).map(|r| format!(" (after {} tries; queued for background redelivery)", r.attempts))}
                                    {r.as_ref().filter(|r| r.done_hard).map(|_| view! { <span data-testid="done-hard">" soft purge done hard: this instance's contract has no soft purge"</span> })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {move || live.with(|l| l.report.as_ref().map(|r| r.skipped.clone())).filter(|s| !s.is_empty()).map(|skipped| view! {
            <ul class="notice" data-testid="skipped-groups">
                {skipped.into_iter().map(|s| view! {
                    <li data-testid="skipped-group" data-group=s.group.clone()>
                        {format!("{} not sent to {}: {}", s.item, s.group, s.reason)}
                    </li>
                }).collect_view()}
            </ul>
        })}
    }
}

/// What the instance served right after the purge (`confirm`): fresh, the old copy, or why
/// it cannot be told; the instance's `Cache-Status` as the cell's title.
fn confirm_cell(confirm: Option<&Confirmation>) -> impl IntoView {
    let (label, class) = match confirm.map(|c| c.fresh) {
        None => ("", "confirm"),
        Some(Some(true)) => ("fresh copy", "confirm fresh"),
        Some(Some(false)) => ("old copy!", "confirm stale"),
        Some(None) => ("cannot tell", "confirm unknown"),
    };
    let detail = confirm.and_then(|c| c.cache_status.clone().or_else(|| c.error.clone())).unwrap_or_default();
    // A key, prefix or host purge is confirmed through a URL the request named: say which.
    let title = match confirm.and_then(|c| c.url.as_deref()) {
        Some(url) => format!("{url}: {detail}"),
        None => detail,
    };
    let state = label.replace([' ', '!'], "");
    view! { <td class=class title=title data-testid="confirm" data-confirm=state>{label}</td> }
}

/// A millisecond timestamp as local date and time.
pub fn when(ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(d.to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED))
}
