//! `#/history`: every purge attempt, newest first, filtered by URL and person.

use crate::api;
use crate::state::state;
use crate::ui::{when, Call};
use crate::waterfall::Waterfall;
use edgepurge_core::api::{HistoryEntry, HistoryKind, HistoryPage, HistoryQuery};
use leptos::prelude::*;

/// The History page.
#[component]
pub fn HistoryView() -> impl IntoView {
    let url = RwSignal::new(String::new());
    let actor = RwSignal::new(String::new());
    let entries = RwSignal::new(Vec::<HistoryEntry>::new());
    let next = RwSignal::new(None::<i64>);
    let call = Call::new(state());
    let load = move |before: Option<i64>| {
        let query = HistoryQuery {
            url: Some(url.get_untracked()),
            actor: Some(actor.get_untracked()),
            before: before.map(|b| b.to_string()),
            limit: None,
        };
        call.run(async move {
            let page = api::get::<HistoryPage>(&history_path(&query)).await?;
            next.set(page.next_before);
            if before.is_some() {
                entries.update(|e| e.extend(page.entries));
            } else {
                entries.set(page.entries);
            }
            Ok(())
        });
    };
    load(None);
    view! {
        <h1>"History"</h1>
        <form class="filters" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); load(None); } data-testid="history-filters">
            <label>"URL contains" <input data-testid="history-url" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/></label>
            <label>"Person" <input data-testid="history-actor" prop:value=move || actor.get() on:input=move |ev| actor.set(event_target_value(&ev))/></label>
            <button type="submit" data-testid="history-apply">"Filter"</button>
        </form>
        {call.error_box(move || load(None))}
        <ol class="history" data-testid="history-list">
            {move || {
                let template = state().me.with(|m| m.as_ref().and_then(|m| m.trace_url.clone()));
                entries.get().into_iter().map(|e| entry(e, template.as_deref())).collect_view()
            }}
        </ol>
        <Show when=move || next.get().is_some()>
            <button type="button" data-testid="history-more" on:click=move |_| load(next.get_untracked())>"Older"</button>
        </Show>
    }
}

/// `GET /api/history` with the fields of `query` that are set.
fn history_path(query: &HistoryQuery) -> String {
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
/// names where traces are seen (`TRACE_URL_TEMPLATE`), a link to its trace.
fn entry(e: HistoryEntry, trace_url: Option<&str>) -> impl IntoView {
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
        <li data-testid="history-entry" data-status=status data-kind=e.kind.as_str()>
            <details>
                <summary>
                    <span class=format!("badge {status}")>{status}</span>
                    {(e.kind == HistoryKind::Check).then(|| view! { " " <span class="badge">"instance check"</span> })}
                    {e.recovered.then(|| view! {
                        " " <span class="badge" data-testid="history-recovered" title="The worker stopped during this purge; the cron ran it again once its lease ran out">"recovered"</span>
                    })}
                    " " {when(e.at)} " · " <strong>{e.actor}</strong> " · "
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
