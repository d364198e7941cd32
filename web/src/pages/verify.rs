//! `#/verify`: fetch a URL from every instance and show what each one's cache says.

use crate::api;
use crate::state::{state, Page};
use crate::ui::{action_problem, PageTitle};
use edgepurge_core::api::{VerifyReport, VerifyRequest, VerifyResult};
use leptos::prelude::*;

/// The Verify page.
#[component]
pub fn VerifyPage() -> impl IntoView {
    let app = state();
    let url = RwSignal::new(String::new());
    let verify = Action::new_local(move |url: &String| {
        let body = VerifyRequest { url: url.trim().to_owned() };
        async move { app.guard(api::post::<_, VerifyReport>("/api/verify", &body).await) }
    });
    let run = move || {
        verify.dispatch(url.get_untracked());
    };
    view! {
        <PageTitle page=Page::Verify/>
        <p>"Fetches the URL from every instance and shows each instance's Cache-Status."</p>
        <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); run(); } data-testid="verify-form">
            <label for="verify-url">"URL"</label>
            <input id="verify-url" type="url" required data-testid="verify-url" bind:value=url/>
            <button type="submit" disabled=move || verify.pending().get() data-testid="verify-submit">"Verify"</button>
        </form>
        {action_problem(verify, Some(Callback::new(move |()| run())))}
        {move || verify.value().get().and_then(Result::ok).map(|r| view! {
            <div class="table-wrap">
                <table data-testid="verify-table">
                    <caption>{r.url.clone()}</caption>
                    <thead><tr><th scope="col">"Instance"</th><th scope="col">"Status"</th><th scope="col">"Cache"</th><th scope="col">"TTL"</th><th scope="col">"Age"</th><th scope="col">"Cache-Status"</th></tr></thead>
                    <tbody>
                        {r.results.into_iter().map(|row| view! {
                            <tr data-testid="verify-row" data-instance=row.instance.clone() data-hit=row.hit.map(|h| h.to_string())>
                                <td>{row.instance.clone()}</td>
                                <td>{row.http_status.map(|s| s.to_string()).unwrap_or_default()}</td>
                                <td class=if row.hit == Some(true) { "outcome hit" } else { "outcome miss" }>{cache(&row)}</td>
                                <td>{row.ttl.map(|t| format!("{t} s")).unwrap_or_default()}</td>
                                <td>{row.age.map(|a| format!("{a} s")).unwrap_or_default()}</td>
                                <td><code>{row.cache_status.unwrap_or_default()}</code></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        })}
    }
}

/// The Cache cell: hit, miss (with why it went forward), or why there is no answer.
fn cache(row: &VerifyResult) -> String {
    match (row.hit, &row.error) {
        (Some(true), _) => "hit".to_owned(),
        (Some(false), _) => format!("miss{}", row.fwd.as_ref().map(|f| format!(" ({f})")).unwrap_or_default()),
        (None, Some(e)) => e.clone(),
        (None, None) => "unknown".to_owned(),
    }
}
