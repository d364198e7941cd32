//! What the tool prints and how it exits, as plain functions of the API's replies.

use edgepurge_core::api::{
    DeliveriesReply, HistoryEntry, HistoryPage, InstancesReply, Outcome, Problem, PurgeReport, PurgeResult,
    PurgeStatus, VerifyReport, VerifyResult,
};

/// Everything done: every instance purged (or had no copy), every instance fresh.
pub const OK: u8 = 0;
/// Failed or refused: nothing succeeded, the API refused, could not be reached, or the command
/// line is wrong.
pub const FAILED: u8 = 1;
/// Partly: some (item, instance) pairs did not succeed, some instance still serves a cached copy
/// or could not tell, or some host's discovery failed.
pub const PARTIAL: u8 = 2;

/// The exit status of a purge's report.
pub fn purge_exit(report: &PurgeReport) -> u8 {
    match report.status {
        PurgeStatus::Purged => OK,
        PurgeStatus::Partial => PARTIAL,
        PurgeStatus::Failed => FAILED,
    }
}

/// One result row, as a line: outcome, instance, item, then what else there is to know.
pub fn result_line(row: &PurgeResult) -> String {
    let mut line = format!("{:<11} {:<22} {}", row.outcome.label(), row.instance, row.url);
    line.push_str(&details(row));
    line
}

/// The details of a row after its outcome: HTTP status, time, confirmation, error, redelivery.
fn details(row: &PurgeResult) -> String {
    let mut parts = Vec::new();
    if let Some(status) = row.http_status {
        parts.push(format!("HTTP {status}"));
    }
    if let Some(ms) = row.elapsed_ms {
        parts.push(format!("{ms} ms"));
    }
    if row.attempts > 1 {
        parts.push(format!("{} attempts", row.attempts));
    }
    if let Some(confirm) = &row.confirm {
        parts.push(match confirm.fresh {
            Some(true) => "fresh copy".to_owned(),
            Some(false) => "STILL SERVES THE OLD COPY".to_owned(),
            None => format!("freshness unknown ({})", confirm.error.as_deref().unwrap_or("no cache status")),
        });
    }
    if row.done_hard {
        parts.push("done hard (no soft purge there)".to_owned());
    }
    if let Some(error) = &row.error {
        parts.push(error.clone());
    }
    if row.pending {
        parts.push("queued for redelivery".to_owned());
    }
    if let Some(secs) = row.retry_after_secs {
        parts.push(format!("retry after {secs} s"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("  ({})", parts.join("; "))
    }
}

/// One instance's live line: its rows answered so far out of `expected`. While it waits:
/// `waiting…`; with one item, that row's outcome and details; with several, the count per
/// outcome and the first failure's reason.
pub fn instance_line(instance: &str, rows: &[&PurgeResult], expected: usize) -> String {
    let head = format!("{instance:<22}");
    if rows.is_empty() {
        return format!("{head} waiting…");
    }
    if expected == 1 && rows.len() == 1 {
        let row = rows[0];
        return format!("{head} {}{}", row.outcome.label(), details(row));
    }
    let mut counts = Vec::new();
    for outcome in Outcome::ALL {
        let n = rows.iter().filter(|r| r.outcome == outcome).count();
        if n > 0 {
            counts.push(format!("{n} {}", outcome.label()));
        }
    }
    let mut line = format!("{head} {}/{expected} answered: {}", rows.len(), counts.join(", "));
    if let Some(error) = rows.iter().find_map(|r| r.error.as_deref()) {
        line.push_str(&format!(" ({error})"));
    }
    line
}

/// The line that ends a purge: its status in words and the counts.
pub fn summary_line(report: &PurgeReport) -> String {
    let s = &report.summary;
    let mut line = format!(
        "{}: {} purged, {} not cached, {}{} rejected, {} failed ({} instances, {} requests)",
        match report.status {
            PurgeStatus::Purged => "All purged",
            PurgeStatus::Partial => "Partly purged",
            PurgeStatus::Failed => "Purge failed",
        },
        s.purged,
        s.not_cached,
        match s.unconfirmed {
            0 => String::new(),
            n => format!("{n} unconfirmed, "),
        },
        s.rejected,
        s.failed,
        report.plan.instances,
        report.plan.requests,
    );
    let pending = report.results.iter().filter(|r| r.pending).count();
    if pending > 0 {
        line.push_str(&format!("; {pending} queued for redelivery (edgepurge deliveries)"));
    }
    let stale = report.results.iter().filter(|r| r.confirm.as_ref().and_then(|c| c.fresh) == Some(false)).count();
    if stale > 0 {
        line.push_str(&format!("; {stale} still serve the old copy"));
    }
    if let Some(trace) = &report.trace_id {
        line.push_str(&format!("; trace {trace}"));
    }
    line
}

/// Lines for what a report says beside its rows: items not sent to a group, instances not
/// purged, and a history entry that could not be completed.
pub fn notes(report: &PurgeReport) -> Vec<String> {
    let mut lines = Vec::new();
    for skipped in &report.skipped {
        lines.push(format!("skipped     {} on {}: {}", skipped.item, skipped.group, skipped.reason));
    }
    for instance in &report.skipped_instances {
        lines.push(format!("not purged  {} ({})", instance.instance, instance.state));
    }
    if let Some(error) = &report.audit_error {
        lines.push(format!("warning: the history could not be completed: {error}"));
    }
    lines
}

/// A refusal, as printed on stderr: the problem's title and status, its detail, and what is at
/// fault.
pub fn problem_message(problem: &Problem) -> String {
    let mut text = format!("{} (HTTP {}): {}", problem.title, problem.status, problem.detail);
    if let Some(setting) = &problem.setting {
        text.push_str(&format!("\n  setting: {setting}"));
    }
    if let Some(subject) = &problem.subject {
        text.push_str(&format!("\n  subject: {subject}"));
    }
    if problem.retryable {
        text.push_str("\n  the same request may succeed later");
    }
    text
}

/// A refusal whose body is not a problem: its status and the start of its body.
pub fn bare_refusal(status: u16, body: &str) -> String {
    let mut text: String = body.trim().chars().take(300).collect();
    if text.is_empty() {
        text = "(no body)".to_owned();
    }
    format!("HTTP {status}: {text}")
}

/// The exit status of a verification: 0 when every instance answered from the origin (a miss),
/// 2 when one served a cached copy, could not tell, or did not answer.
pub fn verify_exit(report: &VerifyReport) -> u8 {
    if !report.results.is_empty() && report.results.iter().all(|r| r.hit == Some(false)) {
        OK
    } else {
        PARTIAL
    }
}

/// One instance's verification line.
pub fn verify_line(row: &VerifyResult) -> String {
    let verdict = match (row.hit, &row.error) {
        (Some(true), _) => "hit".to_owned(),
        (Some(false), _) => match &row.fwd {
            Some(fwd) => format!("miss (fwd={fwd})"),
            None => "miss".to_owned(),
        },
        (None, Some(error)) => format!("no verdict: {error}"),
        (None, None) => "no verdict".to_owned(),
    };
    let mut parts = Vec::new();
    if let Some(status) = row.http_status {
        parts.push(format!("HTTP {status}"));
    }
    if let Some(ttl) = row.ttl {
        parts.push(format!("ttl {ttl} s"));
    }
    if let Some(age) = row.age {
        parts.push(format!("age {age} s"));
    }
    if let Some(cs) = &row.cache_status {
        parts.push(format!("Cache-Status: {cs}"));
    }
    let mut line = format!("{:<22} {verdict}", row.instance);
    if !parts.is_empty() {
        line.push_str(&format!("  ({})", parts.join("; ")));
    }
    line
}

/// The verification's last line.
pub fn verify_summary(report: &VerifyReport) -> String {
    let hits = report.results.iter().filter(|r| r.hit == Some(true)).count();
    let misses = report.results.iter().filter(|r| r.hit == Some(false)).count();
    let unknown = report.results.len() - hits - misses;
    let verdict = if verify_exit(report) == OK { "Fresh everywhere" } else { "Not fresh everywhere" };
    format!("{verdict}: {} instances, {misses} miss, {hits} hit, {unknown} without a verdict", report.results.len())
}

/// One history entry, as a line.
pub fn history_line(entry: &HistoryEntry) -> String {
    let mut items = entry.urls.first().cloned().unwrap_or_default();
    let count = entry.item_count.unwrap_or(entry.urls.len());
    if count > 1 {
        items.push_str(&format!(" (+{} more)", count - 1));
    }
    // Who, and with which token (its label), when the entry names one.
    let who = match &entry.token {
        Some(token) => format!("{} [{token}]", entry.actor),
        None => entry.actor.clone(),
    };
    let mut line = format!(
        "#{:<6} {}  {:<8} {} {:<12} {}",
        entry.id,
        utc(entry.at),
        entry.status.as_str(),
        entry.http_status,
        who,
        items
    );
    if entry.recovered {
        line.push_str("  [recovered]");
    }
    if let Some(detail) = &entry.detail {
        line.push_str(&format!("  ({detail})"));
    }
    line
}

/// A history page, line by line, and where the next page starts.
pub fn history_lines(page: &HistoryPage) -> Vec<String> {
    let mut lines: Vec<String> = page.entries.iter().map(history_line).collect();
    if page.entries.is_empty() {
        lines.push("no entries".to_owned());
    }
    if let Some(before) = page.next_before {
        lines.push(format!("(more: edgepurge history --before {before})"));
    }
    lines
}

/// The instances, host by host.
pub fn instances_lines(reply: &InstancesReply) -> Vec<String> {
    let mut lines = Vec::new();
    for host in &reply.hosts {
        lines.push(format!(
            "{}  {} ({}, {} contract): {} instance{}",
            host.host,
            host.discovery,
            host.transport.as_str(),
            host.contract.as_str(),
            host.instances.len(),
            if host.instances.len() == 1 { "" } else { "s" }
        ));
        if let Some(problem) = &host.error {
            lines.push(format!("  discovery failed: {}", problem_message(problem).replace('\n', "\n  ")));
        }
        for instance in &host.instances {
            let mut line = format!("  {instance}");
            if let Some(stats) = reply.stats.iter().find(|s| &s.instance == instance) {
                line.push_str(&format!("  {} requests, {} failed (24 h)", stats.requests, stats.failed));
                if let (Some(p50), Some(p95)) = (stats.p50_ms, stats.p95_ms) {
                    line.push_str(&format!(", p50 {p50} ms, p95 {p95} ms"));
                }
            }
            lines.push(line);
        }
        for skipped in &host.skipped {
            lines.push(format!("  {} not purged ({})", skipped.instance, skipped.state));
        }
        for upstream in &host.upstreams {
            lines.push(format!("  upstream {upstream}"));
        }
    }
    lines
}

/// The exit status of `instances`: 2 when some host's discovery failed.
pub fn instances_exit(reply: &InstancesReply) -> u8 {
    if reply.hosts.iter().any(|h| h.error.is_some()) {
        PARTIAL
    } else {
        OK
    }
}

/// The deliveries: the counts, then one line each.
pub fn deliveries_lines(reply: &DeliveriesReply) -> Vec<String> {
    let mut lines =
        vec![format!("{} pending, {} delivered, {} abandoned", reply.pending, reply.delivered, reply.abandoned)];
    for d in &reply.deliveries {
        let mut line = format!(
            "#{:<6} {:<9} {:<22} {}  purge #{}, {} attempt{}, updated {}",
            d.id,
            d.status.as_str(),
            d.instance,
            d.url,
            d.purge_id,
            d.attempts,
            if d.attempts == 1 { "" } else { "s" },
            utc(d.updated_at)
        );
        if d.status == edgepurge_core::api::DeliveryStatus::Pending {
            line.push_str(&format!(", next {}", utc(d.next_at)));
        }
        if let Some(error) = &d.last_error {
            line.push_str(&format!(" ({error})"));
        }
        lines.push(line);
    }
    lines
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SSZ` (UTC; the proleptic Gregorian calendar).
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgepurge_core::api::{
        Confirmation, Contract, DeliveryStatus, ErrorSource, HostInstances, PlanSummary, Summary, Transport,
    };

    fn row(instance: &str, outcome: Outcome) -> PurgeResult {
        PurgeResult {
            url: "https://www.example.com/a".to_owned(),
            instance: instance.to_owned(),
            outcome,
            http_status: outcome.is_success().then_some(200),
            error: (!outcome.is_success()).then(|| "connection refused".to_owned()),
            retryable: outcome == Outcome::Failed,
            elapsed_ms: Some(3),
            started_ms: Some(0),
            attempts: if outcome == Outcome::Failed { 3 } else { 1 },
            pending: outcome == Outcome::Failed,
            confirm: None,
            done_hard: false,
            retry_after_secs: None,
            upstream_id: None,
        }
    }

    fn report(rows: Vec<PurgeResult>) -> PurgeReport {
        let ok = rows.iter().filter(|r| r.outcome.is_success()).count();
        let status = if ok == rows.len() {
            PurgeStatus::Purged
        } else if ok == 0 {
            PurgeStatus::Failed
        } else {
            PurgeStatus::Partial
        };
        // Built from its JSON, as the API sends it (fields added later keep their defaults).
        serde_json::from_value(serde_json::json!({
            "status": status,
            "summary": Summary::of(&rows),
            "plan": PlanSummary { instances: rows.len(), requests: rows.len(), concurrency: rows.len() },
            "results": rows,
        }))
        .expect("a report")
    }

    #[test]
    fn each_status_has_its_exit_code() {
        let all = report(vec![row("10.0.0.1:6081", Outcome::Purged), row("10.0.0.2:6081", Outcome::NotCached)]);
        assert_eq!(purge_exit(&all), 0);
        let partial = report(vec![row("10.0.0.1:6081", Outcome::Purged), row("10.0.0.2:6081", Outcome::Failed)]);
        assert_eq!(purge_exit(&partial), 2);
        let failed = report(vec![row("10.0.0.1:6081", Outcome::Rejected)]);
        assert_eq!(purge_exit(&failed), 1);
    }

    #[test]
    fn a_result_line_names_outcome_instance_item_and_why() {
        let ok = result_line(&row("10.0.0.1:6081", Outcome::Purged));
        assert_eq!(ok, "purged      10.0.0.1:6081          https://www.example.com/a  (HTTP 200; 3 ms)");
        let failed = result_line(&row("10.0.0.2:6081", Outcome::Failed));
        assert!(failed.starts_with("failed      10.0.0.2:6081 "), "{failed}");
        assert!(failed.ends_with("(3 ms; 3 attempts; connection refused; queued for redelivery)"), "{failed}");
        let mut stale = row("10.0.0.3:6081", Outcome::Purged);
        stale.confirm = Some(Confirmation {
            fresh: Some(false),
            http_status: Some(200),
            cache_status: Some("edge; hit".to_owned()),
            format: None,
            error: None,
            url: None,
        });
        assert!(result_line(&stale).contains("STILL SERVES THE OLD COPY"));
    }

    #[test]
    fn an_instance_line_waits_then_shows_its_answer_or_its_counts() {
        let a = row("10.0.0.1:6081", Outcome::Purged);
        let mut b = row("10.0.0.1:6081", Outcome::Failed);
        b.url = "https://www.example.com/b".to_owned();
        assert_eq!(instance_line("10.0.0.1:6081", &[], 1), "10.0.0.1:6081          waiting…");
        assert_eq!(instance_line("10.0.0.1:6081", &[&a], 1), "10.0.0.1:6081          purged  (HTTP 200; 3 ms)");
        assert_eq!(instance_line("10.0.0.1:6081", &[&a], 2), "10.0.0.1:6081          1/2 answered: 1 purged");
        assert_eq!(
            instance_line("10.0.0.1:6081", &[&a, &b], 2),
            "10.0.0.1:6081          2/2 answered: 1 purged, 1 failed (connection refused)"
        );
    }

    #[test]
    fn the_summary_counts_outcomes_and_names_what_is_queued() {
        let partial = report(vec![row("10.0.0.1:6081", Outcome::Purged), row("10.0.0.2:6081", Outcome::Failed)]);
        assert_eq!(
            summary_line(&partial),
            "Partly purged: 1 purged, 0 not cached, 0 rejected, 1 failed (2 instances, 2 requests); \
             1 queued for redelivery (edgepurge deliveries)"
        );
        let mut all = report(vec![row("10.0.0.1:6081", Outcome::Unconfirmed)]);
        all.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned());
        assert_eq!(
            summary_line(&all),
            "All purged: 0 purged, 0 not cached, 1 unconfirmed, 0 rejected, 0 failed (1 instances, 1 requests); \
             trace 4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn a_problem_reads_as_title_status_and_detail() {
        let problem = Problem {
            type_: "urn:edgepurge:problem:host-not-allowed".to_owned(),
            title: "Host not allowed".to_owned(),
            status: 403,
            detail: "\"evil.example\" is not in ALLOWED_HOSTS".to_owned(),
            source: ErrorSource::Caller,
            retryable: false,
            setting: None,
            subject: Some("https://evil.example/x".to_owned()),
        };
        assert_eq!(
            problem_message(&problem),
            "Host not allowed (HTTP 403): \"evil.example\" is not in ALLOWED_HOSTS\n  subject: https://evil.example/x"
        );
        let busy = Problem { retryable: true, subject: None, setting: Some("DISCOVERY".to_owned()), ..problem };
        assert!(problem_message(&busy).ends_with("setting: DISCOVERY\n  the same request may succeed later"));
        assert_eq!(bare_refusal(502, "  <html>bad gateway</html>\n"), "HTTP 502: <html>bad gateway</html>");
        assert_eq!(bare_refusal(500, ""), "HTTP 500: (no body)");
    }

    fn verify_row(instance: &str, hit: Option<bool>) -> VerifyResult {
        VerifyResult {
            instance: instance.to_owned(),
            http_status: hit.map(|_| 200),
            cache_status: hit.map(|h| if h { "edge; hit".to_owned() } else { "edge; fwd=uri-miss".to_owned() }),
            hit,
            fwd: (hit == Some(false)).then(|| "uri-miss".to_owned()),
            ttl: None,
            age: None,
            format: None,
            error: hit.is_none().then(|| "connection refused".to_owned()),
        }
    }

    #[test]
    fn verify_is_0_when_every_instance_missed_and_2_otherwise() {
        let url = "https://www.example.com/a".to_owned();
        let fresh = VerifyReport { url: url.clone(), results: vec![verify_row("a:1", Some(false)); 2] };
        assert_eq!(verify_exit(&fresh), 0);
        assert_eq!(verify_summary(&fresh), "Fresh everywhere: 2 instances, 2 miss, 0 hit, 0 without a verdict");
        let hit = VerifyReport {
            url: url.clone(),
            results: vec![verify_row("a:1", Some(false)), verify_row("b:1", Some(true))],
        };
        assert_eq!(verify_exit(&hit), 2);
        let unknown = VerifyReport { url: url.clone(), results: vec![verify_row("a:1", None)] };
        assert_eq!(verify_exit(&unknown), 2);
        assert_eq!(verify_exit(&VerifyReport { url, results: vec![] }), 2, "no instance said anything");
        assert_eq!(
            verify_line(&verify_row("10.0.0.1:6081", Some(false))),
            "10.0.0.1:6081          miss (fwd=uri-miss)  (HTTP 200; Cache-Status: edge; fwd=uri-miss)"
        );
        assert_eq!(
            verify_line(&verify_row("10.0.0.1:6081", None)),
            "10.0.0.1:6081          no verdict: connection refused"
        );
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00Z");
        assert_eq!(utc(1_764_939_845_123), "2025-12-05 13:04:05Z");
        assert_eq!(utc(-1000), "1969-12-31 23:59:59Z");
    }

    #[test]
    fn a_history_entry_reads_on_one_line() {
        // Built from its JSON, as the API sends it (fields added later keep their defaults).
        let entry: HistoryEntry = serde_json::from_value(serde_json::json!({
            "id": 42, "at": 0, "actor": "admin", "urls": ["https://www.example.com/a"], "item_count": 3,
            "status": "denied", "http_status": 403, "detail": "not in ALLOWED_HOSTS",
        }))
        .expect("an entry");
        assert_eq!(
            history_line(&entry),
            "#42     1970-01-01 00:00:00Z  denied   403 admin        https://www.example.com/a (+2 more)  (not in ALLOWED_HOSTS)"
        );
        let with_token = HistoryEntry { token: Some("ci".into()), item_count: Some(1), detail: None, ..entry };
        assert_eq!(
            history_line(&with_token),
            "#42     1970-01-01 00:00:00Z  denied   403 admin [ci]   https://www.example.com/a"
        );
        let page = HistoryPage { entries: vec![], next_before: None };
        assert_eq!(history_lines(&page), ["no entries"]);
    }

    #[test]
    fn instances_list_each_host_and_a_failed_discovery_is_exit_2() {
        let mut reply = InstancesReply {
            hosts: vec![HostInstances {
                host: "www.example.com".to_owned(),
                discovery: "dns:instances.example.net:443:tls".to_owned(),
                transport: Transport::Tls,
                contract: Contract::Edgepurge,
                instances: vec!["192.0.2.1:443".to_owned()],
                error: None,
                last: vec![],
                skipped: vec![],
                upstreams: vec!["fastly:SU1Z0isxPaozGVKXdv0eY".to_owned()],
            }],
            stats: vec![],
        };
        assert_eq!(instances_exit(&reply), 0);
        assert_eq!(
            instances_lines(&reply),
            [
                "www.example.com  dns:instances.example.net:443:tls (tls, edgepurge contract): 1 instance",
                "  192.0.2.1:443",
                "  upstream fastly:SU1Z0isxPaozGVKXdv0eY",
            ]
        );
        reply.hosts[0].error = Some(Problem {
            type_: "urn:edgepurge:problem:discovery".to_owned(),
            title: "Discovery failed".to_owned(),
            status: 502,
            detail: "NXDOMAIN".to_owned(),
            source: ErrorSource::Discovery,
            retryable: true,
            setting: None,
            subject: None,
        });
        assert_eq!(instances_exit(&reply), 2);
        assert!(instances_lines(&reply)[1].starts_with("  discovery failed: Discovery failed (HTTP 502): NXDOMAIN"));
    }

    #[test]
    fn deliveries_show_counts_then_rows() {
        let reply = DeliveriesReply {
            pending: 1,
            delivered: 0,
            abandoned: 0,
            deliveries: vec![edgepurge_core::api::Delivery {
                id: 7,
                purge_id: 42,
                url: "https://www.example.com/a".to_owned(),
                instance: "10.0.0.2:6081".to_owned(),
                status: DeliveryStatus::Pending,
                attempts: 1,
                first_at: 0,
                next_at: 60_000,
                updated_at: 0,
                last_error: Some("connection refused".to_owned()),
            }],
        };
        assert_eq!(
            deliveries_lines(&reply),
            [
                "1 pending, 0 delivered, 0 abandoned",
                "#7      pending   10.0.0.2:6081          https://www.example.com/a  purge #42, 1 attempt, \
                 updated 1970-01-01 00:00:00Z, next 1970-01-01 00:01:00Z (connection refused)",
            ]
        );
    }
}
