//! The scan's prefilter: literals that every record matching a query holds in its message, so
//! that a scan parses only the lines of a frame that hold one of them, not every record.
//!
//! A frame holds one record per line as JSON, where the message is a JSON string: its text as
//! is, but for `"`, `\` and control characters, which are escaped. A literal free of those is
//! in the line exactly when it is in the message (or elsewhere in the record: the prefilter
//! may let a line through that does not match, never the other way round; each record it
//! lets through is then matched as before).

use aho_corasick::AhoCorasick;
use regex_syntax::ParserBuilder;
use regex_syntax::hir::literal::Extractor;

use super::parse::Expr;
use crate::index::{attr_id_value, tokenizer};

/// Finds the lines of a frame that may hold a match.
#[derive(Debug, Clone)]
pub struct Prefilter {
    finder: AhoCorasick,
    /// Whether the literals (lowercased) are looked for in a lowercased copy of the frame.
    fold: bool,
}

impl Prefilter {
    /// The prefilter of `expr`, when every match of it must hold one of a few literals.
    pub fn of(expr: &Expr) -> Option<Prefilter> {
        let Literals {
            mut bytes,
            any_case,
        } = literals(expr)?;
        // Ids are matched in any case; regular expressions' literals come in every case the
        // expression allows already. Either way the search is case-sensitive, which is many
        // times faster (aho-corasick finds a single literal with memchr's memmem then): ids are
        // lowercased and looked for in a lowercased copy of the frame. Asking aho-corasick for
        // any ASCII case instead scanned a frame at about 500 MB/s: three fifths of a request
        // id's search at 10 GiB.
        if any_case {
            bytes.iter_mut().for_each(|b| b.make_ascii_lowercase());
        }
        let finder = AhoCorasick::new(&bytes).ok()?;
        Some(Prefilter {
            finder,
            fold: any_case,
        })
    }

    /// The lines of `frame` (without their newline) that hold one of the literals, each once.
    pub fn lines<'f>(&self, frame: &'f [u8]) -> impl Iterator<Item = &'f [u8]> + use<'_, 'f> {
        // ASCII lowercasing keeps every byte where it is: a match in the copy is a match in
        // the frame at the same offsets.
        let folded = self.fold.then(|| frame.to_ascii_lowercase());
        let mut from = 0;
        std::iter::from_fn(move || {
            let haystack = folded.as_deref().unwrap_or(frame);
            let input = aho_corasick::Input::new(haystack).range(from..);
            let m = self.finder.find(input)?;
            let start = memchr::memrchr(b'\n', &frame[..m.start()]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &frame[m.end()..]).map_or(frame.len(), |i| m.end() + i);
            from = (end + 1).min(frame.len());
            Some(&frame[start..end])
        })
    }
}

/// Literals one of which every match holds.
#[derive(Debug)]
struct Literals {
    bytes: Vec<Vec<u8>>,
    /// Whether they are to be found in any ASCII case.
    any_case: bool,
}

impl Literals {
    fn exact(bytes: Vec<Vec<u8>>) -> Literals {
        Literals {
            bytes,
            any_case: false,
        }
    }

    /// An id, found in any case.
    fn id(id: &str) -> Literals {
        Literals {
            bytes: vec![id.as_bytes().to_vec()],
            any_case: true,
        }
    }
}

/// Literals one of which every match of `expr` holds; `None` when there are none to find.
fn literals(expr: &Expr) -> Option<Literals> {
    match expr {
        Expr::Regex(p) => regex_literals(p.regex.as_str(), p.case_insensitive).map(Literals::exact),
        Expr::Scan(s) => regex_literals(&regex::escape(&s.text), true).map(Literals::exact),
        // The longest id of a phrase, or a field's id value (ASCII letters and digits, written
        // as is in the JSON).
        Expr::Phrase(words) => whole_ids(words).max_by_key(|w| w.len()).map(Literals::id),
        Expr::Prefix(words) => words
            .split_last()
            .and_then(|(_, whole)| whole_ids(whole).max_by_key(|w| w.len()))
            .map(Literals::id),
        Expr::Attr(term) => attr_id_value(term).map(Literals::id),
        // Any one part's literals will do: the one with the fewest.
        Expr::And(es) => es.iter().filter_map(literals).min_by_key(|l| l.bytes.len()),
        // Every alternative needs literals of its own.
        Expr::Or(es) => es
            .iter()
            .map(literals)
            .collect::<Option<Vec<_>>>()
            .map(|sets| Literals {
                any_case: sets.iter().any(|l| l.any_case),
                bytes: sets.into_iter().flat_map(|l| l.bytes).collect(),
            }),
        _ => None,
    }
}

fn whole_ids(words: &[String]) -> impl Iterator<Item = &str> {
    words
        .iter()
        .map(String::as_str)
        .filter(|w| tokenizer::is_id(w))
}

/// For a scan of sealed frames: groups of frame-filter keys (see
/// [`crate::storage::frame_filter`]) such that a frame holding a match holds every key of one
/// group; `None` when the query's ids do not tell.
pub fn frame_keys(expr: &Expr) -> Option<Vec<Vec<u32>>> {
    use crate::storage::frame_filter::key;
    match expr {
        Expr::Phrase(words) => {
            let keys: Vec<u32> = whole_ids(words).map(key).collect();
            (!keys.is_empty()).then(|| vec![keys])
        }
        Expr::Prefix(words) => {
            let (_, whole) = words.split_last()?;
            let keys: Vec<u32> = whole_ids(whole).map(key).collect();
            (!keys.is_empty()).then(|| vec![keys])
        }
        Expr::Attr(term) => attr_id_value(term).map(|v| vec![vec![key(v)]]),
        // Any one part's groups will do: the fewest.
        Expr::And(es) => es.iter().filter_map(frame_keys).min_by_key(Vec::len),
        // Every alternative needs groups of its own.
        Expr::Or(es) => es
            .iter()
            .map(frame_keys)
            .collect::<Option<Vec<_>>>()
            .map(|sets| sets.concat()),
        _ => None,
    }
}

/// The prefixes every match of the regular expression starts with, when they are finite,
/// none is empty, and none holds a byte JSON escapes in a string.
fn regex_literals(pattern: &str, case_insensitive: bool) -> Option<Vec<Vec<u8>>> {
    let hir = ParserBuilder::new()
        .case_insensitive(case_insensitive)
        .build()
        .parse(pattern)
        .ok()?;
    let seq = Extractor::new().extract(&hir);
    let literals = seq.literals()?;
    let escaped = |b: &u8| *b == b'"' || *b == b'\\' || *b < 0x20;
    if literals.is_empty()
        || literals
            .iter()
            .any(|l| l.as_bytes().is_empty() || l.as_bytes().iter().any(escaped))
    {
        return None;
    }
    Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Query;

    fn prefilter(q: &str) -> Option<Prefilter> {
        Prefilter::of(Query::parse(q).expect("query").expr())
    }

    fn kept<'a>(q: &str, frame: &'a str) -> Vec<&'a str> {
        let p = prefilter(q).expect("a prefilter");
        p.lines(frame.as_bytes())
            .map(|l| std::str::from_utf8(l).expect("utf-8"))
            .collect()
    }

    #[test]
    fn a_regex_keeps_the_lines_holding_its_literal_prefixes_each_once() {
        let frame = "{\"m\":\"items/123 items/124\"}\n{\"m\":\"other\"}\n{\"m\":\"x items/9\"}";
        assert_eq!(
            kept(r"/items\/1\d+/", frame),
            ["{\"m\":\"items/123 items/124\"}"]
        );
        assert_eq!(
            kept(r"/items\/\d/", frame),
            ["{\"m\":\"items/123 items/124\"}", "{\"m\":\"x items/9\"}"]
        );
    }

    #[test]
    fn case_insensitive_regexes_and_long_words_find_every_case() {
        let frame = "{\"m\":\"ERROR here\"}\n{\"m\":\"fine\"}\n{\"m\":\"an Error\"}";
        assert_eq!(kept("/error/i", frame).len(), 2);
        let long = "x".repeat(300);
        let frame = format!("{{\"m\":\"A-{}\"}}\n{{\"m\":\"y\"}}", long.to_uppercase());
        assert_eq!(kept(&format!("a-{long}"), &frame).len(), 1);
    }

    /// Regression: ids made the prefilter find every literal in any case, and a regex scan
    /// of the 1 GiB bench corpus went from 674 ms to 2.8 s (aho-corasick gives up memchr's
    /// memmem when it must find other cases).
    #[test]
    fn a_regex_literal_is_found_in_its_case_and_an_id_in_any() {
        let frame = "{\"m\":\"GET /Items/1234\"}\n{\"m\":\"GET /items/1234\"}\n{\"m\":\"x\"}";
        assert_eq!(
            kept(r"/items\/1234/", frame),
            ["{\"m\":\"GET /items/1234\"}"]
        );
        assert_eq!(kept(r"/(?i)items\/1234/", frame).len(), 2);
        let frame = "{\"m\":\"req F6FADFA7E5C15B62\"}\n{\"m\":\"req f6fadfa7e5c15b62\"}\n\
                     {\"m\":\"é req F6faDFa7e5C15b62\"}\n{\"m\":\"req f6fadfa7e5c15b6\"}";
        assert_eq!(
            kept("\"req f6fadfa7e5c15b62\"", frame),
            [
                "{\"m\":\"req F6FADFA7E5C15B62\"}",
                "{\"m\":\"req f6fadfa7e5c15b62\"}",
                "{\"m\":\"é req F6faDFa7e5C15b62\"}"
            ]
        );
        assert_eq!(kept("\"req F6FADFA7E5C15B62\"", frame).len(), 3);
        assert_eq!(kept(r"f6fadfa7e5c15b62 OR /items\/1234/", frame).len(), 3);
    }

    #[test]
    fn alternatives_each_need_literals_and_a_conjunction_takes_one_part() {
        let frame = "{\"m\":\"alpha\"}\n{\"m\":\"beta\"}\n{\"m\":\"gamma\"}";
        assert_eq!(kept("/alpha/ OR /beta/", frame).len(), 2);
        assert!(prefilter("/alpha/ OR word").is_none());
        assert_eq!(kept("level:error /gamma/", frame), ["{\"m\":\"gamma\"}"]);
    }

    #[test]
    fn no_prefilter_where_a_literal_could_be_missed() {
        // Nothing to find: any text may match.
        assert!(prefilter("/.*/").is_none());
        assert!(prefilter(r"/\d+ms/").is_none());
        // A quote, a backslash or a tab is escaped in the frame's JSON.
        assert!(prefilter(r#"/say "hi/"#).is_none());
        assert!(prefilter(r"/C:\\temp/").is_none());
        assert!(prefilter(r"/a\tb/").is_none());
        // Negations and words: the index's business, not a scan's.
        assert!(prefilter("-/abc/").is_none());
        assert!(prefilter("ECONNREFUSED").is_none());
    }
}
