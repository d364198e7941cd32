//! Discovery I/O: DNS-over-HTTPS lookups (RFC 8484, POST with `application/dns-message`), and the
//! `Resolver` every discovery goes through (Fly.io's Machines API is [`crate::fly`]).
//!
//! The core builds each query and judges each answer; this module only carries the bytes,
//! under a timeout, and remembers what it resolved for the rest of the request.

use crate::body::{read_capped, within, Unread};
use crate::trace::{clock, Tracer};
use edgepurge_core::api::SkippedInstance;
use edgepurge_core::config::Config;
use edgepurge_core::discovery::{
    dns_query, instances_from_lookups, parse_answer, refuse_non_public, DiscoverySpec, DnsError, Found, Instance,
    RecordType,
};
use edgepurge_core::trace::{Kind, Span};
use edgepurge_core::ApiError;
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::rc::Rc;
use worker::{AbortSignal, Fetch, Headers, Method, Request, RequestInit};

const DNS_MESSAGE: &str = "application/dns-message";
/// A DNS message is at most 65,535 bytes (RFC 1035 section 4.2.2's length field).
const MAX_DNS_ANSWER: usize = 65_535;
/// RFC 8484 section 4.1: "the DNS ID SHOULD be 0 in every DNS request".
const DNS_ID: u16 = 0;

/// Resolves discovery specs, each at most once per request.
pub struct Resolver<'a> {
    config: &'a Config,
    done: Vec<(DiscoverySpec, Result<Found, ApiError>)>,
    subrequests: usize,
    tracer: Option<Rc<Tracer>>,
    /// Per host resolved by [`Resolver::instances`], the Machines listed but not serving.
    not_serving: BTreeMap<String, Vec<SkippedInstance>>,
}

impl<'a> Resolver<'a> {
    pub fn new(config: &'a Config) -> Self {
        Resolver { config, done: Vec::new(), subrequests: 0, tracer: None, not_serving: BTreeMap::new() }
    }

    /// The Machines listed but not serving, of every host resolved so far: those that may come
    /// back with their old copies are `pending`.
    pub fn not_serving(&self) -> Vec<SkippedInstance> {
        let mut all: Vec<SkippedInstance> = self.not_serving.values().flatten().cloned().collect();
        all.sort_by(|a, b| a.instance.cmp(&b.instance));
        all.dedup();
        all
    }

    /// The state of `instance` of `host`, when it is a Machine that may come back with its old
    /// copies (redelivery waits for it to start).
    pub fn held_state(&self, host: &str, instance: &str) -> Option<&str> {
        let listed = self.not_serving.get(host)?;
        listed.iter().find(|s| s.pending && s.instance == instance).map(|s| s.state.as_str())
    }

    /// Per host, the Machines listed but not serving: the purge's rows to those that may come
    /// back with their old copies are queued (`ReportBuilder::hold`).
    pub fn held(&self) -> &BTreeMap<String, Vec<SkippedInstance>> {
        &self.not_serving
    }

    /// Records each discovery as a `discover` span of `tracer`'s trace.
    pub fn traced(mut self, tracer: Rc<Tracer>) -> Self {
        self.tracer = Some(tracer);
        self
    }

    /// The DoH requests made so far: they count against `SUBREQUEST_BUDGET`
    /// (`Config::instance_budget`).
    pub fn subrequests(&self) -> usize {
        self.subrequests
    }

    /// What `spec` finds now: addresses, or an app's Machines.
    pub async fn resolve(&mut self, spec: &DiscoverySpec) -> Result<Found, ApiError> {
        if let Some((_, r)) = self.done.iter().find(|(s, _)| s == spec) {
            return r.clone();
        }
        let start = clock();
        let result = match spec {
            DiscoverySpec::Static(addrs) => Ok(Found::Addrs(addrs.clone())),
            DiscoverySpec::Fly { app, .. } => {
                self.subrequests += 1;
                crate::fly::machines(self.config, app).await.map(Found::Machines)
            }
            DiscoverySpec::Dns { name, port } => {
                let config = self.config;
                self.subrequests += RecordType::BOTH.len();
                let lookups =
                    join_all(RecordType::BOTH.map(|t| async move { (t, lookup(config, name, t).await) })).await;
                if let Some(tracer) = &self.tracer {
                    let discover = tracer.ids.id("discover", self.done.len(), 0);
                    for (i, (rtype, result)) in lookups.iter().enumerate() {
                        let id = tracer.ids.id("dns", self.done.len(), i);
                        let span = Span::new(id, Some(discover), "dns lookup", Kind::Client, start, clock())
                            .with("dns.question.name", name.clone())
                            .with("dns.question.type", rtype.to_string());
                        tracer.span(match result {
                            Ok(ips) => span.with("edgepurge.answers", ips.len() as i64),
                            Err(DnsError::Rcode(rcode)) => span
                                .with("dns.response_code", rcode.clone())
                                .with("error.type", "rcode")
                                .failed(format!("{rtype} lookup of {name}: {}", DnsError::Rcode(rcode.clone()))),
                            Err(e) => span.with("error.type", "dns").failed(format!("{rtype} lookup of {name}: {e}")),
                        });
                    }
                }
                instances_from_lookups(name, *port, lookups)
                    .and_then(|addrs| refuse_non_public(name, addrs, config.allow_private_instances))
                    .map(Found::Addrs)
            }
        };
        if let Some(tracer) = &self.tracer {
            let mut span = tracer.child("discover", self.done.len(), start).with("edgepurge.rule", spec.to_string());
            match spec {
                DiscoverySpec::Dns { name, .. } => {
                    span = span.with("dns.question.name", name.clone()).with("edgepurge.dns.types", "A,AAAA");
                }
                DiscoverySpec::Fly { app, .. } => span = span.with("edgepurge.fly.app", app.clone()),
                DiscoverySpec::Static(_) => {}
            }
            let span = match &result {
                Ok(Found::Addrs(addrs)) => span.with("edgepurge.found", addrs.len() as i64),
                Ok(Found::Machines(machines)) => span.with("edgepurge.found", machines.len() as i64),
                Err(e) => span.with("error.type", e.problem().type_).failed(e.detail.clone()),
            };
            tracer.span(span);
        }
        self.done.push((spec.clone(), result.clone()));
        result
    }

    /// The instances serving `host`, as its rule reaches them (`DiscoveryRule::instances`).
    pub async fn instances(&mut self, host: &str) -> Result<Vec<Instance>, ApiError> {
        let rule = self.config.discovery_rule(host)?;
        let found = self.resolve(&rule.spec).await?;
        self.not_serving.insert(host.to_owned(), rule.not_serving(&found));
        rule.instances(host, &found)
    }

    /// The instances serving each of `hosts`, by host; fails on the first host that has none.
    pub async fn resolve_hosts<'h>(
        &mut self,
        hosts: impl IntoIterator<Item = &'h str>,
    ) -> Result<BTreeMap<String, Vec<Instance>>, ApiError> {
        let mut instances: BTreeMap<String, Vec<Instance>> = BTreeMap::new();
        for host in hosts {
            if !instances.contains_key(host) {
                let found = self.instances(host).await?;
                instances.insert(host.to_owned(), found);
            }
        }
        Ok(instances)
    }
}

async fn lookup(config: &Config, name: &str, rtype: RecordType) -> Result<Vec<IpAddr>, DnsError> {
    let query = dns_query(name, rtype, DNS_ID)?;
    let timeout_ms = config.discovery_timeout_ms.into();
    let Some(body) = within(timeout_ms, |signal| async move { exchange(&config.doh_url, &query, &signal).await }).await
    else {
        return Err(DnsError::Unreachable(format!("no answer from {} within {timeout_ms} ms", config.doh_url)));
    };
    let body = body?;
    parse_answer(name, rtype, DNS_ID, &body)
}

async fn exchange(url: &str, query: &[u8], signal: &AbortSignal) -> Result<Vec<u8>, DnsError> {
    let js = |e: worker::Error| DnsError::Unreachable(format!("{url}: {e}"));
    let headers = Headers::new();
    headers.set("content-type", DNS_MESSAGE).map_err(js)?;
    headers.set("accept", DNS_MESSAGE).map_err(js)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(js_sys::Uint8Array::from(query).into()));
    let request = Request::new_with_init(url, &init).map_err(js)?;
    let mut response = Fetch::Request(request).send_with_signal(signal).await.map_err(js)?;
    let status = response.status_code();
    let content_type = response.headers().get("content-type").ok().flatten().unwrap_or_default();
    if status != 200 {
        return Err(DnsError::BadHttp(format!("{url} answered HTTP {status}")));
    }
    if !content_type.to_ascii_lowercase().starts_with(DNS_MESSAGE) {
        return Err(DnsError::BadHttp(format!("{url} answered {content_type:?}, not {DNS_MESSAGE}")));
    }
    match read_capped(response.stream().ok(), MAX_DNS_ANSWER).await {
        Ok(body) => Ok(body),
        Err(Unread::TooLarge) => Err(DnsError::BadHttp(format!("{url} answered more than {MAX_DNS_ANSWER} bytes"))),
        Err(Unread::Broken(e)) => Err(DnsError::Unreachable(format!("{url}: reading the answer: {e}"))),
    }
}
