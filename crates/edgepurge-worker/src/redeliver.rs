//! Background redelivery (cron trigger): purges that failed inline are sent again until they
//! succeed, their instance leaves discovery, or they grow too old; then they are marked
//! abandoned with the reason. Nothing is dropped without a record.

use crate::doh;
use crate::fanout::{self, random_u32, Limits};
use crate::handlers::{discovery_spec, load_config, now_ms};
use crate::store::Store;
use edgepurge_core::api::Outcome;
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::retry::Decision;
use edgepurge_core::ApiError;
use std::net::SocketAddr;
use std::rc::Rc;

/// Deliveries handled per run; the rest wait for the next tick.
const BATCH: u32 = 200;

/// One pass over the due deliveries. Returns (attempted, delivered, abandoned).
pub async fn run(env: &worker::Env) -> Result<(usize, usize, usize), ApiError> {
    let config = load_config(env)?;
    let store = Store::open(env)?;
    let now = now_ms();
    let policy = config.redelivery;
    let due = store.due_deliveries(now, BATCH).await?;
    let mut resolver = doh::Resolver::new(&config);
    let mut pairs: Vec<(Purge, SocketAddr)> = Vec::new();
    let mut sending = Vec::new();
    let mut abandoned = 0;
    for d in due {
        let attempts = d.attempts + 1;
        let target = match Purge::from_label(&d.url) {
            Ok(t) => t,
            Err(e) => {
                let reason = format!("URL no longer valid: {e}");
                store.update_delivery(d.id, "abandoned", d.attempts, d.next_at, Some(&reason), now).await?;
                abandoned += 1;
                continue;
            }
        };
        let discovered = match discovery_spec(&config, target.host()) {
            Ok(spec) => resolver.resolve(spec).await,
            Err(e) => Err(e),
        };
        let decision =
            policy.decide(d.first_at, now, &d.instance, discovered.as_deref().map_err(|e| e.detail.as_str()));
        match decision {
            Decision::Abandon(reason) => {
                store.update_delivery(d.id, "abandoned", d.attempts, d.next_at, Some(&reason), now).await?;
                abandoned += 1;
            }
            Decision::Postpone(reason) => {
                let next = policy.next_at(now, attempts, random_u32());
                store.update_delivery(d.id, "pending", d.attempts, next, Some(&reason), now).await?;
            }
            Decision::Attempt => match d.instance.parse::<SocketAddr>() {
                Ok(addr) => {
                    pairs.push((target, addr));
                    sending.push(d);
                }
                Err(_) => {
                    store
                        .update_delivery(d.id, "abandoned", d.attempts, d.next_at, Some("bad instance address"), now)
                        .await?;
                    abandoned += 1;
                }
            },
        }
    }
    if pairs.is_empty() {
        return Ok((0, 0, abandoned));
    }
    let plan = Rc::new(Plan::for_pairs(pairs, &config.purge_token, config.concurrency));
    let report = fanout::execute(plan, Limits::from_config(&config)).await.finish();
    let mut delivered = 0;
    for d in &sending {
        let Some(row) = report.results.iter().find(|r| r.url == d.url && r.instance == d.instance) else { continue };
        let attempts = d.attempts + 1;
        if row.outcome.is_success() {
            store.update_delivery(d.id, "delivered", attempts, d.next_at, None, now).await?;
            delivered += 1;
        } else if row.outcome == Outcome::Rejected || !row.retryable {
            // The instance answered and refused (or answered garbage): sending again will not help.
            let reason = format!("instance refused: {}", row.error.clone().unwrap_or_default());
            store.update_delivery(d.id, "abandoned", attempts, d.next_at, Some(&reason), now).await?;
            abandoned += 1;
        } else {
            let next = policy.next_at(now, attempts, random_u32());
            store.update_delivery(d.id, "pending", attempts, next, row.error.as_deref(), now).await?;
        }
    }
    Ok((sending.len(), delivered, abandoned))
}
