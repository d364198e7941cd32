//! Reports: every (URL, instance) pair of a plan, each with its classified result.
//!
//! The builder starts with one row per planned request, marked "no result", so a row can never
//! go missing: a fan-out that is cut short still reports every pair, the unfinished ones as
//! failed and retryable.

use crate::api::{Confirmation, Outcome, PurgeReport, PurgeResult, PurgeStatus, SkippedInstance, Summary};
use crate::delivery::{Completed, Timing};
use crate::dialect::Support;
use crate::discovery::Endpoint;
use crate::outcome::PURGE_COUNT_HEADER;
use crate::plan::{Job, Plan};
use crate::trace::{Kind, Span, SpanId, SpanIds, Value};
use crate::upstream::CallRow;
use crate::verify::{confirmation, no_verdict};
use std::collections::BTreeMap;

/// The span of one instance's connection: its first request's start to its last answer.
/// Request spans a trace keeps at most: past it, the ones that failed and then the slowest are
/// kept, and each connection span counts its requests left out (`edgepurge.requests.omitted`),
/// so a purge's trace stays a bounded size (100 URLs to 60 instances is 6,000 requests).
pub const MAX_REQUEST_SPANS: usize = 500;

/// Characters of an item's label a span keeps (`edgepurge.item`); `edgepurge.item.index` names
/// the item in full (the report and the history hold its label).
pub const MAX_SPAN_LABEL_CHARS: usize = 256;

fn span_label(label: &str) -> String {
    match label.char_indices().nth(MAX_SPAN_LABEL_CHARS) {
        None => label.to_owned(),
        Some((cut, _)) => format!("{}…", &label[..cut]),
    }
}

/// Which of the request spans a trace could make (failed, duration, ...) it keeps: all of them
/// up to [`MAX_REQUEST_SPANS`], else the failed ones first, then the slowest (the earlier of
/// equals).
fn kept_requests<T>(candidates: &[(bool, u64, T, usize, Option<usize>)]) -> Vec<bool> {
    if candidates.len() <= MAX_REQUEST_SPANS {
        return vec![true; candidates.len()];
    }
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| (!candidates[i].0, std::cmp::Reverse(candidates[i].1), i));
    let mut keep = vec![false; candidates.len()];
    for &i in order.iter().take(MAX_REQUEST_SPANS) {
        keep[i] = true;
    }
    keep
}

/// A request's span under its connection: its method, and its item by a cut label and index.
fn request_span(id: SpanId, connection: SpanId, method: &str, timing: Timing, label: &str, item: usize) -> Span {
    Span::new(id, Some(connection), method, Kind::Client, timing.started_at, timing.ended_at)
        .with("http.request.method", method.to_owned())
        .with("edgepurge.item", span_label(label))
        .with("edgepurge.item.index", item as i64)
}

/// The span of one row's `PURGE`.
#[allow(clippy::too_many_arguments)]
fn purge_span(
    plan: &Plan,
    ids: &SpanIds,
    connection_id: SpanId,
    j: usize,
    t: usize,
    row: &PurgeResult,
    timing: Timing,
    times: &RowTimes,
) -> Span {
    let purge = &plan.purges[t];
    let mut span = request_span(ids.id("request", j, times.request), connection_id, "PURGE", timing, &row.url, t)
        .with("edgepurge.kind", purge.kind())
        .with("edgepurge.soft", purge.soft())
        .with("edgepurge.outcome", row.outcome.as_str())
        .with("edgepurge.attempts", i64::from(row.attempts))
        .with("edgepurge.retryable", row.retryable);
    if let Some(status) = row.http_status {
        span = span.with("http.response.status_code", i64::from(status));
    }
    if let Some(n) = times.purge_count {
        span = span.with("edgepurge.purge_count", i64::try_from(n).unwrap_or(i64::MAX));
    }
    if !row.outcome.is_success() {
        span = span.with("error.type", row.outcome.as_str());
        span = span.failed(row.error.clone().unwrap_or_else(|| row.outcome.as_str().to_owned()));
    }
    span
}

fn connection_span(
    job: &Job,
    id: SpanId,
    parent: SpanId,
    start: u64,
    end: u64,
    done: &[(usize, &PurgeResult, Timing, &RowTimes)],
) -> Span {
    let instance = &job.instance;
    let mut connection = Span::new(id, Some(parent), "connection", Kind::Client, start, end)
        .with("edgepurge.instance", instance.key())
        .with("edgepurge.tls", instance.tls.is_some())
        .with("edgepurge.requests", done.len() as i64);
    match &instance.connect {
        Endpoint::Addr(addr) => {
            connection =
                connection.with("server.address", addr.ip().to_string()).with("server.port", i64::from(addr.port()))
        }
        Endpoint::Host { name, port } => {
            connection = connection.with("server.address", name.clone()).with("server.port", i64::from(*port))
        }
    }
    if let Some((region, _)) = instance.name.as_deref().and_then(|n| n.split_once(' ')) {
        connection = connection.with("cloud.region", region);
    }
    if let Some(ms) = done.iter().find_map(|d| d.2.connect_ms) {
        connection = connection.with("edgepurge.connect_ms", ms as i64);
    }
    let failed = done.iter().filter(|d| !d.1.outcome.is_success()).count();
    if failed > 0 {
        connection = connection.failed(format!("{failed} of {} requests did not succeed", done.len()));
    }
    connection
}

/// A row with no answer (yet, or ever): failed and retryable, for `error`.
fn unfinished(url: String, instance: String, error: String) -> PurgeResult {
    PurgeResult {
        url,
        instance,
        outcome: Outcome::Failed,
        http_status: None,
        error: Some(error),
        retryable: true,
        elapsed_ms: None,
        started_ms: None,
        attempts: 0,
        pending: false,
        confirm: None,
        done_hard: false,
        retry_after_secs: None,
        upstream_id: None,
    }
}

/// The job index of rows no job runs ([`ReportBuilder::hold`]).
const HELD: usize = usize::MAX;

/// Collects results for a [`Plan`] and builds its [`PurgeReport`].
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    plan_summary: crate::api::PlanSummary,
    /// (target index, job index) -> row, in (target, instance) order.
    rows: Vec<((usize, usize), PurgeResult)>,
    /// What each row needs besides what it shows, in the same order.
    times: Vec<RowTimes>,
    /// When the fan-out began (the driver's clock), for each row's `started_ms`.
    origin: Option<u64>,
}

/// A row's requests: the `PURGE`'s index in its job, times and `Purge-Count`, each confirming
/// `HEAD`'s index, times and verdict, and how many of them are still to finish.
#[derive(Debug, Clone, Default)]
struct RowTimes {
    request: usize,
    timing: Option<Timing>,
    purge_count: Option<u64>,
    confirms: Vec<(usize, Timing, Confirmation)>,
    outstanding: usize,
}

/// How bad a verdict is: the old copy still served, then no verdict, then fresh.
fn rank(c: &Confirmation) -> u8 {
    match c.fresh {
        Some(false) => 0,
        None => 1,
        Some(true) => 2,
    }
}

impl ReportBuilder {
    /// One pending row per planned `PURGE` (a confirming `HEAD` adds to its row, not a row).
    pub fn new(plan: &Plan) -> Self {
        let mut rows = Vec::new();
        for (j, job) in plan.jobs.iter().enumerate() {
            for (r, req) in job.requests.iter().enumerate().filter(|(_, req)| !req.head) {
                rows.push((
                    (req.target, j, r),
                    PurgeResult {
                        done_hard: job.instance.dialect.support(&plan.purges[req.target]) == Support::Hard,
                        ..unfinished(
                            plan.purges[req.target].label(),
                            job.instance.key(),
                            "no result: the fan-out ended before this request finished".into(),
                        )
                    },
                ));
            }
        }
        // An upstream group's rows come after the jobs' (job `jobs.len() + u`), one per item its
        // calls carry; one call finishes each.
        for (u, job) in plan.upstream.iter().enumerate() {
            for &item in job.calls.iter().flat_map(|c| c.items.iter()) {
                let Some(purge) = plan.purges.get(item) else { continue };
                let why = "no result: the fan-out ended before this upstream call finished".to_owned();
                rows.push(((item, plan.jobs.len() + u, 0), unfinished(purge.label(), job.upstream.key(), why)));
            }
        }
        rows.sort_by_key(|(k, _)| *k);
        let times = rows
            .iter()
            .map(|&((t, j, r), _)| RowTimes {
                request: r,
                outstanding: plan.jobs.get(j).map_or(1, |job| job.requests.iter().filter(|q| q.target == t).count()),
                ..RowTimes::default()
            })
            .collect();
        let rows = rows.into_iter().map(|((t, j, _), row)| ((t, j), row)).collect();
        ReportBuilder { plan_summary: plan.summary(), rows, times, origin: None }
    }

    /// Adds a row for each item and each Machine of its host that is not serving but may come
    /// back with its old copies (`held`: host to its Machines from `DiscoveryRule::held`; any
    /// not `pending` is ignored): failed and retryable, so it is queued and sent once the Machine
    /// is started, never counted as purged. Returns those rows (the live purge sends them at
    /// once: nothing will finish them).
    pub fn hold(&mut self, plan: &Plan, held: &BTreeMap<String, Vec<SkippedInstance>>) -> Vec<PurgeResult> {
        let mut added = Vec::new();
        for (t, purge) in plan.purges.iter().enumerate() {
            for machine in held.get(purge.host()).into_iter().flatten().filter(|m| m.pending) {
                let state = &machine.state;
                let row = unfinished(
                    purge.label(),
                    machine.instance.clone(),
                    format!(
                        "the Machine is {state}: it may come back with its old copy, so this purge is queued and \
                         sent once it is started"
                    ),
                );
                self.rows.push(((t, HELD), row.clone()));
                self.times.push(RowTimes::default());
                added.push(row);
            }
        }
        let mut both: Vec<_> =
            std::mem::take(&mut self.rows).into_iter().zip(std::mem::take(&mut self.times)).collect();
        both.sort_by_key(|((k, _), _)| *k);
        (self.rows, self.times) = both.into_iter().unzip();
        added
    }

    /// Notes when the fan-out began (`now`, the driver's clock): rows then say when each of
    /// their requests started, relative to it.
    pub fn started(&mut self, now: u64) {
        self.origin = Some(now);
    }

    /// Records a finished request of job `job`; returns the row once all of its requests have
    /// finished (for live reporting: each row once), else `None`, as for a request the plan
    /// does not have.
    pub fn record(&mut self, plan: &Plan, job: usize, done: &Completed) -> Option<PurgeResult> {
        let request = plan.jobs.get(job).and_then(|j| j.requests.get(done.request))?;
        let i = self.rows.binary_search_by_key(&(request.target, job), |(k, _)| *k).ok()?;
        let (row, times) = (&mut self.rows[i].1, &mut self.times[i]);
        if request.head {
            // A soft purge done hard leaves no stale copy: only a miss is fresh there.
            let soft = plan.purges[request.target].soft() && !row.done_hard;
            let mut verdict = confirmation(&done.reply, soft);
            verdict.url = request.confirms.clone();
            times.confirms.push((done.request, done.timing, verdict));
            times.confirms.sort_by_key(|(r, _, _)| *r);
        } else {
            let c = &done.classified;
            row.outcome = c.outcome;
            row.http_status = c.http_status;
            row.error = c.error.clone();
            row.retryable = c.retryable;
            row.elapsed_ms = Some(done.elapsed_ms);
            row.attempts = done.attempts;
            row.started_ms = self.origin.map(|o| done.timing.started_at.saturating_sub(o));
            times.timing = Some(done.timing);
            times.purge_count =
                done.reply.as_ref().ok().and_then(|a| a.header(PURGE_COUNT_HEADER)?.trim().parse().ok());
        }
        times.outstanding = times.outstanding.saturating_sub(1);
        // A HEAD answered before its PURGE's final answer (the PURGE was retried) saw the
        // instance before the purge took effect: it confirms nothing.
        if let Some(purge) = times.timing {
            for (_, head, confirm) in &mut times.confirms {
                if head.ended_at < purge.ended_at && confirm.fresh.is_some() {
                    confirm.fresh = None;
                    confirm.error = Some("answered before the purge's retry was: not a confirmation of it".into());
                }
            }
        }
        // The row's verdict is the worst of its HEADs' (the first of equals).
        row.confirm = times.confirms.iter().map(|(_, _, c)| c).min_by_key(|c| rank(c)).cloned();
        (times.outstanding == 0).then(|| row.clone())
    }

    /// Records the answer to one call of upstream group `u` (`rows`: what the core read of it,
    /// `Upstream::read`), sent at `started_at` on the driver's clock and answered with
    /// `http_status` after `elapsed_ms`. Returns the rows it finished. A row asked to be
    /// confirmed says it is not: an upstream CDN's edge is not ours to ask.
    pub fn record_upstream(
        &mut self,
        plan: &Plan,
        u: usize,
        rows: &[CallRow],
        http_status: Option<u16>,
        started_at: u64,
        elapsed_ms: u64,
    ) -> Vec<PurgeResult> {
        let job = plan.jobs.len() + u;
        let mut finished = Vec::new();
        for r in rows {
            let Ok(i) = self.rows.binary_search_by_key(&(r.item, job), |(k, _)| *k) else { continue };
            let confirming = plan.jobs.iter().any(|j| j.requests.iter().any(|q| q.head && q.target == r.item));
            let row = &mut self.rows[i].1;
            row.outcome = r.outcome;
            row.http_status = http_status;
            row.error = r.error.clone();
            row.retryable = r.retryable;
            row.elapsed_ms = Some(elapsed_ms);
            row.started_ms = self.origin.map(|o| started_at.saturating_sub(o));
            row.attempts = 1;
            row.retry_after_secs = r.retry_after_secs;
            let ids: Vec<&str> = [r.id.as_deref(), r.request_id.as_deref()].into_iter().flatten().collect();
            row.upstream_id = (!ids.is_empty()).then(|| ids.join(";"));
            row.confirm =
                confirming.then(|| no_verdict("an upstream CDN's edge is not ours to ask: not confirmed".into()));
            self.times[i].outstanding = 0;
            finished.push(row.clone());
        }
        finished
    }

    /// The fan-out as spans under `parent`: one per instance connection (its first request's
    /// start to its last answer) and one per (item, instance) request under it, with the ids
    /// `ids` gives (`connection`: job; `request`: job and request, the id its `traceparent`
    /// named). Requests that never finished have no span; their rows say why.
    pub fn spans(&self, plan: &Plan, parent: SpanId, ids: &SpanIds) -> Vec<Span> {
        let (mut connections, mut requests) = (Vec::new(), Vec::new());
        // Each job's finished rows, and every request span they could make, as (failed,
        // duration, job, row, which: None for the PURGE, Some(i) for its i-th HEAD): chosen
        // first (`MAX_REQUEST_SPANS`), built after, so a large purge builds only what it keeps.
        let mut done_by_job = Vec::with_capacity(plan.jobs.len());
        let mut candidates = Vec::new();
        for (j, job) in plan.jobs.iter().enumerate() {
            let done: Vec<_> = self
                .rows
                .iter()
                .zip(&self.times)
                .filter(|(((_, rj), _), _)| *rj == j)
                .filter_map(|(((t, _), row), times)| times.timing.map(|timing| (*t, row, timing, times)))
                .collect();
            let timings =
                || done.iter().flat_map(|d| std::iter::once(d.2).chain(d.3.confirms.iter().map(|(_, c, _)| *c)));
            if let (Some(start), Some(end)) =
                (timings().map(|t| t.started_at).min(), timings().map(|t| t.ended_at).max())
            {
                connections.push((j, connection_span(job, ids.id("connection", j, 0), parent, start, end, &done)));
                for (k, (_, row, timing, times)) in done.iter().enumerate() {
                    let took = |t: &Timing| t.ended_at.saturating_sub(t.started_at);
                    candidates.push((!row.outcome.is_success(), took(timing), j, k, None));
                    for (i, (_, c, confirm)) in times.confirms.iter().enumerate() {
                        candidates.push((confirm.fresh != Some(true), took(c), j, k, Some(i)));
                    }
                }
            }
            done_by_job.push(done);
        }
        let keep = kept_requests(&candidates);
        let mut omitted = vec![0i64; plan.jobs.len()];
        for (&(_, _, j, k, which), kept) in candidates.iter().zip(&keep) {
            if !kept {
                omitted[j] += 1;
                continue;
            }
            let (t, row, timing, times) = done_by_job[j][k];
            let connection_id = ids.id("connection", j, 0);
            let Some(i) = which else {
                requests.push(purge_span(plan, ids, connection_id, j, t, row, timing, times));
                continue;
            };
            let (r, c, confirm) = &times.confirms[i];
            let mut head = request_span(ids.id("request", j, *r), connection_id, "HEAD", *c, &row.url, t);
            if let Some(url) = &confirm.url {
                head = head.with("url.full", url.clone());
            }
            if let Some(fresh) = confirm.fresh {
                head = head.with("edgepurge.fresh", fresh);
            }
            if let Some(status) = confirm.http_status {
                head = head.with("http.response.status_code", i64::from(status));
            }
            if let Some(value) = &confirm.cache_status {
                head = head.with("http.response.header.cache-status", value.clone());
            }
            if confirm.fresh != Some(true) {
                head = head
                    .failed(confirm.error.clone().unwrap_or_else(|| "the instance still serves the old copy".into()));
            }
            requests.push(head);
        }
        let mut spans: Vec<Span> = connections
            .into_iter()
            .map(|(j, mut connection)| {
                if omitted[j] > 0 {
                    connection.attributes.push(("edgepurge.requests.omitted", Value::Int(omitted[j])));
                }
                connection
            })
            .collect();
        spans.extend(requests);
        spans
    }

    /// Every (URL, instance) pair of the plan, in report order.
    pub fn pairs(&self) -> Vec<crate::api::Pair> {
        self.rows.iter().map(|(_, r)| crate::api::Pair { url: r.url.clone(), instance: r.instance.clone() }).collect()
    }

    /// Marks the rows that failed retryably as queued for background redelivery and returns
    /// them: they are the ones to store.
    pub fn queue_retryable(&mut self) -> Vec<PurgeResult> {
        let mut queued = Vec::new();
        for (_, row) in &mut self.rows {
            if row.outcome == Outcome::Failed && row.retryable {
                row.pending = true;
                queued.push(row.clone());
            }
        }
        queued
    }

    /// The report: overall status from the rows, counts, and every row.
    pub fn finish(self) -> PurgeReport {
        let results: Vec<PurgeResult> = self.rows.into_iter().map(|(_, r)| r).collect();
        let summary = Summary::of(&results);
        let ok = summary.purged + summary.not_cached + summary.unconfirmed;
        let status = if ok == summary.total && summary.total > 0 {
            PurgeStatus::Purged
        } else if ok == 0 {
            PurgeStatus::Failed
        } else {
            PurgeStatus::Partial
        };
        let plan = self.plan_summary;
        PurgeReport {
            status,
            summary,
            plan,
            results,
            skipped: Vec::new(),
            skipped_instances: Vec::new(),
            audit_error: None,
            trace_id: None,
        }
    }
}

/// Why a purge's completion did not complete its history entry, if it did not: the write failed
/// (`Err`), or it wrote nothing because the cron took the entry over after its lease ran out
/// (`Ok(false)`: that run's results are the entry's).
pub fn not_completed(entry: i64, completed: Result<bool, &str>) -> Option<String> {
    match completed {
        Ok(true) => None,
        Ok(false) => {
            Some(format!("its lease ran out and the cron took entry {entry} over: that run's results are the entry's"))
        }
        Err(why) => Some(why.to_owned()),
    }
}

/// The report of a purge whose history entry could not be completed with it (`why`), so its
/// `queued` failed pairs were not queued for redelivery either: no row may say pending, and
/// the report says what was not recorded (`audit_error`) rather than leave it to the log.
pub fn not_recorded(mut report: PurgeReport, entry: i64, queued: usize, why: &str) -> PurgeReport {
    for row in &mut report.results {
        row.pending = false;
    }
    report.audit_error = Some(format!(
        "history entry {entry} could not be completed with these results, and the {queued} failed pairs were not \
         queued for redelivery: {why}"
    ));
    report
}
