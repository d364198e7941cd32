//! The instance check (`POST /api/instances/check`): what each instance really speaks.
//!
//! Every instance of every group (each distinct `DISCOVERY` rule, addressed as its first
//! allowed host) is sent, on one connection, a `PURGE` of [`CHECK_PATH`] in its rule's dialect
//! (a path no site caches, so nothing is lost) and a `HEAD` of `/`. Its answers say whether it
//! is reachable (over TLS with a valid certificate, where the rule says TLS), whether it takes
//! the purge token, which contract it speaks (`Purge-Count` is the edgepurge VCL's mark), and
//! whether its cache status can be read; [`row`] turns them into one [`InstanceCheck`] with a
//! warning where the rule and the instance disagree.

use crate::api::{Contract, GroupError, HistoryStatus, InstanceCheck, CHECK_PATH};
use crate::config::Config;
use crate::discovery::{DiscoveryRule, Instance};
use crate::http1::{head_request_via, Answer, FieldValue};
use crate::outcome::{DeliveryError, PURGE_COUNT_HEADER};
use crate::plan::{Job, Plan, PlannedRequest};
use crate::purge::Purge;
use crate::target::Target;
use crate::verify::read_answer;

/// One group to check: its rule, the host it is checked as, and (once discovered) its
/// instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckGroup<'c> {
    /// How reports name the group: `host=rule`.
    pub name: String,
    /// The host it is checked as.
    pub host: String,
    /// Its rule.
    pub rule: &'c DiscoveryRule,
}

/// Every distinct rule of `config` with the first allowed host it covers, in `ALLOWED_HOSTS`
/// order: the groups a check goes to.
pub fn groups(config: &Config) -> Vec<CheckGroup<'_>> {
    let groups = config.groups().into_iter();
    groups.map(|(host, rule)| CheckGroup { name: rule.group_name(host), host: host.to_owned(), rule }).collect()
}

/// The check's plan: for each group (by index into `found`, its instances), each instance's
/// `PURGE` of [`CHECK_PATH`] and `HEAD` of `/`, on one connection.
pub fn plan(found: &[(&CheckGroup<'_>, Vec<Instance>)], token: &FieldValue, concurrency: usize) -> Plan {
    let mut purges = Vec::with_capacity(found.len());
    let mut jobs = Vec::new();
    for (g, (group, instances)) in found.iter().enumerate() {
        let Ok(reserved) = Target::parse(&format!("https://{}{CHECK_PATH}", group.host)) else { continue };
        let Ok(home) = Target::parse(&format!("https://{}/", group.host)) else { continue };
        let purge = Purge::Url { target: reserved, soft: false };
        for instance in instances {
            let Some(bytes) = instance.dialect.request(&purge, token, instance.routing(), true) else { continue };
            let request = |bytes, head| PlannedRequest { target: g, bytes, head, keep_alive: true, confirms: None };
            let head = head_request_via(&home, instance.routing(), true);
            jobs.push(Job { instance: instance.clone(), requests: vec![request(bytes, false), request(head, true)] });
        }
        purges.push(purge);
    }
    Plan { purges, jobs, concurrency: concurrency.max(1), start: Vec::new(), upstream: Vec::new() }
}

/// Each job's answers, as the fan-out hands them back: the `PURGE`'s and the `HEAD`'s.
pub type Replies = [Option<Result<Answer, DeliveryError>>; 2];

/// The check's rows, one per job of `plan` (made by [`plan`] from `found`), from what each
/// job's requests got back (a request that never finished: no answer).
pub fn rows(found: &[(&CheckGroup<'_>, Vec<Instance>)], plan: &Plan, replies: Vec<Replies>) -> Vec<InstanceCheck> {
    let unanswered = || Err(DeliveryError::Relayed("no answer: the check ended before this request finished".into()));
    plan.jobs
        .iter()
        .zip(replies)
        .filter_map(|(job, [purge, head])| {
            let (group, _) = found.get(job.requests.first()?.target)?;
            Some(row(group, &job.instance, &purge.unwrap_or_else(unanswered), head.as_ref()))
        })
        .collect()
}

/// How the history keeps a check: `purged` when every instance was checked without a warning,
/// `failed` when none could be reached, else `partial`.
pub fn history_status(results: &[InstanceCheck], errors: &[GroupError]) -> HistoryStatus {
    let warned = results.iter().any(|r| r.warning.is_some()) || !errors.is_empty();
    match (warned, results.iter().any(|r| r.reachable)) {
        (false, _) => HistoryStatus::Purged,
        (true, true) => HistoryStatus::Partial,
        (true, false) => HistoryStatus::Failed,
    }
}

/// One instance's row from its answers to the check's `PURGE` and `HEAD` (`None` when the
/// `HEAD` never finished).
pub fn row(
    group: &CheckGroup<'_>,
    instance: &Instance,
    purge: &Result<Answer, DeliveryError>,
    head: Option<&Result<Answer, DeliveryError>>,
) -> InstanceCheck {
    let declared = instance.dialect.contract;
    let mut check = InstanceCheck {
        group: group.name.clone(),
        host: group.host.clone(),
        instance: instance.key(),
        declared,
        reachable: false,
        tls_verified: instance.tls.as_ref().map(|_| false),
        token_accepted: None,
        purge_status: None,
        seen: None,
        head_status: None,
        cache_status: None,
        cache_status_format: None,
        warning: None,
        error: None,
    };
    let answer = match purge {
        Ok(answer) => answer,
        Err(e) => {
            check.error = Some(e.to_string());
            check.warning = Some(format!("unreachable: {e}"));
            return check;
        }
    };
    check.reachable = true;
    check.tls_verified = instance.tls.as_ref().map(|_| true);
    check.purge_status = Some(answer.status);
    check.token_accepted = Some(!matches!(answer.status, 401 | 403));
    check.seen = match answer.status {
        _ if answer.header(PURGE_COUNT_HEADER).is_some() => Some(Contract::Edgepurge),
        200..=299 => Some(Contract::Plain),
        _ => None,
    };
    match head {
        Some(Ok(answer)) => {
            let (raw, reading) = read_answer(answer);
            check.head_status = Some(answer.status);
            check.cache_status = raw;
            check.cache_status_format = reading.map(|r| r.format);
        }
        Some(Err(e)) => check.error = Some(format!("HEAD /: {e}")),
        None => check.error = Some("HEAD /: no answer".into()),
    }
    check.warning = warning(&check, instance);
    check
}

/// What to fix, the most pressing first.
fn warning(check: &InstanceCheck, instance: &Instance) -> Option<String> {
    let header = instance.dialect.token_header.as_ref().map_or("no header", |h| h.as_str());
    if check.token_accepted == Some(false) {
        return Some(format!(
            "it refused the purge token ({}): check PURGE_TOKEN against the instance (sent in {header})",
            check.purge_status.unwrap_or_default()
        ));
    }
    match (check.declared, check.seen) {
        (Contract::Edgepurge, Some(Contract::Plain)) => {
            return Some(
                "declared edgepurge, but it answers like a plain PURGE cache (a 2xx without Purge-Count, as \
                 Pipely's return(purge) does): its URL purges are reported unconfirmed, and key, prefix and host \
                 purges sent to it purge only its home page. Add :contract=plain to its rule, or include \
                 vcl/edgepurge.vcl"
                    .into(),
            )
        }
        (Contract::Plain, Some(Contract::Edgepurge)) => {
            return Some(
                "declared plain, but it answers with Purge-Count (the edgepurge VCL): drop :contract=plain from its \
                 rule to purge keys, prefixes and hosts, soft purges, and exact counts"
                    .into(),
            )
        }
        (_, None) => {
            return Some(format!(
                "its answer to PURGE ({}) is not a purge: does it accept PURGE?",
                check.purge_status.unwrap_or_default()
            ))
        }
        _ => {}
    }
    if check.head_status.is_some() && check.cache_status_format.is_none() {
        return Some(
            "its cache status cannot be read (no RFC 9211 Cache-Status, Pipely cache-status, X-Cache or Age): \
             confirm and verify cannot tell a hit from a fresh copy there"
                .into(),
        );
    }
    None
}

/// The history's words for a check: how many instances, and each warning and failed group,
/// bounded (the entry's detail).
pub fn summary(results: &[InstanceCheck], errors: &[GroupError]) -> String {
    const MAX: usize = 4000;
    let warnings = results.iter().filter(|r| r.warning.is_some()).count();
    let mut out = format!("instance check: {} instances, {warnings} with a warning", results.len());
    let lines = results
        .iter()
        .filter_map(|r| r.warning.as_ref().map(|w| format!("{} ({}): {w}", r.instance, r.group)))
        .chain(errors.iter().map(|e| format!("{}: discovery failed: {}", e.group, e.error)));
    for line in lines {
        if out.len() + line.len() + 2 > MAX {
            out.push_str("; ...");
            break;
        }
        out.push_str("; ");
        out.push_str(&line);
    }
    out
}
