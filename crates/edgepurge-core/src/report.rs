//! Reports: every (URL, instance) pair of a plan, each with its classified result.
//!
//! The builder starts with one row per planned request, marked "no result", so a row can never
//! go missing: a fan-out that is cut short still reports every pair, the unfinished ones as
//! failed and retryable.

use crate::api::{Outcome, PurgeReport, PurgeResult, PurgeStatus, Summary};
use crate::delivery::Completed;
use crate::plan::Plan;

/// Collects results for a [`Plan`] and builds its [`PurgeReport`].
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    plan_summary: crate::api::PlanSummary,
    /// (target index, job index) -> row, in (target, instance) order.
    rows: Vec<((usize, usize), PurgeResult)>,
}

impl ReportBuilder {
    /// One pending row per planned request.
    pub fn new(plan: &Plan) -> Self {
        let mut rows = Vec::new();
        for (j, job) in plan.jobs.iter().enumerate() {
            for req in &job.requests {
                rows.push((
                    (req.target, j),
                    PurgeResult {
                        url: plan.purges[req.target].label(),
                        instance: job.instance.key(),
                        outcome: Outcome::Failed,
                        http_status: None,
                        error: Some("no result: the fan-out ended before this request finished".into()),
                        retryable: true,
                        elapsed_ms: None,
                        attempts: 0,
                        pending: false,
                    },
                ));
            }
        }
        rows.sort_by_key(|(k, _)| *k);
        ReportBuilder { plan_summary: plan.summary(), rows }
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
        Some(row.clone())
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
        PurgeReport { status, summary, plan: self.plan_summary, results, audit_error: None }
    }
}
