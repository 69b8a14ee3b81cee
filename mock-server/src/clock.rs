//! The server's clock: wall time plus an offset that test control can move.
//!
//! Every expiry (codes, tokens, Connect flows) and every timestamp header reads [`Clock::now`],
//! so advancing the clock expires things exactly as waiting would.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// A cloneable handle; all clones share one offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`, the format of `sc-data-age`, `sc-fetched-at` and `connectedAt`
/// (smartcar-api.md §10; Java parses it with a fixed pattern).
const SMARTCAR_TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: time::Duration) {
        let ms = i64::try_from(by.whole_milliseconds()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Makes `now()` return `to` at this instant, and move on from there.
    pub fn set(&self, to: OffsetDateTime) {
        let offset = to - OffsetDateTime::now_utc();
        // Rounded up, so `now()` right after is `to`, not a fraction of a millisecond before it.
        let ms = offset.whole_milliseconds() + i128::from(offset.subsec_nanoseconds() % 1_000_000 > 0);
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        self.offset_ms.store(ms, Ordering::Relaxed);
    }

    /// How far the clock is from wall time.
    pub fn offset(&self) -> time::Duration {
        time::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Back to wall time.
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }
}

/// `12:01:03`: the time of day of `at` (UTC), to the second, for reasons people read.
pub fn time_of_day(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
}

/// Formats a time as Smartcar does in headers and bodies: `2024-03-01T12:00:00.000Z`.
pub fn smartcar_timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    // Every response carries two of these: `format!` is several times faster than `time`'s
    // general formatter, which stays for years `{:04}` would not write as `time` does.
    if !(0..=9999).contains(&at.year()) {
        return at.format(SMARTCAR_TIMESTAMP).unwrap_or_default();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
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
}
