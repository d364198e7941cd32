//! The live purge table as plain data: events in, rows out. Kept free of the DOM so it can be
//! tested anywhere.

use edgepurge_core::api::{PurgeEvent, PurgeReport, PurgeRequest, PurgeResult, PurgeStatus};

/// One row of the live table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRow {
    /// The URL.
    pub url: String,
    /// The instance.
    pub instance: String,
    /// `None` while waiting for the instance.
    pub result: Option<PurgeResult>,
}

impl LiveRow {
    /// The text of the outcome cell: the outcome's label, or `waiting…` until it answers.
    pub fn outcome_label(&self) -> &'static str {
        self.result.as_ref().map_or("waiting…", |r| r.outcome.label())
    }
}

/// The state of one live purge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LivePurge {
    /// Every pair, in report order.
    pub rows: Vec<LiveRow>,
    /// The final report, once it arrived.
    pub report: Option<PurgeReport>,
}

impl LivePurge {
    /// Applies one event from the stream.
    pub fn apply(&mut self, event: PurgeEvent) {
        match event {
            PurgeEvent::Started { pairs } => {
                self.rows =
                    pairs.into_iter().map(|p| LiveRow { url: p.url, instance: p.instance, result: None }).collect();
                self.report = None;
            }
            PurgeEvent::Result(result) => self.set(result),
            PurgeEvent::Done(report) => {
                for r in &report.results {
                    self.set(r.clone());
                }
                self.report = Some(report);
            }
        }
    }

    fn set(&mut self, result: PurgeResult) {
        match self.rows.iter_mut().find(|r| r.url == result.url && r.instance == result.instance) {
            Some(row) => row.result = Some(result),
            None => self.rows.push(LiveRow {
                url: result.url.clone(),
                instance: result.instance.clone(),
                result: Some(result),
            }),
        }
    }

    /// Rows answered so far.
    pub fn answered(&self) -> usize {
        self.rows.iter().filter(|r| r.result.is_some()).count()
    }

    /// The table's caption: progress, then the summary once the report arrived.
    pub fn caption(&self) -> String {
        match &self.report {
            Some(r) => format!(
                "{}: {} purged, {} not cached, {}{} rejected, {} failed",
                match r.status {
                    PurgeStatus::Purged => "All purged",
                    PurgeStatus::Partial => "Partly purged",
                    PurgeStatus::Failed => "Purge failed",
                },
                r.summary.purged,
                r.summary.not_cached,
                // A success that is not the contract's answer is counted apart, where there is one.
                match r.summary.unconfirmed {
                    0 => String::new(),
                    n => format!("{n} unconfirmed, "),
                },
                r.summary.rejected,
                r.summary.failed
            ),
            None => format!("{} of {} instances answered", self.answered(), self.rows.len()),
        }
    }
}

/// Splits the URL box into URLs: one per line, blank lines and surrounding spaces ignored.
pub fn urls_from_text(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// What the Purge page's box holds, one item per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// URLs.
    Urls,
    /// Surrogate keys.
    Keys,
    /// Path prefixes, as URLs (admins).
    Prefixes,
    /// Whole hosts (admins).
    Hosts,
}

impl Kind {
    /// The kind for a `<select>` value.
    pub fn from_value(v: &str) -> Kind {
        match v {
            "keys" => Kind::Keys,
            "prefixes" => Kind::Prefixes,
            "hosts" => Kind::Hosts,
            _ => Kind::Urls,
        }
    }
}

/// The purge request for the box's text; `confirm` asks each instance for each URL right after
/// its purge, or, for the other kinds (which name no URL), for the URLs in `confirm_text`.
pub fn purge_request(kind: Kind, text: &str, soft: bool, confirm: bool, confirm_text: &str) -> PurgeRequest {
    let items = urls_from_text(text);
    let mut req = PurgeRequest { soft, confirm: confirm && kind == Kind::Urls, ..Default::default() };
    if confirm && kind != Kind::Urls {
        req.confirm_urls = urls_from_text(confirm_text);
    }
    match kind {
        Kind::Urls => req.urls = items,
        Kind::Keys => req.keys = items,
        Kind::Prefixes => req.prefixes = items,
        Kind::Hosts => req.hosts = items,
    }
    req
}
