//! What a caller may ask for: a purge request validated into purges, the labels the history
//! keeps for it, and the query strings of the read endpoints.
//!
//! All or nothing: one bad item refuses the whole request, before any I/O, so nothing is
//! purged for a request that fails here.

use crate::api::{DeliveriesQuery, DeliveryStatus, HistoryQuery, PurgeRequest, SkippedGroup};
use crate::auth::Action;
use crate::config::Config;
use crate::dialect::Support;
use crate::error::{ApiError, ErrorKind};
use crate::plan::Confirm;
use crate::purge::{parse_key, parse_prefix, Purge};
use crate::scopes::Grant;
use crate::target::{normalise_host, parse_all, printable, Target};

/// Validates a purge request by a caller with `grant` into purges: every host checked against
/// the allowlist, the wide kinds (prefix, host) only for admins whose token allows them,
/// duplicates collapsed, and the token's hosts applied ([`Grant::purges`]).
pub fn purges_for(config: &Config, grant: &Grant, request: &PurgeRequest) -> Result<Vec<Purge>, ApiError> {
    let PurgeRequest { urls, keys, prefixes, hosts, soft, .. } = request;
    let total = urls.len() + keys.len() + prefixes.len() + hosts.len();
    if total == 0 {
        return Err(ApiError::bad_request("nothing to purge: give urls, keys, prefixes or hosts"));
    }
    if total > config.max_urls {
        return Err(ApiError::new(
            ErrorKind::TooManyUrls,
            format!("{total} items in one request; at most {} (MAX_URLS)", config.max_urls),
        ));
    }
    if !prefixes.is_empty() || !hosts.is_empty() {
        if *soft {
            return Err(ApiError::bad_request("soft applies to urls and keys; prefixes and hosts are always hard"));
        }
        grant.require(Action::PurgeWide)?;
    }
    let targets = parse_all(urls)?;
    for t in &targets {
        config.check_host(t)?;
    }
    let mut purges = Purge::urls(targets, *soft);
    let groups = key_hosts(config);
    for (i, raw) in keys.iter().enumerate() {
        let all = key_purges(raw, &groups, *soft).map_err(|e| e.in_field("keys", i, raw))?;
        let able: Vec<Purge> = all.into_iter().filter(|p| key_group_able(config, p)).collect();
        if able.is_empty() {
            return Err(ApiError::bad_request(format!(
                "keys[{i}]: no instance group can purge a key: {}",
                groups.iter().map(|g| format!("{g} ({})", group_of(config, g))).collect::<Vec<_>>().join(", ")
            ))
            .with_subject(printable(raw)));
        }
        purges.extend(able);
    }
    for (i, raw) in prefixes.iter().enumerate() {
        let target = parse_prefix(raw).map_err(|e| ItemError::from(e).in_field("prefixes", i, raw))?;
        config.check_host(&target)?;
        let purge = Purge::Prefix { target };
        capable(config, &purge).map_err(|e| e.in_field("prefixes", i, raw))?;
        purges.push(purge);
    }
    for (i, raw) in hosts.iter().enumerate() {
        let purge = Purge::Host { host: allowed_host(config, raw).map_err(|e| e.in_field("hosts", i, raw))? };
        capable(config, &purge).map_err(|e| e.in_field("hosts", i, raw))?;
        purges.push(purge);
    }
    let mut unique: Vec<Purge> = Vec::with_capacity(purges.len());
    for p in purges {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    grant.purges(config, unique)
}

/// The most `confirm_urls` one request may name.
pub const MAX_CONFIRM_URLS: usize = 10;

/// What a request asks to confirm: its URL purges (`confirm`), and its `confirm_urls`, parsed
/// and within `ALLOWED_HOSTS` and the token's hosts (which purges cover them is the plan's to
/// say: it knows the instances, `Plan::confirming`).
pub fn confirm_for(config: &Config, grant: &Grant, request: &PurgeRequest) -> Result<Confirm, ApiError> {
    let raw = &request.confirm_urls;
    if raw.len() > MAX_CONFIRM_URLS {
        return Err(ApiError::bad_request(format!("confirm_urls: {} URLs; at most {MAX_CONFIRM_URLS}", raw.len())));
    }
    let mut named: Vec<Target> = Vec::with_capacity(raw.len());
    for (i, url) in raw.iter().enumerate() {
        let target = Target::parse(url).map_err(|e| ItemError::Bad(e.to_string()).in_field("confirm_urls", i, url))?;
        config.check_host(&target)?;
        grant.host(target.host())?;
        if !named.contains(&target) {
            named.push(target);
        }
    }
    Ok(Confirm { urls: request.confirm, named })
}

/// The labels the history keeps for a request, accepted or refused: each item's
/// [`Purge::label`] where it parses (the same text a completed purge's rows carry), otherwise
/// its kind and a printable, shortened copy of what was sent.
pub fn labels(config: &Config, request: &PurgeRequest) -> Vec<String> {
    let PurgeRequest { urls, keys, prefixes, hosts, soft, .. } = request;
    let groups = key_hosts(config);
    let mut out = Vec::new();
    for raw in urls {
        out.push(match Target::parse(raw) {
            Ok(target) => Purge::Url { target, soft: *soft }.label(),
            Err(_) => printable(raw),
        });
    }
    for raw in keys {
        let purges = key_purges(raw, &groups, *soft).unwrap_or_default();
        let able: Vec<String> = purges.iter().filter(|p| key_group_able(config, p)).map(Purge::label).collect();
        match able.is_empty() {
            false => out.extend(able),
            true => out.push(format!("key:{}", printable(raw))),
        }
    }
    for raw in prefixes {
        out.push(match parse_prefix(raw) {
            Ok(target) => Purge::Prefix { target }.label(),
            Err(_) => format!("prefix:{}", printable(raw)),
        });
    }
    for raw in hosts {
        out.push(match normalise_host(raw) {
            Some(host) => Purge::Host { host }.label(),
            None => format!("host:{}", printable(raw)),
        });
    }
    out.dedup();
    out
}

/// Keys are instance-wide (xkey): one purge per instance group, addressed as the group's first
/// allowed host.
fn key_hosts(config: &Config) -> Vec<&str> {
    config.groups().into_iter().map(|(host, _)| host).collect()
}

/// The rule of `host`'s group, as reports and problems name a group.
fn group_of(config: &Config, host: &str) -> String {
    config.discovery_rule(host).map(|rule| rule.group_name(host)).unwrap_or_else(|_| host.to_owned())
}

/// Whether the group a key purge is addressed to can purge keys, or an upstream group beside
/// it can.
fn key_group_able(config: &Config, purge: &Purge) -> bool {
    config.discovery_rule(purge.host()).is_ok_and(|rule| rule.dialect.refusal(purge).is_none())
        || config.upstreams_for(purge.host()).any(|u| u.support(purge) != Support::No)
}

/// A 400 naming the group and the kind when `purge`'s host's group cannot do it (a prefix or
/// host purge to a `plain` group): refused before anything is sent.
fn capable(config: &Config, purge: &Purge) -> Result<(), ItemError> {
    let rule = config.discovery_rule(purge.host()).map_err(ItemError::Refused)?;
    if let Some(why) = rule.dialect.refusal(purge) {
        return Err(ItemError::Bad(format!(
            "the instance group {} cannot do it: {why}",
            group_of(config, purge.host())
        )));
    }
    // An upstream group beside the instances that cannot do it: nothing is sent anywhere,
    // rather than a purge that leaves that layer stale.
    if let Some(upstream) = config.upstreams_for(purge.host()).find(|u| u.support(purge) == Support::No) {
        return Err(ItemError::Bad(format!(
            "the upstream group {} cannot do it: {} has no {} purge{}",
            upstream.key(),
            upstream.vendor,
            purge.kind(),
            if purge.kind() == "host" { " unless the rule says :whole-host" } else { "" }
        )));
    }
    Ok(())
}

/// The instance groups of `grant`'s hosts the keys of `request` are not sent to, because their
/// contract has no keys: each (key, group) named in the report (nothing is sent there).
pub fn skipped_groups(config: &Config, grant: &Grant, request: &PurgeRequest) -> Vec<SkippedGroup> {
    let groups: Vec<&str> = key_hosts(config).into_iter().filter(|g| grant.reaches_group(config, g)).collect();
    let mut skipped = Vec::new();
    for raw in &request.keys {
        for purge in key_purges(raw, &groups, request.soft).unwrap_or_default() {
            let Ok(rule) = config.discovery_rule(purge.host()) else { continue };
            if let Some(reason) = rule.dialect.refusal(&purge) {
                let (item, group, contract) = (purge.label(), group_of(config, purge.host()), rule.dialect.contract);
                skipped.push(SkippedGroup { item, group, contract, reason });
            }
        }
    }
    skipped
}

fn key_purges(raw: &str, hosts: &[&str], soft: bool) -> Result<Vec<Purge>, ItemError> {
    let key = parse_key(raw).map_err(|e| ItemError::Bad(e.to_string()))?;
    Ok(hosts.iter().map(|host| Purge::Key { key: key.clone(), host: (*host).to_owned(), soft }).collect())
}

fn allowed_host(config: &Config, raw: &str) -> Result<String, ItemError> {
    let host = normalise_host(raw).ok_or_else(|| ItemError::Bad("not a host name".into()))?;
    if !config.allowed_hosts.contains(&host) {
        return Err(ItemError::Refused(
            ApiError::new(ErrorKind::HostNotAllowed, format!("host {host:?} is not in ALLOWED_HOSTS"))
                .with_subject(host),
        ));
    }
    Ok(host)
}

/// Why one item of a request was refused: malformed (400, named by its field and index) or
/// refused as it stands.
enum ItemError {
    Bad(String),
    Refused(ApiError),
}

impl ItemError {
    fn in_field(self, field: &str, i: usize, raw: &str) -> ApiError {
        match self {
            ItemError::Bad(why) => ApiError::bad_request(format!("{field}[{i}]: {why}")).with_subject(printable(raw)),
            ItemError::Refused(e) => e,
        }
    }
}

impl From<crate::purge::PurgeError> for ItemError {
    fn from(e: crate::purge::PurgeError) -> Self {
        ItemError::Bad(e.to_string())
    }
}

/// `GET /api/history` filters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Entries whose items contain this text.
    pub url: Option<String>,
    /// Entries by this actor.
    pub actor: Option<String>,
    /// Entries older than this id.
    pub before: Option<i64>,
    /// Entries per page.
    pub limit: u32,
}

/// Validates the history query: empty fields are ignored, `limit` is 1 to 100 (default 20).
pub fn history_filter(query: &HistoryQuery) -> Result<HistoryFilter, ApiError> {
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let before = match given(&query.before) {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|id| *id >= 1)
                .ok_or_else(|| ApiError::bad_request("before must be an id (a whole number from 1)"))?,
        ),
    };
    let limit = limit(given(&query.limit).as_deref(), 20, 100)?;
    Ok(HistoryFilter { url: given(&query.url), actor: given(&query.actor), before, limit })
}

/// `GET /api/deliveries` filters, validated: (status, limit 1 to 1000, default 100).
pub fn deliveries_filter(query: &DeliveriesQuery) -> Result<(Option<DeliveryStatus>, u32), ApiError> {
    let status = match query.status.as_deref() {
        None => None,
        Some(raw) => Some(
            DeliveryStatus::parse(raw)
                .ok_or_else(|| ApiError::bad_request("status must be pending, delivered or abandoned"))?,
        ),
    };
    Ok((status, limit(query.limit.as_deref(), 100, 1000)?))
}

/// A `limit` parameter: `default` when absent, else 1 to `max`.
fn limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be 1 to {max}"))),
    }
}

/// Reads a query string into `T` (no query: every field absent); 400 when it does not fit.
/// Unknown parameters are ignored.
pub fn query<T: serde::de::DeserializeOwned + Default>(raw: Option<&str>) -> Result<T, ApiError> {
    match raw {
        None | Some("") => Ok(T::default()),
        Some(q) => serde_urlencoded::from_str(q).map_err(|e| ApiError::bad_request(format!("query string: {e}"))),
    }
}
