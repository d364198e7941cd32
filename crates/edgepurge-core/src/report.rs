//! Reports: every (URL, instance) pair of a plan, each with its classified result.
//!
//! The builder starts with one row per planned request, marked "no result", so a row can never
//! go missing: a fan-out that is cut short still reports every pair, the unfinished ones as
//! failed and retryable.

use crate::api::{Outcome, PurgeReport, PurgeResult, PurgeStatus, Summary};
use crate::delivery::{Completed, Timing};
use crate::discovery::Endpoint;
use crate::outcome::PURGE_COUNT_HEADER;
use crate::plan::Plan;
use crate::trace::{Kind, Span, SpanId, SpanIds};

/// Collects results for a [`Plan`] and builds its [`PurgeReport`].
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    plan_summary: crate::api::PlanSummary,
    /// (target index, job index) -> row, in (target, instance) order.
    rows: Vec<((usize, usize), PurgeResult)>,
    /// Each row's request index in its job and, once recorded, its times and the instance's
    /// `Purge-Count`.
    times: Vec<(usize, Option<Timing>, Option<u64>)>,
    /// When the fan-out began (the driver's clock), for each row's `started_ms`.
    origin: Option<u64>,
}

impl ReportBuilder {
    /// One pending row per planned request.
    pub fn new(plan: &Plan) -> Self {
        let mut rows = Vec::new();
        for (j, job) in plan.jobs.iter().enumerate() {
            for (r, req) in job.requests.iter().enumerate() {
                rows.push((
                    (req.target, j, r),
                    PurgeResult {
                        url: plan.purges[req.target].label(),
                        instance: job.instance.key(),
                        outcome: Outcome::Failed,
                        http_status: None,
                        error: Some("no result: the fan-out ended before this request finished".into()),
                        retryable: true,
                        elapsed_ms: None,
                        started_ms: None,
                        attempts: 0,
                        pending: false,
                    },
                ));
            }
        }
        rows.sort_by_key(|(k, _)| *k);
        let times = rows.iter().map(|((_, _, r), _)| (*r, None, None)).collect();
        let rows = rows.into_iter().map(|((t, j, _), row)| ((t, j), row)).collect();
        ReportBuilder { plan_summary: plan.summary(), rows, times, origin: None }
    }

    /// Notes when the fan-out began (`now`, the driver's clock): rows then say when each of
    /// their requests started, relative to it.
    pub fn started(&mut self, now: u64) {
        self.origin = Some(now);
    }

    /// Records a finished request of job `job`; returns the updated row (for live reporting),
    /// or `None` if the plan has no such request.
    pub fn record(&mut self, plan: &Plan, job: usize, done: &Completed) -> Option<PurgeResult> {
        let target = plan.jobs.get(job).and_then(|j| j.requests.get(done.request)).map(|r| r.target)?;
        let i = self.rows.binary_search_by_key(&(target, job), |(k, _)| *k).ok()?;
        let c = &done.classified;
        let row = &mut self.rows[i].1;
        row.outcome = c.outcome;
        row.http_status = c.http_status;
        row.error = c.error.clone();
        row.retryable = c.retryable;
        row.elapsed_ms = Some(done.elapsed_ms);
        row.attempts = done.attempts;
        self.times[i].1 = Some(done.timing);
        self.times[i].2 = done.reply.as_ref().ok().and_then(|a| a.header(PURGE_COUNT_HEADER)?.trim().parse().ok());
        self.rows[i].1.started_ms = self.origin.map(|o| done.timing.started_at.saturating_sub(o));
        Some(self.rows[i].1.clone())
    }

    /// The fan-out as spans under `parent`: one per instance connection (its first request's
    /// start to its last answer) and one per (item, instance) request under it, with the ids
    /// `ids` gives (`connection`: job; `request`: job and request, the id its `traceparent`
    /// named). Requests that never finished have no span; their rows say why.
    pub fn spans(&self, plan: &Plan, parent: SpanId, ids: &SpanIds) -> Vec<Span> {
        let mut spans = Vec::new();
        for (j, job) in plan.jobs.iter().enumerate() {
            let done: Vec<_> = self
                .rows
                .iter()
                .zip(&self.times)
                .filter(|(((_, rj), _), _)| *rj == j)
                .filter_map(|(((t, _), row), (r, timing, count))| timing.map(|timing| (*t, *r, row, timing, *count)))
                .collect();
            let (Some(start), Some(end)) =
                (done.iter().map(|d| d.3.started_at).min(), done.iter().map(|d| d.3.ended_at).max())
            else {
                continue;
            };
            let connection_id = ids.id("connection", j, 0);
            let instance = &job.instance;
            let mut connection = Span::new(connection_id, Some(parent), "connection", Kind::Client, start, end)
                .with("edgepurge.instance", instance.key())
                .with("edgepurge.tls", instance.tls.is_some())
                .with("edgepurge.requests", done.len() as i64);
            match &instance.connect {
                Endpoint::Addr(addr) => {
                    connection = connection
                        .with("server.address", addr.ip().to_string())
                        .with("server.port", i64::from(addr.port()))
                }
                Endpoint::Host { name, port } => {
                    connection = connection.with("server.address", name.clone()).with("server.port", i64::from(*port))
                }
            }
            if let Some((region, _)) = instance.name.as_deref().and_then(|n| n.split_once(' ')) {
                connection = connection.with("cloud.region", region);
            }
            if let Some(ms) = done.iter().find_map(|d| d.3.connect_ms) {
                connection = connection.with("edgepurge.connect_ms", ms as i64);
            }
            let failed = done.iter().filter(|d| !d.2.outcome.is_success()).count();
            if failed > 0 {
                connection = connection.failed(format!("{failed} of {} requests did not succeed", done.len()));
            }
            spans.push(connection);
            for (t, r, row, timing, count) in done {
                let purge = &plan.purges[t];
                let method = if plan.jobs[j].requests[r].head { "HEAD" } else { "PURGE" };
                let mut span = Span::new(
                    ids.id("request", j, r),
                    Some(connection_id),
                    method,
                    Kind::Client,
                    timing.started_at,
                    timing.ended_at,
                )
                .with("http.request.method", method)
                .with("edgepurge.item", row.url.clone())
                .with("edgepurge.kind", purge.kind())
                .with("edgepurge.soft", purge.soft())
                .with("edgepurge.outcome", row.outcome.as_str())
                .with("edgepurge.attempts", i64::from(row.attempts))
                .with("edgepurge.retryable", row.retryable);
                if let Some(status) = row.http_status {
                    span = span.with("http.response.status_code", i64::from(status));
                }
                if let Some(n) = count {
                    span = span.with("edgepurge.purge_count", i64::try_from(n).unwrap_or(i64::MAX));
                }
                if !row.outcome.is_success() {
                    span = span.with("error.type", row.outcome.as_str());
                    span = span.failed(row.error.clone().unwrap_or_else(|| row.outcome.as_str().to_owned()));
                }
                spans.push(span);
            }
        }
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
        let mut summary = Summary { total: results.len(), ..Summary::default() };
        for r in &results {
            match r.outcome {
                Outcome::Purged => summary.purged += 1,
                Outcome::NotCached => summary.not_cached += 1,
                Outcome::Unconfirmed => summary.unconfirmed += 1,
                Outcome::Rejected => summary.rejected += 1,
                Outcome::Failed => summary.failed += 1,
            }
        }
        let ok = summary.purged + summary.not_cached + summary.unconfirmed;
        let status = if ok == summary.total && summary.total > 0 {
            PurgeStatus::Purged
        } else if ok == 0 {
            PurgeStatus::Failed
        } else {
            PurgeStatus::Partial
        };
        PurgeReport { status, summary, plan: self.plan_summary, results, audit_error: None, trace_id: None }
    }
}
