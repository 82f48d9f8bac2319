//! Record timestamps: one fixed-width RFC 3339 UTC form, so that stored times compare as
//! strings in the same order as the instants they name.

use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::error::{Error, Result};

/// `at` as "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC, truncated to microseconds). A clock outside the
/// range `time` can represent is written as the Unix epoch rather than failing the record.
pub(super) fn format(at: SystemTime) -> String {
    let nanos = match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(0),
        Err(before) => i128::try_from(before.duration().as_nanos()).map_or(0, |n| -n),
    };
    let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format_utc(t)
}

fn format_utc(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// An RFC 3339 bound (any offset, any fraction) in the stored form, rounded UP to the next
/// whole microsecond: stored times are whole microseconds, so for them `bound <= t` and
/// `t < bound` keep their meaning. `ArgumentsBad` if `text` is not RFC 3339 or the result
/// falls outside years 0000..=9999.
pub(super) fn normalize_bound(text: &str) -> Result<String> {
    let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| Error::ArgumentsBad)?;
    let t = t
        .checked_to_offset(UtcOffset::UTC)
        .ok_or(Error::ArgumentsBad)?;
    let sub_micro = t.nanosecond() % 1000;
    let t = if sub_micro == 0 {
        t
    } else {
        t.checked_add(Duration::nanoseconds(i64::from(1000 - sub_micro)))
            .ok_or(Error::ArgumentsBad)?
    };
    if !(0..=9999).contains(&t.year()) {
        return Err(Error::ArgumentsBad);
    }
    Ok(format_utc(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration as StdDuration;

    #[test]
    fn formats_fixed_width_utc_micros() {
        let at = UNIX_EPOCH + StdDuration::new(1_795_435_200, 123_456_789);
        assert_eq!(format(at), "2026-11-23T12:00:00.123456Z");
        assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn bounds_are_normalized_and_rounded_up() {
        assert_eq!(
            normalize_bound("2026-11-23T13:00:00+01:00").unwrap(),
            "2026-11-23T12:00:00.000000Z"
        );
        assert_eq!(
            normalize_bound("2026-11-23T12:00:00.0000001Z").unwrap(),
            "2026-11-23T12:00:00.000001Z"
        );
        assert_eq!(
            normalize_bound("2026-11-23T12:00:00.999999999Z").unwrap(),
            "2026-11-23T12:00:01.000000Z"
        );
        assert_eq!(normalize_bound("yesterday"), Err(Error::ArgumentsBad));
        assert_eq!(normalize_bound("2026-11-23"), Err(Error::ArgumentsBad));
    }
}
