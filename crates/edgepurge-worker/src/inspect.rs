//! Looking without purging: verification through `Cache-Status`, the instances discovery
//! finds now, and the instance check (what each instance really speaks).

use crate::ctx::{ctx, json_body, Ctx};
use crate::doh::Resolver;
use crate::fanout::{Finished, Sockets};
use crate::problem::json;
use crate::purge::fan_out_limits;
use crate::shard::{fan_out, Shards};
use crate::store::HistoryRecord;
use crate::trace::Tracer;
use edgepurge_core::api::{
    CheckReport, GroupError, HistoryKind, HostInstances, InstancesReply, VerifyReport, VerifyRequest,
};
use edgepurge_core::auth::Action;
use edgepurge_core::check;
use edgepurge_core::discovery::Instance;
use edgepurge_core::plan::Plan;
use edgepurge_core::stats::{instance_stats, window_start_hour};
use edgepurge_core::target::{printable, Target};
use edgepurge_core::verify::verify_rows;
use edgepurge_core::ApiError;
use futures_util::StreamExt;
use worker::{Env, Request, Response};

/// `POST /api/verify`: a `HEAD` of the URL on every instance serving it, past `CONCURRENCY`
/// instances in shards as a purge is (the trace's root span counts them).
pub async fn verify(req: &mut Request, env: &Env, tracer: &Tracer) -> Result<Response, ApiError> {
    let Ctx { config, identity, .. } = ctx(req, env, Action::Verify).await?;
    tracer.authenticated();
    let request: VerifyRequest = json_body(req).await?;
    let target = Target::parse(&request.url)
        .map_err(|e| ApiError::bad_request(format!("url: {e}")).with_subject(printable(&request.url)))?;
    config.check_host(&target)?;
    identity.grant().host(target.host())?;
    let url = target.url().to_owned();
    let mut resolver = Resolver::new(&config);
    let instances = resolver.resolve_hosts([target.host()]).await?;
    let plan = Plan::verify(vec![target], &instances, config.concurrency)?;
    let budget = config.instance_budget(resolver.subrequests());
    plan.check_budget(budget)?;
    let limits = fan_out_limits(&config, &plan, budget).single_attempt();
    let (sockets, shards) = (Sockets::default(), Shards::from_env(env));
    let replies = fan_out(&plan, limits, &sockets, shards.as_ref()).map(|Finished { job, done }| (job, done.reply));
    let results = verify_rows(&plan, replies.collect().await);
    tracer.fan_out(&sockets, shards.as_ref());
    json(&VerifyReport { url, results }, 200)
}

/// `GET /api/instances`: each allowed host's instances, or why discovery failed, each
/// instance's last purge and its figures over the last 24 hours: the figures of every instance
/// in one store query, whatever the number of hosts and however long the history.
pub async fn instances(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let Ctx { config, store, .. } = ctx(req, env, Action::Read).await?;
    let mut resolver = Resolver::new(&config);
    let mut hosts = Vec::new();
    for host in &config.allowed_hosts {
        let rule = config.discovery_rule(host)?;
        let found = resolver.resolve(&rule.spec).await;
        let skipped = found.as_ref().map(|f| rule.not_serving(f)).unwrap_or_default();
        let (instances, error) = match found.and_then(|f| rule.instances(host, &f)) {
            Ok(found) => (found.iter().map(Instance::key).collect::<Vec<_>>(), None),
            Err(e) => (Vec::new(), Some(e.problem())),
        };
        hosts.push(HostInstances {
            host: host.clone(),
            discovery: rule.to_string(),
            transport: rule.transport,
            contract: rule.dialect.contract,
            instances,
            error,
            last: Vec::new(),
            skipped,
            upstreams: config.upstreams_for(host).map(|u| u.key()).collect(),
        });
    }
    let now = crate::ctx::now_ms();
    let mut found: Vec<String> = hosts.iter().flat_map(|h| h.instances.iter().cloned()).collect();
    found.sort_unstable();
    found.dedup();
    let (last, rollups) = store.instance_figures(&found, window_start_hour(now)).await?;
    for h in &mut hosts {
        h.last = last.iter().filter(|l| h.instances.contains(&l.instance)).cloned().collect();
    }
    json(&InstancesReply { hosts, stats: instance_stats(&rollups, now) }, 200)
}

/// `POST /api/instances/check` (admins): every instance of every group is sent a `PURGE` of a
/// reserved path in its rule's dialect and a `HEAD` of `/`; the core reads what each answer
/// shows (`core::check`). Recorded in the history as a check.
pub async fn check(req: &Request, env: &Env, tracer: &Tracer) -> Result<Response, ApiError> {
    let Ctx { config, store, identity, now } = ctx(req, env, Action::CheckInstances).await?;
    tracer.authenticated();
    let groups = check::groups(&config);
    let mut resolver = Resolver::new(&config);
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    for group in &groups {
        match resolver.resolve(&group.rule.spec).await.and_then(|f| group.rule.instances(&group.host, &f)) {
            Ok(instances) => found.push((group, instances)),
            Err(e) => errors.push(GroupError { group: group.name.clone(), host: group.host.clone(), error: e.detail }),
        }
    }
    let plan = check::plan(&found, &config.purge_token, config.concurrency);
    let budget = config.instance_budget(resolver.subrequests());
    plan.check_budget(budget)?;
    let limits = fan_out_limits(&config, &plan, budget).single_attempt();
    let (sockets, shards) = (Sockets::default(), Shards::from_env(env));
    let mut replies: Vec<check::Replies> = vec![[None, None]; plan.jobs.len()];
    let mut finished = fan_out(&plan, limits, &sockets, shards.as_ref());
    while let Some(Finished { job, done }) = finished.next().await {
        if let Some(slot) = replies.get_mut(job).and_then(|r| r.get_mut(done.request)) {
            *slot = Some(done.reply);
        }
    }
    tracer.fan_out(&sockets, shards.as_ref());
    let results = check::rows(&found, &plan, replies);
    let warnings = results.iter().filter(|r| r.warning.is_some()).count();
    let record = HistoryRecord {
        at: now,
        actor: identity.person.name.clone(),
        token: identity.token.clone(),
        person_id: Some(identity.person.id),
        labels: groups.iter().map(|g| g.name.clone()).collect(),
        status: check::history_status(&results, &errors),
        http_status: 200,
        detail: Some(check::summary(&results, &errors)),
        trace_id: Some(tracer.trace_id()),
        kind: HistoryKind::Check,
        lease: None,
    };
    if let Err(e) = store.record(&record).await {
        worker::console_error!("history write of an instance check failed: {}", e.detail);
    }
    json(&CheckReport { results, warnings, errors, trace_id: Some(tracer.trace_id()) }, 200)
}
