//! The console's shell: hash routing, sign-in and navigation (the state is [`crate::state`]). The pages are in
//! [`crate::pages`]. Every element a test drives has a `data-testid`.

use crate::api::{self, Failure};
use crate::pages::{HistoryView, InstancesPage, PeoplePage, PurgePage, VerifyPage};
pub use crate::state::{state, AppState, Page};
use crate::ui::{action_problem, loading, ErrorBox};
use edgepurge_core::api::{Me, SignIn};
use leptos::prelude::*;

fn current_hash() -> String {
    window().location().hash().unwrap_or_default()
}

/// The whole console.
#[component]
pub fn App() -> impl IntoView {
    let app = AppState::new(Page::from_hash(&current_hash()));
    provide_context(app);
    let handle = window_event_listener(leptos::ev::hashchange, move |_| app.go(Page::from_hash(&current_hash())));
    on_cleanup(move || handle.remove());
    // An existing session (the cookie survives reloads) signs straight in; until `/api/me` has
    // answered, neither the sign-in form nor a page shows.
    let session = LocalResource::new(move || async move {
        if let Ok(me) = api::get::<Me>("/api/me").await {
            app.sign_in(me);
        }
    });
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                session.await;
                view! {
                    <Show when=move || app.me.with(Option::is_some) fallback=|| view! { <SignInForm/> }>
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
            })}
        </Suspense>
    }
}

/// Sign in with a personal token.
#[component]
pub fn SignInForm() -> impl IntoView {
    let app = state();
    let token = RwSignal::new(String::new());
    let sign_in = Action::new_local(move |typed: &String| {
        let body = SignIn { token: typed.clone() };
        async move {
            let me = api::post::<_, Me>("/api/session", &body).await?;
            app.notice.set(None);
            token.set(String::new());
            app.moved.set_value(true);
            app.sign_in(me);
            Ok::<_, Failure>(())
        }
    });
    Effect::new(|| document().set_title("Sign in · edgepurge"));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        sign_in.dispatch(token.get_untracked());
    };
    // A 401 here is a wrong token, not a lost session.
    let error = move || {
        let failure = sign_in.value().get().and_then(Result::err).filter(|_| !sign_in.pending().get())?;
        let message = match failure {
            Failure::SignedOut(_) => "That token is not valid (unknown or revoked).".to_owned(),
            other => other.message(),
        };
        Some(view! { <ErrorBox message testid="signin-error"/> })
    };
    view! {
        <section class="signin" aria-labelledby="signin-title">
            <h1 id="signin-title">"edgepurge"</h1>
            {move || app.notice.get().map(|n| view! { <p class="notice" role="status" data-testid="signin-notice">{n}</p> })}
            <form on:submit=submit data-testid="signin-form">
                <label for="token">"Personal API token"</label>
                <input id="token" type="password" autocomplete="off" required data-testid="signin-token" bind:value=token/>
                <button type="submit" disabled=move || sign_in.pending().get() data-testid="signin-submit">"Sign in"</button>
            </form>
            {error}
        </section>
    }
}

#[component]
fn Nav() -> impl IntoView {
    let app = state();
    let link = move |page: Page, href: &'static str, id: &'static str| {
        view! {
            <a href=href data-testid=id aria-current=move || (app.page.get() == page).then_some("page")>{page.title()}</a>
        }
    };
    // Signed out only once the worker has ended the session; a 401 means it already had.
    let sign_out = Action::new_local(move |_: &()| async move {
        app.guard(api::delete("/api/session").await)?;
        api::set_csrf(None);
        app.notice.set(Some("Signed out.".into()));
        app.me.set(None);
        Ok::<_, Failure>(())
    });
    view! {
        <header>
            <nav aria-label="Pages">
                <strong>"edgepurge"</strong>
                {link(Page::Purge, "#/purge", "nav-purge")}
                {link(Page::Verify, "#/verify", "nav-verify")}
                {link(Page::Instances, "#/instances", "nav-instances")}
                {link(Page::History, "#/history", "nav-history")}
                <Show when=move || app.is_admin()>{link(Page::People, "#/people", "nav-people")}</Show>
            </nav>
            <div class="who">
                <span data-testid="me">
                    {move || app.me.get().map(|m| format!("{} ({})", m.name, m.role.as_str()))}
                </span>
                <button type="button" on:click=move |_| { sign_out.dispatch(()); } disabled=move || sign_out.pending().get()
                    data-testid="signout">"Sign out"</button>
            </div>
            {action_problem(sign_out, Some(Callback::new(move |()| { sign_out.dispatch(()); })))}
        </header>
    }
}
