//! `#/people` (admins): people, their roles (changed here), their removal, and their personal
//! tokens.

use crate::api::{self, Failure};
use crate::state::{state, Page};
use crate::ui::{action_problem, Loads, PageTitle};
use edgepurge_core::api::{
    IssuedToken, NewPerson, NewToken, Person, PersonUpdate, PurgeKinds, Role, TokenInfo, TokenScopes,
};
use edgepurge_core::scopes::describe;
use leptos::prelude::*;

/// A change with nothing to show but its failure; the list it changed reloads after it (its
/// `version()`).
type Change<I> = Action<I, Result<(), Failure>>;

/// The People and tokens page.
#[component]
pub fn PeoplePage() -> impl IntoView {
    let app = state();
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("editor".to_owned());
    let create = Action::new_local(move |body: &NewPerson| {
        let body = body.clone();
        async move {
            app.guard(api::post::<_, Person>("/api/people", &body).await)?;
            name.set(String::new());
            email.set(String::new());
            Ok(())
        }
    });
    let set_role: Change<(i64, Role)> = Action::new_local(move |&(id, role): &(i64, Role)| async move {
        app.guard(api::patch::<_, Person>(&format!("/api/people/{id}"), &PersonUpdate { role }).await).map(drop)
    });
    let remove: Change<i64> =
        Action::new_local(move |&id: &i64| async move { app.guard(api::delete(&format!("/api/people/{id}")).await) });
    // Reloaded after every change to the list.
    let people = LocalResource::new(move || {
        create.version().track();
        set_role.version().track();
        remove.version().track();
        async move { app.guard(api::get::<Vec<Person>>("/api/people").await) }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(NewPerson {
            name: name.get_untracked(),
            email: Some(email.get_untracked()).filter(|e| !e.trim().is_empty()),
            role: if role.get_untracked() == "admin" { Role::Admin } else { Role::Editor },
        });
    };
    view! {
        <PageTitle page=Page::People/>
        // No retry for a failed create or change: the list, reloaded, shows where things stand.
        {action_problem(create, None)}
        {action_problem(set_role, None)}
        {action_problem(remove, None)}
        <form class="new-person" on:submit=submit data-testid="person-form">
            <label for="p-name">"Name"</label>
            <input id="p-name" required data-testid="person-name" bind:value=name/>
            <label for="p-email">"E-mail (for Cloudflare Access)"</label>
            <input id="p-email" type="email" data-testid="person-email" bind:value=email/>
            <label for="p-role">"Role"</label>
            <select id="p-role" data-testid="person-role" bind:value=role>
                <option value="editor" selected>"editor"</option>
                <option value="admin">"admin"</option>
            </select>
            <button type="submit" disabled=move || create.pending().get() data-testid="person-create">"Add person"</button>
        </form>
        <Loads retry=move || people.refetch()>
            // The list's failure, for the boundary; the rows are keyed, so a change reloads the
            // tokens of the person it changed only.
            {move || people.map(|r| r.as_ref().map(drop).map_err(Failure::clone))}
            <ul class="people" data-testid="people-list">
                <For
                    each=move || people.map(|r| r.clone().unwrap_or_default()).unwrap_or_default()
                    key=|p| (p.id, p.role.as_str())
                    children=move |person| view! { <PersonTokens person set_role remove/> }
                />
            </ul>
        </Loads>
    }
}

/// One person and their tokens: change the role, remove the person, issue a token, revoke one.
#[component]
fn PersonTokens(person: Person, set_role: Change<(i64, Role)>, remove: Change<i64>) -> impl IntoView {
    let app = state();
    let id = person.id;
    let name = person.name.clone();
    let label = RwSignal::new(String::new());
    // The new token's scopes: kinds, hosts (comma- or space-separated; none is every host), read-only.
    let (select_only, hosts, read_only) = (RwSignal::new(false), RwSignal::new(String::new()), RwSignal::new(false));
    let issue = Action::new_local(move |body: &NewToken| {
        let body = body.clone();
        async move {
            let issued = app.guard(api::post::<_, IssuedToken>(&format!("/api/people/{id}/tokens"), &body).await)?;
            label.set(String::new());
            hosts.set(String::new());
            select_only.set(false);
            read_only.set(false);
            Ok(issued.token)
        }
    });
    let revoke: Change<i64> =
        Action::new_local(
            move |&token: &i64| async move { app.guard(api::delete(&format!("/api/tokens/{token}")).await) },
        );
    let tokens = LocalResource::new(move || {
        issue.version().track();
        revoke.version().track();
        async move { app.guard(api::get::<Vec<TokenInfo>>(&format!("/api/people/{id}/tokens")).await) }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let scopes = TokenScopes {
            kinds: if select_only.get_untracked() { PurgeKinds::Select } else { PurgeKinds::All },
            hosts: hosts.with_untracked(|h| h.split([',', ' ']).filter(|h| !h.is_empty()).map(str::to_owned).collect()),
            read_only: read_only.get_untracked(),
        };
        issue.dispatch(NewToken { label: label.get_untracked(), scopes });
    };
    let rows = move || {
        Suspend::new(async move {
            tokens.await.map(|list| {
                list.into_iter()
                    .map(|t| {
                        let action = match t.revoked_at {
                            Some(_) => view! { <span class="badge">"revoked"</span> }.into_any(),
                            None => view! {
                                <button type="button" on:click=move |_| { revoke.dispatch(t.id); }
                                    aria-label=format!("Revoke token {}", t.label) data-testid="token-revoke">"Revoke"</button>
                            }
                            .into_any(),
                        };
                        let scopes = describe(&t.scopes);
                        view! {
                            <li data-testid="token"><code>{t.hint}</code> " " {t.label} " "
                                <span class="scopes" data-testid="token-scopes">{scopes}</span> " " {action}</li>
                        }
                    })
                    .collect_view()
            })
        })
    };
    let removing = move || remove.input().with(|i| *i == Some(id));
    view! {
        <li data-testid="person" data-name=person.name.clone()>
            <h2>{person.name.clone()} " " <span class="badge">{person.role.as_str()}</span></h2>
            {person.email.map(|e| view! { <p>{e}</p> })}
            <p class="person-actions">
                <label>"Role "
                    // Saved as soon as it is chosen (the console's end-to-end test relies on it).
                    <select data-testid="person-set-role" aria-label=format!("Role of {name}") on:change=move |ev| {
                        set_role.dispatch((id, if event_target_value(&ev) == "admin" { Role::Admin } else { Role::Editor }));
                    }>
                        <option value="editor" selected=person.role == Role::Editor>"editor"</option>
                        <option value="admin" selected=person.role == Role::Admin>"admin"</option>
                    </select>
                </label>
                " " <button type="button" on:click=move |_| { remove.dispatch(id); } disabled=removing
                    aria-label=format!("Remove {name}") data-testid="person-remove">"Remove"</button>
            </p>
            {action_problem(issue, None)}
            {action_problem(revoke, None)}
            {move || issue.value().get().and_then(Result::ok).map(|t| view! {
                <p class="issued" role="status">"New token, shown only now: " <code data-testid="issued-token">{t}</code></p>
            })}
            <form class="new-token" on:submit=submit>
                <label>"Token label" <input required data-testid="token-label" bind:value=label/></label>
                <label><input type="checkbox" data-testid="token-select" bind:checked=select_only/>
                    " URLs and keys only"</label>
                <label>"Hosts " <input data-testid="token-hosts" placeholder="every host" bind:value=hosts/></label>
                <label><input type="checkbox" data-testid="token-read-only" bind:checked=read_only/>" Read-only"</label>
                <button type="submit" disabled=move || issue.pending().get() aria-label=format!("Issue token for {name}")
                    data-testid="token-issue">"Issue token"</button>
            </form>
            <Loads retry=move || tokens.refetch()>
                <ul class="tokens">{rows}</ul>
            </Loads>
        </li>
    }
}
