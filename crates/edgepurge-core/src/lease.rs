//! Leases on running purges: nothing is lost when the worker dies mid-fan-out.
//!
//! A purge's history entry is written ahead of its first `PURGE` (`running`) together with what
//! is needed to run it again ([`Replay`]: every item in full, and what to confirm) and a lease:
//! the time by which its fan-out will have ended ([`deadline_ms`], the worst case the delivery
//! machine allows, plus `LEASE_MARGIN_MS`) and who may complete it (an owner id). Completion
//! clears the lease in the batch that stores the results, and only for its owner.
//!
//! An entry still `running` past its lease was cut off (an isolate evicted or replaced, a
//! `wait_until` cut short, a shard reset): the cron takes it over ([`due`]), claiming it for a
//! new owner with a new lease, runs it again (a `PURGE` is idempotent), and completes it
//! marked recovered. A late original and the cron never both complete one entry: each
//! completion is conditional on its owner still holding the lease.

use crate::api::Replay;
use crate::config::Config;
use crate::delivery::Limits;
use crate::plan::{Confirm, Plan};
use crate::purge::{Purge, PurgeError};
use crate::target::Target;

/// Entries the cron takes over in one run, at most (each is a whole purge run again).
pub const TAKEOVERS_PER_RUN: u32 = 5;

/// The longest `plan` can run under `limits`: each request's timeout runs from the answer
/// before it (`delivery`), every attempt of a request may time out with the longest backoff
/// between them, and instances past `concurrency` wait for a free connection (in waves, the
/// worst case for shards as well); and never past `platform_ms`, the fan-out's deadline
/// (`FAN_OUT_DEADLINE_MS`), when the delivery machines give up what is left.
pub fn deadline_ms(plan: &Plan, limits: &Limits, platform_ms: u32) -> u64 {
    worst_case_ms(plan, limits).min(u64::from(platform_ms))
}

fn worst_case_ms(plan: &Plan, limits: &Limits) -> u64 {
    let attempts = u64::from(limits.retry.attempts.max(1));
    let per_request = attempts * u64::from(limits.timeout_ms) + (attempts - 1) * u64::from(limits.retry.cap_ms);
    let longest_job = plan.jobs.iter().map(|j| j.requests.len() as u64).max().unwrap_or(0);
    let waves = plan.jobs.len().div_ceil(plan.concurrency.max(1)) as u64;
    // The upstream calls run one at a time beside the jobs, each within the attempt timeout.
    let upstream = plan.upstream_calls() as u64 * u64::from(limits.timeout_ms);
    (waves * longest_job * per_request).max(upstream)
}

/// When a lease taken `now` on `plan`, run under `limits`, runs out: its [`deadline_ms`] under
/// `FAN_OUT_DEADLINE_MS`, plus `LEASE_MARGIN_MS`.
pub fn lease_until_for(now: i64, plan: &Plan, limits: &Limits, config: &Config) -> i64 {
    lease_until(now, deadline_ms(plan, limits, config.fan_out_deadline_ms), config.lease_margin_ms)
}

/// When a lease taken `now` on a fan-out of `deadline_ms` runs out.
pub fn lease_until(now: i64, deadline_ms: u64, margin_ms: u32) -> i64 {
    now.saturating_add(i64::try_from(deadline_ms).unwrap_or(i64::MAX)).saturating_add(i64::from(margin_ms))
}

/// Whether an entry still `running` with this lease was cut off and is the cron's to take over.
/// An entry with no lease (written before leases existed, or completed) is not.
pub fn due(lease_until: Option<i64>, now: i64) -> bool {
    lease_until.is_some_and(|until| until < now)
}

/// What the write-ahead entry keeps to run a purge again: its items in full, by their labels
/// (which [`Purge::from_label`] reads back), and what it confirms.
pub fn replay(purges: &[Purge], confirm: &Confirm) -> Replay {
    Replay {
        items: purges.iter().map(Purge::label).collect(),
        confirm: confirm.urls,
        confirm_urls: confirm.named.iter().map(|t| t.url().to_owned()).collect(),
    }
}

/// The purges and confirmations of a stored replay, as they were planned the first time.
pub fn from_replay(replay: &Replay) -> Result<(Vec<Purge>, Confirm), PurgeError> {
    let purges = replay.items.iter().map(|label| Purge::from_label(label)).collect::<Result<Vec<_>, _>>()?;
    let named = replay.confirm_urls.iter().map(|u| Target::parse(u)).collect::<Result<Vec<_>, _>>()?;
    Ok((purges, Confirm { urls: replay.confirm, named }))
}
