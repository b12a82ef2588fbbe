//! `logq histogram`: matches per time bucket as a bar chart of block characters.

use std::io::{self, Write};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::color::Style;
use crate::client::Histogram;

/// Narrowest bar area, however narrow the terminal.
const MIN_BAR_WIDTH: usize = 10;

/// Partial blocks, one eighth (`▏`) to seven eighths (`▉`) of a column.
const EIGHTHS: [char; 7] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/// One row per bucket, `<start> <bar> <count>`, then `total N, one bar per <interval>`.
///
/// The largest bucket's bar fills what `width` leaves after the time and count columns (at
/// least 10 columns); bars are in eighths of a column, and a bucket with any match shows at
/// least `▏` so that it never looks empty. Start times are in `tz` (UTC with a `Z`), to the
/// minute unless the interval or a bucket start needs seconds or milliseconds. The count follows
/// its bar, so no line has trailing spaces.
pub fn write_histogram(
    out: &mut impl Write,
    h: &Histogram,
    tz: &TimeZone,
    color: bool,
    width: usize,
) -> io::Result<()> {
    let precision = Precision::for_buckets(h, tz);
    let labels_width = h
        .buckets
        .first()
        .map_or(0, |b| label(b.start, tz, precision).chars().count());
    let max = h.buckets.iter().map(|b| b.count).max().unwrap_or(0);
    let count_width = max.to_string().len();
    let bar_width = width
        .saturating_sub(labels_width + 1 + 1 + count_width)
        .max(MIN_BAR_WIDTH);
    for b in &h.buckets {
        writeln!(
            out,
            "{} {} {}",
            label(b.start, tz, precision),
            Style::CYAN.paint(color, bar(b.count, max, bar_width)),
            b.count
        )?;
    }
    writeln!(
        out,
        "total {}, one bar per {}",
        h.total,
        super::duration_words(h.interval_ms)
    )
}

/// The finest time unit a label needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Precision {
    Minutes,
    Seconds,
    Millis,
}

impl Precision {
    /// Minutes, unless the interval or some bucket start (in `tz`) is not a whole minute.
    fn for_buckets(h: &Histogram, tz: &TimeZone) -> Precision {
        let of = |ms: i64| match ms {
            ms if ms % 1000 != 0 => Precision::Millis,
            ms if ms % 60_000 != 0 => Precision::Seconds,
            _ => Precision::Minutes,
        };
        let interval = of(i64::try_from(h.interval_ms).unwrap_or(i64::MAX));
        h.buckets
            .iter()
            .map(|b| {
                // Seconds and below of the start in `tz` (zone offsets can have seconds).
                let local = tz.to_datetime(b.start);
                let ms = i64::from(local.second()) * 1000 + i64::from(local.millisecond());
                of(ms)
            })
            .fold(interval, Precision::max)
    }
}

fn label(t: Timestamp, tz: &TimeZone, precision: Precision) -> String {
    let time = match precision {
        Precision::Minutes => "%H:%M",
        Precision::Seconds => "%H:%M:%S",
        Precision::Millis => "%H:%M:%S%.3f",
    };
    if *tz == TimeZone::UTC {
        t.strftime(&format!("%Y-%m-%dT{time}Z")).to_string()
    } else {
        tz.to_datetime(t)
            .strftime(&format!("%Y-%m-%d {time}"))
            .to_string()
    }
}

/// `count` of `max` as full blocks and one partial block over `width` columns, rounded to the
/// nearest eighth; any non-zero count is at least one eighth.
fn bar(count: u64, max: u64, width: usize) -> String {
    if count == 0 || max == 0 {
        return String::new();
    }
    let eighths = (u128::from(count) * width as u128 * 8 + u128::from(max) / 2) / u128::from(max);
    let eighths = usize::try_from(eighths).unwrap_or(usize::MAX).max(1);
    let mut bar = "█".repeat(eighths / 8);
    if eighths % 8 != 0 {
        bar.push(EIGHTHS[eighths % 8 - 1]);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Bucket;

    fn histogram(start: &str, interval_ms: u64, counts: &[u64]) -> Histogram {
        let start: Timestamp = start.parse().expect("start");
        let buckets = counts
            .iter()
            .enumerate()
            .map(|(i, &count)| Bucket {
                start: start + jiff::SignedDuration::from_millis(i as i64 * interval_ms as i64),
                count,
            })
            .collect();
        Histogram {
            total: counts.iter().sum(),
            interval_ms,
            buckets,
        }
    }

    fn draw(h: &Histogram, tz: &TimeZone, color: bool, width: usize) -> String {
        let mut out = Vec::new();
        write_histogram(&mut out, h, tz, color, width).expect("write");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn rows_at_the_narrowest_bar() {
        let h = histogram("2026-11-22T13:00:00Z", 3_600_000, &[0, 4, 8]);
        // 30 columns leave 30 - 17 - 2 - 1 = 10 for the bar.
        assert_eq!(
            draw(&h, &TimeZone::UTC, false, 30),
            "2026-11-22T13:00Z  0\n\
             2026-11-22T14:00Z █████ 4\n\
             2026-11-22T15:00Z ██████████ 8\n\
             total 12, one bar per 1h\n"
        );
    }

    #[test]
    fn the_largest_bar_fills_the_width() {
        let h = histogram("2026-11-22T13:00:00Z", 300_000, &[3, 100, 0]);
        let out = draw(&h, &TimeZone::UTC, false, 60);
        let widest = out.lines().map(|l| l.chars().count()).max().expect("lines");
        assert_eq!(widest, 60, "{out}");
        assert!(out.ends_with("total 103, one bar per 5m\n"), "{out}");
    }

    #[test]
    fn partial_blocks_in_eighths() {
        // 10 columns = 80 eighths for 8 matches: 10 eighths per match.
        assert_eq!(bar(1, 8, 10), "█▎");
        assert_eq!(bar(3, 8, 10), "███▊");
        assert_eq!(bar(8, 8, 10), "██████████");
        // 16 eighths per match over 20 columns and 10 matches.
        assert_eq!(bar(5, 10, 20), "██████████");
        for (eighths, block) in (1..8).zip(EIGHTHS) {
            assert_eq!(bar(eighths, 80, 10), block.to_string());
        }
        // A single match among a million still shows.
        assert_eq!(bar(1, 1_000_000, 10), "▏");
        assert_eq!(bar(0, 0, 10), "");
    }

    #[test]
    fn labels_follow_the_interval_and_zone() {
        let h = histogram("2026-11-22T13:00:00Z", 10_000, &[1, 2]);
        let out = draw(&h, &TimeZone::UTC, false, 40);
        assert!(out.starts_with("2026-11-22T13:00:00Z "), "{out}");
        assert!(out.contains("\n2026-11-22T13:00:10Z "), "{out}");
        assert!(out.ends_with("one bar per 10s\n"), "{out}");
        let h = histogram("2026-11-22T00:00:00Z", 86_400_000, &[1, 2]);
        let paris = TimeZone::get("Europe/Paris").expect("tz");
        let out = draw(&h, &paris, false, 40);
        assert!(out.starts_with("2026-11-22 01:00 "), "{out}");
        assert!(out.contains("\n2026-11-23 01:00 "), "{out}");
        assert!(out.ends_with("one bar per 1d\n"), "{out}");
        let h = histogram("2026-11-22T13:00:00.250Z", 500, &[1]);
        let out = draw(&h, &TimeZone::UTC, false, 40);
        assert!(out.starts_with("2026-11-22T13:00:00.250Z "), "{out}");
        assert!(out.ends_with("one bar per 500ms\n"), "{out}");
    }

    #[test]
    fn bars_are_cyan_in_colour_only() {
        let h = histogram("2026-11-22T13:00:00Z", 60_000, &[0, 8]);
        let out = draw(&h, &TimeZone::UTC, true, 30);
        assert_eq!(
            out,
            "2026-11-22T13:00Z  0\n\
             2026-11-22T13:01Z \x1b[36m██████████\x1b[0m 8\n\
             total 8, one bar per 1m\n"
        );
        assert!(!draw(&h, &TimeZone::UTC, false, 30).contains('\x1b'));
    }

    #[test]
    fn no_buckets() {
        let h = histogram("2026-11-22T13:00:00Z", 60_000, &[]);
        assert_eq!(
            draw(&h, &TimeZone::UTC, false, 80),
            "total 0, one bar per 1m\n"
        );
    }
}
