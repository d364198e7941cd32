//! Background redelivery (cron trigger): purges that failed inline are sent again until they
//! succeed, their instance leaves discovery, or they grow too old; then they are marked
//! abandoned with the reason. Nothing is dropped without a record.
//!
//! The deliveries a run abandons make one notification (`core::notify::abandoned`), sent at its
//! end when `NOTIFY_ON` names them.
//!
//! First, each run takes over the purges cut off mid-fan-out: entries still `running` past
//! their lease (`core::lease`) are claimed, run again whole and completed, marked recovered.
//!
//! Every decision is the core's ([`RedeliveryPolicy`], `core::lease`): which deliveries to
//! send, and what each result means; this module reads the queue, discovers, sends and writes
//! the updates back.

use crate::ctx::Base;
use crate::doh::Resolver;
use crate::fanout::Sockets;
use crate::notify;
use crate::purge::{collect, fan_out_limits, lease_owner};
use crate::random::random_u32;
use crate::store::{Completion, Expired, Store};
use crate::trace::Tracer;
use edgepurge_core::api::{Delivery, DeliveryStatus};
use edgepurge_core::config::Config;
use edgepurge_core::lease::{self, TAKEOVERS_PER_RUN};
use edgepurge_core::notify::Event;
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::retry::{DeliveryUpdate, RedeliveryPolicy, RunInstances, REDELIVERY_BATCH};
use edgepurge_core::stats;
use edgepurge_core::target::Target;
use edgepurge_core::upstream::names_upstream;
use edgepurge_core::ApiError;
use std::rc::Rc;

/// Old rows of each kind one cron run forgets at most (`RETENTION_DAYS`).
const PRUNE_PER_RUN: u32 = 10_000;

/// What one pass did.
pub struct Pass {
    /// Purges cut off mid-fan-out, taken over and completed.
    pub recovered: usize,
    pub attempted: usize,
    pub delivered: usize,
    pub abandoned: usize,
}

impl Pass {
    fn count(&mut self, update: &DeliveryUpdate) {
        self.delivered += usize::from(update.status == DeliveryStatus::Delivered);
        self.abandoned += usize::from(update.status == DeliveryStatus::Abandoned);
    }
}

/// One pass over the due deliveries (and the minute's housekeeping: old rate-limit windows,
/// expired sessions and `Idempotency-Key`s past their window).
pub async fn run(env: &worker::Env, tracer: &Rc<Tracer>) -> Result<Pass, ApiError> {
    let base = Base::open(env)?;
    let pass = one_pass(&base, tracer).await;
    tracer.store_usage(base.store.usage());
    pass
}

async fn one_pass(base: &Base, tracer: &Rc<Tracer>) -> Result<Pass, ApiError> {
    let (config, store, shards, now) = (&*base.config, &base.store, base.shards.as_ref(), base.now);
    store.prune_rate_limits(now).await?;
    store.prune_sessions(now).await?;
    store.prune_idempotency(now - i64::from(config.idempotency_window_ms)).await?;
    let retention_ms = i64::from(config.retention_days) * 86_400_000;
    store.prune_old(stats::hour(now - retention_ms), now - retention_ms, PRUNE_PER_RUN).await?;
    if config.notify.is_some() {
        store.prune_notify_minutes(edgepurge_core::limits::window(now) - edgepurge_core::notify::KEPT_MINUTES).await?;
    }
    let policy: RedeliveryPolicy = config.redelivery;
    let mut resolver = Resolver::new(config).traced(tracer.clone());
    let mut pairs = Vec::new();
    let mut instances = RunInstances::default();
    let mut sending = Vec::new();
    let (mut upstream_pairs, mut sending_upstream) = (Vec::new(), Vec::new());
    let mut updates = Vec::new();
    let mut pass = Pass { recovered: 0, attempted: 0, delivered: 0, abandoned: 0 };
    for expired in store.expired_leases(now, TAKEOVERS_PER_RUN).await? {
        match recover(&base.config, store, shards, &mut resolver, &expired, now, tracer).await {
            Ok(Some(Recovered { notice })) => {
                pass.recovered += 1;
                // Ended partial or failed (or purged, if NOTIFY_ON says so): as the original
                // would have told, after its completion.
                notify::send(base, notice, tracer).await;
            }
            Ok(None) => {}
            // Left as it is: the next run tries again (the lease stays run out).
            Err(e) => tracer.fail(format!("entry {} not recovered: {}", expired.id, e.detail)),
        }
    }
    let due = store.due_deliveries(now, REDELIVERY_BATCH).await?;
    for d in due.iter().cloned() {
        // An upstream group's delivery: sent with the group's next call, as the rule is now.
        if names_upstream(&d.instance) {
            let triaged = policy.purge_of(&d).and_then(|purge| {
                let upstream = config.upstream(purge.host(), &d.instance);
                policy.triage_upstream(&d, upstream, now).map(|upstream| (purge, upstream))
            });
            match triaged {
                Ok(pair) => {
                    upstream_pairs.push(pair);
                    sending_upstream.push(d);
                }
                Err(update) => {
                    pass.count(&update);
                    updates.push((d.id, update));
                }
            }
            continue;
        }
        let triaged = match policy.purge_of(&d) {
            Err(update) => Err(update),
            Ok(purge) => {
                let discovered = resolver.instances(purge.host()).await;
                match resolver.held_state(purge.host(), &d.instance) {
                    // A Machine that may come back with its old copy: it waits until it is started.
                    Some(state) => Err(policy.held(&d, state, now, random_u32())),
                    None => {
                        let discovered = discovered.as_deref().map_err(|e| e.detail.as_str());
                        policy.triage(&d, discovered, now, random_u32()).map(|addr| (purge, addr))
                    }
                }
            }
        };
        match triaged {
            // Within what SUBREQUEST_BUDGET leaves after discovery: the others wait for the next tick.
            Ok((_, addr)) if !instances.admit(&addr.key(), config.instance_budget(resolver.subrequests())) => {}
            Ok(pair) => {
                pairs.push(pair);
                sending.push(d);
            }
            Err(update) => {
                pass.count(&update);
                updates.push((d.id, update));
            }
        }
    }
    let budget = config.instance_budget(resolver.subrequests());
    let sockets = Sockets::default();
    // The instances' deliveries, then the upstream groups', each as one plan.
    let plans = [
        (!pairs.is_empty()).then(|| Plan::for_pairs(pairs, &config.purge_token, config.concurrency)),
        (!upstream_pairs.is_empty()).then(|| Plan::for_upstream_pairs(upstream_pairs, config.concurrency)),
    ];
    for (plan, sent) in plans.into_iter().zip([&sending, &sending_upstream]) {
        let Some(mut plan) = plan else { continue };
        plan.trace(&tracer.context(), &tracer.ids);
        let plan = Rc::new(plan);
        let limits = fan_out_limits(config, &plan, budget);
        let builder = collect(&base.config, &plan, limits, &sockets, shards, tracer).await;
        tracer.spans(builder.spans(&plan, tracer.root(), &tracer.ids));
        let report = builder.finish();
        for d in sent {
            let update = policy.after_run(d, &report.results, now, random_u32());
            pass.count(&update);
            updates.push((d.id, update));
        }
    }
    tracer.attr("edgepurge.sockets.peak", sockets.peak() as i64);
    // Every delivery's new state in one statement, however many were due.
    store.update_deliveries(&updates, now).await?;
    pass.attempted = sending.len() + sending_upstream.len();
    let given_up = abandoned(&due, &updates, now);
    notify::send(base, edgepurge_core::notify::abandoned(&given_up, now, Some(tracer.trace_id())), tracer).await;
    notify::send_held(base, tracer).await;
    Ok(pass)
}

/// The deliveries of `due` that `updates` abandon, as they now stand.
fn abandoned(due: &[Delivery], updates: &[(i64, DeliveryUpdate)], now: i64) -> Vec<Delivery> {
    let given_up = updates.iter().filter(|(_, u)| u.status == DeliveryStatus::Abandoned);
    given_up
        .filter_map(|(id, u)| {
            let d = due.iter().find(|d| d.id == *id)?;
            Some(Delivery {
                status: u.status,
                attempts: u.attempts,
                next_at: u.next_at,
                last_error: u.last_error.clone(),
                updated_at: now,
                ..d.clone()
            })
        })
        .collect()
}

/// A purge cut off mid-fan-out that this run took over and completed, and its notification.
struct Recovered {
    notice: Option<Event>,
}

/// Takes over one purge cut off mid-fan-out: plans it again from its replay with discovery as it
/// is now, claims it (`None` when the original completed it meanwhile, or another run claimed
/// it first), runs it whole and completes it, marked recovered, queueing what still failed.
/// Completed, it returns its notification, when `NOTIFY_ON` names how it ended.
async fn recover(
    config: &Rc<Config>,
    store: &Store,
    shards: Option<&crate::shard::Shards>,
    resolver: &mut Resolver<'_>,
    expired: &Expired,
    now: i64,
    tracer: &Rc<Tracer>,
) -> Result<Option<Recovered>, ApiError> {
    let (purges, confirm) = lease::from_replay(&expired.replay()?)
        .map_err(|e| ApiError::bad_request(format!("entry {}: its replay does not read: {e}", expired.id)))?;
    let hosts = purges.iter().map(Purge::host).chain(confirm.named.iter().map(Target::host));
    let instances = resolver.resolve_hosts(hosts).await?;
    // Not traced request by request: this run's redeliveries are, and span ids are per plan.
    let (token, concurrency) = (&config.purge_token, config.concurrency);
    let plan = Rc::new(Plan::confirming_with(purges, &instances, &config.upstreams, token, concurrency, &confirm)?);
    let budget = config.instance_budget(resolver.subrequests());
    plan.check_budget(budget)?;
    let limits = fan_out_limits(config, &plan, budget);
    let owner = lease_owner();
    let until = lease::lease_until_for(now, &plan, &limits, config);
    if !store.take_over(expired, until, &owner).await? {
        return Ok(None);
    }
    let sockets = Sockets::default();
    let mut builder = collect(config, &plan, limits, &sockets, shards, tracer).await;
    builder.hold(&plan, resolver.held());
    let queued = builder.queue_retryable();
    let report = builder.finish();
    tracer.attr("edgepurge.recovered.entry", expired.id);
    let actor = format!("{} (run again by the cron)", expired.actor);
    let notice = config.notify.as_ref().and_then(|n| n.purge_notice(&report, &actor, &plan.purges, expired.id, now));
    let completion = Completion {
        status: report.status.into(),
        http_status: report.status.http_status(),
        results: report.results,
        queued,
        next_at: config.redelivery.next_at(now, 1, random_u32()),
        owner,
        recovered: true,
    };
    Ok(store.complete(expired.id, now, &completion).await?.then_some(Recovered { notice }))
}
