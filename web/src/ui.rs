//! What the pages share: the page heading, the one way a load and a problem are shown, the live
//! purge table and dates.
//!
//! Pages load through a `LocalResource` inside [`Loads`] and change things through `Action`s
//! whose failures [`action_problem`] shows; both end in the same [`ErrorBox`].

use crate::api::Failure;
use crate::live::LivePurge;
use crate::state::{state, Page};
use edgepurge_core::api::Confirmation;
use leptos::prelude::*;

/// A page's main heading. It names the page in the document title and, after a navigation or a
/// sign-in, takes focus (`tabindex="-1"`), so a screen reader goes on from the new page's top.
#[component]
pub fn PageTitle(page: Page) -> impl IntoView {
    let app = state();
    let heading = NodeRef::<leptos::html::H1>::new();
    Effect::new(move || {
        if let Some(h1) = heading.get() {
            document().set_title(&format!("{} · edgepurge", page.title()));
            if app.moved.get_value() {
                let _ = h1.focus();
            }
        }
    });
    view! { <h1 tabindex="-1" node_ref=heading>{page.title()}</h1> }
}

/// What shows while something loads for the first time.
pub fn loading() -> impl IntoView {
    view! { <p class="loading" role="status">"Loading…"</p> }
}

/// A problem, shown the same way everywhere: its sentence and, when trying again may help, a
/// retry button.
#[component]
pub fn ErrorBox(
    message: String,
    #[prop(optional_no_strip)] retry: Option<Callback<()>>,
    #[prop(default = "error")] testid: &'static str,
) -> impl IntoView {
    view! {
        <div class="error" role="alert" data-testid=testid>
            <span>{message}</span>
            {retry.map(|r| view! { <button type="button" on:click=move |_| r.run(()) data-testid="retry">"Retry"</button> })}
        </div>
    }
}

/// The box of a failed call; `retry` is offered when the failure says trying again may help.
fn failure_box(failure: &Failure, retry: Option<Callback<()>>) -> impl IntoView {
    view! { <ErrorBox message=failure.message() retry=retry.filter(|_| failure.retryable())/> }
}

/// What a page loads: "Loading…" until the first answer, then `children`, kept on screen while
/// a reload is under way (`Transition`). A failed load (a `Result` rendered in `children`)
/// shows its problem instead, with a retry that calls `retry` (the resource's refetch).
#[component]
pub fn Loads(#[prop(into)] retry: Callback<()>, children: Children) -> impl IntoView {
    let problems = move |errors: ArcRwSignal<Errors>| {
        move || {
            errors
                .get()
                .into_iter()
                .map(|(_, error)| {
                    let retry = Some(retry).filter(|_| error.downcast_ref::<Failure>().is_some_and(Failure::retryable));
                    view! { <ErrorBox message=error.to_string() retry/> }
                })
                .collect_view()
        }
    };
    view! {
        <Transition fallback=loading>
            <ErrorBoundary fallback=problems>{children()}</ErrorBoundary>
        </Transition>
    }
}

/// The last failure of `action`, in an [`ErrorBox`]; nothing before it fails, while it runs
/// again, or once it succeeded. `retry` is offered when the failure says it may help.
pub fn action_problem<I, O>(action: Action<I, Result<O, Failure>>, retry: Option<Callback<()>>) -> impl IntoView
where
    I: Send + Sync + 'static,
    O: Send + Sync + 'static,
{
    move || {
        if action.pending().get() {
            return None;
        }
        action.value().with(|v| v.as_ref().and_then(|r| r.as_ref().err()).map(|f| failure_box(f, retry)))
    }
}

/// The live table of a purge (nothing before one started); used by the Purge page and its tests.
/// Its progress (how many instances answered, then the summary) is also announced, politely.
#[component]
pub fn LiveTable(live: RwSignal<LivePurge>) -> impl IntoView {
    let started = move || live.with(|l| !l.rows.is_empty());
    view! {
        <p class="visually-hidden" role="status" aria-live="polite" data-testid="live-progress">
            {move || started().then(|| live.with(LivePurge::caption))}
        </p>
        <Show when=started>
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
        </Show>
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
