//! Planning: URLs x instances -> one queue of `PURGE`s per instance, under a concurrency cap.
//!
//! Workers allows 6 simultaneous outgoing connections per invocation and caps subrequests, so
//! the plan opens one connection per instance and sends that instance's purges one after the
//! other on it (HTTP/1.1 keep-alive; the last asks the instance to close). At most
//! [`Plan::concurrency`] instances are worked on at once; the rest wait their turn.

use crate::api::PlanSummary;
use crate::error::{ApiError, ErrorKind};
use crate::http1::{head_request, purge_request, FieldValue};
use crate::target::Target;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One request on an instance's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    /// Index into [`Plan::targets`].
    pub target: usize,
    /// The complete HTTP/1.1 request.
    pub bytes: Vec<u8>,
    /// Whether it is a `HEAD` request (its answer has no body).
    pub head: bool,
}

/// All requests for one instance, sent in order over one connection where it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Where to connect.
    pub instance: SocketAddr,
    /// What to send, in order.
    pub requests: Vec<PlannedRequest>,
}

/// The whole fan-out of one purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The URLs, deduplicated, in request order.
    pub targets: Vec<Target>,
    /// One job per instance, ordered by address.
    pub jobs: Vec<Job>,
    /// Jobs run at once, at most.
    pub concurrency: usize,
}

impl Plan {
    /// Plans purging each target on every instance of its host.
    ///
    /// `instances` maps each target's host to the instances serving it; a host without an entry,
    /// or with none, is an error rather than a silently skipped URL.
    pub fn build(
        targets: Vec<Target>,
        instances: &BTreeMap<String, Vec<SocketAddr>>,
        purge_token: &FieldValue,
        concurrency: usize,
    ) -> Result<Plan, ApiError> {
        Plan::build_with(targets, instances, concurrency, false, |t, keep_alive| {
            purge_request(t, purge_token, keep_alive)
        })
    }

    /// Plans exactly the given (target, instance) pairs: background redelivery, where each
    /// pair is what failed before, not a target's whole host.
    pub fn for_pairs(pairs: Vec<(Target, SocketAddr)>, purge_token: &FieldValue, concurrency: usize) -> Plan {
        let mut targets: Vec<Target> = Vec::new();
        let mut queues: BTreeMap<SocketAddr, Vec<usize>> = BTreeMap::new();
        for (target, addr) in pairs {
            let i = targets.iter().position(|t| *t == target).unwrap_or_else(|| {
                targets.push(target);
                targets.len() - 1
            });
            let queue = queues.entry(addr).or_default();
            if !queue.contains(&i) {
                queue.push(i);
            }
        }
        Plan::from_queues(targets, queues, concurrency, false, |t, keep_alive| {
            purge_request(t, purge_token, keep_alive)
        })
    }

    /// Plans a `HEAD` of each target on every instance of its host, for verification.
    pub fn verify(
        targets: Vec<Target>,
        instances: &BTreeMap<String, Vec<SocketAddr>>,
        concurrency: usize,
    ) -> Result<Plan, ApiError> {
        Plan::build_with(targets, instances, concurrency, true, |t, _| head_request(t))
    }

    fn build_with(
        targets: Vec<Target>,
        instances: &BTreeMap<String, Vec<SocketAddr>>,
        concurrency: usize,
        head: bool,
        write: impl Fn(&Target, bool) -> Vec<u8>,
    ) -> Result<Plan, ApiError> {
        let mut queues: BTreeMap<SocketAddr, Vec<usize>> = BTreeMap::new();
        for (i, t) in targets.iter().enumerate() {
            let addrs = instances.get(t.host()).filter(|a| !a.is_empty()).ok_or_else(|| {
                ApiError::new(ErrorKind::DiscoveryFailed, format!("no instances known for host {}", t.host()))
                    .with_subject(t.host())
            })?;
            for addr in addrs {
                queues.entry(*addr).or_default().push(i);
            }
        }
        Ok(Plan::from_queues(targets, queues, concurrency, head, write))
    }

    /// One job per instance from its queue of target indices; every request keeps the connection
    /// alive but the last.
    fn from_queues(
        targets: Vec<Target>,
        queues: BTreeMap<SocketAddr, Vec<usize>>,
        concurrency: usize,
        head: bool,
        write: impl Fn(&Target, bool) -> Vec<u8>,
    ) -> Plan {
        let jobs = queues
            .into_iter()
            .map(|(instance, idx)| {
                let last = idx.len() - 1;
                let requests = idx
                    .iter()
                    .enumerate()
                    .map(|(n, &target)| PlannedRequest { target, bytes: write(&targets[target], n != last), head })
                    .collect();
                Job { instance, requests }
            })
            .collect();
        Plan { targets, jobs, concurrency: concurrency.max(1) }
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
