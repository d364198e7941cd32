//! `#/purge`: purge URLs, keys, prefixes or hosts, and watch every instance answer live.

use crate::api;
use crate::live::{purge_request, urls_from_text, Kind, LivePurge};
use crate::state::{state, Page};
use crate::ui::{action_problem, ErrorBox, LiveTable, PageTitle};
use crate::waterfall::Waterfall;
use edgepurge_core::api::PurgeRequest;
use leptos::prelude::*;

/// The Purge page.
#[component]
pub fn PurgePage() -> impl IntoView {
    let app = state();
    let text = RwSignal::new(String::new());
    let kind = RwSignal::new(Kind::Urls);
    let soft = RwSignal::new(false);
    // On by default: a purge the console shows is one it has seen take effect.
    let confirm = RwSignal::new(true);
    // For keys, prefixes and hosts: the URLs that show whether the purge took.
    let confirm_text = RwSignal::new(String::new());
    let live = RwSignal::new(LivePurge::default());
    // The stream is read by `api::purge_live` (Leptos has no NDJSON reader); the action gives it
    // the busy state and the problem box every other button has.
    let purge = Action::new_local(move |body: &PurgeRequest| {
        let body = body.clone();
        async move { app.guard(api::purge_live(body, move |event| live.update(|l| l.apply(event))).await) }
    });
    let refused = RwSignal::new(false);
    let run = move || {
        if urls_from_text(&text.get_untracked()).is_empty() {
            purge.clear();
            refused.set(true);
            return;
        }
        refused.set(false);
        live.set(LivePurge::default());
        purge.dispatch(purge_request(
            kind.get_untracked(),
            &text.get_untracked(),
            soft.get_untracked(),
            confirm.get_untracked(),
            &confirm_text.get_untracked(),
        ));
    };
    let busy = move || purge.pending().get();
    let placeholder = move || match kind.get() {
        Kind::Urls => "https://www.example.com/episodes/1",
        Kind::Keys => "episode-1",
        Kind::Prefixes => "https://www.example.com/episodes/",
        Kind::Hosts => "www.example.com",
    };
    view! {
        <PageTitle page=Page::Purge/>
        <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); run(); } data-testid="purge-form">
            <label for="purge-kind">"What to purge"</label>
            <select id="purge-kind" data-testid="purge-kind" on:change=move |ev| {
                kind.set(Kind::from_value(&event_target_value(&ev)));
                if matches!(kind.get_untracked(), Kind::Prefixes | Kind::Hosts) { soft.set(false); }
            }>
                <option value="urls" selected>"URLs"</option>
                <option value="keys">"Surrogate keys"</option>
                <Show when=move || app.is_admin()>
                    <option value="prefixes">"Path prefixes (admin)"</option>
                    <option value="hosts">"Whole hosts (admin)"</option>
                </Show>
            </select>
            <label for="urls">"One per line"</label>
            <textarea id="urls" rows="5" data-testid="purge-urls" placeholder=placeholder bind:value=text></textarea>
            <label class="check">
                <input type="checkbox" data-testid="purge-soft" bind:checked=soft
                    disabled=move || matches!(kind.get(), Kind::Prefixes | Kind::Hosts)/>
                " Soft: mark stale, serve stale while refetching"
            </label>
            <label class="check">
                <input type="checkbox" data-testid="purge-confirm" bind:checked=confirm/>
                {move || if kind.get() == Kind::Urls {
                    " Confirm: ask each instance for each URL right after, and show what it now serves"
                } else {
                    " Confirm: ask each instance for these URLs right after, and show what it now serves"
                }}
            </label>
            <Show when=move || confirm.get() && kind.get() != Kind::Urls>
                <label for="confirm-urls">"URLs to confirm with, one per line (optional, at most 10)"</label>
                <textarea id="confirm-urls" rows="2" data-testid="purge-confirm-urls"
                    placeholder="https://www.example.com/episodes/1" bind:value=confirm_text></textarea>
            </Show>
            <button type="submit" disabled=busy data-testid="purge-submit">
                {move || if busy() { "Purging…" } else { "Purge" }}
            </button>
        </form>
        {move || refused.get().then(|| view! { <ErrorBox message="Give at least one item, one per line.".to_owned()/> })}
        {action_problem(purge, Some(Callback::new(move |()| run())))}
        <LiveTable live=live/>
        {move || {
            let rows: Vec<_> = live.with(|l| l.rows.iter().filter_map(|r| r.result.clone()).collect());
            view! { <Waterfall rows=rows/> }
        }}
    }
}
