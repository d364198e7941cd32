//! Webhook notifications: each kind's count in its minute and what it held back (one upsert per
//! event, which `core::notify::rate` reads), and each minute's figures (sent, failed, held back,
//! the last failure) for `GET /api/health`, forgotten by the cron after a day.

use super::{n, opt, opt_n, s, Store};
use edgepurge_core::api::NotifyKind;
use edgepurge_core::limits;
use edgepurge_core::notify::{Minute, Window};
use edgepurge_core::ApiError;
use serde::Deserialize;

/// Counts one event of kind `?1` in minute `?2` (the first `?3` of a minute are sent, as
/// `notify::rate` says: then `held` starts again from 0, else it counts this one), at `?4` ms;
/// returns the event's count in its minute and what was held back before it.
pub(super) const COUNT: &str =
    "INSERT INTO notify_kinds (kind, minute, count, held, held_since, prev_held, prev_since) \
     VALUES (?1, ?2, 1, 0, NULL, 0, NULL) ON CONFLICT (kind) DO UPDATE SET \
     count = CASE WHEN minute = ?2 THEN count + 1 ELSE 1 END, \
     held = CASE WHEN (CASE WHEN minute = ?2 THEN count + 1 ELSE 1 END) <= ?3 THEN 0 ELSE held + 1 END, \
     held_since = CASE WHEN (CASE WHEN minute = ?2 THEN count + 1 ELSE 1 END) <= ?3 THEN NULL \
                       WHEN held = 0 THEN ?4 ELSE held_since END, \
     prev_held = held, prev_since = held_since, minute = ?2 \
     RETURNING count, prev_held, prev_since";
/// Adds to minute `?1`: `?2` sent, `?3` failed, `?4` held back, and the last failure (`?5` ms,
/// `?6` why) when there was one.
const RECORD: &str = "INSERT INTO notify_minutes (minute, sent, failed, held_back, last_failure_at, last_error) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (minute) DO UPDATE SET sent = sent + ?2, failed = failed + ?3, \
     held_back = held_back + ?4, last_failure_at = coalesce(?5, last_failure_at), \
     last_error = CASE WHEN ?5 IS NULL THEN last_error ELSE ?6 END";
/// The minutes after `?1`.
const RECENT: &str = "SELECT sent, failed, held_back, last_failure_at, last_error FROM notify_minutes \
     WHERE minute > ?1 ORDER BY minute";
/// Forgets the minutes before `?1`.
const PRUNE: &str = "DELETE FROM notify_minutes WHERE minute < ?1";
/// The kinds with events held back that no notification sent since has summarised.
const UNTOLD: &str = "SELECT kind, held, held_since FROM notify_kinds WHERE held > 0 ORDER BY kind";
/// Claims kind `?1`'s `?2` events held back, to be told of now: only while no event of the kind
/// has been counted since they were read (one that has, sent, summarises them itself), so they
/// are told of once.
pub(super) const CLAIM_HELD: &str = "UPDATE notify_kinds SET held = 0, held_since = NULL \
                                     WHERE kind = ?1 AND held = ?2 RETURNING kind";

statements![COUNT, RECORD, RECENT, PRUNE, UNTOLD, CLAIM_HELD];

#[derive(Deserialize)]
struct Counted {
    count: u32,
    prev_held: u64,
    prev_since: Option<i64>,
}

/// A kind's events held back, untold.
#[derive(Deserialize)]
pub struct Untold {
    kind: String,
    pub held: u64,
    pub held_since: Option<i64>,
}

impl Untold {
    /// Its kind; `None` for a name the core does not know (the table's CHECK keeps them out).
    pub fn kind(&self) -> Option<NotifyKind> {
        NotifyKind::parse(&self.kind)
    }
}

#[derive(Deserialize)]
struct MinuteRow {
    sent: u64,
    failed: u64,
    held_back: u64,
    last_failure_at: Option<i64>,
    last_error: Option<String>,
}

impl Store {
    /// Counts an event of `kind` at `now` against `per_minute`: its minute's window as the
    /// core's `notify::rate` reads it.
    pub async fn notify_count(&self, kind: NotifyKind, now: i64, per_minute: u32) -> Result<Window, ApiError> {
        let args = [s(kind.as_str()), n(limits::window(now)), n(per_minute.into()), n(now)];
        let row: Option<Counted> = self.row(COUNT, &args).await?;
        let row = row.ok_or_else(|| crate::problem::internal("the notification count returned no row"))?;
        Ok(Window { count: row.count, held: row.prev_held, held_since: row.prev_since })
    }

    /// Adds `figures` to the minute of `now`.
    pub async fn notify_record(&self, now: i64, figures: &Minute) -> Result<(), ApiError> {
        let clamp = |v: u64| n(i64::try_from(v).unwrap_or(i64::MAX));
        let args = [
            n(limits::window(now)),
            clamp(figures.sent),
            clamp(figures.failed),
            clamp(figures.held_back),
            opt_n(figures.last_failure_at),
            opt(figures.last_error.as_deref()),
        ];
        self.run(RECORD, &args).await
    }

    /// The figures of the minutes after `since` (a minute number).
    pub async fn notify_minutes(&self, since: i64) -> Result<Vec<Minute>, ApiError> {
        let rows: Vec<MinuteRow> = self.rows(RECENT, &[n(since)]).await?;
        Ok(rows
            .into_iter()
            .map(|r| Minute {
                sent: r.sent,
                failed: r.failed,
                held_back: r.held_back,
                last_failure_at: r.last_failure_at,
                last_error: r.last_error,
            })
            .collect())
    }

    /// The kinds with events held back that no notification sent since has summarised.
    pub async fn notify_untold(&self) -> Result<Vec<Untold>, ApiError> {
        self.rows(UNTOLD, &[]).await
    }

    /// Claims `untold` to be told of now; false when an event of its kind was counted since it
    /// was read (the next one sent tells of them) or another run claimed it first.
    pub async fn notify_claim(&self, untold: &Untold) -> Result<bool, ApiError> {
        let held = n(i64::try_from(untold.held).unwrap_or(i64::MAX));
        let row: Option<serde::de::IgnoredAny> = self.row(CLAIM_HELD, &[s(&untold.kind), held]).await?;
        Ok(row.is_some())
    }

    /// Forgets the figures of the minutes before `before` (a minute number).
    pub async fn prune_notify_minutes(&self, before: i64) -> Result<(), ApiError> {
        self.run(PRUNE, &[n(before)]).await
    }
}

/// The upsert run against SQLite, checked against `core::notify::rate` event by event: the two
/// keep the same rule.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::{CLAIM_HELD, COUNT};
    use edgepurge_core::notify::{rate, Rate, Window};
    use rusqlite::params;

    #[test]
    fn the_count_holds_back_what_the_core_says_and_hands_it_to_the_next_one_sent() {
        let (db, ()) = super::super::tests::migrated(|_| ());
        let per_minute = 2;
        // (minute, ms): three in minute 10, four in minute 11, one in minute 13.
        let events = [(10, 600_000), (10, 600_100), (10, 600_200), (11, 660_000), (11, 660_100), (11, 660_200)];
        let events = events.into_iter().chain([(11, 660_300), (13, 780_000)]);
        let mut decisions = Vec::new();
        for (minute, at) in events {
            let window = db
                .query_row(COUNT, params!["partial", minute, per_minute, at], |row| {
                    Ok(Window { count: row.get(0)?, held: row.get(1)?, held_since: row.get(2)? })
                })
                .expect("the count runs");
            decisions.push(rate(window, per_minute));
        }
        let send = |held, since| Rate::Send { held, since };
        assert_eq!(
            decisions,
            [
                send(0, None),
                send(0, None),
                Rate::Hold,
                // The next minute's first one stands for the one held back at 600,200 too.
                send(1, Some(600_200)),
                send(0, None),
                Rate::Hold,
                Rate::Hold,
                send(2, Some(660_200)),
            ]
        );
        // What the last minute held back (two, since 660,200) and no event since has told of:
        // the cron claims it once; an event counted after the read makes the claim fail.
        let claim = |held: u64| db.query_row(CLAIM_HELD, params!["partial", held], |_| Ok(())).is_ok();
        let held: u64 = db
            .query_row("SELECT held FROM notify_kinds WHERE kind = 'partial'", [], |r| r.get(0))
            .expect("the row reads");
        assert_eq!(held, 0, "minute 13's event was sent and told of them");
        for at in [780_100, 780_200] {
            db.query_row(COUNT, params!["partial", 13, per_minute, at], |_| Ok(())).expect("the count runs");
        }
        assert!(!claim(0), "nothing held: nothing to claim");
        assert!(!claim(2), "one held, not two");
        assert!(claim(1));
        assert!(!claim(1), "claimed once");
        // Another kind counts apart.
        let other = db
            .query_row(COUNT, params!["failed", 13, per_minute, 780_001], |row| row.get::<_, u32>(0))
            .expect("the count runs");
        assert_eq!(other, 1);
    }
}
