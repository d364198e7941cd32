//! The console's shell: hash routing, sign-in and navigation (the state is [`crate::state`]). The pages are in
//! [`crate::pages`]. Every element a test drives has a `data-testid`.

use crate::api::{self, Failure};
use crate::pages::{HistoryView, InstancesPage, PeoplePage, PurgePage, VerifyPage};
pub use crate::state::{state, AppState, Page};
use crate::ui::{Call, Shown};
use edgepurge_core::api::{Me, SignIn};
use leptos::prelude::*;
use leptos::task::spawn_local;

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
    let call = Call::new(app);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = SignIn { token: token.get_untracked() };
        call.start(async move {
            let me = api::post::<_, Me>("/api/session", &body).await.map_err(|f| Shown {
                message: match f {
                    Failure::SignedOut(_) => "That token is not valid (unknown or revoked).".to_owned(),
                    other => other.message(),
                },
                retry: false,
            })?;
            api::set_csrf(me.csrf_token.clone());
            app.notice.set(None);
            token.set(String::new());
            app.me.set(Some(me));
            Ok(())
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
                <button type="submit" disabled=move || call.busy() data-testid="signin-submit">"Sign in"</button>
            </form>
            {move || call.error().map(|e| view! { <p class="error" role="alert" data-testid="signin-error">{e.message}</p> })}
        </section>
    }
}

#[component]
fn Nav() -> impl IntoView {
    let app = state();
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
                <Show when=move || app.is_admin()>{link(Page::People, "#/people", "People and tokens", "nav-people")}</Show>
            </nav>
            <div class="who">
                <span data-testid="me">
                    {move || app.me.get().map(|m| format!("{} ({})", m.name, m.role.as_str()))}
                </span>
                <button type="button" on:click=sign_out data-testid="signout">"Sign out"</button>
            </div>
        </header>
    }
}
