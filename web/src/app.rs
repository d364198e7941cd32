//! The console's components. Every element a test drives has a `data-testid`.

use crate::api::{self, Failure};
use crate::live::{purge_request, urls_from_text, Kind, LivePurge};
use edgepurge_core::api::{
    HistoryEntry, HistoryPage, InstancesReply, IssuedToken, Me, NewPerson, NewToken, Person, Role, SignIn, TokenInfo,
    VerifyReport, VerifyRequest,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The pages, from `location.hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `#/purge` (the default).
    Purge,
    /// `#/verify`.
    Verify,
    /// `#/instances`.
    Instances,
    /// `#/history`.
    History,
    /// `#/people` (admins).
    People,
}

impl Page {
    /// The page for a location hash.
    pub fn from_hash(hash: &str) -> Page {
        match hash.trim_start_matches('#').trim_start_matches('/') {
            "verify" => Page::Verify,
            "instances" => Page::Instances,
            "history" => Page::History,
            "people" => Page::People,
            _ => Page::Purge,
        }
    }
}

/// State shared by every component.
#[derive(Clone, Copy)]
pub struct AppState {
    /// Who is signed in; `None` shows the sign-in form.
    pub me: RwSignal<Option<Me>>,
    /// Why the person was sent to sign-in, if they were.
    pub notice: RwSignal<Option<String>>,
    /// The page shown.
    pub page: RwSignal<Page>,
}

impl AppState {
    /// Handles a failed call: a lost session goes back to sign-in with its message.
    pub fn fail(&self, f: &Failure) -> String {
        if let Failure::SignedOut(message) = f {
            api::set_csrf(None);
            self.notice.set(Some(message.clone()));
            self.me.set(None);
        }
        f.message()
    }
}

fn state() -> AppState {
    expect_context::<AppState>()
}

fn current_hash() -> String {
    window().location().hash().unwrap_or_default()
}

/// The whole console.
#[component]
pub fn App() -> impl IntoView {
    let app = AppState {
        me: RwSignal::new(None),
        notice: RwSignal::new(None),
        page: RwSignal::new(Page::from_hash(&current_hash())),
    };
    provide_context(app);
    let handle = window_event_listener(leptos::ev::hashchange, move |_| app.page.set(Page::from_hash(&current_hash())));
    on_cleanup(move || handle.remove());
    // An existing session (the cookie survives reloads) signs straight in.
    spawn_local(async move {
        if let Ok(me) = api::get::<Me>("/api/me").await {
            api::set_csrf(me.csrf_token.clone());
            app.me.set(Some(me));
        }
    });
    view! {
        <Show when=move || app.me.get().is_some() fallback=|| view! { <SignInForm/> }>
            <Nav/>
            <main id="main" data-testid="page">
                {move || match app.page.get() {
                    Page::Purge => view! { <PurgePage/> }.into_any(),
                    Page::Verify => view! { <VerifyPage/> }.into_any(),
                    Page::Instances => view! { <InstancesPage/> }.into_any(),
                    Page::History => view! { <HistoryView/> }.into_any(),
                    Page::People => view! { <PeoplePage/> }.into_any(),
                }}
            </main>
        </Show>
    }
}

/// Sign in with a personal token.
#[component]
pub fn SignInForm() -> impl IntoView {
    let app = state();
    let token = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let body = SignIn { token: token.get_untracked() };
        spawn_local(async move {
            match api::send::<_, Me>("POST", "/api/session", &body).await {
                Ok(me) => {
                    api::set_csrf(me.csrf_token.clone());
                    app.notice.set(None);
                    token.set(String::new());
                    app.me.set(Some(me));
                }
                Err(f) => error.set(Some(match f {
                    Failure::SignedOut(_) => "That token is not valid (unknown or revoked).".to_owned(),
                    other => other.message(),
                })),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="signin" aria-labelledby="signin-title">
            <h1 id="signin-title">"edgepurge"</h1>
            {move || app.notice.get().map(|n| view! { <p class="notice" role="status" data-testid="signin-notice">{n}</p> })}
            <form on:submit=submit data-testid="signin-form">
                <label for="token">"Personal API token"</label>
                <input id="token" type="password" autocomplete="off" required data-testid="signin-token"
                    prop:value=move || token.get() on:input=move |ev| token.set(event_target_value(&ev))/>
                <button type="submit" disabled=move || busy.get() data-testid="signin-submit">"Sign in"</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="signin-error">{e}</p> })}
        </section>
    }
}

#[component]
fn Nav() -> impl IntoView {
    let app = state();
    let is_admin = move || app.me.get().is_some_and(|m| m.role == Role::Admin);
    let link = move |page: Page, href: &'static str, label: &'static str, id: &'static str| {
        view! {
            <a href=href data-testid=id aria-current=move || (app.page.get() == page).then_some("page")>{label}</a>
        }
    };
    let sign_out = move |_| {
        spawn_local(async move {
            let _ = api::delete("/api/session").await;
            api::set_csrf(None);
            app.notice.set(Some("Signed out.".into()));
            app.me.set(None);
        });
    };
    view! {
        <header>
            <nav aria-label="Pages">
                <strong>"edgepurge"</strong>
                {link(Page::Purge, "#/purge", "Purge", "nav-purge")}
                {link(Page::Verify, "#/verify", "Verify", "nav-verify")}
                {link(Page::Instances, "#/instances", "Instances", "nav-instances")}
                {link(Page::History, "#/history", "History", "nav-history")}
                <Show when=is_admin>{link(Page::People, "#/people", "People and tokens", "nav-people")}</Show>
            </nav>
            <div class="who">
                <span data-testid="me">
                    {move || app.me.get().map(|m| format!("{} ({})", m.name, if m.role == Role::Admin { "admin" } else { "editor" }))}
                </span>
                <button type="button" on:click=sign_out data-testid="signout">"Sign out"</button>
            </div>
        </header>
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
                <caption>
                    {move || {
                        let l = live.get();
                        match &l.report {
                            Some(r) => format!(
                                "{}: {} purged, {} not cached, {} rejected, {} failed",
                                match r.status {
                                    edgepurge_core::api::PurgeStatus::Purged => "All purged",
                                    edgepurge_core::api::PurgeStatus::Partial => "Partly purged",
                                    edgepurge_core::api::PurgeStatus::Failed => "Purge failed",
                                },
                                r.summary.purged, r.summary.not_cached, r.summary.rejected, r.summary.failed
                            ),
                            None => format!("{} of {} instances answered", l.answered(), l.rows.len()),
                        }
                    }}
                </caption>
                <thead><tr><th scope="col">"URL"</th><th scope="col">"Instance"</th><th scope="col">"Outcome"</th><th scope="col">"Status"</th><th scope="col">"Time"</th><th scope="col">"Detail"</th></tr></thead>
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
                                <td>
                                    {r.as_ref().and_then(|r| r.error.clone()).unwrap_or_default()}
                                    {r.as_ref().filter(|r| r.pending).map(|r| format!(" (after {} tries; queued for background redelivery)", r.attempts))}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn PurgePage() -> impl IntoView {
    let app = state();
    let text = RwSignal::new(String::new());
    let kind = RwSignal::new(Kind::Urls);
    let soft = RwSignal::new(false);
    let live = RwSignal::new(LivePurge::default());
    let error = RwSignal::new(None::<(String, bool)>);
    let busy = RwSignal::new(false);
    let is_admin = move || app.me.get().is_some_and(|m| m.role == Role::Admin);
    let run = move || {
        let body = purge_request(kind.get_untracked(), &text.get_untracked(), soft.get_untracked());
        if urls_from_text(&text.get_untracked()).is_empty() {
            error.set(Some(("Give at least one item, one per line.".into(), false)));
            return;
        }
        busy.set(true);
        error.set(None);
        live.set(LivePurge::default());
        spawn_local(async move {
            let result = api::purge_live(body, move |event| live.update(|l| l.apply(event))).await;
            if let Err(f) = result {
                error.set(Some((app.fail(&f), f.retryable())));
            }
            busy.set(false);
        });
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
                <Show when=is_admin>
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
            <button type="submit" disabled=move || busy.get() data-testid="purge-submit">
                {move || if busy.get() { "Purging…" } else { "Purge" }}
            </button>
        </form>
        {move || error.get().map(|(m, retry)| view! { <ErrorBox message=m retry=retry.then(|| Callback::new(move |_| run()))/> })}
        <Show when=move || !live.get().rows.is_empty()><LiveTable live=live/></Show>
    }
}

#[component]
fn VerifyPage() -> impl IntoView {
    let app = state();
    let url = RwSignal::new(String::new());
    let report = RwSignal::new(None::<VerifyReport>);
    let error = RwSignal::new(None::<(String, bool)>);
    let busy = RwSignal::new(false);
    let run = move || {
        busy.set(true);
        error.set(None);
        let body = VerifyRequest { url: url.get_untracked().trim().to_owned() };
        spawn_local(async move {
            match api::send::<_, VerifyReport>("POST", "/api/verify", &body).await {
                Ok(r) => report.set(Some(r)),
                Err(f) => error.set(Some((app.fail(&f), f.retryable()))),
            }
            busy.set(false);
        });
    };
    view! {
        <h1>"Verify"</h1>
        <p>"Fetches the URL from every instance and shows each instance's Cache-Status."</p>
        <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); run(); } data-testid="verify-form">
            <label for="verify-url">"URL"</label>
            <input id="verify-url" type="url" required data-testid="verify-url"
                prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/>
            <button type="submit" disabled=move || busy.get() data-testid="verify-submit">"Verify"</button>
        </form>
        {move || error.get().map(|(m, retry)| view! { <ErrorBox message=m retry=retry.then(|| Callback::new(move |_| run()))/> })}
        {move || report.get().map(|r| view! {
            <div class="table-wrap">
                <table data-testid="verify-table">
                    <caption>{r.url.clone()}</caption>
                    <thead><tr><th scope="col">"Instance"</th><th scope="col">"Status"</th><th scope="col">"Cache"</th><th scope="col">"TTL"</th><th scope="col">"Age"</th><th scope="col">"Cache-Status"</th></tr></thead>
                    <tbody>
                        {r.results.into_iter().map(|row| {
                            let cache = match (row.hit, &row.error) {
                                (Some(true), _) => "hit".to_owned(),
                                (Some(false), _) => format!("miss{}", row.fwd.as_ref().map(|f| format!(" ({f})")).unwrap_or_default()),
                                (None, Some(e)) => e.clone(),
                                (None, None) => "unknown".to_owned(),
                            };
                            view! {
                                <tr data-testid="verify-row" data-instance=row.instance.clone() data-hit=row.hit.map(|h| h.to_string())>
                                    <td>{row.instance.clone()}</td>
                                    <td>{row.http_status.map(|s| s.to_string()).unwrap_or_default()}</td>
                                    <td class=if row.hit == Some(true) { "outcome hit" } else { "outcome miss" }>{cache}</td>
                                    <td>{row.ttl.map(|t| format!("{t} s")).unwrap_or_default()}</td>
                                    <td>{row.age.map(|a| format!("{a} s")).unwrap_or_default()}</td>
                                    <td><code>{row.cache_status.unwrap_or_default()}</code></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        })}
    }
}

#[component]
fn InstancesPage() -> impl IntoView {
    let app = state();
    let data = RwSignal::new(None::<InstancesReply>);
    let error = RwSignal::new(None::<(String, bool)>);
    let load = move || {
        error.set(None);
        spawn_local(async move {
            match api::get::<InstancesReply>("/api/instances").await {
                Ok(r) => data.set(Some(r)),
                Err(f) => error.set(Some((app.fail(&f), f.retryable()))),
            }
        });
    };
    load();
    view! {
        <h1>"Instances"</h1>
        {move || error.get().map(|(m, retry)| view! { <ErrorBox message=m retry=retry.then(|| Callback::new(move |_| load()))/> })}
        {move || data.get().map(|d| d.hosts.into_iter().map(|h| {
            let last = h.last.clone();
            view! {
                <section class="host">
                    <h2>{h.host.clone()}</h2>
                    <p>"Discovery: " <code>{h.discovery.clone()}</code></p>
                    {h.error.map(|p| view! { <p class="error">{format!("{}: {}", p.title, p.detail)}</p> })}
                    <div class="table-wrap">
                        <table data-testid="instances-table">
                            <thead><tr><th scope="col">"Instance"</th><th scope="col">"Last purge"</th><th scope="col">"URL"</th><th scope="col">"When"</th></tr></thead>
                            <tbody>
                                {h.instances.into_iter().map(|i| {
                                    let l = last.iter().find(|l| l.instance == i).cloned();
                                    view! {
                                        <tr data-testid="instance-row">
                                            <td>{i.clone()}</td>
                                            <td>{l.as_ref().map(|l| format!("{:?}", l.outcome).to_lowercase()).unwrap_or_else(|| "none yet".into())}</td>
                                            <td class="url">{l.as_ref().map(|l| l.url.clone()).unwrap_or_default()}</td>
                                            <td>{l.map(|l| when(l.at)).unwrap_or_default()}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                </section>
            }
        }).collect_view())}
    }
}

/// A millisecond timestamp as local date and time.
pub fn when(ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(d.to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED))
}

#[component]
fn HistoryView() -> impl IntoView {
    let app = state();
    let url = RwSignal::new(String::new());
    let actor = RwSignal::new(String::new());
    let entries = RwSignal::new(Vec::<HistoryEntry>::new());
    let next = RwSignal::new(None::<i64>);
    let error = RwSignal::new(None::<(String, bool)>);
    let load = move |before: Option<i64>| {
        error.set(None);
        let mut path = format!(
            "/api/history?url={}&actor={}",
            String::from(js_sys::encode_uri_component(&url.get_untracked())),
            String::from(js_sys::encode_uri_component(&actor.get_untracked()))
        );
        if let Some(b) = before {
            path.push_str(&format!("&before={b}"));
        }
        spawn_local(async move {
            match api::get::<HistoryPage>(&path).await {
                Ok(page) => {
                    next.set(page.next_before);
                    if before.is_some() {
                        entries.update(|e| e.extend(page.entries));
                    } else {
                        entries.set(page.entries);
                    }
                }
                Err(f) => error.set(Some((app.fail(&f), f.retryable()))),
            }
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
        {move || error.get().map(|(m, retry)| view! { <ErrorBox message=m retry=retry.then(|| Callback::new(move |_| load(None)))/> })}
        <ol class="history" data-testid="history-list">
            {move || entries.get().into_iter().map(|e| view! {
                <li data-testid="history-entry" data-status=e.status.clone()>
                    <details>
                        <summary>
                            <span class=format!("badge {}", e.status)>{e.status.clone()}</span>
                            " " {when(e.at)} " · " <strong>{e.actor.clone()}</strong> " · "
                            <span class="url">{e.urls.join(", ")}</span>
                        </summary>
                        {e.detail.clone().map(|d| view! { <p>{d}</p> })}
                        <ul>
                            {e.results.into_iter().map(|r| view! {
                                <li>{format!("{} on {}: {:?}{}", r.url, r.instance, r.outcome, r.error.map(|x| format!(" ({x})")).unwrap_or_default())}</li>
                            }).collect_view()}
                        </ul>
                    </details>
                </li>
            }).collect_view()}
        </ol>
        <Show when=move || next.get().is_some()>
            <button type="button" data-testid="history-more" on:click=move |_| load(next.get_untracked())>"Older"</button>
        </Show>
    }
}

#[component]
fn PeoplePage() -> impl IntoView {
    let app = state();
    let people = RwSignal::new(Vec::<Person>::new());
    let error = RwSignal::new(None::<(String, bool)>);
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("editor".to_owned());
    let load = move || {
        spawn_local(async move {
            match api::get::<Vec<Person>>("/api/people").await {
                Ok(p) => people.set(p),
                Err(f) => error.set(Some((app.fail(&f), f.retryable()))),
            }
        });
    };
    load();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let body = NewPerson {
            name: name.get_untracked(),
            email: Some(email.get_untracked()).filter(|e| !e.trim().is_empty()),
            role: if role.get_untracked() == "admin" { Role::Admin } else { Role::Editor },
        };
        spawn_local(async move {
            match api::send::<_, Person>("POST", "/api/people", &body).await {
                Ok(_) => {
                    name.set(String::new());
                    email.set(String::new());
                    load();
                }
                Err(f) => error.set(Some((app.fail(&f), false))),
            }
        });
    };
    view! {
        <h1>"People and tokens"</h1>
        {move || error.get().map(|(m, retry)| view! { <ErrorBox message=m retry=retry.then(|| Callback::new(move |_| load()))/> })}
        <form class="new-person" on:submit=create data-testid="person-form">
            <label for="p-name">"Name"</label>
            <input id="p-name" required data-testid="person-name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            <label for="p-email">"E-mail (for Cloudflare Access)"</label>
            <input id="p-email" type="email" data-testid="person-email" prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/>
            <label for="p-role">"Role"</label>
            <select id="p-role" data-testid="person-role" on:change=move |ev| role.set(event_target_value(&ev))>
                <option value="editor" selected>"editor"</option>
                <option value="admin">"admin"</option>
            </select>
            <button type="submit" data-testid="person-create">"Add person"</button>
        </form>
        <ul class="people" data-testid="people-list">
            {move || people.get().into_iter().map(|p| view! { <PersonTokens person=p/> }).collect_view()}
        </ul>
    }
}

#[component]
fn PersonTokens(person: Person) -> impl IntoView {
    let app = state();
    let tokens = RwSignal::new(Vec::<TokenInfo>::new());
    let issued = RwSignal::new(None::<String>);
    let label = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let id = person.id;
    let load = move || {
        spawn_local(async move {
            match api::get::<Vec<TokenInfo>>(&format!("/api/people/{id}/tokens")).await {
                Ok(t) => tokens.set(t),
                Err(f) => error.set(Some(app.fail(&f))),
            }
        });
    };
    load();
    let issue = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = NewToken { label: label.get_untracked() };
        spawn_local(async move {
            match api::send::<_, IssuedToken>("POST", &format!("/api/people/{id}/tokens"), &body).await {
                Ok(t) => {
                    issued.set(Some(t.token));
                    label.set(String::new());
                    load();
                }
                Err(f) => error.set(Some(app.fail(&f))),
            }
        });
    };
    let revoke = move |token_id: i64| {
        spawn_local(async move {
            match api::delete(&format!("/api/tokens/{token_id}")).await {
                Ok(()) => load(),
                Err(f) => error.set(Some(app.fail(&f))),
            }
        });
    };
    let role = if person.role == Role::Admin { "admin" } else { "editor" };
    view! {
        <li data-testid="person" data-name=person.name.clone()>
            <h2>{person.name.clone()} " " <span class="badge">{role}</span></h2>
            {person.email.clone().map(|e| view! { <p>{e}</p> })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || issued.get().map(|t| view! {
                <p class="issued" role="status">"New token, shown only now: " <code data-testid="issued-token">{t}</code></p>
            })}
            <form class="new-token" on:submit=issue>
                <label>"Token label" <input required data-testid="token-label" prop:value=move || label.get() on:input=move |ev| label.set(event_target_value(&ev))/></label>
                <button type="submit" data-testid="token-issue">"Issue token"</button>
            </form>
            <ul class="tokens">
                {move || tokens.get().into_iter().map(|t| view! {
                    <li data-testid="token">
                        <code>{t.hint.clone()}</code> " " {t.label.clone()}
                        {match t.revoked_at {
                            Some(_) => view! { <span class="badge">"revoked"</span> }.into_any(),
                            None => view! { <button type="button" on:click=move |_| revoke(t.id) data-testid="token-revoke">"Revoke"</button> }.into_any(),
                        }}
                    </li>
                }).collect_view()}
            </ul>
        </li>
    }
}
