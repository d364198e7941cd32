//! Who is purging: authentication for the purge routes, the caller's rate count, and the
//! refusals written to the history within the bounds `core::limits` sets.

use crate::auth::{self, Identity, Refused};
use crate::ctx::{client, Base};
use crate::store::{HistoryRecord, Store};
use crate::trace::{clock, Tracer};
use edgepurge_core::api::{HistoryKind, HistoryStatus};
use edgepurge_core::limits::{self, Bucket, OverLimit, RefusalBudget};
use edgepurge_core::ApiError;
use std::cell::RefCell;
use worker::Request;

/// An identified caller of a purge route, and its requests this minute (this one included) once
/// counted. An accepted purge is counted in the batch that writes its history entry (one D1
/// round trip for both); a refused one on its way out; a caller this isolate already saw over
/// its limit right away, so it is refused before its body is read or discovery is asked.
pub struct Caller {
    pub identity: Identity,
    pub(super) calls: Option<i64>,
}

impl Caller {
    /// The caller's purge counter.
    pub(super) fn bucket(&self) -> Bucket<'static> {
        Bucket::Purges(self.identity.person.id)
    }
}

thread_local! {
    /// The callers this isolate saw over `RATE_LIMIT_PER_MINUTE` this minute.
    static OVER_LIMIT: RefCell<OverLimit> = RefCell::new(OverLimit::default());
}

/// Counts one request in `bucket` now, and notes whether it is over the limit.
pub(super) async fn count(base: &Base, bucket: Bucket<'_>) -> Result<i64, ApiError> {
    let key = bucket.key();
    let calls = base.store.hit(&key, base.now).await?;
    saw(base, &key, calls);
    Ok(calls)
}

/// Notes `key`'s count this minute (this isolate's [`OverLimit`]).
pub(super) fn saw(base: &Base, key: &str, calls: i64) {
    OVER_LIMIT.with(|o| o.borrow_mut().saw(key, calls, base.config.rate_limit_per_minute, base.now));
}

/// The caller of a purge route, as authentication found them. Every request of an identified
/// caller counts towards `RATE_LIMIT_PER_MINUTE`, refused or not; a refusal is written within
/// the bounds of `core::limits` (the caller's limit, or the refusal budget for unknown callers).
pub async fn caller(
    base: &Base,
    req: &Request,
    who: Result<Identity, Refused>,
    tracer: &Tracer,
) -> Result<Caller, ApiError> {
    let (identity, refusal) = match who {
        Ok(identity) => (identity, None),
        Err(Refused { who: Some(identity), error }) => (identity, Some(error)),
        Err(Refused { who: None, error }) => {
            write_anonymous_refusal(base, req, &error, tracer).await;
            return Err(error);
        }
    };
    let bucket = Bucket::Purges(identity.person.id);
    match refusal {
        None => {
            let known = OVER_LIMIT.with(|o| o.borrow().known(&bucket.key(), base.now));
            let calls = if known { Some(count(base, bucket).await?) } else { None };
            Ok(Caller { identity, calls })
        }
        Some(error) => {
            let calls = count(base, bucket).await?;
            let refused = limits::refusal(calls, bucket.limit(&base.config), base.now, bucket.what(), error);
            if refused.record {
                write_refusal(&base.store, base.now, Some(&identity), Vec::new(), &refused.error, tracer).await;
            }
            Err(refused.error)
        }
    }
}

/// Authenticates the caller the API's way (bearer token, Access JWT or session, with the CSRF
/// rule for sessions), recorded as the trace's `authenticate` span.
pub async fn identify(base: &Base, req: &Request, tracer: &Tracer) -> Result<Caller, ApiError> {
    let start = clock();
    let who = auth::authenticate(req, &base.config, &base.store, base.now).await;
    let caller = caller(base, req, who, tracer).await;
    authenticated(tracer, start, &caller);
    caller
}

/// Records authentication's span and who the caller is; an authenticated caller's trace
/// context is continued from here on.
pub fn authenticated(tracer: &Tracer, start: u64, caller: &Result<Caller, ApiError>) {
    let span = tracer.child("authenticate", 0, start);
    match caller {
        Ok(Caller { identity, .. }) => {
            tracer.authenticated();
            tracer.attr("edgepurge.caller", identity.person.name.clone());
            tracer.attr("edgepurge.role", identity.person.role.as_str());
            tracer.attr("edgepurge.via", identity.via.as_str());
            tracer.span(span.with("edgepurge.via", identity.via.as_str()));
        }
        Err(e) => tracer.span(span.with("error.type", e.status().to_string()).failed(e.detail.clone())),
    }
}

/// Writes a purge attempt refused before the caller was known, within the refusal budget
/// ([`RefusalBudget`]): over the deployment's or the client's share, a refusal costs reads and
/// writes nothing (a read, then an upsert whose condition fails).
async fn write_anonymous_refusal(base: &Base, req: &Request, err: &ApiError, tracer: &Tracer) {
    let (store, now) = (&base.store, base.now);
    let budget = RefusalBudget::of(base.config.refusal_budget_per_minute);
    let client = client(req);
    let within = async {
        if budget.spent(store.peek(&Bucket::Refusals.key(), now).await?) {
            return Ok(false);
        }
        let mine = Bucket::AnonymousRefusals(&client);
        if store.hit_below(&mine.key(), now, budget.per_client).await?.is_none() {
            return Ok(false);
        }
        store.hit(&Bucket::Refusals.key(), now).await?;
        Ok::<_, ApiError>(true)
    };
    match within.await {
        Ok(true) => write_refusal(store, now, None, Vec::new(), err, tracer).await,
        Ok(false) => {}
        Err(e) => worker::console_error!("refusal budget check failed: {}", e.detail),
    }
}

/// Writes a refused purge attempt to the history, naming its items (`labels`) when they were
/// read. A history write that fails is logged, never allowed to change the caller's answer.
pub(super) async fn write_refusal(
    store: &Store,
    now: i64,
    identity: Option<&Identity>,
    labels: Vec<String>,
    err: &ApiError,
    tracer: &Tracer,
) {
    let record = HistoryRecord {
        at: now,
        actor: identity.map_or_else(|| "(not signed in)".to_owned(), |i| i.person.name.clone()),
        token: identity.and_then(|i| i.token.clone()),
        person_id: identity.map(|i| i.person.id),
        labels,
        status: HistoryStatus::refused(err.status()),
        http_status: err.status(),
        detail: Some({
            let p = err.problem();
            format!("{}: {}", p.title, p.detail)
        }),
        trace_id: Some(tracer.trace_id()),
        kind: HistoryKind::Purge,
        lease: None,
    };
    if let Err(e) = store.record(&record).await {
        worker::console_error!("history write failed: {e}");
    }
}
