//! When to send again: inline retries with backoff, and background redelivery.
//!
//! Backoff is exponential with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
//! Jitter"): wait a uniformly random time between 0 and min(cap, base * 2^n). The random number
//! is passed in; the core reads no randomness and no clock.
//!
//! Only failures [`crate::outcome::classify`] marks retryable are retried (connection refused or
//! reset, timeouts, 5xx). A 4xx is an answer: sending it again changes nothing (a 401 means the
//! purge token is wrong, a configuration fault to fix, not to retry).

use crate::api::{Delivery, DeliveryStatus, Outcome, PurgeResult};
use crate::discovery::Instance;
use crate::purge::Purge;
use crate::upstream::Upstream;
use std::collections::BTreeSet;

/// Inline retries within one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Sends per (URL, instance) before giving up inline, at least 1.
    pub attempts: u32,
    /// Backoff base, ms.
    pub base_ms: u32,
    /// Backoff cap, ms.
    pub cap_ms: u32,
}

/// Full-jitter exponential backoff after `failures` failed attempts (1 for the first retry).
pub fn backoff_ms(base_ms: u64, cap_ms: u64, failures: u32, random: u32) -> u64 {
    let exp = base_ms.saturating_mul(1u64 << failures.saturating_sub(1).min(32));
    u64::from(random) % (exp.min(cap_ms) + 1)
}

impl RetryPolicy {
    /// Whether attempt number `made` (1-based) failing with a retryable error earns another.
    pub fn retry_after(&self, made: u32, retryable: bool, random: u32) -> Option<u32> {
        (retryable && made < self.attempts)
            .then(|| backoff_ms(self.base_ms.into(), self.cap_ms.into(), made, random) as u32)
    }
}

/// Background redelivery of what failed inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedeliveryPolicy {
    /// Backoff base, ms.
    pub base_ms: u64,
    /// Backoff cap, ms.
    pub cap_ms: u64,
    /// Age after which a delivery is abandoned, ms.
    pub max_age_ms: u64,
}

/// What to do with a pending delivery now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send it.
    Attempt,
    /// Stop trying, for this reason (kept in the record).
    Abandon(String),
    /// Not now: discovery is unavailable, so whether the instance still exists is unknown.
    Postpone(String),
}

impl RedeliveryPolicy {
    /// When to try again after `attempts` failed background attempts, from `now` (ms).
    pub fn next_at(&self, now: i64, attempts: u32, random: u32) -> i64 {
        // Never sooner than a tenth of the base, so a failing instance is not hammered.
        let wait = backoff_ms(self.base_ms, self.cap_ms, attempts.max(1), random).max(self.base_ms / 10);
        now.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX))
    }

    /// Whether a delivery first queued at `first_at` to `instance` should be attempted now,
    /// given what discovery says (or why it could not say).
    pub fn decide(&self, first_at: i64, now: i64, instance: &str, discovered: Result<&[Instance], &str>) -> Decision {
        if now.saturating_sub(first_at) > i64::try_from(self.max_age_ms).unwrap_or(i64::MAX) {
            return Decision::Abandon(format!(
                "still failing after {} s (REDELIVERY_MAX_AGE_MS)",
                self.max_age_ms / 1000
            ));
        }
        match discovered {
            Err(why) => Decision::Postpone(format!("discovery: {why}")),
            Ok(found) if !found.iter().any(|i| i.key() == instance) => {
                Decision::Abandon("instance is no longer in discovery".into())
            }
            Ok(_) => Decision::Attempt,
        }
    }
}

/// What a background delivery becomes: its new status, attempt count, next time and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    /// The new status.
    pub status: DeliveryStatus,
    /// Background attempts made.
    pub attempts: u32,
    /// When to try next (unchanged unless still pending).
    pub next_at: i64,
    /// The last failure, or why it was abandoned; `None` once delivered.
    pub last_error: Option<String>,
}

fn update(status: DeliveryStatus, attempts: u32, next_at: i64, why: Option<String>) -> DeliveryUpdate {
    DeliveryUpdate { status, attempts, next_at, last_error: why }
}

impl RedeliveryPolicy {
    /// The purge a due delivery carries, or the update abandoning it when its label no longer
    /// reads as a purge.
    pub fn purge_of(&self, d: &Delivery) -> Result<Purge, DeliveryUpdate> {
        Purge::from_label(&d.url).map_err(|e| {
            update(DeliveryStatus::Abandoned, d.attempts, d.next_at, Some(format!("URL no longer valid: {e}")))
        })
    }

    /// Whether to send a due delivery now, given discovery's answer for its host: the instance
    /// to send to, or the update that abandons or postpones it (see [`Self::decide`]).
    pub fn triage(
        &self,
        d: &Delivery,
        discovered: Result<&[Instance], &str>,
        now: i64,
        random: u32,
    ) -> Result<Instance, DeliveryUpdate> {
        match self.decide(d.first_at, now, &d.instance, discovered) {
            Decision::Abandon(why) => Err(update(DeliveryStatus::Abandoned, d.attempts, d.next_at, Some(why))),
            Decision::Postpone(why) => {
                let next = self.next_at(now, d.attempts + 1, random);
                Err(update(DeliveryStatus::Pending, d.attempts, next, Some(why)))
            }
            Decision::Attempt => {
                let abandon = |why: String| update(DeliveryStatus::Abandoned, d.attempts, d.next_at, Some(why));
                let found = discovered.ok().and_then(|found| found.iter().find(|i| i.key() == d.instance));
                let instance = found.cloned().ok_or_else(|| abandon("instance is no longer in discovery".into()))?;
                // Its group declared since as a contract that cannot do it: sending would be misread.
                match Purge::from_label(&d.url).ok().and_then(|p| instance.dialect.refusal(&p)) {
                    Some(why) => Err(abandon(format!("the instance's group cannot do this purge now: {why}"))),
                    None => Ok(instance),
                }
            }
        }
    }

    /// A due delivery to a Machine that is not serving but may come back with its old copy
    /// (suspended, ...): not attempted, postponed until it is started, or abandoned once past
    /// `REDELIVERY_MAX_AGE_MS` like any other.
    pub fn held(&self, d: &Delivery, state: &str, now: i64, random: u32) -> DeliveryUpdate {
        let why = format!("the Machine is {state}: waiting until it is started");
        match self.decide(d.first_at, now, &d.instance, Err(&why)) {
            Decision::Abandon(why) => update(DeliveryStatus::Abandoned, d.attempts, d.next_at, Some(why)),
            _ => update(DeliveryStatus::Pending, d.attempts, self.next_at(now, d.attempts + 1, random), Some(why)),
        }
    }

    /// What a background attempt's report row means for the delivery: delivered on success;
    /// abandoned when the instance answered and refused or answered garbage (sending again will
    /// not help); otherwise pending again, later.
    pub fn after_attempt(&self, d: &Delivery, row: &PurgeResult, now: i64, random: u32) -> DeliveryUpdate {
        let attempts = d.attempts + 1;
        if row.outcome.is_success() {
            update(DeliveryStatus::Delivered, attempts, d.next_at, None)
        } else if row.outcome == Outcome::Rejected || !row.retryable {
            let why = format!("instance refused: {}", row.error.clone().unwrap_or_default());
            update(DeliveryStatus::Abandoned, attempts, d.next_at, Some(why))
        } else {
            // An upstream that said when to come back (429 `Retry-After`) is called then.
            let next = match row.retry_after_secs {
                Some(secs) => now.saturating_add(i64::from(secs) * 1000),
                None => self.next_at(now, attempts, random),
            };
            update(DeliveryStatus::Pending, attempts, next, row.error.clone())
        }
    }

    /// Whether to send a due delivery to an upstream group (`upstream`: the group of that name
    /// beside the purge's host in the configuration now, if any): the group, or the update that
    /// abandons it (the rule is gone, or the delivery is too old).
    pub fn triage_upstream(
        &self,
        d: &Delivery,
        upstream: Option<&Upstream>,
        now: i64,
    ) -> Result<Upstream, DeliveryUpdate> {
        let abandon = |why: String| update(DeliveryStatus::Abandoned, d.attempts, d.next_at, Some(why));
        if let Decision::Abandon(why) = self.decide(d.first_at, now, &d.instance, Err("")) {
            return Err(abandon(why));
        }
        let upstream = upstream.ok_or_else(|| abandon("the upstream group is no longer in DISCOVERY".into()))?;
        match Purge::from_label(&d.url).ok().filter(|p| upstream.support(p) == crate::dialect::Support::No) {
            Some(p) => Err(abandon(format!("{} cannot do a {} purge", upstream.key(), p.kind()))),
            None => Ok(upstream.clone()),
        }
    }

    /// What a run's report means for a delivery it sent: [`Self::after_attempt`] of its row;
    /// with no row for it (a driver that lost it), pending again, later, and said so: never
    /// skipped silently.
    pub fn after_run(&self, d: &Delivery, rows: &[PurgeResult], now: i64, random: u32) -> DeliveryUpdate {
        match rows.iter().find(|r| r.url == d.url && r.instance == d.instance) {
            Some(row) => self.after_attempt(d, row, now, random),
            None => {
                let attempts = d.attempts + 1;
                let why = "sent, but the run's report has no row for it: trying again".to_owned();
                update(DeliveryStatus::Pending, attempts, self.next_at(now, attempts, random), Some(why))
            }
        }
    }
}

/// Deliveries one cron run reads at most; the rest wait for the next tick.
pub const REDELIVERY_BATCH: u32 = 200;

/// The instances one cron run sends to: at most its budget (what `SUBREQUEST_BUDGET` leaves
/// after discovery), each one connection however many deliveries it gets.
#[derive(Debug, Clone, Default)]
pub struct RunInstances {
    instances: BTreeSet<String>,
}

impl RunInstances {
    /// Whether a delivery to `instance` is sent in this run, `budget` connections being left:
    /// yes to an instance already in the run, or while the budget allows one more; else it
    /// waits for the next tick, untouched (it stays due).
    pub fn admit(&mut self, instance: &str, budget: usize) -> bool {
        if self.instances.contains(instance) {
            return true;
        }
        if self.instances.len() >= budget {
            return false;
        }
        self.instances.insert(instance.to_owned());
        true
    }

    /// How many instances the run sends to.
    pub fn len(&self) -> usize {
        self.instances.len()
    }

    /// Whether the run sends to none.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }
}
