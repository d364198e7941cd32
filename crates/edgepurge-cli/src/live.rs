//! Showing a live purge: on a terminal, one line per instance that changes as it answers, with a
//! progress bar (indicatif); off a terminal, one plain line per result; with `--json`, only the
//! final report.

use crate::output;
use edgepurge_core::api::{PurgeEvent, PurgeReport, PurgeResult};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

/// The rows of a live purge per instance: which instances, in the order the stream names them,
/// how many rows each expects, and the rows answered so far.
#[derive(Debug, Default)]
pub struct Tally {
    instances: Vec<Slot>,
}

#[derive(Debug)]
struct Slot {
    instance: String,
    expected: usize,
    rows: Vec<PurgeResult>,
}

impl Tally {
    /// Applies an event; returns the indexes of the instances whose line changed.
    pub fn apply(&mut self, event: &PurgeEvent) -> Vec<usize> {
        match event {
            PurgeEvent::Started { pairs } => {
                let mut changed = Vec::new();
                for pair in pairs {
                    let i = self.slot(&pair.instance);
                    self.instances[i].expected += 1;
                    if !changed.contains(&i) {
                        changed.push(i);
                    }
                }
                changed
            }
            PurgeEvent::Result(row) => vec![self.record(row)],
            PurgeEvent::Done(report) => {
                let mut changed = Vec::new();
                for row in &report.results {
                    let known = self.instances.iter().any(|s| s.rows.iter().any(|r| r == row));
                    if !known {
                        let i = self.record(row);
                        if !changed.contains(&i) {
                            changed.push(i);
                        }
                    }
                }
                changed
            }
        }
    }

    fn slot(&mut self, instance: &str) -> usize {
        match self.instances.iter().position(|s| s.instance == instance) {
            Some(i) => i,
            None => {
                self.instances.push(Slot { instance: instance.to_owned(), expected: 0, rows: Vec::new() });
                self.instances.len() - 1
            }
        }
    }

    /// Records a row (the final report's copy of a row replaces the live one); its slot's index.
    fn record(&mut self, row: &PurgeResult) -> usize {
        let i = self.slot(&row.instance);
        let slot = &mut self.instances[i];
        match slot.rows.iter_mut().find(|r| r.url == row.url) {
            Some(existing) => *existing = row.clone(),
            None => slot.rows.push(row.clone()),
        }
        slot.expected = slot.expected.max(slot.rows.len());
        i
    }

    /// How many instances.
    pub fn len(&self) -> usize {
        self.instances.len()
    }

    /// Rows expected in all, and answered so far.
    pub fn progress(&self) -> (usize, usize) {
        self.instances.iter().fold((0, 0), |(e, a), s| (e + s.expected, a + s.rows.len()))
    }

    /// Whether instance `i` has answered every row it expects.
    pub fn finished(&self, i: usize) -> bool {
        self.instances.get(i).is_some_and(|s| s.rows.len() >= s.expected)
    }

    /// Instance `i`'s line.
    pub fn line(&self, i: usize) -> String {
        let Some(slot) = self.instances.get(i) else { return String::new() };
        let rows: Vec<&PurgeResult> = slot.rows.iter().collect();
        output::instance_line(&slot.instance, &rows, slot.expected)
    }
}

/// Where a live purge is shown.
pub trait Display {
    /// One event of the stream.
    fn event(&mut self, event: &PurgeEvent);
    /// A purge whose `Idempotency-Key` is still running: waiting `wait` before asking again.
    fn waiting(&mut self, wait: Duration) {
        eprintln!(
            "edgepurge: a purge with this Idempotency-Key is still running; asking again in {} s",
            wait.as_secs()
        );
    }
    /// The report arrived: what is left to print, and the summary.
    fn finish(&mut self, report: &PurgeReport);
}

/// Off a terminal: one line per result as it arrives, then the summary, on stdout.
#[derive(Default)]
pub struct Plain {
    printed: Vec<(String, String)>,
}

impl Display for Plain {
    fn event(&mut self, event: &PurgeEvent) {
        if let PurgeEvent::Result(row) = event {
            println!("{}", output::result_line(row));
            self.printed.push((row.url.clone(), row.instance.clone()));
        }
    }

    fn finish(&mut self, report: &PurgeReport) {
        // Rows the stream did not carry one by one (an idempotent replay sends only the report).
        for row in &report.results {
            if !self.printed.iter().any(|(u, i)| *u == row.url && *i == row.instance) {
                println!("{}", output::result_line(row));
            }
        }
        for note in output::notes(report) {
            println!("{note}");
        }
        println!("{}", output::summary_line(report));
    }
}

/// `--json`: nothing while it runs; the report as JSON on stdout, the summary on stderr.
pub struct Json;

impl Display for Json {
    fn event(&mut self, _: &PurgeEvent) {}

    fn finish(&mut self, report: &PurgeReport) {
        match serde_json::to_string_pretty(report) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("edgepurge: cannot write the report as JSON: {e}"),
        }
        eprintln!("{}", output::summary_line(report));
    }
}

/// On a terminal: a line per instance, redrawn as it answers, and a progress bar under them.
pub struct Live {
    multi: MultiProgress,
    bar: ProgressBar,
    lines: Vec<ProgressBar>,
    tally: Tally,
}

impl Live {
    /// Draws on stdout.
    pub fn new() -> Live {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let bar = multi.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} answered  {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        Live { multi, bar, lines: Vec::new(), tally: Tally::default() }
    }

    fn redraw(&mut self, changed: &[usize]) {
        let style = ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
        while self.lines.len() < self.tally.len() {
            // Instance lines go above the bar, in the order the stream names the instances.
            let line = self.multi.insert_before(&self.bar, ProgressBar::new(1));
            line.set_style(style.clone());
            self.lines.push(line);
        }
        for &i in changed {
            let text = self.tally.line(i);
            if self.tally.finished(i) {
                self.lines[i].finish_with_message(text);
            } else {
                self.lines[i].set_message(text);
            }
        }
        let (expected, answered) = self.tally.progress();
        self.bar.set_length(expected as u64);
        self.bar.set_position(answered as u64);
    }
}

impl Display for Live {
    fn event(&mut self, event: &PurgeEvent) {
        let changed = self.tally.apply(event);
        self.redraw(&changed);
    }

    fn waiting(&mut self, wait: Duration) {
        self.bar
            .set_message(format!("a purge with this Idempotency-Key is still running; again in {} s", wait.as_secs()));
        self.multi.suspend(|| {
            eprintln!(
                "edgepurge: a purge with this Idempotency-Key is still running; asking again in {} s",
                wait.as_secs()
            )
        });
    }

    fn finish(&mut self, report: &PurgeReport) {
        let all: Vec<usize> = (0..self.tally.len()).collect();
        self.redraw(&all);
        for line in &self.lines {
            if !line.is_finished() {
                line.finish();
            }
        }
        self.bar.finish_and_clear();
        for note in output::notes(report) {
            let _ = self.multi.println(note);
        }
        // The instance lines stay on screen; the summary goes under them.
        println!("{}", output::summary_line(report));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgepurge_core::api::{Outcome, Pair, PlanSummary, PurgeStatus, Summary};

    fn pair(url: &str, instance: &str) -> Pair {
        Pair { url: url.to_owned(), instance: instance.to_owned() }
    }

    fn row(url: &str, instance: &str, outcome: Outcome) -> PurgeResult {
        PurgeResult {
            url: url.to_owned(),
            instance: instance.to_owned(),
            outcome,
            http_status: Some(200),
            error: None,
            retryable: false,
            elapsed_ms: Some(2),
            started_ms: None,
            attempts: 1,
            pending: false,
            confirm: None,
            done_hard: false,
            retry_after_secs: None,
            upstream_id: None,
        }
    }

    fn report(results: Vec<PurgeResult>) -> PurgeReport {
        serde_json::from_value(serde_json::json!({
            "status": PurgeStatus::Purged,
            "summary": Summary::of(&results),
            "plan": PlanSummary::default(),
            "results": results,
        }))
        .expect("a report")
    }

    #[test]
    fn one_line_per_instance_changes_as_each_answers() {
        let mut tally = Tally::default();
        let started = PurgeEvent::Started {
            pairs: vec![pair("u1", "a:1"), pair("u2", "a:1"), pair("u1", "b:1"), pair("u2", "b:1")],
        };
        assert_eq!(tally.apply(&started), [0, 1]);
        assert_eq!(tally.len(), 2);
        assert_eq!(tally.progress(), (4, 0));
        assert_eq!(tally.line(1), "b:1                    waiting…");
        assert_eq!(tally.apply(&PurgeEvent::Result(row("u1", "b:1", Outcome::Purged))), [1]);
        assert!(!tally.finished(1));
        assert_eq!(tally.line(1), "b:1                    1/2 answered: 1 purged");
        tally.apply(&PurgeEvent::Result(row("u2", "b:1", Outcome::NotCached)));
        assert!(tally.finished(1));
        assert_eq!(tally.line(1), "b:1                    2/2 answered: 1 purged, 1 not cached");
        assert_eq!(tally.progress(), (4, 2));
        // The report fills what the stream did not carry, and only that.
        let done = PurgeEvent::Done(report(vec![
            row("u1", "a:1", Outcome::Purged),
            row("u2", "a:1", Outcome::Purged),
            row("u1", "b:1", Outcome::Purged),
            row("u2", "b:1", Outcome::NotCached),
        ]));
        assert_eq!(tally.apply(&done), [0]);
        assert_eq!(tally.progress(), (4, 4));
        assert!(tally.finished(0));
    }

    #[test]
    fn a_replayed_report_alone_gives_every_instance_its_line() {
        let mut tally = Tally::default();
        let done = PurgeEvent::Done(report(vec![row("u1", "a:1", Outcome::Purged), row("u1", "b:1", Outcome::Purged)]));
        assert_eq!(tally.apply(&done), [0, 1]);
        assert_eq!(tally.line(0), "a:1                    purged  (HTTP 200; 2 ms)");
        assert!(tally.finished(1));
    }
}
