//! `#/purge`: purge URLs, keys, prefixes or hosts, and watch every instance answer live.

use crate::api;
use crate::live::{purge_request, urls_from_text, Kind, LivePurge};
use crate::state::state;
use crate::ui::{Call, LiveTable};
use crate::waterfall::Waterfall;
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
    let call = Call::new(app);
    let run = move || {
        let body = purge_request(
            kind.get_untracked(),
            &text.get_untracked(),
            soft.get_untracked(),
            confirm.get_untracked(),
            &confirm_text.get_untracked(),
        );
        if urls_from_text(&text.get_untracked()).is_empty() {
            call.refuse("Give at least one item, one per line.");
            return;
        }
        live.set(LivePurge::default());
        call.run(api::purge_live(body, move |event| live.update(|l| l.apply(event))));
    };
    let placeholder = move || match kind.get() {
        Kind::Urls => "https://www.example.com/episodes/1",
        Kind::Keys => "episode-1",
        Kind::Prefixes => "https://www.example.com/episodes/",
        Kind::Hosts => "www.example.com",
    };
    view! {
        <h1>"Purge"</h1>
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
            <textarea id="urls" rows="5" data-testid="purge-urls" placeholder=placeholder
                prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            <label class="check">
                <input type="checkbox" data-testid="purge-soft" prop:checked=move || soft.get()
                    disabled=move || matches!(kind.get(), Kind::Prefixes | Kind::Hosts)
                    on:change=move |ev| soft.set(event_target_checked(&ev))/>
                " Soft: mark stale, serve stale while refetching"
            </label>
            <label class="check">
                <input type="checkbox" data-testid="purge-confirm" prop:checked=move || confirm.get()
                    on:change=move |ev| confirm.set(event_target_checked(&ev))/>
                {move || if kind.get() == Kind::Urls {
                    " Confirm: ask each instance for each URL right after, and show what it now serves"
                } else {
                    " Confirm: ask each instance for these URLs right after, and show what it now serves"
                }}
            </label>
            <Show when=move || confirm.get() && kind.get() != Kind::Urls>
                <label for="confirm-urls">"URLs to confirm with, one per line (optional, at most 10)"</label>
                <textarea id="confirm-urls" rows="2" data-testid="purge-confirm-urls"
                    placeholder="https://www.example.com/episodes/1"
                    prop:value=move || confirm_text.get() on:input=move |ev| confirm_text.set(event_target_value(&ev))></textarea>
            </Show>
            <button type="submit" disabled=move || call.busy() data-testid="purge-submit">
                {move || if call.busy() { "Purging…" } else { "Purge" }}
            </button>
        </form>
        {call.error_box(run)}
        <Show when=move || !live.get().rows.is_empty()><LiveTable live=live/></Show>
        {move || {
            let rows: Vec<_> = live.with(|l| l.rows.iter().filter_map(|r| r.result.clone()).collect());
            view! { <Waterfall rows=rows/> }
        }}
    }
}
