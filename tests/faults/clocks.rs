//! Clocks: the machine clock cannot be moved, so a skewed source is emulated by what its lines
//! say. Four streams, each piped through its own `logq-shipper pipe`:
//! - an app whose clock is an hour ahead, its lines out of order (times going backwards and
//!   forwards within the stream);
//! - the same with pino's JSON lines (`"time"` in epoch milliseconds);
//! - an app writing times two hours in the past, out of order too;
//! - an app whose lines carry no time (the shipper's read time is the event time);
//! - the edges of the collector's belief (README "Formats", `normalize::plausible`): a time
//!   less than a day ahead is believed, one more than a day ahead or more than a year behind
//!   (1970, 2099, now + 25 h, now - 400 d) is kept in `time_written`, flagged
//!   `time_out_of_range` and filed at the receive time.
//!
//! Checks: every line stored once; found by its word; found by `logq search --since/--until`
//! over the times it says (or its receive time, when flagged) and not by a range that misses
//! them; hits ordered by event time, newest first from the API and oldest first from
//! `logq search -o jsonl`, in exactly the order the written times give.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use crate::Profile;
use crate::report::{Row, num};
use crate::util::{Collector, bin, logq, seq_of, stored_numbers};

const SCENARIO: &str = "clocks";

/// What the collector should make of a line's time.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The written time is the event time.
    Believed(Timestamp),
    /// Kept in `time_written` and flagged; the event time is the receive time.
    Flagged(Timestamp),
    /// No time in the line: the event time is when the shipper read it.
    ReadTime,
}

/// One stream: its app, the word every line carries, and its lines in the order written.
struct Stream {
    case: &'static str,
    app: &'static str,
    word: &'static str,
    lines: Vec<(u64, String, Expect)>,
}

/// A small xorshift64, seeded, for the order of the lines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
    }
}

/// `n` lines (`line(time, seq)`) at `base` + a shuffled k * 37 ms: out of order, every time
/// distinct.
fn skewed(
    rng: &mut Rng,
    case: &'static str,
    app: &'static str,
    word: &'static str,
    base: Timestamp,
    n: u64,
    line: impl Fn(Timestamp, u64) -> String,
) -> Stream {
    let mut offsets: Vec<u64> = (0..n).collect();
    rng.shuffle(&mut offsets);
    let lines = offsets
        .iter()
        .enumerate()
        .map(|(seq, k)| {
            let at = base + SignedDuration::from_millis(37 * *k as i64);
            (seq as u64, line(at, seq as u64), Expect::Believed(at))
        })
        .collect();
    Stream {
        case,
        app,
        word,
        lines,
    }
}

pub fn run(profile: Profile) -> Vec<Row> {
    let n = profile.pick(500, 5_000);
    let seed = std::env::var("LOGQ_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c10c_u64)
        | 1;
    let mut rng = Rng(seed);
    // Whole milliseconds, so that pino's epoch-millisecond times say exactly `now` + offsets.
    let now = Timestamp::from_millisecond(Timestamp::now().as_millisecond()).expect("now");
    let hour = SignedDuration::from_hours(1);
    let mut streams = vec![
        skewed(
            &mut rng,
            "clock 1 h ahead, out of order",
            "clock-ahead",
            "aheadword",
            now + hour,
            n,
            |at, seq| format!("{at} INFO aheadword seq={seq:06} handled a request"),
        ),
        skewed(
            &mut rng,
            "pino JSON 1 h ahead (epoch ms), out of order",
            "clock-json",
            "jsonword",
            now + hour,
            n,
            |at, seq| {
                let ms = at.as_millisecond();
                format!(
                    r#"{{"level":30,"time":{ms},"pid":7,"msg":"jsonword seq={seq:06} charged"}}"#
                )
            },
        ),
        skewed(
            &mut rng,
            "times 2 h back, out of order",
            "clock-past",
            "pastword",
            now - hour * 2,
            n,
            |at, seq| format!("{at} INFO pastword seq={seq:06} handled a request"),
        ),
        Stream {
            case: "no time in the lines",
            app: "clock-none",
            word: "nonword",
            lines: (0..n)
                .map(|seq| {
                    let text = format!("nonword seq={seq:06} a line without a time");
                    (seq, text, Expect::ReadTime)
                })
                .collect(),
        },
    ];
    let day = SignedDuration::from_hours(24);
    let edges: Vec<(Timestamp, bool)> = (0..5)
        .flat_map(|k| {
            let s = SignedDuration::from_secs(k);
            [
                (Timestamp::UNIX_EPOCH + s, false),
                (
                    "2099-06-01T12:00:00Z".parse::<Timestamp>().expect("ts") + s,
                    false,
                ),
                (now + day + hour + s, false),
                (now - day * 400 + s, false),
                (now + day - hour + s, true),
            ]
        })
        .collect();
    streams.push(Stream {
        case: "1970, 2099, now+25 h, now-400 d; now+23 h",
        app: "clock-edge",
        word: "edgeword",
        lines: edges
            .iter()
            .enumerate()
            .map(|(seq, (at, believed))| {
                let text = format!("{at} ERROR edgeword seq={seq:06} the edge of belief");
                let expect = if *believed {
                    Expect::Believed(*at)
                } else {
                    Expect::Flagged(*at)
                };
                (seq as u64, text, expect)
            })
            .collect(),
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&tmp.path().join("data"));
    let started = Timestamp::now();
    // One `pipe` per stream, all at once; each exits 0 once its last line is acknowledged.
    let mut children: Vec<_> = streams
        .iter()
        .map(|s| {
            let mut child = Command::new(bin("logq-shipper"))
                .args(["--to", &collector.tcp.to_string()])
                .arg("--state-dir")
                .arg(tmp.path().join("state"))
                .args(["--host", "skewed-host", "pipe", "--app", s.app])
                .stdin(Stdio::piped())
                .spawn()
                .expect("spawn logq-shipper pipe");
            let text: String = s.lines.iter().map(|(_, t, _)| format!("{t}\n")).collect();
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(text.as_bytes()).expect("write stdin");
            drop(stdin);
            child
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut exits = Vec::new();
    for child in &mut children {
        let status = loop {
            match child.try_wait().expect("try_wait") {
                Some(status) => break Some(status),
                None if Instant::now() >= deadline => {
                    child.kill().expect("kill shipper");
                    child.wait().expect("reap shipper");
                    break None;
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        exits.push(status);
    }
    // Acknowledged means durable; searchable follows within the index commit interval.
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline
        && streams
            .iter()
            .any(|s| collector.count(s.app) < s.lines.len() as u64)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let ended = Timestamp::now();
    streams
        .iter()
        .zip(exits)
        .map(|(s, exit)| {
            let mut row = check(&collector, s, started, ended);
            row.require(exit.is_some_and(|e| e.success()), || {
                format!("logq-shipper pipe ended with {exit:?}")
            });
            if s.app == "clock-ahead" {
                row.notes.push_str(&format!("; seed {seed}"));
            }
            row
        })
        .collect()
}

/// Every check of one stream, as a row.
fn check(collector: &Collector, s: &Stream, started: Timestamp, ended: Timestamp) -> Row {
    let mut row = Row::new(SCENARIO, s.case);
    let total = s.lines.len() as u64;
    row.sent = total;
    let stored = stored_numbers(collector, s.app);
    row.missing = s
        .lines
        .iter()
        .filter(|l| !stored.contains_key(&l.0))
        .count() as u64;
    row.duplicated = stored.values().filter(|c| **c > 1).count() as u64;
    let (missing, duplicated) = (row.missing, row.duplicated);
    row.require(missing == 0 && duplicated == 0, || {
        format!("{missing} missing, {duplicated} duplicated")
    });
    let mut notes = Vec::new();

    // By word, newest first: each hit's time is what the line's expectation says, and the
    // order is that of the event times (ties broken by id, newest first).
    let limit = (total + 10).to_string();
    let (hits, found) = collector.search(&[("q", s.word), ("app", s.app), ("limit", &limit)]);
    row.require(found == total, || {
        format!("the word finds {found} of {total}")
    });
    let expect: HashMap<u64, Expect> = s.lines.iter().map(|(n, _, e)| (*n, *e)).collect();
    let received = SignedDuration::from_secs(2);
    let (lo, hi) = (started - received, ended + received);
    let mut wrong_time = 0;
    for hit in &hits {
        let r = &hit.record;
        let Some(e) = seq_of(&r.message).and_then(|n| expect.get(&n)) else {
            continue;
        };
        let ok = match e {
            Expect::Believed(at) => r.time == *at && !r.fields.contains_key("time_out_of_range"),
            Expect::Flagged(at) => {
                r.time == r.received
                    && r.fields.get("time_out_of_range") == Some(&serde_json::json!(true))
                    && r.fields
                        .get("time_written")
                        .and_then(|v| v.as_str())
                        .and_then(|v| v.parse::<Timestamp>().ok())
                        == Some(*at)
            }
            Expect::ReadTime => r.time >= lo && r.time <= hi,
        };
        if !ok {
            wrong_time += 1;
        }
    }
    row.require(wrong_time == 0, || {
        format!("{wrong_time} records have another time than their lines say")
    });
    let inverted = hits
        .windows(2)
        .filter(|w| (w[0].record.time, w[0].id) < (w[1].record.time, w[1].id))
        .count();
    row.require(inverted == 0, || {
        format!("{inverted} API hits out of newest-first order")
    });
    // The order the written times give (for believed lines), newest first.
    let mut believed: Vec<(Timestamp, u64)> = s
        .lines
        .iter()
        .filter_map(|(n, _, e)| match e {
            Expect::Believed(at) => Some((*at, *n)),
            _ => None,
        })
        .collect();
    believed.sort_unstable_by(|a, b| b.cmp(a));
    let api_order: Vec<u64> = hits
        .iter()
        .filter_map(|h| seq_of(&h.record.message))
        .filter(|n| matches!(expect.get(n), Some(Expect::Believed(_))))
        .collect();
    let want_order: Vec<u64> = believed.iter().map(|(_, n)| *n).collect();
    row.require(api_order == want_order, || {
        "the API's order is not that of the written times".into()
    });
    // The written order is not the time order: the stream really went back and forth.
    let backwards = s
        .lines
        .windows(2)
        .filter(|w| match (w[0].2, w[1].2) {
            (Expect::Believed(a), Expect::Believed(b)) => b < a,
            _ => false,
        })
        .count();

    // `logq search` over the range the lines say (or their receive time): oldest first.
    let server = collector.url();
    let range = |since: Timestamp, until: Timestamp| -> (i32, Vec<(Timestamp, u64)>) {
        let (code, out, err) = logq(&[
            "--server",
            &server,
            "search",
            s.word,
            "--app",
            s.app,
            "--since",
            &since.to_string(),
            "--until",
            &until.to_string(),
            "-n",
            &limit,
            "-o",
            "jsonl",
        ]);
        assert!(code == 0 || code == 1, "logq search failed ({code}): {err}");
        let got = String::from_utf8_lossy(&out)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("jsonl");
                let time = v["time"].as_str().expect("time").parse().expect("time");
                (
                    time,
                    seq_of(v["message"].as_str().expect("message")).expect("seq"),
                )
            })
            .collect();
        (code, got)
    };
    let check_cli = |row: &mut Row, what: &str, since, until, want: usize| {
        let (_, got) = range(since, until);
        row.require(got.len() == want, || {
            format!("logq search {what} finds {} of {want}", got.len())
        });
        let inverted = got.windows(2).filter(|w| w[0] > w[1]).count();
        row.require(inverted == 0, || {
            format!("logq search {what}: {inverted} lines out of oldest-first order")
        });
    };
    let now = Timestamp::now();
    let min = SignedDuration::from_mins(1);
    let believed_n = believed.len();
    match s.app {
        "clock-ahead" | "clock-json" => {
            check_cli(
                &mut row,
                "--since now+50m",
                now + min * 50,
                now + min * 180,
                total as usize,
            );
            let (_, got) = range(now + min * 50, now + min * 180);
            let oldest_first: Vec<u64> = got.iter().map(|(_, n)| *n).collect();
            let mut want: Vec<u64> = want_order.clone();
            want.reverse();
            row.require(oldest_first == want, || {
                "logq's order is not that of the written times".into()
            });
            check_cli(&mut row, "--since 2h --until now", now - min * 120, now, 0);
            // The CLI's defaults (--since 24h, no --until sent) still show a fast clock's lines.
            let (_, out, _) = logq(&[
                "--server", &server, "search", s.word, "--app", s.app, "-n", &limit, "-o", "jsonl",
            ]);
            let by_default = String::from_utf8_lossy(&out).lines().count();
            notes.push(format!("default range finds {}", num(by_default as u64)));
        }
        "clock-past" => {
            check_cli(
                &mut row,
                "--since now-3h --until now-50m",
                now - min * 180,
                now - min * 50,
                total as usize,
            );
            check_cli(&mut row, "--since 30m", now - min * 30, now + min * 5, 0);
        }
        "clock-none" => {
            check_cli(&mut row, "over the run", lo, hi, total as usize);
            check_cli(
                &mut row,
                "--since 1h --until 30m",
                now - min * 60,
                now - min * 30,
                0,
            );
        }
        _ => {
            let flagged = s.lines.len() - believed_n;
            check_cli(&mut row, "over the run (flagged lines)", lo, hi, flagged);
            check_cli(
                &mut row,
                "--since now+22h (believed lines)",
                now + min * 60 * 22,
                now + min * 60 * 24,
                believed_n,
            );
            let epoch = Timestamp::UNIX_EPOCH;
            check_cli(
                &mut row,
                "on 1970-01-01",
                epoch,
                epoch + SignedDuration::from_hours(24),
                0,
            );
            notes.push(format!("{flagged} flagged, {believed_n} believed"));
        }
    }
    if backwards > 0 {
        notes.insert(
            0,
            format!("{} steps back in time as written", num(backwards as u64)),
        );
    }
    notes.insert(0, "API and CLI order checked".into());
    row.notes = notes.join("; ");
    row
}
