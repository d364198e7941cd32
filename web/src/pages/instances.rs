//! `#/instances`: the instances each allowed host resolves to, with each one's last purge.

use crate::api;
use crate::state::state;
use crate::ui::{when, Call};
use edgepurge_core::api::{HostInstances, InstancesReply, Transport};
use leptos::prelude::*;

/// The Instances page.
#[component]
pub fn InstancesPage() -> impl IntoView {
    let data = RwSignal::new(None::<InstancesReply>);
    let call = Call::new(state());
    let load = move || {
        call.run(async move {
            data.set(Some(api::get("/api/instances").await?));
            Ok(())
        });
    };
    load();
    view! {
        <h1>"Instances"</h1>
        {call.error_box(load)}
        {move || data.get().map(|d| d.hosts.into_iter().map(host).collect_view())}
    }
}

/// One allowed host: how its instances are found and their table.
fn host(h: HostInstances) -> impl IntoView {
    let last = h.last;
    let skipped = (!h.skipped.is_empty()).then(|| {
        view! {
            <p data-testid="skipped">
                "Not purged (not started): "
                {h.skipped.into_iter().map(|s| view! {
                    <span class="badge" data-testid="skipped-instance" data-instance=s.instance.clone()>
                        {format!("{} ({})", s.instance, s.state)}
                    </span>
                    " "
                }).collect_view()}
            </p>
        }
    });
    view! {
        <section class="host">
            <h2>{h.host}</h2>
            <p>"Discovery: " <code>{h.discovery}</code></p>
            {transport(h.transport)}
            {h.error.map(|p| view! { <p class="error">{format!("{}: {}", p.title, p.detail)}</p> })}
            <div class="table-wrap">
                <table data-testid="instances-table">
                    <thead><tr><th scope="col">"Instance"</th><th scope="col">"Last purge"</th><th scope="col">"URL"</th><th scope="col">"When"</th></tr></thead>
                    <tbody>
                        {h.instances.into_iter().map(|i| {
                            let l = last.iter().find(|l| l.instance == i).cloned();
                            view! {
                                <tr data-testid="instance-row">
                                    <td>{i}</td>
                                    <td>{l.as_ref().map_or("none yet", |l| l.outcome.label())}</td>
                                    <td class="url">{l.as_ref().map(|l| l.url.clone()).unwrap_or_default()}</td>
                                    <td>{l.map(|l| when(l.at)).unwrap_or_default()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            {skipped}
        </section>
    }
}

/// How the instances are spoken to; clear text is flagged, loudest where it crosses the internet.
fn transport(t: Transport) -> impl IntoView {
    let (class, text) = match t {
        Transport::Tls => ("badge", "TLS: each instance's certificate is checked against this host"),
        Transport::Plain => {
            ("notice", "Clear text: the purge token travels unencrypted (loopback and private addresses only)")
        }
        Transport::Insecure => (
            "error",
            "Clear text to public addresses (the rule says insecure): anyone on the path can read the purge token",
        ),
    };
    view! { <p class=class data-testid="transport" data-transport=t.as_str()>{text}</p> }
}
