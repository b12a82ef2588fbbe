//! Plain text: any line. A leading ISO 8601 time and a level word near the start (`ERROR`,
//! `[warn]`, `level=error`, or a Node/Python error name such as `TypeError:`) are taken when
//! present; everything else is the text alone.

use logq_schemas::Level;

use crate::normalize::format::{Context, Format, Parsed};
use crate::normalize::time::iso8601;

#[derive(Debug)]
pub struct Plain;

/// How many words from the start a level word may sit at.
const LEVEL_WORDS: usize = 4;

impl Format for Plain {
    fn name(&self) -> &'static str {
        "plain"
    }

    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed> {
        let mut rest = line.trim_start_matches(['[', ' ']);
        let time = iso8601(rest, &cx.tz).map(|(t, len)| {
            rest = &rest[len..];
            t
        });
        Some(Parsed {
            time,
            level: level_word(rest),
            body: line.len() - rest.len(),
            ..Parsed::default()
        })
    }

    fn wraps_writes(&self) -> bool {
        true
    }
}

/// A level named at the start of `text` (a `warn: ` label), or by one of its first words.
pub fn level_word(text: &str) -> Option<Level> {
    if let Some(level) = label_level(text) {
        return Some(level);
    }
    for word in text.split_ascii_whitespace().take(LEVEL_WORDS) {
        let w = word.trim_matches(|c: char| {
            matches!(c, '[' | ']' | ':' | '(' | ')' | ',' | '<' | '>' | '|')
        });
        let w = w.strip_prefix("level=").unwrap_or(w);
        if w.len() >= 4
            && w.len() <= 8
            && (w.bytes().all(|b| b.is_ascii_uppercase())
                || word.starts_with('[')
                || word.starts_with("level="))
            && let Some(level) = Level::from_alias(w)
        {
            return Some(level);
        }
        if word.ends_with(':')
            && (w.ends_with("Error") || w.ends_with("Exception"))
            && w.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        {
            return Some(Level::Error);
        }
    }
    None
}

/// A lowercase or capitalised level name followed by `: ` at the very start (`warn: config
/// file missing`), as winston's default format and many hand-written Node logs put it.
fn label_level(text: &str) -> Option<Level> {
    let b = text.as_bytes();
    let colon = b.iter().take(9).position(|&c| c == b':')?;
    if !matches!(b.get(colon + 1), None | Some(b' ')) {
        return None;
    }
    let word = &text[..colon];
    const NAMES: [(&str, Level); 9] = [
        ("trace", Level::Trace),
        ("debug", Level::Debug),
        ("info", Level::Info),
        ("notice", Level::Info),
        ("warn", Level::Warn),
        ("warning", Level::Warn),
        ("error", Level::Error),
        ("fatal", Level::Fatal),
        ("critical", Level::Fatal),
    ];
    NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|&(_, level)| level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Parsed {
        let cx = Context::utc("2026-11-23T10:00:00Z".parse().expect("ts"));
        Plain.parse(line, &cx).expect("plain takes every line")
    }

    #[test]
    fn plain_lines_keep_a_leading_time_and_a_level_word() {
        let p = parse("2026-11-23T09:00:01.5Z ERROR connect failed");
        assert_eq!(p.time, Some("2026-11-23T09:00:01.5Z".parse().expect("ts")));
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(parse("[WARN] disk at 91%").level, Some(Level::Warn));
        assert_eq!(parse("ts=1 level=info msg=ok").level, Some(Level::Info));
        assert_eq!(parse("warn: config file missing").level, Some(Level::Warn));
        assert_eq!(
            parse("TypeError: x is not a function").level,
            Some(Level::Error)
        );
        assert_eq!(
            parse("Error: connect ECONNREFUSED 127.0.0.1:5432").level,
            Some(Level::Error)
        );
        let p = parse("Listening on port 3000 with info");
        assert_eq!((p.time, p.level), (None, None));
        assert_eq!(parse("").level, None);
    }
}
