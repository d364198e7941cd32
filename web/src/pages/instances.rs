//! `#/instances`: the instances each allowed host resolves to, with each one's last purge, and
//! (admins) the instance check: what each instance really speaks.

use crate::api;
use crate::state::{state, Page};
use crate::ui::{action_problem, when, Loads, PageTitle};
use edgepurge_core::api::{
    CheckReport, Contract, HostInstances, InstanceCheck, InstanceStats, InstancesReply, SkippedInstance, Transport,
};
use leptos::prelude::*;

/// The Instances page.
#[component]
pub fn InstancesPage() -> impl IntoView {
    let app = state();
    let reply =
        LocalResource::new(move || async move { app.guard(api::get::<InstancesReply>("/api/instances").await) });
    let hosts = move || {
        Suspend::new(async move {
            reply.await.map(|d| {
                let stats = d.stats;
                d.hosts.into_iter().map(|h| host(h, &stats)).collect_view()
            })
        })
    };
    view! {
        <PageTitle page=Page::Instances/>
        <Show when=move || app.is_admin()><CheckPanel/></Show>
        <Loads retry=move || reply.refetch()>{hosts}</Loads>
    }
}

/// The instance check (admins): a button, and one row per instance of every group.
#[component]
fn CheckPanel() -> impl IntoView {
    let app = state();
    let check = Action::new_local(move |_: &()| async move {
        app.guard(api::post::<_, CheckReport>("/api/instances/check", &()).await)
    });
    let run = move || {
        check.dispatch(());
    };
    let busy = move || check.pending().get();
    view! {
        <section class="check" data-testid="check">
            <p>
                <button data-testid="check-button" on:click=move |_| run() disabled=busy>
                    {move || if busy() { "Checking…" } else { "Check every instance" }}
                </button>
                " A PURGE of a path no site caches and a HEAD of / to every instance: what each one speaks."
            </p>
            {action_problem(check, Some(Callback::new(move |()| run())))}
            {move || check.value().get().and_then(Result::ok).map(check_table)}
        </section>
    }
}

/// The check's rows, grouped as the report gives them.
fn check_table(r: CheckReport) -> impl IntoView {
    let summary = format!("{} instances, {} with a warning", r.results.len(), r.warnings);
    let class = if r.warnings > 0 { "notice" } else { "badge" };
    view! {
        <p data-testid="check-summary" class=class>{summary}</p>
        {r.errors.into_iter().map(|e| view! {
            <p class="error" data-testid="check-error">{format!("{}: {}", e.group, e.error)}</p>
        }).collect_view()}
        <div class="table-wrap">
            <table data-testid="check-table">
                <thead><tr><th scope="col">"Group"</th><th scope="col">"Instance"</th><th scope="col">"Reachable"</th><th scope="col">"Token"</th><th scope="col">"Declared"</th><th scope="col">"Speaks"</th><th scope="col">"Cache status"</th><th scope="col">"Warning"</th></tr></thead>
                <tbody>{r.results.into_iter().map(check_row).collect_view()}</tbody>
            </table>
        </div>
    }
}

fn check_row(c: InstanceCheck) -> impl IntoView {
    let yes_no = |v: Option<bool>, yes: &'static str, no: &'static str| match v {
        Some(true) => yes,
        Some(false) => no,
        None => "",
    };
    let reachable = match (c.reachable, c.tls_verified) {
        (true, Some(true)) => "yes, TLS verified",
        (true, _) => "yes",
        (false, _) => "no",
    };
    let contract = |c: Option<Contract>| c.map_or("unknown", Contract::as_str);
    let format = c.cache_status_format.map_or_else(
        || if c.head_status.is_some() { "unreadable".to_owned() } else { String::new() },
        |f| f.label().to_owned(),
    );
    let (instance, group, warned) = (c.instance.clone(), c.group.clone(), c.warning.is_some());
    let warning_class = if warned { "error" } else { "" };
    view! {
        <tr data-testid="check-row" data-instance=instance data-group=group
            data-seen=contract(c.seen) data-declared=c.declared.as_str() data-warning=warned.to_string()>
            <td title=c.group>{c.host}</td>
            <td>{c.instance}</td>
            <td>{reachable}</td>
            <td>{yes_no(c.token_accepted, "accepted", "refused")}</td>
            <td>{c.declared.as_str()}</td>
            <td data-testid="check-seen">{contract(c.seen)}</td>
            <td title=c.cache_status.unwrap_or_default()>{format}</td>
            <td class=warning_class data-testid="check-warning">
                {c.warning.or(c.error).unwrap_or_default()}
            </td>
        </tr>
    }
}

/// One allowed host: how its instances are found and their table.
fn host(h: HostInstances, stats: &[InstanceStats]) -> impl IntoView {
    let stats: Vec<InstanceStats> = stats.iter().filter(|s| h.instances.contains(&s.instance)).cloned().collect();
    let last = h.last;
    let (held, empty): (Vec<_>, Vec<_>) = h.skipped.into_iter().partition(|s| s.pending);
    let list = |label: &'static str, testid: &'static str, machines: Vec<SkippedInstance>| {
        (!machines.is_empty()).then(|| {
            view! {
                <p data-testid=testid>
                    {label}
                    {machines.into_iter().map(|s| view! {
                        <span class="badge" data-testid="skipped-instance" data-instance=s.instance.clone()>
                            {format!("{} ({})", s.instance, s.state)}
                        </span>
                        " "
                    }).collect_view()}
                </p>
            }
        })
    };
    let skipped = (
        list("Skipped (start from an empty cache): ", "skipped", empty),
        list("Waiting (may hold old copies; purges queued until started): ", "held", held),
    );
    view! {
        <section class="host">
            <h2>{h.host}</h2>
            <p>"Discovery: " <code>{h.discovery}</code> " · contract: "
                <span data-testid="contract" data-contract=h.contract.as_str()>{h.contract.as_str()}</span></p>
            {transport(h.transport)}
            {(!h.upstreams.is_empty()).then(|| view! {
                <p data-testid="upstreams">"Upstream groups purged beside them: "
                    {h.upstreams.into_iter().map(|u| view! {
                        <span class="badge" data-testid="upstream" data-upstream=u.clone()>{u.clone()}</span> " "
                    }).collect_view()}
                </p>
            })}
            {h.error.map(|p| view! { <p class="error">{format!("{}: {}", p.title, p.detail)}</p> })}
            <div class="table-wrap">
                <table data-testid="instances-table">
                    <thead><tr><th scope="col">"Instance"</th><th scope="col">"Last purge"</th><th scope="col">"URL"</th><th scope="col">"When"</th><th scope="col">"p50"</th><th scope="col">"p95"</th><th scope="col">"Failed (24 h)"</th><th scope="col">"p95 by hour"</th></tr></thead>
                    <tbody>
                        {h.instances.into_iter().map(|i| {
                            let l = last.iter().find(|l| l.instance == i).cloned();
                            let s = stats.iter().find(|s| s.instance == i).cloned();
                            let ms = |v: Option<u64>| v.map(|v| format!("{v} ms")).unwrap_or_default();
                            view! {
                                <tr data-testid="instance-row" data-instance=i.clone()>
                                    <td>{i.clone()}</td>
                                    <td>{l.as_ref().map_or("none yet", |l| l.outcome.label())}</td>
                                    <td class="url">{l.as_ref().map(|l| l.url.clone()).unwrap_or_default()}</td>
                                    <td>{l.map(|l| when(l.at)).unwrap_or_default()}</td>
                                    <td class="num" data-testid="instance-p50">{ms(s.as_ref().and_then(|s| s.p50_ms))}</td>
                                    <td class="num" data-testid="instance-p95">{ms(s.as_ref().and_then(|s| s.p95_ms))}</td>
                                    <td class="num" data-testid="instance-failed">{s.as_ref().map(|s| format!("{} of {}", s.failed, s.requests)).unwrap_or_default()}</td>
                                    <td>{s.map(|s| sparkline(&s.hourly_p95_ms))}</td>
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

/// The hourly p95 over the last 24 hours as a small line, the slowest hour at the top; hours
/// without requests leave a gap.
fn sparkline(hourly: &[Option<u64>]) -> impl IntoView {
    let top = hourly.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let (width, height) = (96.0, 20.0);
    let step = width / (hourly.len().max(2) - 1) as f64;
    let mut segments: Vec<String> = Vec::new();
    let mut current = String::new();
    for (n, v) in hourly.iter().enumerate() {
        match v {
            Some(v) => {
                let (x, y) = (n as f64 * step, height - 1.0 - (*v as f64 / top) * (height - 2.0));
                current.push_str(&format!("{x:.1},{y:.1} "));
            }
            None if !current.is_empty() => segments.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    let dots: Vec<(f64, f64)> = hourly
        .iter()
        .enumerate()
        .filter_map(|(n, v)| v.map(|v| (n as f64 * step, height - 1.0 - (v as f64 / top) * (height - 2.0))))
        .collect();
    view! {
        <svg class="sparkline" data-testid="sparkline" viewBox=format!("0 0 {width} {height}") width="96" height="20"
             role="img" aria-label=format!("p95 by hour, highest {top} ms")>
            {segments.into_iter().map(|points| view! { <polyline points=points/> }).collect_view()}
            {dots.into_iter().map(|(x, y)| view! { <circle cx=x cy=y r="1.2"/> }).collect_view()}
        </svg>
    }
}
