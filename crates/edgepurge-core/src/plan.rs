//! Planning: URLs x instances -> one queue of `PURGE`s per instance, under a concurrency cap.
//!
//! Workers allows 6 simultaneous outgoing connections per invocation and caps subrequests, so
//! the plan opens one connection per instance and sends that instance's purges on it, pipelined
//! (HTTP/1.1 keep-alive; the driver closes it after the last answer). At most
//! [`Plan::concurrency`] instances are worked on at once; the rest wait their turn.

use crate::api::PlanSummary;
use crate::dialect::Support;
use crate::discovery::Instance;
use crate::error::{ApiError, ErrorKind};
use crate::http1::{add_field, head_request_via, FieldValue};
use crate::purge::Purge;
use crate::target::Target;
use crate::trace::{SpanIds, TraceContext};
use crate::upstream::{Call, Upstream};
use std::collections::BTreeMap;

/// One request on an instance's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    /// Index into [`Plan::purges`].
    pub target: usize,
    /// The complete HTTP/1.1 request.
    pub bytes: Vec<u8>,
    /// Whether it is a `HEAD` request (its answer has no body): in a purge plan, the
    /// confirmation of the `PURGE` of the same target before it.
    pub head: bool,
    /// Whether it lets the connection carry more requests (`Connection: keep-alive`); a
    /// request that asks the instance to close ends what can be sent on its connection.
    pub keep_alive: bool,
    /// For a `HEAD` of a named URL (`confirm_urls`): that URL, which the verdict names.
    pub confirms: Option<String>,
}

/// One request a purge puts on an instance's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Send {
    /// Its `PURGE`.
    Purge,
    /// A `HEAD` of its own URL.
    Head,
    /// A `HEAD` of a URL named to confirm it (an index into [`Confirm::named`]).
    Named(usize),
}

/// What to confirm with `HEAD`s right behind the purges (`PurgeRequest::confirm` and
/// `confirm_urls`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirm {
    /// Each URL purge, by a `HEAD` of its URL.
    pub urls: bool,
    /// Key, prefix and host purges, by a `HEAD` of each of these they cover.
    pub named: Vec<Target>,
}

/// The most `HEAD`s of named URLs one instance's queue may carry (purges x URLs they cover).
pub const MAX_NAMED_HEADS: usize = 100;

/// Whether a `HEAD` of `url` on `instance` says something about purge `p` there: `p` is a key
/// purge of instances that serve `url`'s host, a prefix `url` starts with, or `url`'s host.
fn covers(p: &Purge, url: &Target, instance: &Instance, instances: &BTreeMap<String, Vec<Instance>>) -> bool {
    let serves = instances.get(url.host()).is_some_and(|list| list.contains(instance));
    serves
        && match p {
            Purge::Url { .. } => false,
            Purge::Key { .. } => true,
            Purge::Prefix { target } => {
                target.authority() == url.authority() && url.path_and_query().starts_with(target.path_and_query())
            }
            Purge::Host { host } => host == url.host(),
        }
}

/// Each instance's queue of purge indices, for the hosts its purges name. A purge no instance
/// of its host can do is a 400, unless an upstream group beside them does it (`upstreams`).
fn queues(
    purges: &[Purge],
    instances: &BTreeMap<String, Vec<Instance>>,
    upstreams: &[(String, Upstream)],
) -> Result<BTreeMap<Instance, Vec<usize>>, ApiError> {
    let mut queues: BTreeMap<Instance, Vec<usize>> = BTreeMap::new();
    for (i, p) in purges.iter().enumerate() {
        let addrs = instances.get(p.host()).filter(|a| !a.is_empty()).ok_or_else(|| {
            ApiError::new(ErrorKind::DiscoveryFailed, format!("no instances known for host {}", p.host()))
                .with_subject(p.host())
        })?;
        // Never a request an instance would misread (`request::purges_for` refuses or skips
        // such items first, naming the group; this holds for any other caller too).
        let able = addrs.iter().filter(|at| at.dialect.support(p) != Support::No).collect::<Vec<_>>();
        let upstream = upstreams.iter().any(|(h, u)| h == p.host() && u.support(p) != Support::No);
        if able.is_empty() && !upstream {
            let why = addrs.first().and_then(|at| at.dialect.refusal(p)).unwrap_or_default();
            return Err(ApiError::bad_request(format!("{}: {why}", p.label())).with_subject(p.label()));
        }
        for instance in able {
            queues.entry(instance.clone()).or_default().push(i);
        }
    }
    Ok(queues)
}

/// All requests for one instance, sent in order over one connection where it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Where to connect, and how.
    pub instance: Instance,
    /// What to send, in order.
    pub requests: Vec<PlannedRequest>,
}

/// The calls to one upstream CDN group (a Fastly service, a Cloudflare zone), sent through
/// `fetch` beside the instances' jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamJob {
    /// The group.
    pub upstream: Upstream,
    /// Its calls, each carrying some of the plan's items.
    pub calls: Vec<Call>,
}

/// The whole fan-out of one purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The purges, deduplicated, in request order.
    pub purges: Vec<Purge>,
    /// One job per instance (and TLS name), ordered by address.
    pub jobs: Vec<Job>,
    /// Jobs run at once, at most.
    pub concurrency: usize,
    /// The order the jobs start in, as indices into `jobs` ([`Plan::slowest_first`]); empty
    /// for plan order.
    pub start: Vec<usize>,
    /// The upstream groups' calls ([`Plan::confirming_with`]); their report rows come after the
    /// jobs' (job index `jobs.len() + u`).
    pub upstream: Vec<UpstreamJob>,
}

/// What a report row takes besides its label and instance name (field names, outcome, status,
/// times, flags), about.
pub const ROW_OVERHEAD_BYTES: usize = 200;

impl Plan {
    /// Plans each purge on every instance of its host; with `confirm`, a `HEAD` of each URL
    /// right behind its `PURGE` on the same connection.
    ///
    /// `instances` maps each purge's host to the instances serving it; a host without an entry,
    /// or with none, is an error rather than a silently skipped purge.
    pub fn build(
        purges: Vec<Purge>,
        instances: &BTreeMap<String, Vec<Instance>>,
        purge_token: &FieldValue,
        concurrency: usize,
        confirm: bool,
    ) -> Result<Plan, ApiError> {
        Plan::confirming(purges, instances, purge_token, concurrency, &Confirm { urls: confirm, named: Vec::new() })
    }

    /// [`Plan::build`] with what `confirm` asks for: a `HEAD` right behind each URL's `PURGE`,
    /// and of each named URL right behind each key, prefix or host `PURGE` that covers it on
    /// that instance (its row then carries the verdict). A named URL no purge covers is a 400,
    /// as is a queue of more than [`MAX_NAMED_HEADS`] such `HEAD`s.
    pub fn confirming(
        purges: Vec<Purge>,
        instances: &BTreeMap<String, Vec<Instance>>,
        purge_token: &FieldValue,
        concurrency: usize,
        confirm: &Confirm,
    ) -> Result<Plan, ApiError> {
        Plan::confirming_with(purges, instances, &[], purge_token, concurrency, confirm)
    }

    /// [`Plan::confirming`] with the upstream groups beside the instances (`Config::upstreams`):
    /// each group gets the items of its host it can do, in as few calls as its vendor allows.
    /// An upstream call is a connection too: while there are any, one fewer instance is worked
    /// on at once, so the invocation's connections stay within `concurrency`.
    pub fn confirming_with(
        purges: Vec<Purge>,
        instances: &BTreeMap<String, Vec<Instance>>,
        upstreams: &[(String, Upstream)],
        purge_token: &FieldValue,
        concurrency: usize,
        confirm: &Confirm,
    ) -> Result<Plan, ApiError> {
        let queues = queues(&purges, instances, upstreams)?;
        let named = |p: &Purge, at: &Instance| {
            let covered = confirm.named.iter().enumerate().filter(|(_, u)| covers(p, u, at, instances));
            covered.map(|(i, _)| i).collect::<Vec<_>>()
        };
        for (i, url) in confirm.named.iter().enumerate() {
            if !queues.iter().any(|(at, queue)| queue.iter().any(|&t| covers(&purges[t], url, at, instances))) {
                return Err(ApiError::bad_request(format!(
                    "confirm_urls[{i}]: no key, prefix or host purge of this request covers {}",
                    url.url()
                ))
                .with_subject(url.url()));
            }
        }
        for (at, queue) in &queues {
            let heads: usize = queue.iter().map(|&t| named(&purges[t], at).len()).sum();
            if heads > MAX_NAMED_HEADS {
                return Err(ApiError::bad_request(format!(
                    "confirm_urls: {heads} HEADs on {} (purges x the URLs they cover); at most {MAX_NAMED_HEADS}",
                    at.key()
                )));
            }
        }
        let sends = |p: &Purge, at: &Instance| {
            let mut sends = vec![Send::Purge];
            if confirm.urls && p.url_target().is_some() {
                sends.push(Send::Head);
            }
            sends.extend(named(p, at).into_iter().map(Send::Named));
            sends
        };
        let mut plan = Plan::from_queues(purges, queues, concurrency, sends, Some(purge_token), &confirm.named);
        plan.add_upstreams(upstreams.iter().map(|(h, u)| (h.as_str(), u)));
        Ok(plan)
    }

    /// Adds each upstream group's calls for the items of the hosts it serves (`(host, group)`
    /// pairs; a group beside several hosts is one job), and makes room for them in the
    /// concurrency.
    pub fn add_upstreams<'a>(&mut self, groups: impl IntoIterator<Item = (&'a str, &'a Upstream)>) {
        let mut items: Vec<(&Upstream, Vec<usize>)> = Vec::new();
        for (host, upstream) in groups {
            let mine = self.purges.iter().enumerate().filter(|(_, p)| p.host() == host).map(|(i, _)| i);
            match items.iter_mut().find(|(u, _)| *u == upstream) {
                Some((_, list)) => list.extend(mine),
                None => items.push((upstream, mine.collect())),
            }
        }
        for (upstream, mut list) in items {
            list.sort_unstable();
            self.push_upstream(upstream.clone(), &list);
        }
        if !self.upstream.is_empty() && self.concurrency > 1 {
            self.concurrency -= 1;
        }
    }

    /// Plans exactly the given (purge, upstream group) pairs: background redelivery of what an
    /// upstream left to do, with no instance job.
    pub fn for_upstream_pairs(pairs: Vec<(Purge, Upstream)>, concurrency: usize) -> Plan {
        let mut plan = Plan {
            purges: Vec::new(),
            jobs: Vec::new(),
            concurrency: concurrency.max(1),
            start: Vec::new(),
            upstream: Vec::new(),
        };
        let mut groups: Vec<(Upstream, Vec<usize>)> = Vec::new();
        for (purge, upstream) in pairs {
            let i = plan.purges.iter().position(|p| *p == purge).unwrap_or_else(|| {
                plan.purges.push(purge);
                plan.purges.len() - 1
            });
            match groups.iter_mut().find(|(u, _)| *u == upstream) {
                Some((_, list)) => list.push(i),
                None => groups.push((upstream, vec![i])),
            }
        }
        for (upstream, list) in groups {
            plan.push_upstream(upstream, &list);
        }
        plan
    }

    /// Adds `upstream`'s calls for `items` (indices into `purges`), when it can do any of them.
    fn push_upstream(&mut self, upstream: Upstream, items: &[usize]) {
        let calls = upstream.calls(&self.purges, items);
        if !calls.is_empty() {
            self.upstream.push(UpstreamJob { upstream, calls });
        }
    }

    /// Plans exactly the given (purge, instance) pairs: background redelivery, where each
    /// pair is what failed before, not a host's whole instance group.
    pub fn for_pairs(pairs: Vec<(Purge, Instance)>, purge_token: &FieldValue, concurrency: usize) -> Plan {
        let mut purges: Vec<Purge> = Vec::new();
        let mut queues: BTreeMap<Instance, Vec<usize>> = BTreeMap::new();
        for (purge, addr) in pairs.into_iter().filter(|(p, at)| at.dialect.support(p) != Support::No) {
            let i = purges.iter().position(|p| *p == purge).unwrap_or_else(|| {
                purges.push(purge);
                purges.len() - 1
            });
            let queue = queues.entry(addr).or_default();
            if !queue.contains(&i) {
                queue.push(i);
            }
        }
        Plan::from_queues(purges, queues, concurrency, |_, _| vec![Send::Purge], Some(purge_token), &[])
    }

    /// Plans a `HEAD` of each URL on every instance of its host, for verification.
    pub fn verify(
        targets: Vec<crate::target::Target>,
        instances: &BTreeMap<String, Vec<Instance>>,
        concurrency: usize,
    ) -> Result<Plan, ApiError> {
        let purges: Vec<Purge> = targets.into_iter().map(|target| Purge::Url { target, soft: false }).collect();
        let queues = queues(&purges, instances, &[])?;
        Ok(Plan::from_queues(purges, queues, concurrency, |_, _| vec![Send::Head], None, &[]))
    }

    /// One job per instance from its queue of purge indices, each purge sent as `sends` says
    /// (a `PURGE`, a `HEAD`, or both in that order). Every request keeps the connection alive,
    /// the last too: the delivery machine closes it after the last answer, and a retry can
    /// still use it until then (a `Connection: close` on the wire would need a new one).
    fn from_queues(
        purges: Vec<Purge>,
        queues: BTreeMap<Instance, Vec<usize>>,
        concurrency: usize,
        sends: impl Fn(&Purge, &Instance) -> Vec<Send>,
        purge_token: Option<&FieldValue>,
        named: &[Target],
    ) -> Plan {
        let jobs = queues
            .into_iter()
            .map(|(instance, idx)| {
                let planned: Vec<(usize, Send)> = idx
                    .iter()
                    .flat_map(|&t| sends(&purges[t], &instance).into_iter().map(move |send| (t, send)))
                    .collect();
                let requests = planned
                    .into_iter()
                    .map(|(target, send)| {
                        let (purge, keep_alive, routing) = (&purges[target], true, instance.routing());
                        let head = |t: Option<&Target>, routing| {
                            t.map(|t| head_request_via(t, routing, keep_alive)).unwrap_or_default()
                        };
                        let bytes = match (send, purge_token) {
                            (Send::Purge, Some(token)) => {
                                instance.dialect.request(purge, token, routing, keep_alive).unwrap_or_default()
                            }
                            (Send::Named(i), _) => head(named.get(i), routing),
                            _ => head(purge.url_target(), routing),
                        };
                        let confirms = match send {
                            Send::Named(i) => named.get(i).map(|t| t.url().to_owned()),
                            _ => None,
                        };
                        PlannedRequest { target, bytes, head: send != Send::Purge, keep_alive, confirms }
                    })
                    .collect();
                Job { instance, requests }
            })
            .collect();
        Plan { purges, jobs, concurrency: concurrency.max(1), start: Vec::new(), upstream: Vec::new() }
    }

    /// The jobs `jobs` (indices into this plan's), in that order, as a plan of their own with
    /// no purges: what one shard runs.
    pub fn subset(&self, jobs: &[usize]) -> Plan {
        let jobs = jobs.iter().filter_map(|&j| self.jobs.get(j).cloned()).collect();
        Plan { purges: Vec::new(), jobs, concurrency: self.concurrency, start: Vec::new(), upstream: Vec::new() }
    }

    /// Starts the slowest instances first, by `latency_ms` (each instance's recent typical
    /// request time, keyed as reports name instances), those with no figure before all (nothing
    /// says they are fast), ties in plan order. With more instances than `concurrency` running
    /// in one invocation, the slow ones then overlap the later waves instead of being one.
    /// Reports keep plan order.
    pub fn slowest_first(&mut self, latency_ms: &BTreeMap<String, u32>) {
        let mut order: Vec<usize> = (0..self.jobs.len()).collect();
        order.sort_by_key(|&j| {
            std::cmp::Reverse(latency_ms.get(&self.jobs[j].instance.key()).copied().unwrap_or(u32::MAX))
        });
        self.start = order;
    }

    /// The indices of the jobs in the order they start.
    pub fn start_order(&self) -> Vec<usize> {
        if self.start.len() == self.jobs.len() {
            self.start.clone()
        } else {
            (0..self.jobs.len()).collect()
        }
    }

    /// Whether the plan has more instances than one invocation works on at once: where shards
    /// are available, it runs in them (`shard::split`).
    pub fn needs_shards(&self) -> bool {
        self.jobs.len() > self.concurrency
    }

    /// The jobs whose connections may open while the purge is still being written to the
    /// history (before any request is sent): the first of the start order, at most
    /// `concurrency - 1`, so that with the one connection the history write may hold, no more
    /// than `concurrency` are ever open. The handshakes then overlap that write instead of
    /// following it. None when the plan runs in shards (`sharded`): the shard requests go first
    /// there, and this invocation's own connections only after them (`shard::split`).
    pub fn early_connects(&self, sharded: bool) -> Vec<usize> {
        if sharded && self.needs_shards() {
            return Vec::new();
        }
        let mut order = self.start_order();
        order.truncate(self.concurrency.saturating_sub(1));
        order
    }

    /// Refuses (422) a plan needing more instance connections than `budget` (the platform caps
    /// subrequests per invocation: 50 on Workers' free plan, 1,000 or more on paid plans), so a
    /// purge is refused up front instead of failing halfway.
    pub fn check_budget(&self, budget: usize) -> Result<(), ApiError> {
        let s = self.summary();
        // Each upstream call is a subrequest of its own.
        if s.instances + self.upstream_calls() <= budget {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorKind::OverBudget,
            format!(
                "this purge needs {} connections ({} requests) to instances and {} upstream calls; \
                 SUBREQUEST_BUDGET leaves {budget} after discovery",
                s.instances,
                s.requests,
                self.upstream_calls()
            ),
        ))
    }

    /// Makes every request carry the `traceparent` of its own span (`SpanIds::id("request",
    /// job, request)`), so an instance's logs tie each `PURGE` to the span that records it.
    pub fn trace(&mut self, context: &TraceContext, ids: &SpanIds) {
        for (j, job) in self.jobs.iter_mut().enumerate() {
            for (r, request) in job.requests.iter_mut().enumerate() {
                if let Some(value) = FieldValue::new(&context.traceparent(ids.id("request", j, r))) {
                    request.bytes = add_field(&request.bytes, "traceparent", &value);
                }
            }
        }
    }

    /// About how many bytes this plan's JSON report takes: each row's label and instance name,
    /// and [`ROW_OVERHEAD_BYTES`] for the rest of the row. Known before anything is sent.
    pub fn report_bytes(&self) -> usize {
        let labels: Vec<usize> = self.purges.iter().map(|p| p.label().len()).collect();
        self.jobs
            .iter()
            .map(|j| {
                let key = j.instance.key().len();
                let rows = j.requests.iter().filter(|r| !r.head);
                rows.map(|r| labels.get(r.target).copied().unwrap_or(0) + key + ROW_OVERHEAD_BYTES).sum::<usize>()
            })
            .sum::<usize>()
            + self
                .upstream
                .iter()
                .flat_map(|u| u.calls.iter().flat_map(|c| c.items.iter()).map(move |&i| (u.upstream.key().len(), i)))
                .map(|(key, i)| labels.get(i).copied().unwrap_or(0) + key + ROW_OVERHEAD_BYTES)
                .sum::<usize>()
    }

    /// How many upstream calls the plan makes.
    pub fn upstream_calls(&self) -> usize {
        self.upstream.iter().map(|u| u.calls.len()).sum()
    }

    /// Refuses (413) a plan whose report would pass `max_bytes`, saying how many items a request
    /// may carry instead: the report is built whole in memory. A plan refused here sends nothing.
    pub fn check_report(&self, max_bytes: usize) -> Result<(), ApiError> {
        let bytes = self.report_bytes();
        if bytes <= max_bytes {
            return Ok(());
        }
        let items = self.purges.len().max(1);
        let fit = (max_bytes / bytes.div_ceil(items)).max(1);
        Err(ApiError::new(
            ErrorKind::ReportTooLarge,
            format!(
                "this purge's report would take about {} KB ({items} items to {} instances), over MAX_REPORT_BYTES \
                 ({} KB): send it as requests of at most {fit} items each",
                bytes / 1024,
                self.jobs.len(),
                max_bytes / 1024
            ),
        )
        .with_setting("MAX_REPORT_BYTES"))
    }

    /// Instances, requests and the effective concurrency of this plan.
    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            instances: self.jobs.len(),
            requests: self.jobs.iter().map(|j| j.requests.len()).sum(),
            concurrency: self.concurrency.min(self.jobs.len()),
        }
    }
}
