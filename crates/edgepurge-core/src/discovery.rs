//! Instance discovery: static lists, and DNS A/AAAA lookups over HTTPS (RFC 8484).
//!
//! The core builds the wire-format queries and parses the answers; the worker POSTs them to the
//! DoH endpoint with `Content-Type: application/dns-message`. One question per message (RFC 8484
//! section 4.1 recommends DNS ID 0 "in every DNS request" for cache friendliness, and A and AAAA
//! are separate questions because servers rarely answer more than one).
//!
//! Every answer is checked before it is believed: the ID must match, the QR bit must be set,
//! the question must be ours, and the RCODE must be NOERROR. Only records of the asked type that
//! belong to the name (directly or through a CNAME chain in the same answer) count.

use crate::api::{SkippedInstance, Transport};
use crate::dialect::Dialect;
use crate::dns::{self, Data};
use crate::error::{ApiError, ErrorKind};
use crate::fly::{Cache, Machine, FORCE_INSTANCE_HEADER};
use crate::http1::FieldValue;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// How the instances serving a host are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoverySpec {
    /// Every A and AAAA record of `name`, each at `port`.
    Dns {
        /// The DNS name listing the instances.
        name: String,
        /// The port every instance listens on.
        port: u16,
    },
    /// A fixed list.
    Static(Vec<SocketAddr>),
    /// The started Machines of a Fly.io app ([`crate::fly`]), reached through Fly's edge.
    Fly {
        /// The app.
        app: String,
        /// Only Machines in these regions; all when empty.
        regions: Vec<String>,
        /// Where to connect instead of resolving the site's host (the app's anycast address,
        /// or the local CDN's stand-in edge); the site's host stays the TLS name and `Host`.
        edge: Option<SocketAddr>,
    },
}

impl fmt::Display for DiscoverySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoverySpec::Dns { name, port } => write!(f, "dns:{name}:{port}"),
            DiscoverySpec::Static(_) => f.write_str("static"),
            DiscoverySpec::Fly { app, regions, edge } => {
                write!(f, "fly:{app}")?;
                if !regions.is_empty() {
                    write!(f, ":{}", regions.join(","))?;
                }
                match edge {
                    Some(edge) => write!(f, "@{edge}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// What discovery found for a rule: addresses (DNS, static lists) or Machines (Fly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Instance addresses.
    Addrs(Vec<SocketAddr>),
    /// An app's Machines, started or not.
    Machines(Vec<Machine>),
}

/// One `DISCOVERY` rule: where its instances come from, and how they are spoken to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryRule {
    /// Where the instances come from.
    pub spec: DiscoverySpec,
    /// TLS, or clear text (`plain`, or `insecure` where public addresses are accepted).
    pub transport: Transport,
    /// What its instances understand of a `PURGE` (`:contract=`, `:token-header=`).
    pub dialect: Dialect,
}

impl fmt::Display for DiscoveryRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.spec, self.transport.suffix())?;
        if self.dialect != Dialect::default() {
            write!(f, ":contract={}", self.dialect.contract.as_str())?;
            if self.dialect.token_header != Dialect::default().token_header {
                let name = self.dialect.token_header.as_ref().map_or("none", |h| h.as_str());
                write!(f, ":token-header={name}")?;
            }
        }
        Ok(())
    }
}

impl DiscoveryRule {
    /// How reports, problems and the check name the group of this rule addressed as `host`:
    /// `host=rule`.
    pub fn group_name(&self, host: &str) -> String {
        format!("{host}={self}")
    }

    /// The instances serving `host`, from what this rule's discovery found: over TLS they
    /// expect a certificate for `host`. A `plain` rule that names a public address is refused
    /// (502): the purge token would cross the internet in clear, so the rule must say `tls`
    /// (or, knowingly, `insecure`). Of an app's Machines, the started ones in the rule's regions,
    /// each routed by its id through the edge.
    pub fn instances(&self, host: &str, found: &Found) -> Result<Vec<Instance>, ApiError> {
        let addrs = match found {
            Found::Addrs(addrs) => addrs,
            Found::Machines(machines) => {
                return Ok(self.machines(machines).filter(|m| m.started()).map(|m| self.machine(host, m)).collect())
            }
        };
        if self.transport == Transport::Plain {
            if let Some(addr) = addrs.iter().find(|a| non_public(a.ip()).is_none()) {
                return Err(ApiError::new(
                    ErrorKind::DiscoveryFailed,
                    format!(
                        "{self} names the public address {addr}, and the purge token must not travel to it in \
                         clear text: make the rule `{self}:tls` (or `{self}:insecure` to accept that)"
                    ),
                )
                .with_subject(self.to_string()));
            }
        }
        let tls = (self.transport == Transport::Tls).then(|| host.to_owned());
        let instance = |addr| Instance { tls: tls.clone(), dialect: self.dialect.clone(), ..Instance::plain(addr) };
        Ok(addrs.iter().map(|&addr| instance(addr)).collect())
    }

    /// The Machines discovery found that are skipped because they start again from an empty
    /// cache (`fly::Cache::Empty`: stopped, created, destroyed, ...): listed, never purged, never
    /// failed (`pending` false).
    pub fn skipped(&self, found: &Found) -> Vec<SkippedInstance> {
        self.in_state(found, Cache::Empty)
    }

    /// The Machines discovery found that are not serving but may come back with their old
    /// copies (`fly::Cache::MayHold`: suspended, ...): their rows are pending and queued until
    /// they are started (`pending` true).
    pub fn held(&self, found: &Found) -> Vec<SkippedInstance> {
        self.in_state(found, Cache::MayHold)
    }

    /// Both, in instance order: what the report and the Instances page list as not purged now.
    pub fn not_serving(&self, found: &Found) -> Vec<SkippedInstance> {
        let mut all = self.skipped(found);
        all.extend(self.held(found));
        all.sort_by(|a, b| a.instance.cmp(&b.instance));
        all
    }

    fn in_state(&self, found: &Found, cache: Cache) -> Vec<SkippedInstance> {
        let Found::Machines(machines) = found else { return Vec::new() };
        let listed = self.machines(machines).filter(|m| m.cache() == cache);
        listed
            .map(|m| SkippedInstance { instance: m.key(), state: m.state.clone(), pending: cache == Cache::MayHold })
            .collect()
    }

    /// The Machines in this rule's regions.
    fn machines<'m>(&self, machines: &'m [Machine]) -> impl Iterator<Item = &'m Machine> + use<'m, '_> {
        let regions = match &self.spec {
            DiscoverySpec::Fly { regions, .. } => regions.as_slice(),
            _ => &[],
        };
        machines.iter().filter(move |m| regions.is_empty() || regions.contains(&m.region))
    }

    /// A started Machine as an instance: TLS to the edge (pinned, or the site's host on 443),
    /// the site's host as server name, routed by its id.
    fn machine(&self, host: &str, m: &Machine) -> Instance {
        let connect = match &self.spec {
            DiscoverySpec::Fly { edge: Some(edge), .. } => Endpoint::Addr(*edge),
            _ => Endpoint::Host { name: host.to_owned(), port: 443 },
        };
        Instance {
            connect,
            tls: Some(host.to_owned()),
            route: FieldValue::new(&m.id),
            name: Some(m.key()),
            dialect: self.dialect.clone(),
        }
    }
}

/// Where an instance is connected to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// An address.
    Addr(SocketAddr),
    /// A host name the platform resolves when connecting (Fly's edge for the site's host).
    Host {
        /// The name.
        name: String,
        /// The port.
        port: u16,
    },
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Addr(addr) => addr.fmt(f),
            Endpoint::Host { name, port } => write!(f, "{name}:{port}"),
        }
    }
}

/// One instance as the fan-out reaches it: where to connect, whether over TLS, and how a
/// shared edge is told which instance is meant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instance {
    /// Where to connect.
    pub connect: Endpoint,
    /// For TLS: the name its certificate must carry (the purged site's host).
    pub tls: Option<String>,
    /// For an instance behind a shared edge: the `fly-force-instance-id` value that routes each
    /// request to it, written into every request by the core.
    pub route: Option<FieldValue>,
    /// Its name when it is not its address (a Machine: `fra 3d8d9e1f0e9d87`).
    pub name: Option<String>,
    /// What it understands of a `PURGE`: how its requests are written and its answers read.
    pub dialect: Dialect,
}

impl Instance {
    /// An instance at `addr`, reached in clear text.
    pub fn plain(addr: SocketAddr) -> Instance {
        Instance { connect: Endpoint::Addr(addr), tls: None, route: None, name: None, dialect: Dialect::default() }
    }

    /// How reports, deliveries and the history name it: its name, else `ip:port` (IPv6 in
    /// brackets).
    pub fn key(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.connect.to_string())
    }

    /// The routing header of its requests, if any.
    pub fn routing(&self) -> Option<(&'static str, FieldValue)> {
        self.route.clone().map(|v| (FORCE_INSTANCE_HEADER, v))
    }
}

/// The address record types looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    Aaaa,
}

impl RecordType {
    /// Both address types, in the order they are asked.
    pub const BOTH: [RecordType; 2] = [RecordType::A, RecordType::Aaaa];

    fn qtype(self) -> u16 {
        match self {
            RecordType::A => dns::TYPE_A,
            RecordType::Aaaa => dns::TYPE_AAAA,
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
        })
    }
}

/// Why one lookup gave no usable addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// The DoH endpoint could not be reached, or did not answer in time.
    Unreachable(String),
    /// It answered over HTTP, but not with a DNS message (status, content type).
    BadHttp(String),
    /// The DNS message does not parse.
    Malformed(String),
    /// The answer's ID is not the query's.
    WrongId {
        /// The ID sent.
        expected: u16,
        /// The ID received.
        got: u16,
    },
    /// The message is a query, or answers another question.
    NotOurAnswer,
    /// The server answered with an error RCODE (SERVFAIL, NXDOMAIN, REFUSED...).
    Rcode(String),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Unreachable(e) => write!(f, "DoH server unreachable: {e}"),
            DnsError::BadHttp(e) => write!(f, "DoH server answered badly: {e}"),
            DnsError::Malformed(e) => write!(f, "malformed DNS answer: {e}"),
            DnsError::WrongId { expected, got } => {
                write!(f, "DNS answer has id {got}, expected {expected}")
            }
            DnsError::NotOurAnswer => f.write_str("DNS answer does not answer our question"),
            DnsError::Rcode(r) => write!(f, "DNS server answered {r}"),
        }
    }
}

/// Builds the RFC 8484 wire-format query for `name`'s records of type `rtype`, with recursion
/// desired.
pub fn dns_query(name: &str, rtype: RecordType, id: u16) -> Result<Vec<u8>, DnsError> {
    dns::query(name, rtype.qtype(), id).map_err(DnsError::Malformed)
}

/// Parses the answer to [`dns_query`]`(name, rtype, id)` into its addresses.
///
/// NOERROR with no records of the type is an empty list, not an error: a name with only IPv4
/// instances has no AAAA records.
pub fn parse_answer(name: &str, rtype: RecordType, id: u16, bytes: &[u8]) -> Result<Vec<IpAddr>, DnsError> {
    let message = dns::parse(bytes).map_err(DnsError::Malformed)?;
    if message.id != id {
        return Err(DnsError::WrongId { expected: id, got: message.id });
    }
    if !message.response {
        return Err(DnsError::NotOurAnswer);
    }
    let asked = message.questions.iter().any(|(q, t)| same_name(q, name) && *t == rtype.qtype());
    if message.questions.len() != 1 || !asked {
        return Err(DnsError::NotOurAnswer);
    }
    if message.rcode != dns::RCODE_NOERROR {
        return Err(DnsError::Rcode(format!("{} for {name}", dns::rcode_name(message.rcode))));
    }
    // Follow the CNAME chain from `name` (bounded, against loops).
    let mut owners: Vec<String> = vec![name.trim_end_matches('.').to_ascii_lowercase()];
    for _ in 0..8 {
        let before = owners.len();
        for rr in &message.answers {
            if let Data::Cname(target) = &rr.data {
                if owners.iter().any(|o| same_name(&rr.name, o)) && !owners.contains(target) {
                    owners.push(target.clone());
                }
            }
        }
        if owners.len() == before {
            break;
        }
    }
    let mut out = Vec::new();
    for rr in &message.answers {
        if !owners.iter().any(|o| same_name(&rr.name, o)) {
            continue;
        }
        let ip = match (&rr.data, rtype) {
            (Data::A(a), RecordType::A) => IpAddr::V4(Ipv4Addr::from(*a)),
            (Data::Aaaa(a), RecordType::Aaaa) => IpAddr::V6(Ipv6Addr::from(*a)),
            _ => continue,
        };
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    Ok(out)
}

fn same_name(n: &str, s: &str) -> bool {
    n.trim_end_matches('.').eq_ignore_ascii_case(s.trim_end_matches('.'))
}

/// Combines the A and AAAA lookups of `name` into instances at `port`.
///
/// Any failed lookup fails discovery: a missing AAAA answer could hide instances that would then
/// keep serving stale content. Both unreachable is 503 (try later); a bad answer, or no
/// addresses at all, is 502.
pub fn instances_from_lookups(
    name: &str,
    port: u16,
    lookups: Vec<(RecordType, Result<Vec<IpAddr>, DnsError>)>,
) -> Result<Vec<SocketAddr>, ApiError> {
    let mut addrs = Vec::new();
    let mut errors = Vec::new();
    for (rtype, result) in lookups {
        match result {
            Ok(ips) => addrs.extend(ips.into_iter().map(|ip| SocketAddr::new(ip, port))),
            Err(e) => errors.push((rtype, e)),
        }
    }
    if !errors.is_empty() {
        let all_unreachable = errors.iter().all(|(_, e)| matches!(e, DnsError::Unreachable(_)));
        let kind = if all_unreachable { ErrorKind::DiscoveryUnavailable } else { ErrorKind::DiscoveryFailed };
        let detail = errors.iter().map(|(t, e)| format!("{t} lookup of {name}: {e}")).collect::<Vec<_>>().join("; ");
        return Err(ApiError::new(kind, detail).with_subject(name));
    }
    if addrs.is_empty() {
        return Err(ApiError::new(
            ErrorKind::DiscoveryFailed,
            format!("{name} has no A or AAAA records: no instances to purge"),
        )
        .with_subject(name));
    }
    addrs.sort();
    addrs.dedup();
    Ok(addrs)
}

/// Why `ip` is not a public unicast address, if it is not: loopback, unspecified, private (RFC
/// 1918, RFC 4193 unique local, RFC 6598 shared, deprecated site-local `fec0::/10`, local-use
/// NAT64 `64:ff9b:1::/48`), link-local, multicast, broadcast or reserved (`192.0.0.0/24`,
/// benchmarking `198.18.0.0/15`, `240.0.0.0/4`). An IPv6 address that carries an IPv4 one
/// (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`) is judged as that IPv4 address: each reaches it.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(a) => {
            let [o0, o1, o2, _] = a.octets();
            if a.is_loopback() {
                Some("a loopback address")
            } else if a.is_unspecified() || o0 == 0 {
                Some("an unspecified address")
            } else if a.is_private() || (o0 == 100 && (64..128).contains(&o1)) {
                Some("a private address")
            } else if a.is_link_local() {
                Some("a link-local address")
            } else if a.is_multicast()
                || a.is_broadcast()
                || o0 >= 240
                || (o0, o1, o2) == (192, 0, 0)
                || (o0 == 198 && (o1 == 18 || o1 == 19))
            {
                Some("a multicast, broadcast or reserved address")
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            let [first, second, ..] = a.segments();
            if a.is_loopback() {
                Some("a loopback address")
            } else if a.is_unspecified() {
                Some("an unspecified address")
            } else if first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfec0
                || (first, second, a.segments()[2]) == (0x64, 0xff9b, 1)
            {
                Some("a private address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if a.is_multicast() {
                Some("a multicast, broadcast or reserved address")
            } else {
                None
            }
        }
    }
}

/// The IPv4 address an IPv6 one carries and reaches, if it carries one: IPv4-mapped
/// (`::ffff:0:0/96`), IPv4-compatible (`::/96`, but `::` and `::1`), NAT64's well-known prefix
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`, the address in its next 32 bits).
fn embedded_ipv4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let last = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = a.to_ipv4_mapped() {
        Some(v4)
    } else if (s[..6] == [0; 6] && !a.is_unspecified() && !a.is_loopback()) || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(last(s[6], s[7]))
    } else if s[0] == 0x2002 {
        Some(last(s[1], s[2]))
    } else {
        None
    }
}

/// Refuses (502) an answer for `name` that names a non-public address, unless `allow_private`:
/// a tampered or misconfigured DNS answer must not point purges, and the purge token, at
/// internal services.
pub fn refuse_non_public(name: &str, addrs: Vec<SocketAddr>, allow_private: bool) -> Result<Vec<SocketAddr>, ApiError> {
    if allow_private {
        return Ok(addrs);
    }
    match addrs.iter().find_map(|a| non_public(a.ip()).map(|why| (a, why))) {
        None => Ok(addrs),
        Some((addr, why)) => Err(ApiError::new(
            ErrorKind::DiscoveryFailed,
            format!("{name} names {addr}, {why}: refused (set ALLOW_PRIVATE_INSTANCES=true for private instances)"),
        )
        .with_subject(name)),
    }
}
