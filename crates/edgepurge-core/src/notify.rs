//! Webhook notifications: which events are sent (`NOTIFY_ON`), their body
//! ([`api::Notification`](crate::api::Notification), with a Slack-compatible `text`), its
//! HMAC-SHA256 signature, and how many a minute go out per kind.
//!
//! The worker sends them after the reply (a purge's) or at the end of a redelivery run (the
//! deliveries it abandoned), each POST under `NOTIFY_TIMEOUT_MS`; a notification never changes
//! or holds up what it is about. At most `NOTIFY_PER_MINUTE` of a kind go out a minute, counted
//! across isolates by one D1 upsert per event ([`Window`] is what it returns, [`rate`] what it
//! means); one held back is summarised by the next one of its kind sent (`held_back`). The
//! settings are read by `config` ([`NotifySettings`]).
//!
//! | setting | required | meaning |
//! |---|---|---|
//! | `NOTIFY_WEBHOOKS` | no (secret) | webhook URLs, separated by commas or spaces, at most 5; https, or http on loopback only |
//! | `NOTIFY_SECRET` | with the above (secret) | the HMAC-SHA256 key of `X-Edgepurge-Signature`, at least 16 characters |
//! | `NOTIFY_ON` | no | `partial`, `failed`, `abandoned`, `purged`, or `all`, separated by commas; default `partial,failed,abandoned` |
//! | `NOTIFY_PER_MINUTE` | no | notifications of one kind sent a minute, 1 to 60, default 3; the rest are held back and summarised |
//! | `NOTIFY_TIMEOUT_MS` | no | how long one POST may take, 100 to 10000, default 5000 |
//! | `CONSOLE_URL` | no | the console's address (`https://purge.example.com`): notifications link its history |

use crate::api::{
    Delivery, FailingInstance, HistoryStatus, Notification, NotifyKind, NotifyStatus, Outcome, PurgeReport, PurgeStatus,
};
use crate::purge::Purge;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;

/// The header carrying the body's signature: `sha256=` and the HMAC-SHA256 of the body's bytes
/// with `NOTIFY_SECRET`, in lower-case hex.
pub const SIGNATURE_HEADER: &str = "X-Edgepurge-Signature";
/// Items, failing instances and deliveries a body lists at most (the counts say how many in all).
pub const MAX_LISTED: usize = 20;
/// Items and failing instances the `text` names at most.
pub const TEXT_LISTED: usize = 5;
/// Characters of an error or item kept in a body.
pub const MAX_CHARS: usize = 300;
/// Webhook URLs at most (each is a subrequest of the purge it reports on).
pub const MAX_WEBHOOKS: usize = 5;
/// The minutes `GET /api/health` sums.
pub const HEALTH_MINUTES: i64 = 60;
/// The minutes of figures the cron keeps.
pub const KEPT_MINUTES: i64 = 24 * 60;

/// The notification settings, when `NOTIFY_WEBHOOKS` is set. Its `Debug` form shows neither
/// the URLs (they carry their own credentials, as Slack's do) nor the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// Where each notification is POSTed.
    pub webhooks: Vec<String>,
    /// The HMAC key.
    pub secret: String,
    /// The kinds sent, in `NotifyKind` order.
    pub on: Vec<NotifyKind>,
    /// Of each kind, sent a minute at most.
    pub per_minute: u32,
    /// How long one POST may take.
    pub timeout_ms: u32,
    /// The console's address, without a trailing `/`.
    pub console_url: Option<String>,
}

impl std::fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifySettings")
            .field("webhooks", &format_args!("({} secrets)", self.webhooks.len()))
            .field("secret", &"(secret)")
            .field("on", &self.on)
            .field("per_minute", &self.per_minute)
            .field("timeout_ms", &self.timeout_ms)
            .field("console_url", &self.console_url)
            .finish()
    }
}

impl NotifySettings {
    /// Whether notifications of `kind` are sent.
    pub fn wants(&self, kind: NotifyKind) -> bool {
        self.on.contains(&kind)
    }

    /// A purge's notification, when `NOTIFY_ON` names how it ended: [`purge`] with its items'
    /// history labels. The worker asks it wherever a purge ends (after its reply, or in the cron
    /// that ran it again).
    pub fn purge_notice(
        &self,
        report: &PurgeReport,
        actor: &str,
        purges: &[Purge],
        entry: i64,
        at: i64,
    ) -> Option<Event> {
        if !self.wants(purge_kind(report.status)) {
            return None;
        }
        let labels: Vec<String> = purges.iter().map(Purge::label).collect();
        Some(purge(report, actor, &labels, entry, at))
    }
}

/// What happened, before it is sent: the notification without its `text`, time sent, links
/// and what it summarises ([`message`] adds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event(Notification);

impl Event {
    /// What it is about.
    pub fn kind(&self) -> NotifyKind {
        self.0.kind
    }
}

/// The kind of notification a purge that ended `status` makes.
pub fn purge_kind(status: PurgeStatus) -> NotifyKind {
    match status {
        PurgeStatus::Purged => NotifyKind::Purged,
        PurgeStatus::Partial => NotifyKind::Partial,
        PurgeStatus::Failed => NotifyKind::Failed,
    }
}

/// A purge's end: who asked (`actor`), its items as its history names them (`labels`), its
/// history `entry`, when it started (`at`), and its report.
pub fn purge(report: &PurgeReport, actor: &str, labels: &[String], entry: i64, at: i64) -> Event {
    let mut by_instance: BTreeMap<&str, FailingInstance> = BTreeMap::new();
    for row in report.results.iter().filter(|r| !r.outcome.is_success()) {
        let failing = by_instance.entry(&row.instance).or_insert_with(|| FailingInstance {
            instance: row.instance.clone(),
            failed: 0,
            rejected: 0,
            error: row.error.as_deref().map(cut),
        });
        match row.outcome {
            Outcome::Rejected => failing.rejected += 1,
            _ => failing.failed += 1,
        }
    }
    let (failing, failing_count) = worst_first(by_instance.into_values().collect());
    Event(Notification {
        kind: purge_kind(report.status),
        status: Some(HistoryStatus::from(report.status)),
        summary: Some(report.summary),
        actor: Some(actor.to_owned()),
        items: labels.iter().take(MAX_LISTED).map(|l| cut(l)).collect(),
        item_count: labels.len(),
        failing,
        failing_count,
        entry: Some(entry),
        trace_id: report.trace_id.clone(),
        at,
        ..blank()
    })
}

/// The deliveries a redelivery run (trace `trace_id`, at `at`) gave up, as they now stand
/// (`abandoned`, with the reason): none when it gave up none.
pub fn abandoned(deliveries: &[Delivery], at: i64, trace_id: Option<String>) -> Option<Event> {
    let first = deliveries.first()?;
    let mut urls: Vec<&str> = Vec::new();
    let mut by_instance: BTreeMap<&str, FailingInstance> = BTreeMap::new();
    for d in deliveries {
        if !urls.contains(&d.url.as_str()) {
            urls.push(&d.url);
        }
        let failing = by_instance.entry(&d.instance).or_insert_with(|| FailingInstance {
            instance: d.instance.clone(),
            failed: 0,
            rejected: 0,
            error: d.last_error.as_deref().map(cut),
        });
        failing.failed += 1;
    }
    let (failing, failing_count) = worst_first(by_instance.into_values().collect());
    let one_purge = deliveries.iter().all(|d| d.purge_id == first.purge_id);
    Some(Event(Notification {
        kind: NotifyKind::Abandoned,
        items: urls.iter().take(MAX_LISTED).map(|u| cut(u)).collect(),
        item_count: urls.len(),
        failing,
        failing_count,
        deliveries: deliveries
            .iter()
            .take(MAX_LISTED)
            .map(|d| Delivery { last_error: d.last_error.as_deref().map(cut), ..d.clone() })
            .collect(),
        delivery_count: Some(deliveries.len()),
        entry: one_purge.then_some(first.purge_id),
        trace_id,
        at,
        ..blank()
    }))
}

/// What kind `kind` held back and no notification of its kind sent since has summarised: the
/// cron tells of it (`held` and `since` are `notify_kinds`' as it claims them), so a burst
/// followed by quiet is not left untold. It has no items; `held_back` says how many.
pub fn held_back(kind: NotifyKind, at: i64, trace_id: Option<String>) -> Event {
    Event(Notification { kind, at, trace_id, ..blank() })
}

/// Whether `n` only tells of notifications held back ([`held_back`]): a purge's has its
/// summary, abandoned deliveries' have the deliveries.
fn only_held_back(n: &Notification) -> bool {
    n.summary.is_none() && n.deliveries.is_empty() && n.items.is_empty() && n.entry.is_none()
}

fn blank() -> Notification {
    Notification {
        text: String::new(),
        kind: NotifyKind::Partial,
        sent_at: 0,
        at: 0,
        actor: None,
        items: Vec::new(),
        item_count: 0,
        status: None,
        summary: None,
        failing: Vec::new(),
        failing_count: 0,
        deliveries: Vec::new(),
        delivery_count: None,
        entry: None,
        console_url: None,
        trace_id: None,
        trace_url: None,
        held_back: 0,
        held_back_since: None,
    }
}

/// The most failed and refused rows first (then by name), at most [`MAX_LISTED`]; and how many.
fn worst_first(mut failing: Vec<FailingInstance>) -> (Vec<FailingInstance>, usize) {
    failing.sort_by(|a, b| (b.failed + b.rejected).cmp(&(a.failed + a.rejected)).then(a.instance.cmp(&b.instance)));
    let count = failing.len();
    failing.truncate(MAX_LISTED);
    (failing, count)
}

/// `s` cut to [`MAX_CHARS`] characters (`…` at the cut).
fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_CHARS) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// A kind's minute as the store's counter returns it, this event counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// This event is the `count`-th of its kind this minute.
    pub count: u32,
    /// Events of the kind held back since the last one sent, before this one.
    pub held: u64,
    /// When the first of those happened.
    pub held_since: Option<i64>,
}

/// Whether an event is sent, and what the message then stands for besides itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Sent, summarising `held` events held back since `since`.
    Send {
        /// Events of the kind held back since the last one sent.
        held: u64,
        /// When the first of them happened.
        since: Option<i64>,
    },
    /// Held back: the next one of its kind sent counts it.
    Hold,
}

/// The first `per_minute` events of a kind in a minute are sent, the rest held back. The
/// store's upsert (`notify_kinds`) keeps `held` by the same rule: reset when this says
/// [`Rate::Send`], one more when it says [`Rate::Hold`].
pub fn rate(window: Window, per_minute: u32) -> Rate {
    if window.count <= per_minute {
        Rate::Send { held: window.held, since: window.held_since }
    } else {
        Rate::Hold
    }
}

/// The message sent for `event` at `sent_at`, standing for `held` events held back since
/// `since` too; linked to the console (`console_url`) and the trace (`trace_url`, a
/// `TRACE_URL_TEMPLATE` with `{trace_id}`).
pub fn message(
    event: &Event,
    sent_at: i64,
    held: u64,
    since: Option<i64>,
    console_url: Option<&str>,
    trace_url: Option<&str>,
) -> Notification {
    let mut n = event.0.clone();
    n.sent_at = sent_at;
    n.held_back = held;
    n.held_back_since = since.filter(|_| held > 0);
    // The entry's own place in the console's history, or the history.
    n.console_url = console_url.map(|base| match n.entry {
        Some(id) => format!("{base}/#/history/{id}"),
        None => format!("{base}/#/history"),
    });
    n.trace_url = trace_url.zip(n.trace_id.as_deref()).map(|(template, id)| template.replace("{trace_id}", id));
    n.text = text(&n);
    n
}

/// The `text`: Slack `mrkdwn`, one paragraph.
pub fn text(n: &Notification) -> String {
    if only_held_back(n) {
        return held_back_text(n);
    }
    let mut t = match (n.kind, &n.summary) {
        (NotifyKind::Abandoned, _) => {
            let count = n.delivery_count.unwrap_or(n.deliveries.len());
            format!(":wastebasket: *edgepurge: {count} {} abandoned*", plural(count, "delivery", "deliveries"))
        }
        (kind, summary) => {
            let icon = match kind {
                NotifyKind::Purged => ":white_check_mark:",
                NotifyKind::Failed => ":x:",
                _ => ":warning:",
            };
            let mut t = format!("{icon} *edgepurge: purge {}*", kind.as_str());
            if let Some(actor) = &n.actor {
                t += &format!(" by {}", escape(actor));
            }
            if let Some(s) = summary {
                let ok = s.purged + s.not_cached + s.unconfirmed;
                t += &format!(": {ok} of {} {} succeeded", s.total, plural(s.total, "pair", "pairs"));
                if s.failed + s.rejected > 0 {
                    t += &format!(", {} failed, {} rejected", s.failed, s.rejected);
                }
            }
            t
        }
    };
    t += &format!(
        ". {}: {}",
        if n.kind == NotifyKind::Abandoned { "URLs" } else { "Items" },
        listed(&n.items, n.item_count)
    );
    if n.failing_count > 0 {
        let failing: Vec<String> = n
            .failing
            .iter()
            .map(|f| match &f.error {
                Some(e) => format!("{} ({})", f.instance, cut_to(e, 80)),
                None => f.instance.clone(),
            })
            .collect();
        t += &format!(". Failing: {}", listed(&failing, n.failing_count));
    }
    t.push('.');
    if n.held_back > 0 {
        let since = n.held_back_since.map(|at| format!(" since {}", clock(at))).unwrap_or_default();
        t += &format!(" And {} more {} held back{since}.", n.held_back, n.kind.as_str());
    }
    let entry = n.entry.map(|id| format!("entry {id}"));
    match (&n.console_url, &entry) {
        (Some(url), Some(label)) => t += &format!(" <{}|{label}>", escape(url)),
        (Some(url), None) => t += &format!(" <{}|history>", escape(url)),
        (None, Some(label)) => t += &format!(" History {label}."),
        (None, None) => {}
    }
    if let Some(url) = &n.trace_url {
        t += &format!(" <{}|trace>", escape(url));
    }
    t
}

/// The `text` of a notification that only tells of others held back.
fn held_back_text(n: &Notification) -> String {
    let what = match n.kind {
        NotifyKind::Partial => ("partial purge", "partial purges"),
        NotifyKind::Failed => ("failed purge", "failed purges"),
        NotifyKind::Purged => ("purge", "purges"),
        NotifyKind::Abandoned => ("notice of abandoned deliveries", "notices of abandoned deliveries"),
    };
    let count = usize::try_from(n.held_back).unwrap_or(usize::MAX);
    let since = n.held_back_since.map(|at| format!(" since {}", clock(at))).unwrap_or_default();
    let mut t = format!(
        ":hourglass: *edgepurge: {} {} held back*{since}, over the rate of notifications a minute.",
        n.held_back,
        plural(count, what.0, what.1)
    );
    if let Some(url) = &n.console_url {
        t += &format!(" <{}|history>", escape(url));
    }
    t
}

/// Up to [`TEXT_LISTED`] of `all` (`count` in all), escaped, with how many more.
fn listed(shown: &[String], count: usize) -> String {
    let mut parts: Vec<String> = shown.iter().take(TEXT_LISTED).map(|s| escape(s)).collect();
    if count > parts.len() {
        parts.push(format!("and {} more", count - parts.len()));
    }
    if parts.is_empty() {
        return "none".into();
    }
    parts.join(", ")
}

fn cut_to(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// Text as Slack `mrkdwn` shows it literally: `&`, `<` and `>` as entities (so a URL or label
/// cannot make a link or a mention of its own).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `HH:MM UTC` of a time in ms since the epoch.
fn clock(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02} UTC", minutes / 60, minutes % 60)
}

/// The bytes POSTed: the notification as JSON.
pub fn body(n: &Notification) -> Vec<u8> {
    serde_json::to_vec(n).unwrap_or_default()
}

/// HMAC-SHA256 (RFC 2104) of `message` with `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: `new_from_slice` never fails for it.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else { return [0; 32] };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The [`SIGNATURE_HEADER`] value of `body` signed with `secret`: `sha256=<hex>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mac = hmac_sha256(secret.as_bytes(), body);
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `header` is `body`'s signature with `secret` (compared in constant time): what a
/// receiver checks.
pub fn signed(secret: &str, body: &[u8], header: &str) -> bool {
    crate::auth::constant_time_eq(signature(secret, body).as_bytes(), header.trim().as_bytes())
}

/// Why POSTing to webhook `i` (of `webhooks`) failed, as health and the log show it: the
/// webhook by its position, never its URL (a secret), even where the platform's error quotes it.
pub fn failure(i: usize, why: &str, webhooks: &[String]) -> String {
    let why = webhooks
        .iter()
        .enumerate()
        .fold(why.to_owned(), |why, (j, url)| why.replace(url.as_str(), &format!("webhook {}", j + 1)));
    cut(&format!("webhook {}: {why}", i + 1))
}

/// One minute's figures as the store keeps them (`notify_minutes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Minute {
    /// POSTs accepted.
    pub sent: u64,
    /// POSTs failed.
    pub failed: u64,
    /// Notifications held back.
    pub held_back: u64,
    /// When the last failure of the minute happened.
    pub last_failure_at: Option<i64>,
    /// Why.
    pub last_error: Option<String>,
}

/// What one send did, to be added to its minute.
pub fn sent(results: &[Result<(), String>], at: i64) -> Minute {
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    Minute {
        sent: (results.len() - failures.len()) as u64,
        failed: failures.len() as u64,
        held_back: 0,
        last_failure_at: (!failures.is_empty()).then_some(at),
        last_error: failures.last().map(|e| cut(e)),
    }
}

/// `GET /api/health`'s figures from the last [`HEALTH_MINUTES`] minutes' rows (in any order);
/// why the last failure happened only for an authenticated caller.
pub fn status(minutes: &[Minute], authenticated: bool) -> NotifyStatus {
    let mut status = NotifyStatus::default();
    for m in minutes {
        status.sent += m.sent;
        status.failed += m.failed;
        status.held_back += m.held_back;
        if m.last_failure_at.is_some() && m.last_failure_at >= status.last_failure_at {
            status.last_failure_at = m.last_failure_at;
            status.last_error = m.last_error.clone();
        }
    }
    if !authenticated {
        status.last_error = None;
    }
    status
}
