//! `#/history`: every purge attempt, newest first, filtered by URL and person. `#/history/42`
//! (a notification's link) starts at entry 42, shown open.

use crate::api;
use crate::state::{state, Page};
use crate::ui::{action_problem, when, Loads, PageTitle};
use crate::waterfall::Waterfall;
use edgepurge_core::api::{HistoryEntry, HistoryKind, HistoryPage, HistoryQuery};
use leptos::prelude::*;

/// The History page.
#[component]
pub fn HistoryView() -> impl IntoView {
    let app = state();
    let url = RwSignal::new(String::new());
    let actor = RwSignal::new(String::new());
    // The filters as they were when the form was last sent; sending it again reloads.
    let filters = RwSignal::new((String::new(), String::new()));
    // The entry the location names: the first page starts at it, until a filter is sent.
    let focus = RwSignal::new(Page::history_entry(&window().location().hash().unwrap_or_default()));
    let first = LocalResource::new(move || {
        let path = history_path(&filters.get(), focus.get().map(|id| id + 1));
        async move { app.guard(api::get::<HistoryPage>(&path).await) }
    });
    // The older pages asked for since, appended below the first.
    let older = RwSignal::new(Vec::<HistoryPage>::new());
    let more = Action::new_local(move |before: &i64| {
        let asked = filters.get_untracked();
        let path = history_path(&asked, Some(*before));
        async move {
            let page = app.guard(api::get::<HistoryPage>(&path).await)?;
            // A page of other filters than those now applied is dropped.
            if filters.get_untracked() == asked {
                older.update(|o| o.push(page));
            }
            Ok(())
        }
    });
    let next = move || match older.with(|o| o.last().map(|p| p.next_before)) {
        Some(next) => next,
        None => first.map(|r| r.as_ref().ok().and_then(|p| p.next_before)).flatten(),
    };
    let load_more = move || {
        if let Some(before) = next() {
            more.dispatch(before);
        }
    };
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        older.set(Vec::new());
        focus.set(None);
        filters.set((url.get_untracked(), actor.get_untracked()));
    };
    let entries = move || {
        Suspend::new(async move {
            first.await.map(|page| {
                // Untracked: a read here would make the load run again when `me` changes (signing out),
                // after the page and its resource are gone.
                let template = app.me.with_untracked(|m| m.as_ref().and_then(|m| m.trace_url.clone()));
                let shown = template.clone();
                let focused = focus.get_untracked();
                view! {
                    <ol class="history" data-testid="history-list">
                        {page.entries.into_iter().map(|e| entry(e, template.as_deref(), focused)).collect_view()}
                        {move || older.get().into_iter().flat_map(|p| p.entries).map(|e| entry(e, shown.as_deref(), None)).collect_view()}
                    </ol>
                    <Show when=move || next().is_some()>
                        <button type="button" data-testid="history-more" on:click=move |_| load_more()
                            disabled=move || more.pending().get() aria-label="Older entries">"Older"</button>
                    </Show>
                }
            })
        })
    };
    view! {
        <PageTitle page=Page::History/>
        <form class="filters" on:submit=apply data-testid="history-filters">
            <label>"URL contains" <input data-testid="history-url" bind:value=url/></label>
            <label>"Person" <input data-testid="history-actor" bind:value=actor/></label>
            <button type="submit" data-testid="history-apply">"Filter"</button>
        </form>
        <Loads retry=move || first.refetch()>{entries}</Loads>
        {action_problem(more, Some(Callback::new(move |()| load_more())))}
    }
}

/// `GET /api/history` for the filters (URL, person), older than `before` when given.
fn history_path((url, actor): &(String, String), before: Option<i64>) -> String {
    let query = HistoryQuery {
        url: Some(url.clone()),
        actor: Some(actor.clone()),
        before: before.map(|b| b.to_string()),
        limit: None,
    };
    let fields = [("url", &query.url), ("actor", &query.actor), ("before", &query.before), ("limit", &query.limit)];
    let pairs: Vec<String> = fields
        .into_iter()
        .filter_map(|(name, value)| {
            value.as_deref().map(|v| format!("{name}={}", String::from(js_sys::encode_uri_component(v))))
        })
        .collect();
    format!("/api/history?{}", pairs.join("&"))
}

/// One attempt: a summary line, opening onto the per-instance results and, when the deployment
/// names where traces are seen (`TRACE_URL_TEMPLATE`), a link to its trace. The entry the
/// location names (`focused`) is shown open.
fn entry(e: HistoryEntry, trace_url: Option<&str>, focused: Option<i64>) -> impl IntoView {
    let open = focused == Some(e.id);
    let status = e.status.as_str();
    let trace = e.trace_id.clone().map(|id| {
        let href = trace_url.map(|t| t.replace("{trace_id}", &id));
        let shown = id.clone();
        view! {
            <p class="trace" data-testid="history-trace" data-trace-id=id>
                "Trace " {match href {
                    Some(href) => view! { <a href=href target="_blank" rel="noopener noreferrer" data-testid="history-trace-link">{shown}</a> }.into_any(),
                    None => view! { <code>{shown}</code> }.into_any(),
                }}
            </p>
        }
    });
    view! {
        <li data-testid="history-entry" data-status=status data-kind=e.kind.as_str() data-id=e.id.to_string()
            class:focused=open>
            <details open=open>
                <summary>
                    <span class=format!("badge {status}")>{status}</span>
                    {(e.kind == HistoryKind::Check).then(|| view! { " " <span class="badge">"instance check"</span> })}
                    {e.recovered.then(|| view! {
                        " " <span class="badge" data-testid="history-recovered" title="The worker stopped during this purge; the cron ran it again once its lease ran out">"recovered"</span>
                    })}
                    " " {when(e.at)} " · " <strong>{e.actor}</strong>
                    {e.token.map(|t| view! { " " <span class="token" data-testid="history-token" title="The token used">"(" {t} ")"</span> })}
                    " · "
                    <span class="url">{e.urls.join(", ")}</span>
                </summary>
                {e.detail.map(|d| view! { <p>{d}</p> })}
                {trace}
                <Waterfall rows=e.results.clone()/>
                <ul>
                    {e.results.into_iter().map(|r| view! {
                        <li>{format!("{} on {}: {}{}", r.url, r.instance, r.outcome.label(), r.error.map(|x| format!(" ({x})")).unwrap_or_default())}</li>
                    }).collect_view()}
                </ul>
            </details>
        </li>
    }
}
