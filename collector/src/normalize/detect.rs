//! Format choice per stream: the shipper's hint wins; otherwise the first format that parses a
//! line is chosen and cached, and another is chosen when lines keep failing the cached one.

use super::format::{Context, Format, Parsed};
use super::formats::{self, plain::Plain};

/// Consecutive lines another format parses, after which it replaces the cached one.
const SWITCH_AFTER: u32 = 4;

/// How a line reads in its stream.
#[derive(Debug)]
pub enum Reading {
    /// The stream's format (or another candidate) parsed it.
    Parsed(&'static dyn Format, Parsed),
    /// No candidate format parsed it (plain text would take it).
    Foreign,
}

/// The format state of one stream.
#[derive(Debug)]
pub struct StreamFormat {
    /// The formats this stream's lines are tried against, most likely first.
    candidates: Vec<&'static dyn Format>,
    /// The format its recent lines were in.
    chosen: Option<&'static dyn Format>,
    /// The format that parsed the last lines the chosen one failed, and how many in a row.
    challenger: Option<(&'static dyn Format, u32)>,
}

impl StreamFormat {
    /// The state for a stream with the shipper's `hint` (`None`, or a hint no format knows:
    /// detect among all formats).
    pub fn new(hint: Option<&str>) -> StreamFormat {
        let family = hint.and_then(|h| {
            let family = formats::family(h);
            if family.is_none() {
                tracing::warn!(
                    hint = h,
                    "unknown format hint; detecting the format instead"
                );
            }
            family
        });
        match family {
            Some(family) => StreamFormat {
                chosen: family.first().copied(),
                candidates: family,
                challenger: None,
            },
            None => StreamFormat {
                candidates: formats::ALL
                    .iter()
                    .copied()
                    .filter(|f| f.name() != Plain.name())
                    .collect(),
                chosen: None,
                challenger: None,
            },
        }
    }

    /// The format currently chosen, if any.
    pub fn chosen(&self) -> Option<&'static dyn Format> {
        self.chosen
    }

    /// Reads `line` with the chosen format, else with the other candidates.
    pub fn read(&mut self, line: &str, cx: &Context) -> Reading {
        if let Some(f) = self.chosen
            && let Some(p) = f.parse(line, cx)
        {
            self.challenger = None;
            return Reading::Parsed(f, p);
        }
        for &f in &self.candidates {
            if self.chosen.is_some_and(|c| same(c, f)) {
                continue;
            }
            if let Some(p) = f.parse(line, cx) {
                self.note_success(f);
                return Reading::Parsed(f, p);
            }
        }
        Reading::Foreign
    }

    fn note_success(&mut self, f: &'static dyn Format) {
        if self.chosen.is_none() {
            self.chosen = Some(f);
            return;
        }
        let streak = match self.challenger {
            Some((c, n)) if same(c, f) => n + 1,
            _ => 1,
        };
        if streak >= SWITCH_AFTER {
            tracing::debug!(from = ?self.chosen.map(|c| c.name()), to = f.name(), "stream format changed");
            self.chosen = Some(f);
            self.challenger = None;
        } else {
            self.challenger = Some((f, streak));
        }
    }
}

/// Whether `a` and `b` are the same format. By name, not by address: the formats are unit
/// structs, and every reference to a zero-sized value may have the same address, so
/// `ptr::addr_eq` held every format to be the chosen one (found by the `detect` fuzz target).
fn same(a: &dyn Format, b: &dyn Format) -> bool {
    a.name() == b.name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::formats::testing::cx;

    const RAILS: &str =
        "I, [2026-11-22T13:14:55.004321 #1]  INFO -- : [6f66c1ca] Started GET \"/\"";
    const JSON: &str = r#"{"level":30,"time":1531171074631,"msg":"hello","pid":657}"#;

    #[test]
    fn a_line_of_another_candidate_is_read_in_it_and_enough_of_them_switch_the_format() {
        // Regression: formats were compared by address, and all of them, zero-sized, had the
        // same one: once a format was chosen, no other was tried.
        let mut s = StreamFormat::new(None);
        assert!(matches!(s.read(RAILS, &cx()), Reading::Parsed(f, _) if f.name() == "rails"));
        for i in 1..=SWITCH_AFTER {
            let read = s.read(JSON, &cx());
            assert!(
                matches!(read, Reading::Parsed(f, _) if f.name() == "json"),
                "line {i}"
            );
        }
        assert_eq!(s.chosen().map(|f| f.name()), Some("json"));
    }
}
