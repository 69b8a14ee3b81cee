//! The server's clock: wall time plus an offset that test control can move.
//!
//! Every expiry (codes, tokens, Connect flows) and every timestamp header reads [`Clock::now`],
//! so advancing the clock expires things exactly as waiting would.
//!
//! The offset stays within [`MAX_OFFSET`] (±100 years) of wall time: far enough for any expiry a
//! test wants to cross, and far enough from `time`'s last representable year (9999) that the
//! platform's own `now + lifetime` arithmetic can never leave the calendar.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// How far from wall time the clock may be moved, either way: 100 years of 365.25 days.
pub(crate) const MAX_OFFSET: time::Duration = time::Duration::days(36_525);

/// The answer to a move that would take the clock more than [`MAX_OFFSET`] from wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the clock stays within 100 years of wall time (offset between -{days} and +{days} days)", days = MAX_OFFSET.whole_days())]
pub struct OutOfRange;

/// A cloneable handle; all clones share one offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// Woken when test control moves the clock, so the simulator announces at once what the move
    /// changed instead of at its next tick.
    moved: Arc<tokio::sync::Notify>,
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`, the format of `sc-data-age`, `sc-fetched-at` and `connectedAt`
/// (Java parses it with a fixed pattern: docs/contract/api.md#timestamps).
const SMARTCAR_TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

impl Clock {
    /// Wall time plus the offset. Saturating, so it cannot panic even if the offset were out of
    /// range (the setters keep it in range).
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc().saturating_add(time::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed)))
    }

    /// Moves the clock forward (or back, with a negative duration), stopping at [`MAX_OFFSET`]
    /// from wall time. For in-process tests; the admin API refuses instead ([`Clock::try_advance`]).
    pub fn advance(&self, by: time::Duration) {
        let by = i64::try_from(by.whole_milliseconds()).unwrap_or(if by.is_negative() { i64::MIN } else { i64::MAX });
        let limit = i64::try_from(MAX_OFFSET.whole_milliseconds()).unwrap_or(i64::MAX);
        let _ = self.offset_ms.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |ms| {
            Some(ms.saturating_add(by).clamp(-limit, limit))
        });
        self.moved.notify_waiters();
    }

    /// Moves the clock forward (or back, with a negative duration), unless that takes it more
    /// than [`MAX_OFFSET`] from wall time.
    pub fn try_advance(&self, by: time::Duration) -> Result<(), OutOfRange> {
        let by = i64::try_from(by.whole_milliseconds()).map_err(|_| OutOfRange)?;
        self.offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |ms| {
                ms.checked_add(by).filter(|&ms| in_range(ms))
            })
            .map(|_| self.moved.notify_waiters())
            .map_err(|_| OutOfRange)
    }

    /// Makes `now()` return `to` at this instant, and move on from there, unless `to` is more
    /// than [`MAX_OFFSET`] from wall time.
    pub fn set(&self, to: OffsetDateTime) -> Result<(), OutOfRange> {
        // A difference of two dates within years ±9999 always fits a `Duration`.
        let offset = to - OffsetDateTime::now_utc();
        // Rounded up, so `now()` right after is `to`, not a fraction of a millisecond before it.
        let ms = offset.whole_milliseconds() + i128::from(offset.subsec_nanoseconds() % 1_000_000 > 0);
        let ms = i64::try_from(ms).ok().filter(|&ms| in_range(ms)).ok_or(OutOfRange)?;
        self.offset_ms.store(ms, Ordering::Relaxed);
        self.moved.notify_waiters();
        Ok(())
    }

    /// How far the clock is from wall time.
    pub fn offset(&self) -> time::Duration {
        time::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Back to wall time.
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
        self.moved.notify_waiters();
    }

    /// Resolves the next time test control moves the clock (advance, set, reset).
    pub async fn moved(&self) {
        self.moved.notified().await;
    }
}

fn in_range(offset_ms: i64) -> bool {
    i128::from(offset_ms).abs() <= MAX_OFFSET.whole_milliseconds()
}

/// `12:01:03`: the time of day of `at` (UTC), to the second, for reasons people read.
pub(crate) fn time_of_day(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
}

/// Formats a time as Smartcar does in headers and bodies: `2024-03-01T12:00:00.000Z`.
pub(crate) fn smartcar_timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    // Every vehicle read carries two of these: writing the digits is several times faster than
    // `format!`, and that than `time`'s general formatter, which stays for years outside 0–9999.
    let Ok(year) = u16::try_from(at.year()) else {
        return at.format(SMARTCAR_TIMESTAMP).unwrap_or_default();
    };
    if year > 9999 {
        return at.format(SMARTCAR_TIMESTAMP).unwrap_or_default();
    }
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: u16| {
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, u16::from(u8::from(at.month())));
    put(8, 2, u16::from(at.day()));
    put(11, 2, u16::from(at.hour()));
    put(14, 2, u16::from(at.minute()));
    put(17, 2, u16::from(at.second()));
    put(20, 3, at.millisecond());
    String::from_utf8_lossy(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_millisecond_precision_and_a_z() {
        let at = time::macros::datetime!(2024-03-01 12:00:05.123456 UTC);

        assert_eq!(smartcar_timestamp(at), "2024-03-01T12:00:05.123Z");
    }

    #[test]
    fn timestamps_pad_every_field() {
        let at = time::macros::datetime!(0987-01-02 03:04:05.006 UTC);

        assert_eq!(smartcar_timestamp(at), "0987-01-02T03:04:05.006Z");
    }

    #[test]
    fn advancing_the_clock_moves_now_forward() {
        let clock = Clock::default();
        let before = clock.now();

        clock.advance(time::Duration::hours(2));

        assert!(clock.now() - before >= time::Duration::hours(2));
    }

    #[test]
    fn the_clock_refuses_to_leave_its_range_and_stays_where_it_was() {
        let clock = Clock::default();
        clock.try_advance(time::Duration::days(36_000)).expect("in range");

        let too_far = clock.try_advance(time::Duration::days(600));
        let year_9999 = clock.set(time::macros::datetime!(9999-12-31 23:59:59 UTC));
        let huge = clock.try_advance(time::Duration::MAX);

        assert_eq!(
            (too_far, year_9999, huge),
            (Err(OutOfRange), Err(OutOfRange), Err(OutOfRange))
        );
        assert_eq!(clock.offset().whole_days(), 36_000);
    }

    #[test]
    fn an_in_process_advance_stops_at_the_range() {
        let clock = Clock::default();

        clock.advance(time::Duration::MAX);

        assert_eq!(clock.offset(), MAX_OFFSET);
    }

    #[test]
    fn now_never_panics_whatever_the_offset() {
        let clock = Clock::default();

        for offset in [i64::MAX, i64::MIN] {
            clock.offset_ms.store(offset, Ordering::Relaxed);
            let _ = clock.now();
        }
    }
}
