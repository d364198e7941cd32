//! Everything between an authenticated caller and the fan-out: the role, the request (read
//! after the role check, so a caller without the role is refused before its body is read),
//! validation into purges, the `Idempotency-Key`, discovery and the plan; then the rate limit
//! and the history entry, written ahead, in one D1 batch: over the limit (429), or if the entry
//! cannot be written (503), nothing is sent. A refused request is counted too, and a 429 wins
//! over any other refusal (`limits::refusal`). A refusal is written to the history, naming the
//! request's items, before it is returned.

use super::caller::{count, saw, write_refusal, Caller};
use super::{lease_owner, Prepared, LATENCIES};
use crate::ctx::Base;
use crate::doh::Resolver;
use crate::fanout::Sockets;
use crate::problem::internal;
use crate::store::{HistoryRecord, Keyed, Lease};
use crate::trace::{clock, Tracer};
use edgepurge_core::api::{HistoryKind, HistoryStatus, PurgeRequest};
use edgepurge_core::auth::Action;
use edgepurge_core::delivery::Limits;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::idempotency::{self, Decision};
use edgepurge_core::lease;
use edgepurge_core::limits;
use edgepurge_core::plan::{Confirm, Plan};
use edgepurge_core::purge::Purge;
use edgepurge_core::request::{confirm_for, labels, purges_for, skipped_groups};
use edgepurge_core::target::Target;
use edgepurge_core::ApiError;
use std::future::Future;
use std::rc::Rc;

/// [`start`] without an `Idempotency-Key` (the compatible endpoints take none).
pub async fn prepare(
    base: &Base,
    caller: &Caller,
    request: impl Future<Output = Result<PurgeRequest, ApiError>>,
    tracer: &Rc<Tracer>,
) -> Result<Prepared, ApiError> {
    match start(base, caller, request, tracer, None).await? {
        Started::New(prepared) => Ok(prepared),
        Started::Again(entry) => Err(internal(format!("history entry {entry} answered a request without a key"))),
    }
}

/// What a purge request starts: a new purge, or (with an `Idempotency-Key` already used for
/// the same request) nothing, answered by the first purge's history entry.
pub enum Started {
    New(Prepared),
    Again(i64),
}

/// What a refusal needs to know of how far the request got: its items once read, and the
/// caller's count this minute once taken.
struct Seen {
    items: Vec<String>,
    calls: Option<i64>,
}

/// Starts a purge for `caller` (see the module's docs), with the caller's `Idempotency-Key` if
/// it sent one: within the window, the same key and request start nothing new
/// (`Started::Again`), another request under it is a 422, and a new purge remembers it in the
/// batch that writes its entry.
pub async fn start(
    base: &Base,
    caller: &Caller,
    request: impl Future<Output = Result<PurgeRequest, ApiError>>,
    tracer: &Rc<Tracer>,
    idempotency_key: Option<&str>,
) -> Result<Started, ApiError> {
    let mut seen = Seen { items: Vec::new(), calls: caller.calls };
    let error = match admit(base, caller, request, tracer, idempotency_key, &mut seen).await {
        Ok(started) => return Ok(started),
        Err(error) => error,
    };
    let bucket = caller.bucket();
    let calls = match seen.calls {
        Some(n) => n,
        // Refused before the batch that counts: counted now (if D1 cannot, the refusal stands).
        None => match count(base, bucket).await {
            Ok(n) => n,
            Err(e) => {
                worker::console_error!("rate count failed: {}", e.detail);
                return Err(error);
            }
        },
    };
    let refused = limits::refusal(calls, bucket.limit(&base.config), base.now, bucket.what(), error);
    if refused.record {
        write_refusal(&base.store, base.now, Some(&caller.identity), seen.items, &refused.error, tracer).await;
    }
    Err(refused.error)
}

async fn admit(
    base: &Base,
    caller: &Caller,
    request: impl Future<Output = Result<PurgeRequest, ApiError>>,
    tracer: &Rc<Tracer>,
    idempotency_key: Option<&str>,
    seen: &mut Seen,
) -> Result<Started, ApiError> {
    let (identity, bucket) = (&caller.identity, caller.bucket());
    let (limit, what) = (bucket.limit(&base.config), bucket.what());
    if let Some((n, e)) = seen.calls.and_then(|n| Some((n, limits::over(n, limit, base.now, what)?))) {
        // Read (capped) only to name the items of the one 429 a minute that is written.
        if limits::record_refusal(n, limit) {
            seen.items = request.await.map(|r| labels(&base.config, &r)).unwrap_or_default();
        }
        return Err(e);
    }
    if let Err(e) = identity.require(Action::Purge) {
        // Read (capped) only to name the items in the refusal's history entry.
        seen.items = request.await.map(|r| labels(&base.config, &r)).unwrap_or_default();
        return Err(e);
    }
    let idempotency_key = idempotency_key.map(idempotency::key).transpose()?;
    let request = request.await?;
    seen.items = labels(&base.config, &request);
    let grant = identity.grant();
    let purges = purges_for(&base.config, &grant, &request)?;
    let person_id = identity.person.id;
    let keyed = match idempotency_key {
        None => None,
        Some(key) => {
            let fingerprint = idempotency::fingerprint(&request);
            let remembered = base.store.remembered(person_id, &key).await?;
            let window = base.config.idempotency_window_ms;
            match idempotency::decide(remembered.as_ref(), &fingerprint, base.now, window)? {
                Decision::Again(entry) => {
                    // Asked again is a request too: it counts, and over the limit it is a 429.
                    let n = count(base, bucket).await?;
                    seen.calls = Some(n);
                    return match limits::over(n, limit, base.now, what) {
                        Some(e) => Err(e),
                        None => Ok(Started::Again(entry)),
                    };
                }
                Decision::Fresh => {
                    let forget_before = base.now - i64::from(window);
                    Some(Keyed { person_id, key, fingerprint, forget_before })
                }
            }
        }
    };
    let confirm = confirm_for(&base.config, &grant, &request)?;
    let mut prepared = plan(base, purges, &confirm, tracer).await?;
    prepared.skipped = skipped_groups(&base.config, &grant, &request);
    write_ahead(base, caller, prepared, &confirm, keyed, seen).await
}

/// Discovery and the plan, checked against the invocation's budgets; nothing written yet.
async fn plan(base: &Base, purges: Vec<Purge>, confirm: &Confirm, tracer: &Rc<Tracer>) -> Result<Prepared, ApiError> {
    let mut resolver = Resolver::new(&base.config).traced(tracer.clone());
    let hosts = purges.iter().map(Purge::host).chain(confirm.named.iter().map(Target::host));
    let instances = resolver.resolve_hosts(hosts).await?;
    let start = clock();
    let (token, concurrency) = (&base.config.purge_token, base.config.concurrency);
    let upstreams = &base.config.upstreams;
    let mut plan = Plan::confirming_with(purges, &instances, upstreams, token, concurrency, confirm)?;
    let timed = LATENCIES.with(|l| {
        let figures = &l.borrow().by_instance;
        plan.slowest_first(figures);
        plan.jobs.iter().filter(|j| figures.contains_key(&j.instance.key())).count()
    });
    plan.trace(&tracer.context(), &tracer.ids);
    let budget = base.config.instance_budget(resolver.subrequests());
    let early = plan.early_connects(base.shards.is_some());
    let s = plan.summary();
    let span = tracer.child("plan", 0, start).with("edgepurge.instances", s.instances as i64);
    tracer.span(
        span.with("edgepurge.requests", s.requests as i64)
            .with("edgepurge.concurrency", s.concurrency as i64)
            .with("edgepurge.budget", budget as i64)
            .with("edgepurge.instances.timed", timed as i64)
            .with("edgepurge.connections.early", early.len() as i64)
            .with("edgepurge.upstream.calls", plan.upstream_calls() as i64)
            // Each item's full label once, line `i` for `edgepurge.item.index` `i` (request
            // spans carry the index and a cut label).
            .with("edgepurge.items", plan.purges.iter().map(Purge::label).collect::<Vec<_>>().join("\n")),
    );
    plan.check_budget(budget)?;
    plan.check_report(base.config.max_report_bytes)?;
    // The first connections open now, while the history is written: nothing is sent on them
    // before it holds the purge (over the limit, or if the write fails, they close unused).
    let sockets = Sockets::default();
    sockets.open_early(&plan, &early);
    Ok(Prepared {
        plan: Rc::new(plan),
        sockets,
        tracer: tracer.clone(),
        budget,
        entry: 0,
        skipped: Vec::new(),
        not_serving: resolver.not_serving(),
        held: resolver.held().clone(),
        owner: lease_owner(),
        actor: String::new(),
    })
}

/// Writes the purge's history entry ahead of any `PURGE`, with its lease and the caller's
/// count, in one batch.
async fn write_ahead(
    base: &Base,
    caller: &Caller,
    mut prepared: Prepared,
    confirm: &Confirm,
    keyed: Option<Keyed>,
    seen: &mut Seen,
) -> Result<Started, ApiError> {
    let (identity, bucket) = (&caller.identity, caller.bucket());
    let (limit, key) = (bucket.limit(&base.config), bucket.key());
    let plan = &prepared.plan;
    // The lease: by when this fan-out will have ended, plus the margin; past it, the cron
    // runs the purge again (`core::lease`).
    let limits = Limits::for_plan(&base.config, plan, prepared.budget);
    let entry = HistoryRecord {
        at: base.now,
        actor: identity.person.name.clone(),
        token: identity.token.clone(),
        person_id: Some(identity.person.id),
        labels: plan.purges.iter().map(Purge::label).collect(),
        status: HistoryStatus::Running,
        http_status: 0,
        detail: None,
        trace_id: Some(prepared.tracer.trace_id()),
        kind: HistoryKind::Purge,
        lease: Some(Lease {
            until: lease::lease_until_for(base.now, plan, &limits, &base.config),
            owner: prepared.owner.clone(),
            replay: lease::replay(&plan.purges, confirm),
        }),
    };
    let (n, entry) = match base.store.record_within(&entry, &key, limit, keyed.as_ref()).await {
        Ok(written) => written,
        Err(e) => return raced(base, identity.person.id, keyed.as_ref(), e).await,
    };
    seen.calls = Some(n);
    saw(base, &key, n);
    prepared.actor = identity.person.name.clone();
    prepared.entry = entry.ok_or_else(|| {
        limits::over(n, limit, base.now, bucket.what()).unwrap_or_else(|| internal("the history entry was not written"))
    })?;
    Ok(Started::New(prepared))
}

/// The write-ahead batch failed. It fails on a key another request under it remembered
/// meanwhile: that one is the purge, this one is it again. Otherwise nothing was sent (503).
async fn raced(base: &Base, person_id: i64, keyed: Option<&Keyed>, e: ApiError) -> Result<Started, ApiError> {
    let remembered = match keyed {
        Some(k) => base.store.remembered(person_id, &k.key).await.ok().flatten().map(|r| (k, r)),
        None => None,
    };
    if let Some((k, remembered)) = remembered {
        worker::console_log!("a concurrent request under the same Idempotency-Key won: {}", e.detail);
        let window = base.config.idempotency_window_ms;
        return match idempotency::decide(Some(&remembered), &k.fingerprint, base.now, window)? {
            Decision::Again(entry) => Ok(Started::Again(entry)),
            Decision::Fresh => Err(internal("the Idempotency-Key was remembered and forgotten at once")),
        };
    }
    worker::console_error!("history write-ahead failed, nothing sent: {}", e.detail);
    Err(ApiError::new(ErrorKind::AuditUnavailable, "the history could not record this purge, so nothing was sent"))
}
