//! Fast timestamp pieces shared by the format parsers. Parsers run at hundreds of MiB/s, so
//! these read fixed-width digits by hand rather than through a general parser.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

/// The value of `n` ASCII digits at the start of `b`.
pub fn digits(b: &[u8], n: usize) -> Option<u32> {
    let d = b.get(..n)?;
    let mut v: u32 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// A civil date and time, or `None` when out of range.
pub fn civil(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> Option<DateTime> {
    DateTime::new(
        i16::try_from(y).ok()?,
        i8::try_from(mo).ok()?,
        i8::try_from(d).ok()?,
        i8::try_from(h).ok()?,
        i8::try_from(mi).ok()?,
        i8::try_from(s).ok()?,
        i32::try_from(nanos).ok()?,
    )
    .ok()
}

/// `dt` read at a UTC offset of `seconds`.
pub fn at_offset(dt: DateTime, seconds: i32) -> Option<Timestamp> {
    Offset::from_seconds(seconds).ok()?.to_timestamp(dt).ok()
}

/// `dt` read in the zone `tz` (the earlier instant when ambiguous).
pub fn in_zone(dt: DateTime, tz: &TimeZone) -> Option<Timestamp> {
    tz.to_ambiguous_timestamp(dt).compatible().ok()
}

/// Month number of an English three-letter abbreviation (`Jan`..`Dec`).
pub fn month_abbrev(b: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let m = b.get(..3)?;
    MONTHS
        .iter()
        .position(|x| x[..] == *m)
        .map(|i| i as u32 + 1)
}

/// A fraction of a second after the `.` or `,`: its nanoseconds and the digits read.
pub fn fraction(b: &[u8]) -> (u32, usize) {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut v: u32 = 0;
    for (i, &c) in b[..n].iter().enumerate() {
        if i < 9 {
            v = v * 10 + u32::from(c - b'0');
        }
    }
    for _ in n..9 {
        v *= 10;
    }
    (v, n)
}

/// A UTC offset at the start of `b`: `Z`, `+HH:MM`, `+HHMM` or `+HH`; its seconds and length.
pub fn offset(b: &[u8]) -> Option<(i32, usize)> {
    match b.first()? {
        b'Z' | b'z' => Some((0, 1)),
        sign @ (b'+' | b'-') => {
            let h = digits(&b[1..], 2)?;
            let (m, len) = if b.get(3) == Some(&b':') {
                (digits(&b[4..], 2)?, 6)
            } else if let Some(m) = digits(&b[3..], 2) {
                (m, 5)
            } else {
                (0, 3)
            };
            if h > 23 || m > 59 {
                return None;
            }
            let s = (h * 3600 + m * 60) as i32;
            Some((if *sign == b'-' { -s } else { s }, len))
        }
        _ => None,
    }
}

/// An ISO 8601 / RFC 3339 time at the start of `s`: `YYYY-MM-DD[T ]HH:MM:SS[.frac][zone]`,
/// where a missing zone means `tz`. Returns the instant and the bytes read.
pub fn iso8601(s: &str, tz: &TimeZone) -> Option<(Timestamp, usize)> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(b, 4)?, digits(&b[5..], 2)?, digits(&b[8..], 2)?);
    let (h, mi, sec) = (
        digits(&b[11..], 2)?,
        digits(&b[14..], 2)?,
        digits(&b[17..], 2)?,
    );
    let mut at = 19;
    let mut nanos = 0;
    if matches!(b.get(at), Some(b'.' | b',')) {
        let (n, len) = fraction(&b[at + 1..]);
        if len == 0 {
            return None;
        }
        nanos = n;
        at += 1 + len;
    }
    let dt = civil(y, mo, d, h, mi, sec.min(59), nanos)?;
    match offset(&b[at..]) {
        Some((secs, len)) => Some((at_offset(dt, secs)?, at + len)),
        None => Some((in_zone(dt, tz)?, at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn iso8601_reads_zones_fractions_and_zone_less_times() {
        let paris = TimeZone::get("Europe/Paris").expect("tzdb");
        let utc = TimeZone::UTC;
        assert_eq!(
            iso8601("2026-11-22T13:14:55.005892 #1", &utc),
            Some((ts("2026-11-22T13:14:55.005892Z"), 26))
        );
        assert_eq!(
            iso8601("2026-11-22T13:14:55: msg", &paris),
            Some((ts("2026-11-22T12:14:55Z"), 19))
        );
        assert_eq!(
            iso8601("2015-11-10T03:07:39.602Z 21565", &paris),
            Some((ts("2015-11-10T03:07:39.602Z"), 24))
        );
        assert_eq!(
            iso8601("2026-11-22 13:11:35+05:30", &utc),
            Some((ts("2026-11-22T07:41:35Z"), 25))
        );
        assert_eq!(iso8601("2026-13-22 13:11:35", &utc), None);
        assert_eq!(iso8601("2026-11-22 13:11", &utc), None);
        assert_eq!(iso8601("2026-11-22T13:14:55.", &utc), None);
    }

    #[test]
    fn offsets_and_months() {
        assert_eq!(offset(b"+0000]"), Some((0, 5)));
        assert_eq!(offset(b"-03:30"), Some((-(3 * 3600 + 30 * 60), 6)));
        assert_eq!(offset(b"+0330"), Some((3 * 3600 + 30 * 60, 5)));
        assert_eq!(offset(b"x"), None);
        assert_eq!(month_abbrev(b"Nov/2026"), Some(11));
        assert_eq!(month_abbrev(b"Foo"), None);
        assert_eq!(fraction(b"5 rest"), (500_000_000, 1));
    }
}
