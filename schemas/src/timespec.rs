//! Time specifications as people type them: `15m`, `2h30m`, RFC 3339, `2026-11-22`,
//! `2026-11-22 13:05[:30]`, `today`, `yesterday`, `now`, `@1700000000`.
//!
//! Shared by the CLI (`--since`/`--until`) and the HTTP API, so both read times alike.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};
use thiserror::Error;

/// A time specification that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "invalid time {0:?}: expected a duration ago (15m, 2h30m, 7d), RFC 3339, \
     YYYY-MM-DD[ HH:MM[:SS]], today, yesterday, now or @EPOCH_SECONDS"
)]
pub struct TimeSpecError(pub String);

/// Reads `spec` relative to `now`; dates and times without a zone are in `now`'s time zone.
pub fn parse_time_spec(spec: &str, now: &Zoned) -> Result<Timestamp, TimeSpecError> {
    let err = || TimeSpecError(spec.to_owned());
    let s = spec.trim();
    if s.is_empty() {
        return Err(err());
    }
    match s {
        "now" => return Ok(now.timestamp()),
        "today" => return now.start_of_day().map(|z| z.timestamp()).map_err(|_| err()),
        "yesterday" => {
            let day = now.date().yesterday().map_err(|_| err())?;
            return day
                .to_zoned(now.time_zone().clone())
                .map(|z| z.timestamp())
                .map_err(|_| err());
        }
        _ => {}
    }
    if let Some(epoch) = s.strip_prefix('@') {
        let secs: f64 = epoch.parse().map_err(|_| err())?;
        if !secs.is_finite() {
            return Err(err());
        }
        let dur = SignedDuration::try_from_secs_f64(secs).map_err(|_| err())?;
        return Timestamp::from_duration(dur).map_err(|_| err());
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) && s.ends_with(|c: char| c.is_ascii_alphabetic())
    {
        // A duration ago: "15m", "2h30m", "1d 2h". Days are 24 hours here.
        if let Ok(span) = s.parse::<jiff::Span>() {
            let ago = span
                .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                .map_err(|_| err())?;
            if ago.is_negative() {
                return Err(err());
            }
            return now.timestamp().checked_sub(ago).map_err(|_| err());
        }
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    let tz: &TimeZone = now.time_zone();
    if let Ok(dt) = s.parse::<DateTime>() {
        return tz
            .to_ambiguous_zoned(dt)
            .compatible()
            .map(|z| z.timestamp())
            .map_err(|_| err());
    }
    if let Ok(date) = s.parse::<Date>() {
        return date
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|_| err());
    }
    Err(err())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Zoned {
        "2026-11-23T10:30:00+01:00[Europe/Paris]"
            .parse()
            .expect("zoned")
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn relative_durations() {
        assert_eq!(
            parse_time_spec("15m", &now()),
            Ok(at("2026-11-23T09:15:00Z"))
        );
        assert_eq!(
            parse_time_spec("2h30m", &now()),
            Ok(at("2026-11-23T07:00:00Z"))
        );
        assert_eq!(
            parse_time_spec("1d", &now()),
            Ok(at("2026-11-22T09:30:00Z"))
        );
    }

    #[test]
    fn absolute_forms() {
        assert_eq!(
            parse_time_spec("2026-11-22T13:11:35Z", &now()),
            Ok(at("2026-11-22T13:11:35Z"))
        );
        assert_eq!(
            parse_time_spec("2026-11-22T13:11:35+02:00", &now()),
            Ok(at("2026-11-22T11:11:35Z"))
        );
        assert_eq!(
            parse_time_spec("2026-11-22", &now()),
            Ok(at("2026-11-21T23:00:00Z"))
        );
        assert_eq!(
            parse_time_spec("2026-11-22 13:05", &now()),
            Ok(at("2026-11-22T12:05:00Z"))
        );
        assert_eq!(
            parse_time_spec("2026-11-22 13:05:30", &now()),
            Ok(at("2026-11-22T12:05:30Z"))
        );
        assert_eq!(
            parse_time_spec("@1700000000", &now()),
            Ok(at("2023-11-14T22:13:20Z"))
        );
    }

    #[test]
    fn named_days() {
        assert_eq!(
            parse_time_spec("now", &now()),
            Ok(at("2026-11-23T09:30:00Z"))
        );
        assert_eq!(
            parse_time_spec("today", &now()),
            Ok(at("2026-11-22T23:00:00Z"))
        );
        assert_eq!(
            parse_time_spec("yesterday", &now()),
            Ok(at("2026-11-21T23:00:00Z"))
        );
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["", "soon", "2h-", "-2h", "@x", "2026-13-01", "12:00"] {
            assert!(parse_time_spec(bad, &now()).is_err(), "{bad:?}");
        }
    }
}
