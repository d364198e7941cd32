//! `#/people` (admins): people, their roles (changed here), their removal, and their personal
//! tokens.

use crate::api;
use crate::state::state;
use crate::ui::Call;
use edgepurge_core::api::{IssuedToken, NewPerson, NewToken, Person, PersonUpdate, Role, TokenInfo};
use leptos::prelude::*;

/// The People and tokens page.
#[component]
pub fn PeoplePage() -> impl IntoView {
    let people = RwSignal::new(Vec::<Person>::new());
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("editor".to_owned());
    let call = Call::new(state());
    let load = move || {
        call.run(async move {
            people.set(api::get("/api/people").await?);
            Ok(())
        });
    };
    load();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = NewPerson {
            name: name.get_untracked(),
            email: Some(email.get_untracked()).filter(|e| !e.trim().is_empty()),
            role: if role.get_untracked() == "admin" { Role::Admin } else { Role::Editor },
        };
        // No retry for a failed create: the page's retry button reloads the list.
        call.run_once(async move {
            api::post::<_, Person>("/api/people", &body).await?;
            name.set(String::new());
            email.set(String::new());
            load();
            Ok(())
        });
    };
    view! {
        <h1>"People and tokens"</h1>
        {call.error_box(load)}
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
            {move || people.get().into_iter().map(|p| view! { <PersonTokens person=p reload=load/> }).collect_view()}
        </ul>
    }
}

/// One person and their tokens: change the role, remove the person, issue a token, revoke one.
#[component]
fn PersonTokens(person: Person, reload: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let tokens = RwSignal::new(Vec::<TokenInfo>::new());
    let issued = RwSignal::new(None::<String>);
    let label = RwSignal::new(String::new());
    let call = Call::new(state());
    let id = person.id;
    let load = move || {
        call.run(async move {
            tokens.set(api::get(&format!("/api/people/{id}/tokens")).await?);
            Ok(())
        });
    };
    load();
    let issue = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = NewToken { label: label.get_untracked() };
        call.run(async move {
            let t = api::post::<_, IssuedToken>(&format!("/api/people/{id}/tokens"), &body).await?;
            issued.set(Some(t.token));
            label.set(String::new());
            load();
            Ok(())
        });
    };
    let set_role = move |role: Role| {
        call.run(async move {
            api::patch::<_, Person>(&format!("/api/people/{id}"), &PersonUpdate { role }).await?;
            reload();
            Ok(())
        });
    };
    let remove = move |_| {
        call.run(async move {
            api::delete(&format!("/api/people/{id}")).await?;
            reload();
            Ok(())
        });
    };
    let revoke = move |token_id: i64| {
        call.run(async move {
            api::delete(&format!("/api/tokens/{token_id}")).await?;
            load();
            Ok(())
        });
    };
    view! {
        <li data-testid="person" data-name=person.name.clone()>
            <h2>{person.name.clone()} " " <span class="badge">{person.role.as_str()}</span></h2>
            {person.email.map(|e| view! { <p>{e}</p> })}
            <p class="person-actions">
                <label>"Role "
                    <select data-testid="person-set-role" on:change=move |ev| {
                        set_role(if event_target_value(&ev) == "admin" { Role::Admin } else { Role::Editor })
                    }>
                        <option value="editor" selected=person.role == Role::Editor>"editor"</option>
                        <option value="admin" selected=person.role == Role::Admin>"admin"</option>
                    </select>
                </label>
                " " <button type="button" on:click=remove data-testid="person-remove">"Remove"</button>
            </p>
            {move || call.error().map(|e| view! { <p class="error" role="alert">{e.message}</p> })}
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
                        <code>{t.hint}</code> " " {t.label}
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
