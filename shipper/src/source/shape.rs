//! Taking a process manager's wrapping off the lines of the files it writes, so that records
//! hold what the app itself wrote.
//!
//! pm2 wraps an app's output two ways (see `../shared/samples/pm2/files`):
//! - `--time` prefixes `YYYY-MM-DDTHH:mm:ss: ` in local time, without a zone. In fork mode
//!   every line carries it; in cluster mode only the first line of each write does, so a line
//!   without it belongs to the write before and takes that write's time.
//! - `--log-type json` writes one object per write: `{"message":"…","timestamp":"…",…}`,
//!   where `message` may hold several lines or part of one. A write is shipped as one line
//!   (its lines joined by `\n`: one event, as the app wrote it in one go) once the text ends
//!   with a newline; a write without one waits for the next write of the file, so a line the
//!   app wrote in pieces arrives whole. `timestamp` is RFC 3339, or zone-less local time
//!   with `--time`.
//!
//! The time pm2 stamped goes into [`Line::time`], where the collector takes it when the text
//! carries no time of its own. Positions stay the file's, so a restart resumes exactly: a
//! held write is shipped with the position of the write that completed it.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use logq_schemas::Line;
use serde::Deserialize;

/// How the lines of a file are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// As written.
    #[default]
    Lines,
    /// pm2 `--time`: a `YYYY-MM-DDTHH:mm:ss: ` stamp in local time before each write.
    Pm2Time,
    /// pm2 `--log-type json`: one JSON object per write.
    Pm2Json,
}

/// The length of pm2's `--time` stamp, `2026-11-22T13:07:27: `.
const STAMP_LEN: usize = 21;

/// The state of one file's reading under a [`Shape`]; a new placement starts a new one.
#[derive(Debug)]
pub struct Shaper {
    shape: Shape,
    tz: TimeZone,
    /// The last stamp seen (`Pm2Time`): lines of the same write carry none.
    last: Option<Timestamp>,
    /// A JSON write not yet ended by a newline (`Pm2Json`).
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    text: String,
    time: Option<Timestamp>,
    end: u64,
}

/// The fields of a pm2 JSON chunk used here; the others are ignored.
#[derive(Debug, Deserialize)]
struct Chunk {
    message: String,
    #[serde(default)]
    timestamp: Option<String>,
}

impl Shaper {
    pub fn new(shape: Shape, tz: TimeZone) -> Shaper {
        Shaper {
            shape,
            tz,
            last: None,
            held: None,
        }
    }

    /// Whether a write waits for the rest of its line.
    pub fn holds(&self) -> bool {
        self.held.is_some()
    }

    /// Ships a held write as it is (its line never got its newline in time).
    pub fn flush(&mut self, out: &mut Vec<Line>) {
        if let Some(h) = self.held.take() {
            out.push(Line {
                end: h.end,
                text: h.text,
                split: false,
                time: h.time,
            });
        }
    }

    /// The app's lines in `lines`, read as this file's shape.
    pub fn shape(&mut self, lines: Vec<Line>) -> Vec<Line> {
        match self.shape {
            Shape::Lines => lines,
            Shape::Pm2Time => lines.into_iter().map(|l| self.stamped(l)).collect(),
            Shape::Pm2Json => {
                let mut out = Vec::with_capacity(lines.len());
                for line in lines {
                    self.chunk(line, &mut out);
                }
                out
            }
        }
    }

    fn stamped(&mut self, mut line: Line) -> Line {
        match stamp(&line.text, &self.tz) {
            Some(t) => {
                line.text.drain(..STAMP_LEN);
                self.last = Some(t);
                line.time = Some(t);
            }
            None => line.time = self.last,
        }
        line
    }

    fn chunk(&mut self, line: Line, out: &mut Vec<Line>) {
        let chunk = match (line.split, serde_json::from_str::<Chunk>(&line.text)) {
            (false, Ok(chunk)) => chunk,
            _ => {
                // Not a chunk (a line pm2 did not write, or one cut at the line limit): as is.
                self.flush(out);
                out.push(line);
                return;
            }
        };
        let time = chunk
            .timestamp
            .as_deref()
            .and_then(|t| chunk_time(t, &self.tz));
        let held = self.held.take();
        let time = held.as_ref().and_then(|h| h.time).or(time);
        let mut text = match held {
            Some(h) => h.text + &chunk.message,
            None => chunk.message,
        };
        if text.ends_with('\n') {
            text.pop();
            out.push(Line {
                end: line.end,
                text,
                split: false,
                time,
            });
        } else {
            self.held = Some(Held {
                text,
                time,
                end: line.end,
            });
        }
    }
}

/// The time of pm2's `--time` stamp at the start of `text`.
fn stamp(text: &str, tz: &TimeZone) -> Option<Timestamp> {
    let b = text.as_bytes();
    let shape_ok = b.len() >= STAMP_LEN
        && b[..STAMP_LEN].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 | 19 => *c == b':',
            20 => *c == b' ',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let dt: DateTime = text[..19].parse().ok()?;
    tz.to_ambiguous_timestamp(dt).compatible().ok()
}

/// A chunk's `timestamp`: RFC 3339, or a zone-less local time (`--time`).
fn chunk_time(s: &str, tz: &TimeZone) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let dt: DateTime = s.parse().ok()?;
    tz.to_ambiguous_timestamp(dt).compatible().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lines::LineSplitter;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/formats/pm2");

    fn utc() -> TimeZone {
        TimeZone::UTC
    }

    fn line(end: u64, text: &str) -> Line {
        Line {
            end,
            text: text.to_owned(),
            split: false,
            time: None,
        }
    }

    /// The lines of a sample file as the tailer reads them.
    fn read(name: &str) -> Vec<Line> {
        let bytes = std::fs::read(format!("{SAMPLES}/{name}")).expect("sample");
        let mut splitter = LineSplitter::new(0, 1 << 20);
        let mut lines = Vec::new();
        splitter.push(&bytes, &mut lines);
        lines
    }

    #[test]
    fn time_stamps_come_off_and_become_the_line_time() {
        let mut s = Shaper::new(Shape::Pm2Time, utc());
        let out = s.shape(read("osm-app-time-out.log"));
        assert_eq!(out[0].text, "osm-app starting pid=12038");
        assert_eq!(
            out[0].time,
            Some("2026-11-22T13:07:27Z".parse().expect("time"))
        );
        assert!(out.iter().all(|l| !l.text.starts_with("2026-")));
        assert!(out.iter().all(|l| l.time.is_some()));
    }

    #[test]
    fn a_cluster_write_without_stamps_on_its_later_lines_keeps_the_write_time() {
        let mut s = Shaper::new(Shape::Pm2Time, utc());
        let out = s.shape(read("osm-cluster-merged-error.log"));
        let at = out
            .iter()
            .position(|l| l.text.starts_with("    at TCPConnectWrap"))
            .expect("a stack line");
        assert_eq!(out[at - 1].text, "Error: connect ECONNREFUSED 127.0.0.1:9");
        assert_eq!(out[at].time, out[at - 1].time);
    }

    #[test]
    fn stamps_read_in_the_local_zone() {
        let paris = TimeZone::get("Europe/Paris").expect("tz");
        let mut s = Shaper::new(Shape::Pm2Time, paris);
        let out = s.shape(vec![line(30, "2026-11-22T13:07:27: hello")]);
        assert_eq!(out[0].text, "hello");
        assert_eq!(
            out[0].time,
            Some("2026-11-22T12:07:27Z".parse().expect("time"))
        );
    }

    #[test]
    fn json_writes_become_the_apps_text_with_pm2s_time() {
        let mut s = Shaper::new(Shape::Pm2Json, utc());
        let out = s.shape(read("osm-app-json-error.log"));
        let trace = out
            .iter()
            .find(|l| l.text.starts_with("Error: connect ECONNREFUSED"))
            .expect("the stack trace");
        assert!(
            trace.text.contains("\n    at TCPConnectWrap.afterConnect"),
            "{:?}",
            trace.text
        );
        assert!(!trace.text.ends_with('\n'));
        assert_eq!(out[0].text, "warn: config file missing, using defaults");
        assert_eq!(
            out[0].time,
            Some("2026-11-22T13:07:27.701Z".parse().expect("time"))
        );
        let ends: Vec<u64> = out.iter().map(|l| l.end).collect();
        assert!(ends.windows(2).all(|w| w[0] < w[1]), "{ends:?}");
    }

    #[test]
    fn a_line_written_in_pieces_arrives_whole_at_the_position_of_its_last_piece() {
        let mut s = Shaper::new(Shape::Pm2Json, utc());
        let out = s.shape(read("osm-app-jsontime-out.log"));
        let whole = out
            .iter()
            .find(|l| l.text.starts_with("partial line without newline... "))
            .expect("the joined line");
        assert_eq!(
            whole.text,
            "partial line without newline... tick 3 {\"ok\":true,\"n\":3}\nrest of line\nline A\nline B"
        );
        // Zone-less `--time` chunk stamps read in the shipper's zone.
        assert_eq!(
            whole.time,
            Some("2026-11-22T13:07:29Z".parse().expect("time"))
        );
        let bytes = std::fs::read(format!("{SAMPLES}/osm-app-jsontime-out.log")).expect("sample");
        let text = String::from_utf8_lossy(&bytes);
        let completed = text
            .find("rest of line\\nline A\\nline B\\n")
            .and_then(|at| text[at..].find('\n').map(|nl| at + nl + 1))
            .expect("completing write");
        assert_eq!(whole.end, completed as u64);
    }

    #[test]
    fn a_held_write_is_shipped_on_flush_and_other_lines_pass_as_they_are() {
        let mut s = Shaper::new(Shape::Pm2Json, utc());
        let out = s.shape(vec![
            line(
                10,
                r#"{"message":"no newline yet","timestamp":"2026-11-22T13:07:29Z"}"#,
            ),
            line(20, "not json"),
            line(30, r#"{"message":"waiting"}"#),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].end, out[0].text.as_str()), (10, "no newline yet"));
        assert_eq!((out[1].end, out[1].text.as_str()), (20, "not json"));
        assert!(s.holds());
        let mut rest = Vec::new();
        s.flush(&mut rest);
        assert_eq!((rest[0].end, rest[0].text.as_str()), (30, "waiting"));
        assert!(!s.holds());
    }

    #[test]
    fn plain_lines_and_odd_stamps_stay_as_written() {
        let mut s = Shaper::new(Shape::Pm2Time, utc());
        let odd = [
            "2026-11-22 13:07:27: x",
            "2026-11-22T13:07:27 x",
            "2026-13-40T99:99:99: x",
        ];
        let out = s.shape(
            odd.iter()
                .enumerate()
                .map(|(i, t)| line(i as u64 + 1, t))
                .collect(),
        );
        let texts: Vec<&str> = out.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, odd);
        assert!(out.iter().all(|l| l.time.is_none()));
        let mut lines = Shaper::new(Shape::Lines, utc());
        assert_eq!(
            lines.shape(vec![line(5, "2026-11-22T13:07:27: x")])[0].text,
            "2026-11-22T13:07:27: x"
        );
    }
}
