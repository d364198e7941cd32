//! What the history keeps of a purge, bounded: every accepted purge must fit in its row, however
//! large or hostile its items, because the row is written before the first `PURGE` leaves.
//!
//! Items are kept by their labels ([`crate::purge::Purge::label`]), at most [`MAX_ITEMS`], each
//! cut at [`MAX_LABEL_CHARS`] characters (an ellipsis marks the cut), with the full count kept
//! beside them. The per-instance results kept in the row are cut the same way and, past
//! [`MAX_RESULTS`], only the ones that did not succeed are kept first. Deliveries for
//! redelivery keep their full label: they are one row each, and redelivery must read it back.

use crate::api::PurgeResult;

/// Items kept per history entry.
pub const MAX_ITEMS: usize = 100;
/// Characters kept of each label.
pub const MAX_LABEL_CHARS: usize = 1024;
/// Per-instance results kept in the entry itself.
pub const MAX_RESULTS: usize = 1000;

/// A label as the history keeps it.
pub fn bounded_label(label: &str) -> String {
    match label.char_indices().nth(MAX_LABEL_CHARS) {
        None => label.to_owned(),
        Some((cut, _)) => format!("{}…", &label[..cut]),
    }
}

/// The items as the history keeps them.
pub fn bounded_items(labels: &[String]) -> Vec<String> {
    labels.iter().take(MAX_ITEMS).map(|l| bounded_label(l)).collect()
}

/// The results as the history entry keeps them: labels cut, at most [`MAX_RESULTS`], those that
/// did not succeed first when some must go.
pub fn bounded_results(results: &[PurgeResult]) -> Vec<PurgeResult> {
    let mut kept: Vec<&PurgeResult> = results.iter().collect();
    if kept.len() > MAX_RESULTS {
        kept.sort_by_key(|r| r.outcome.is_success());
        kept.truncate(MAX_RESULTS);
    }
    kept.into_iter().map(|r| PurgeResult { url: bounded_label(&r.url), ..r.clone() }).collect()
}
