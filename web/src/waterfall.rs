//! The waterfall of a purge: one bar per instance, from its first request's start to its last
//! answer, coloured by its worst outcome. Drawn as SVG from the report's rows (`started_ms` and
//! `elapsed_ms`), for the live purge and for every history entry.

use edgepurge_core::api::{Outcome, PurgeResult};
use leptos::prelude::*;

/// One instance's bar, in ms after the fan-out began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// The instance, as reports name it.
    pub instance: String,
    /// When its first request started.
    pub start: u64,
    /// When its last request finished.
    pub end: u64,
    /// The worst outcome among its rows.
    pub outcome: Outcome,
}

/// How bad an outcome is, for the bar's colour: a failure shows over a success.
fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Purged | Outcome::NotCached => 0,
        Outcome::Unconfirmed => 1,
        Outcome::Rejected => 2,
        Outcome::Failed => 3,
    }
}

/// The bars of `rows`, instances in the order they first appear; rows without times (older
/// history, requests that never finished) have none.
pub fn bars(rows: &[PurgeResult]) -> Vec<Bar> {
    let mut bars: Vec<Bar> = Vec::new();
    for r in rows {
        let (Some(start), Some(elapsed)) = (r.started_ms, r.elapsed_ms) else { continue };
        let end = start + elapsed;
        match bars.iter_mut().find(|b| b.instance == r.instance) {
            Some(b) => {
                b.start = b.start.min(start);
                b.end = b.end.max(end);
                if rank(r.outcome) > rank(b.outcome) {
                    b.outcome = r.outcome;
                }
            }
            None => bars.push(Bar { instance: r.instance.clone(), start, end, outcome: r.outcome }),
        }
    }
    bars
}

const LABEL: f64 = 190.0;
const TRACK: f64 = 560.0;
const ROW: f64 = 22.0;

/// The waterfall of `rows`; nothing when no row has times yet.
#[component]
pub fn Waterfall(rows: Vec<PurgeResult>) -> impl IntoView {
    let bars = bars(&rows);
    if bars.is_empty() {
        return None;
    }
    let last = bars.iter().map(|b| b.end).max().unwrap_or(1).max(1);
    let scale = TRACK / last as f64;
    let height = ROW * bars.len() as f64 + 24.0;
    let label = format!("Waterfall: {} instances, the slowest done after {last} ms", bars.len());
    Some(view! {
        <figure class="waterfall" data-testid="waterfall">
            <svg viewBox=format!("0 0 {} {height}", LABEL + TRACK + 60.0) role="img"
                 aria-label=label>
                {bars.into_iter().enumerate().map(|(i, b)| {
                    let y = ROW * i as f64;
                    let x = LABEL + b.start as f64 * scale;
                    let width = ((b.end - b.start) as f64 * scale).max(2.0);
                    let class = format!("bar {}", b.outcome.as_str());
                    let title = format!("{}: {} to {} ms, {}", b.instance, b.start, b.end, b.outcome.label());
                    view! {
                        <g>
                            <text x="0" y=y + 15.0 class="bar-label">{b.instance.clone()}</text>
                            <rect x=x y=y + 4.0 width=width height=ROW - 8.0 rx="2" class=class
                                  data-testid="waterfall-bar" data-instance=b.instance.clone()
                                  data-outcome=b.outcome.as_str() data-start=b.start data-end=b.end>
                                <title>{title}</title>
                            </rect>
                            <text x=x + width + 4.0 y=y + 15.0 class="bar-ms">{format!("{} ms", b.end - b.start)}</text>
                        </g>
                    }
                }).collect_view()}
                <text x=LABEL y=height - 4.0 class="axis">"0 ms"</text>
                <text x=LABEL + TRACK y=height - 4.0 class="axis" text-anchor="end">{format!("{last} ms")}</text>
            </svg>
        </figure>
    })
}
