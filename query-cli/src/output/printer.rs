//! The streaming printer of `logq search` and `logq tail`: one hit at a time, never the whole
//! result in memory, with grep-style context groups in text and raw output.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Write};

use jiff::tz::TimeZone;
use logq_schemas::StoredRecord;

use super::color::Style;
use super::json::{self, PrettyArray};
use super::text::{self, LineKind};
use crate::args::Format;
use crate::client::{Context, Hit};

/// Prints hits as they arrive, oldest first.
///
/// - `text`: `<time> <app> <LEVEL> <message>` (see `text::write_line` for how context lines
///   differ from hits).
/// - `raw`: each message exactly, then `\n`; with context, `--` lines between groups as
///   `grep -C` prints them, and nothing else.
/// - `json`: one pretty array, `[]` when empty; `jsonl`: one compact object per line. A hit with
///   context is written as [`Hit`] serializes (its record plus `"context"`), with no grouping.
///
/// Context in text and raw works like `grep -C`: a hit's group is its before-context, the hit
/// and its after-context. A group that overlaps the previous group of the same app and stream
/// (its first record's id is at most the last id of that group) continues it: records already
/// printed are left out and no `--` is written. A hit that an earlier group already holds as
/// after-context is printed as a hit, not as context: the last group's after-context is held
/// back until the next hit (or [`Printer::finish`]) shows whether it continues the group.
/// When another stream's group came in between, the group starts anew after a `--` but still
/// leaves out context its stream's previous group printed; the hit itself is always printed.
/// In colour the `--` is cyan, as grep's is.
///
/// Ids are the collector's global sequence, so two groups of one stream that meet without
/// sharing a record cannot be told apart from groups with a gap between them; they get a `--`.
///
/// `out` should be buffered: every line is a few small writes.
#[derive(Debug)]
pub struct Printer<W: Write> {
    out: W,
    format: Format,
    tz: TimeZone,
    color: bool,
    json: PrettyArray,
    groups: Groups,
}

/// Context grouping state for text and raw output.
#[derive(Debug, Default)]
struct Groups {
    /// Set by the first hit that has context; from then on groups are tracked and separated.
    active: bool,
    /// App and stream of the group printed last (the one `pending` belongs to).
    last: Option<StreamKey>,
    /// After-context of the last group, not printed yet.
    pending: Vec<StoredRecord>,
    /// Per app and stream, ids printed by its latest group, dropping ids below that group's
    /// first so that the set stays about one group large.
    printed: HashMap<StreamKey, BTreeSet<u64>>,
}

/// `(app, stream)`: the records a context window is taken from.
type StreamKey = (String, String);

impl<W: Write> Printer<W> {
    pub fn new(out: W, format: Format, tz: TimeZone, color: bool) -> Self {
        Printer {
            out,
            format,
            tz,
            // Raw and JSON output are for programs: never a single escape byte.
            color: color && format == Format::Text,
            json: PrettyArray::default(),
            groups: Groups::default(),
        }
    }

    /// Prints one hit and, in text and raw output, its context.
    pub fn hit(&mut self, hit: &Hit) -> io::Result<()> {
        match self.format {
            Format::Json => self.json.item(&mut self.out, hit),
            Format::Jsonl => json::line(&mut self.out, hit),
            Format::Text | Format::Raw => self.group(&hit.record, hit.context.as_ref()),
        }
    }

    /// Prints one record: a hit without context.
    pub fn record(&mut self, r: &StoredRecord) -> io::Result<()> {
        match self.format {
            // The same JSON as a `Hit` without context, without copying the record into one.
            Format::Json => self.json.item(&mut self.out, r),
            Format::Jsonl => json::line(&mut self.out, r),
            Format::Text | Format::Raw => self.group(r, None),
        }
    }

    /// Prints the held-back context, closes the JSON array and flushes; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        match self.format {
            Format::Json => self.json.finish(&mut self.out)?,
            Format::Jsonl => {}
            Format::Text | Format::Raw => self.flush_pending()?,
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn group(&mut self, hit: &StoredRecord, context: Option<&Context>) -> io::Result<()> {
        self.groups.active |= context.is_some();
        if !self.groups.active {
            return self.line(hit, LineKind::Hit);
        }
        let (before, after) = context.map_or((&[][..], &[][..]), |c| (&c.before[..], &c.after[..]));
        let key = (hit.record.app.clone(), hit.record.stream.clone());
        let first = before.iter().map(|r| r.id).fold(hit.id, u64::min);
        let continues = self.groups.last.as_ref() == Some(&key) && {
            let printed = self.groups.printed.get(&key);
            let printed_max = printed.and_then(|p| p.last().copied());
            let pending_max = self.groups.pending.iter().map(|r| r.id).max();
            // A hit printed before would print out of order inside the group: start a new one.
            printed_max.is_none_or(|m| hit.id > m)
                && printed_max.max(pending_max).is_some_and(|m| first <= m)
        };
        let mut pending = std::mem::take(&mut self.groups.pending);
        if continues {
            let printed = self.groups.printed.remove(&key).unwrap_or_default();
            let mut merged: Vec<&StoredRecord> = pending
                .iter()
                .chain(before)
                .chain(std::iter::once(hit))
                .chain(after)
                .filter(|r| !printed.contains(&r.id))
                .collect();
            merged.sort_by_key(|r| r.id);
            merged.dedup_by_key(|r| r.id);
            let mut printed = printed;
            let mut held = Vec::new();
            for r in merged {
                match r.id.cmp(&hit.id) {
                    Ordering::Less => self.line(r, LineKind::Context)?,
                    // The hit itself, not a held-back copy of it.
                    Ordering::Equal => self.line(hit, LineKind::Hit)?,
                    Ordering::Greater => {
                        held.push(r.clone());
                        continue;
                    }
                }
                printed.insert(r.id);
            }
            printed.retain(|&id| id >= first);
            self.groups.printed.insert(key, printed);
            self.groups.pending = held;
        } else {
            self.write_pending(&mut pending)?;
            if self.groups.last.is_some() {
                self.separator()?;
            }
            let mut printed = self.groups.printed.remove(&key).unwrap_or_default();
            for r in before.iter().filter(|r| !printed.contains(&r.id)) {
                self.line(r, LineKind::Context)?;
            }
            self.line(hit, LineKind::Hit)?;
            for r in before {
                printed.insert(r.id);
            }
            printed.insert(hit.id);
            printed.retain(|&id| id >= first);
            pending.clear();
            pending.extend(after.iter().filter(|r| !printed.contains(&r.id)).cloned());
            self.groups.printed.insert(key.clone(), printed);
            self.groups.pending = pending;
            self.groups.last = Some(key);
        }
        Ok(())
    }

    /// Prints the last group's held-back after-context.
    fn flush_pending(&mut self) -> io::Result<()> {
        let mut pending = std::mem::take(&mut self.groups.pending);
        self.write_pending(&mut pending)
    }

    /// Prints `pending` (after-context of the group printed last) and empties it.
    fn write_pending(&mut self, pending: &mut Vec<StoredRecord>) -> io::Result<()> {
        for r in pending.iter() {
            self.line(r, LineKind::Context)?;
        }
        if let Some(key) = &self.groups.last {
            self.groups
                .printed
                .entry(key.clone())
                .or_default()
                .extend(pending.iter().map(|r| r.id));
        }
        pending.clear();
        Ok(())
    }

    fn line(&mut self, r: &StoredRecord, kind: LineKind) -> io::Result<()> {
        match self.format {
            Format::Raw => {
                self.out.write_all(r.record.message.as_bytes())?;
                self.out.write_all(b"\n")
            }
            _ => text::write_line(&mut self.out, &r.record, kind, &self.tz, self.color),
        }
    }

    fn separator(&mut self) -> io::Result<()> {
        writeln!(self.out, "{}", Style::CYAN.paint(self.color, "--"))
    }
}

#[cfg(test)]
mod tests {
    use logq_schemas::Level;

    use super::*;
    use crate::output::tests::record;

    /// A record of `app`/`stream` with id `id` and message `m<id>`.
    fn rec(app: &str, stream: &str, id: u64) -> StoredRecord {
        let mut r = record(
            id,
            "2026-11-22T13:11:35Z",
            Some(Level::Info),
            &format!("m{id}"),
        );
        r.record.app = app.into();
        r.record.stream = stream.into();
        r
    }

    /// A hit on `id` with the given context ids, all of `app`/`stream`.
    fn hit(app: &str, stream: &str, before: &[u64], id: u64, after: &[u64]) -> Hit {
        let recs = |ids: &[u64]| ids.iter().map(|&i| rec(app, stream, i)).collect();
        Hit {
            record: rec(app, stream, id),
            context: Some(Context {
                before: recs(before),
                after: recs(after),
            }),
        }
    }

    fn print(format: Format, color: bool, hits: &[Hit]) -> String {
        let mut p = Printer::new(Vec::new(), format, TimeZone::UTC, color);
        for h in hits {
            p.hit(h).expect("hit");
        }
        String::from_utf8(p.finish().expect("finish")).expect("utf8")
    }

    fn raw(hits: &[Hit]) -> String {
        print(Format::Raw, false, hits)
    }

    #[test]
    fn separate_groups_get_a_separator() {
        let hits = [
            hit("a", "out", &[1, 2], 3, &[4, 5]),
            hit("a", "out", &[10, 11], 12, &[13]),
        ];
        assert_eq!(raw(&hits), "m1\nm2\nm3\nm4\nm5\n--\nm10\nm11\nm12\nm13\n");
    }

    #[test]
    fn overlapping_groups_merge_without_repeats() {
        // The second hit sits inside the first one's after-context.
        let hits = [
            hit("a", "out", &[1, 2], 3, &[4, 5]),
            hit("a", "out", &[3, 4], 5, &[6, 7]),
        ];
        assert_eq!(raw(&hits), "m1\nm2\nm3\nm4\nm5\nm6\nm7\n");
    }

    #[test]
    fn touching_groups_merge() {
        // The second group starts with the first group's last record.
        let hits = [
            hit("a", "out", &[1], 2, &[3]),
            hit("a", "out", &[3], 4, &[5]),
        ];
        assert_eq!(raw(&hits), "m1\nm2\nm3\nm4\nm5\n");
        // The second hit follows the first one's after-context, which is its before-context.
        let hits = [
            hit("a", "out", &[], 1, &[2, 3]),
            hit("a", "out", &[2, 3], 4, &[]),
        ];
        assert_eq!(raw(&hits), "m1\nm2\nm3\nm4\n");
    }

    #[test]
    fn consecutive_hits_stay_one_group() {
        let hits = [
            hit("a", "out", &[1], 2, &[3]),
            hit("a", "out", &[2], 3, &[4]),
            hit("a", "out", &[3], 4, &[5]),
        ];
        assert_eq!(raw(&hits), "m1\nm2\nm3\nm4\nm5\n");
    }

    #[test]
    fn other_streams_and_apps_are_other_groups() {
        // Same ids could never occur across streams; they are chosen to show that the key,
        // not the id, decides.
        let stream = [
            hit("a", "out", &[1], 2, &[3]),
            hit("a", "err", &[3], 4, &[5]),
        ];
        assert_eq!(raw(&stream), "m1\nm2\nm3\n--\nm3\nm4\nm5\n");
        let app = [
            hit("a", "out", &[1], 2, &[3]),
            hit("b", "out", &[3], 4, &[5]),
        ];
        assert_eq!(raw(&app), "m1\nm2\nm3\n--\nm3\nm4\nm5\n");
    }

    #[test]
    fn interleaved_streams_do_not_repeat_context() {
        // b's hit comes between two overlapping hits of a: a's second group is cut off by a
        // separator but leaves out what a's first group printed; the hit still prints.
        let hits = [
            hit("a", "out", &[1], 2, &[3, 4]),
            hit("b", "out", &[], 10, &[]),
            hit("a", "out", &[2, 3], 4, &[5]),
        ];
        assert_eq!(raw(&hits), "m1\nm2\nm3\nm4\n--\nm10\n--\nm4\nm5\n");
    }

    #[test]
    fn a_hit_in_held_back_context_prints_as_a_hit() {
        let hits = [
            hit("a", "out", &[1], 2, &[3, 4]),
            hit("a", "out", &[2], 3, &[4, 5]),
        ];
        let out = print(Format::Text, true, &hits);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        let is_context = |l: &str| l.starts_with("\x1b[2m") && !l.contains("\x1b[3");
        let kinds: Vec<bool> = lines.iter().map(|l| is_context(l)).collect();
        assert_eq!(kinds, [true, false, false, true, true], "{out:?}");
        assert!(lines[2].ends_with(" m3"), "{out:?}");
    }

    #[test]
    fn raw_is_exact_with_context() {
        let mut h = hit("a", "out", &[1], 2, &[3]);
        h.record.record.message = "tab\there\r".into();
        h.context.as_mut().expect("context").before[0]
            .record
            .message = "héllo ✓".into();
        h.context.as_mut().expect("context").after[0].record.message = "two\nlines".into();
        let hits = [h, hit("a", "out", &[], 9, &[])];
        assert_eq!(raw(&hits), "héllo ✓\ntab\there\r\ntwo\nlines\n--\nm9\n");
    }

    #[test]
    fn without_context_nothing_is_grouped() {
        let mut p = Printer::new(Vec::new(), Format::Raw, TimeZone::UTC, true);
        for id in [1, 5, 9] {
            p.record(&rec("a", "out", id)).expect("record");
        }
        let hit = Hit {
            record: rec("b", "out", 12),
            context: None,
        };
        p.hit(&hit).expect("hit");
        let out = String::from_utf8(p.finish().expect("finish")).expect("utf8");
        assert_eq!(out, "m1\nm5\nm9\nm12\n");
    }

    #[test]
    fn empty_context_still_separates_groups() {
        let hits = [hit("a", "out", &[], 1, &[]), hit("a", "out", &[], 5, &[])];
        assert_eq!(raw(&hits), "m1\n--\nm5\n");
    }

    #[test]
    fn text_context_lines_look_like_hits_without_colour() {
        let hits = [hit("a", "out", &[1], 2, &[3]), hit("a", "out", &[], 9, &[])];
        let out = print(Format::Text, false, &hits);
        assert_eq!(
            out,
            "2026-11-22T13:11:35.000Z a INFO  m1\n\
             2026-11-22T13:11:35.000Z a INFO  m2\n\
             2026-11-22T13:11:35.000Z a INFO  m3\n\
             --\n\
             2026-11-22T13:11:35.000Z a INFO  m9\n"
        );
    }

    #[test]
    fn no_escape_bytes_without_colour() {
        let mut h = hit("a", "out", &[1], 2, &[3]);
        h.record.record.level = Some(Level::Fatal);
        h.record.record.message = "line one\nline two".into();
        let hits = [h, hit("b", "err", &[], 9, &[])];
        for format in [Format::Text, Format::Raw, Format::Json, Format::Jsonl] {
            let out = print(format, false, &hits);
            assert!(!out.contains('\x1b'), "{format:?}: {out:?}");
        }
        // Colour asked for but not text: still none.
        for format in [Format::Raw, Format::Json, Format::Jsonl] {
            let out = print(format, true, &hits);
            assert!(!out.contains('\x1b'), "{format:?}: {out:?}");
        }
    }

    #[test]
    fn text_in_colour() {
        let mut h = hit("osm-app", "out", &[1], 2, &[]);
        h.record.record.level = Some(Level::Error);
        h.record.record.message = "boom\n  at x".into();
        let out = print(Format::Text, true, &[h, hit("osm-app", "out", &[], 9, &[])]);
        let app = super::super::color::app("osm-app")
            .paint(true, "osm-app")
            .to_string();
        let time = "\x1b[2m2026-11-22T13:11:35.000Z\x1b[0m";
        assert_eq!(
            out,
            format!(
                "{time} \x1b[2mosm-app\x1b[0m \x1b[2mINFO\x1b[0m  \x1b[2mm1\x1b[0m\n\
                 {time} {app} \x1b[1;31mERROR\x1b[0m boom\n  at x\n\
                 \x1b[36m--\x1b[0m\n\
                 {time} {app} \x1b[32mINFO\x1b[0m  m9\n"
            )
        );
    }

    #[test]
    fn json_array_streams_0_1_and_3_hits() {
        let three = [
            hit("a", "out", &[1], 2, &[3]),
            Hit {
                record: rec("a", "out", 5),
                context: None,
            },
            hit("b", "err", &[], 9, &[10, 11]),
        ];
        for n in [0, 1, 3] {
            let hits = &three[..n];
            let out = print(Format::Json, false, hits);
            let back: Vec<Hit> = serde_json::from_str(&out).expect("parse");
            assert_eq!(back, hits, "{n} hits");
            assert_eq!(
                out,
                serde_json::to_string_pretty(hits).expect("json") + "\n"
            );
        }
        assert_eq!(print(Format::Json, false, &[]), "[]\n");
    }

    #[test]
    fn records_print_as_hits_without_context() {
        let r = rec("a", "out", 1);
        for format in [Format::Json, Format::Jsonl] {
            let mut p = Printer::new(Vec::new(), format, TimeZone::UTC, false);
            p.record(&r).expect("record");
            let out = p.finish().expect("finish");
            let want = print(
                format,
                false,
                &[Hit {
                    record: r.clone(),
                    context: None,
                }],
            );
            assert_eq!(String::from_utf8(out).expect("utf8"), want);
        }
    }

    #[test]
    fn jsonl_roundtrips_with_context() {
        let hits = [
            hit("a", "out", &[1, 2], 3, &[4]),
            Hit {
                record: rec("a", "out", 7),
                context: None,
            },
        ];
        let out = print(Format::Jsonl, false, &hits);
        let back: Vec<Hit> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("parse"))
            .collect();
        assert_eq!(back, hits);
        let first: serde_json::Value =
            serde_json::from_str(out.lines().next().expect("line")).expect("parse");
        assert_eq!(first["id"], 3);
        assert_eq!(first["context"]["before"][1]["message"], "m2");
        assert!(!out.lines().nth(1).expect("line").contains("context"));
    }
}
