//! Background redelivery (cron trigger): purges that failed inline are sent again until they
//! succeed, their instance leaves discovery, or they grow too old; then they are marked
//! abandoned with the reason. Nothing is dropped without a record.
//!
//! Every decision is the core's [`RedeliveryPolicy`]: which deliveries to send, and what each
//! result means; this module reads the queue, discovers, sends and writes the updates back.

use crate::ctx::Base;
use crate::doh::Resolver;
use crate::fanout::Sockets;
use crate::purge::collect;
use crate::random::random_u32;
use crate::trace::Tracer;
use edgepurge_core::api::DeliveryStatus;
use edgepurge_core::delivery::Limits;
use edgepurge_core::plan::Plan;
use edgepurge_core::retry::{DeliveryUpdate, RedeliveryPolicy};
use edgepurge_core::ApiError;
use std::rc::Rc;

/// Deliveries handled per run; the rest wait for the next tick.
const BATCH: u32 = 200;

/// What one pass did.
pub struct Pass {
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

/// One pass over the due deliveries (and the minute's housekeeping: old rate-limit windows).
pub async fn run(env: &worker::Env, tracer: &Rc<Tracer>) -> Result<Pass, ApiError> {
    let Base { config, store, shards, now } = Base::open(env)?;
    store.prune_rate_limits(now).await?;
    let policy: RedeliveryPolicy = config.redelivery;
    let mut resolver = Resolver::new(&config).traced(tracer.clone());
    let mut pairs = Vec::new();
    let mut instances = std::collections::BTreeSet::new();
    let mut sending = Vec::new();
    let mut pass = Pass { attempted: 0, delivered: 0, abandoned: 0 };
    for d in store.due_deliveries(now, BATCH).await? {
        let triaged = match policy.purge_of(&d) {
            Err(update) => Err(update),
            Ok(purge) => {
                let discovered = resolver.instances(purge.host()).await;
                let discovered = discovered.as_deref().map_err(|e| e.detail.as_str());
                policy.triage(&d, discovered, now, random_u32()).map(|addr| (purge, addr))
            }
        };
        match triaged {
            // Within what SUBREQUEST_BUDGET leaves after discovery: the others wait for the next tick.
            Ok((_, addr))
                if instances.len() >= config.instance_budget(resolver.subrequests()) && !instances.contains(&addr) => {}
            Ok(pair) => {
                instances.insert(pair.1.clone());
                pairs.push(pair);
                sending.push(d);
            }
            Err(update) => {
                store.update_delivery(d.id, &update, now).await?;
                pass.count(&update);
            }
        }
    }
    if pairs.is_empty() {
        return Ok(pass);
    }
    let mut plan = Plan::for_pairs(pairs, &config.purge_token, config.concurrency);
    plan.trace(&tracer.context, &tracer.ids);
    let budget = config.instance_budget(resolver.subrequests());
    let sockets = Sockets::default();
    let builder = collect(&plan, Limits::for_plan(&config, &plan, budget), &sockets, shards.as_ref()).await;
    tracer.attr("edgepurge.sockets.peak", sockets.peak() as i64);
    tracer.spans(builder.spans(&plan, tracer.root(), &tracer.ids));
    let report = builder.finish();
    for d in &sending {
        let Some(row) = report.results.iter().find(|r| r.url == d.url && r.instance == d.instance) else { continue };
        let update = policy.after_attempt(d, row, now, random_u32());
        store.update_delivery(d.id, &update, now).await?;
        pass.count(&update);
    }
    pass.attempted = sending.len();
    Ok(pass)
}
