//! A purge's end: its report finished, what failed retryably queued for redelivery, its
//! history entry completed (with the report, or after the reply when nothing was queued), the
//! instances' typical times read again when due, and its notification sent after the reply.

use super::{Prepared, LATENCIES};
use crate::ctx::Base;
use crate::notify;
use crate::random::random_u32;
use crate::store::Completion;
use edgepurge_core::api::{HistoryStatus, PurgeReport, PurgeStatus};
use edgepurge_core::notify::Event;
use edgepurge_core::report::{not_completed, not_recorded, ReportBuilder};
use edgepurge_core::stats;

/// Finishes a purge's report: queues what failed retryably for background redelivery (marking
/// those rows pending) and completes its history entry with the per-instance results; a
/// failure there is in the report (`report::not_recorded`), not only in the log. When nothing
/// is queued the completion is not part of the answer: it comes back to be written after the
/// reply ([`complete_later`]), off the caller's wait; the write-ahead entry is there before any
/// `PURGE` either way.
pub(super) async fn finish(base: &Base, prepared: &Prepared, mut builder: ReportBuilder) -> (PurgeReport, Later) {
    let (config, now) = (&base.config, base.now);
    let queued = builder.queue_retryable();
    let tracer = &prepared.tracer;
    tracer.spans(builder.spans(&prepared.plan, tracer.root(), &tracer.ids));
    let mut report = builder.finish();
    report.trace_id = Some(tracer.trace_id());
    report.skipped = prepared.skipped.clone();
    report.skipped_instances = prepared.not_serving.clone();
    trace_report(base, prepared, &report);
    let notice = notice(base, prepared, &report);
    let completion = Completion {
        status: report.status.into(),
        http_status: report.status.http_status(),
        results: report.results.clone(),
        queued,
        next_at: config.redelivery.next_at(now, 1, random_u32()),
        owner: prepared.owner.clone(),
        recovered: false,
    };
    if completion.queued.is_empty() {
        return (report, Later { completion: Some(completion), notice });
    }
    let completed = base.store.complete(prepared.entry, now, &completion).await;
    let Some(why) = not_completed(prepared.entry, completed.as_ref().copied().map_err(|e| e.detail.as_str())) else {
        return (report, Later { completion: None, notice });
    };
    // The entry was not completed here, and nothing was queued: the report must say so.
    let queued = completion.queued.len();
    worker::console_error!("history entry {} not completed, {queued} deliveries not queued: {why}", prepared.entry);
    (not_recorded(report, prepared.entry, queued, &why), Later { completion: None, notice })
}

/// What is left of a purge after its reply ([`complete_later`]).
pub(super) struct Later {
    /// The history entry's completion, when it was not written before the reply.
    completion: Option<Completion>,
    /// Its notification, when one of its kind is sent.
    notice: Option<Event>,
}

/// The purge's notification, when `NOTIFY_ON` names its kind (`core::notify`).
fn notice(base: &Base, prepared: &Prepared, report: &PurgeReport) -> Option<Event> {
    let settings = base.config.notify.as_ref()?;
    settings.purge_notice(report, &prepared.actor, &prepared.plan.purges, prepared.entry, base.now)
}

/// The report's figures on the purge's trace. They are also the request's one JSON log line
/// (`trace::finish`, after the reply): a console line of its own here would cost the caller's
/// wait.
fn trace_report(base: &Base, prepared: &Prepared, report: &PurgeReport) {
    let (tracer, s) = (&prepared.tracer, &report.summary);
    tracer.attr("edgepurge.purge_status", HistoryStatus::from(report.status).as_str());
    tracer.fan_out(&prepared.sockets, base.shards.as_ref());
    tracer.attr("edgepurge.entry", prepared.entry);
    for (key, n) in [
        ("edgepurge.items", prepared.plan.purges.len()),
        ("edgepurge.instances", report.plan.instances),
        ("edgepurge.pairs", s.total),
        ("edgepurge.purged", s.purged),
        ("edgepurge.not_cached", s.not_cached),
        ("edgepurge.unconfirmed", s.unconfirmed),
        ("edgepurge.rejected", s.rejected),
        ("edgepurge.failed", s.failed),
    ] {
        tracer.attr(key, n as i64);
    }
    if report.status != PurgeStatus::Purged {
        tracer.fail(format!(
            "purge {}: {} of {} pairs failed or were rejected",
            HistoryStatus::from(report.status).as_str(),
            s.failed + s.rejected,
            s.total
        ));
    }
}

/// What is left after the reply: the history entry's completion, when nothing was queued (the
/// report promised nothing that depends on it; a failure leaves the entry `running` and is
/// logged and traced), the instances' typical times when due, and the purge's notification. The
/// trace then gets what the invocation ran on the store.
pub(super) async fn complete_later(base: &Base, prepared: &Prepared, later: Later) {
    if let Some(completion) = later.completion {
        let completed = base.store.complete(prepared.entry, base.now, &completion).await;
        if let Some(why) = not_completed(prepared.entry, completed.as_ref().copied().map_err(|e| e.detail.as_str())) {
            worker::console_error!("history entry {} not completed: {why}", prepared.entry);
            prepared.tracer.fail(format!("history entry {} not completed: {why}", prepared.entry));
        }
    }
    refresh_latencies(base).await;
    notify::send(base, later.notice, &prepared.tracer).await;
    prepared.tracer.store_usage(base.store.usage());
}

/// Reads the instances' typical times again if they are due (`core::stats`).
async fn refresh_latencies(base: &Base) {
    let due = LATENCIES.with(|l| {
        let mut l = l.borrow_mut();
        let due = stats::latency_refresh_due(l.read_at, base.now);
        if due {
            // Marked first, so concurrent purges in this isolate do not read them too.
            l.read_at = Some(base.now);
        }
        due
    });
    if !due {
        return;
    }
    match base.store.typical_latencies(stats::latency_since_hour(base.now)).await {
        Ok(map) => LATENCIES.with(|l| l.borrow_mut().by_instance = map),
        Err(e) => worker::console_error!("reading the instances' typical times failed: {}", e.detail),
    }
}
