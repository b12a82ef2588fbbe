//! Whether to colour, and the few ANSI SGR styles `logq` uses. With colour off nothing here
//! writes a single escape byte.

use std::ffi::OsStr;
use std::fmt;

use logq_schemas::Level;

/// `--color`: when to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    /// Always, even into a pipe or with `NO_COLOR` set.
    Always,
    /// Never.
    Never,
}

/// Decides colour once per run. `no_color_env` is the value of `NO_COLOR`: any non-empty value
/// turns colour off in `auto` (<https://no-color.org>); an explicit `--color always` wins.
pub fn enabled(
    choice: ColorChoice,
    stdout_is_terminal: bool,
    no_color_env: Option<&OsStr>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout_is_terminal && no_color_env.is_none_or(OsStr::is_empty),
    }
}

/// An SGR parameter list (`"1;31"` is bold red); the empty list is no style at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Style(&'static str);

impl Style {
    pub const PLAIN: Style = Style("");
    pub const DIM: Style = Style("2");
    pub const BOLD_RED: Style = Style("1;31");
    pub const RED: Style = Style("31");
    pub const GREEN: Style = Style("32");
    pub const YELLOW: Style = Style("33");
    pub const BLUE: Style = Style("34");
    pub const MAGENTA: Style = Style("35");
    pub const CYAN: Style = Style("36");

    /// `text` in this style when `on`; exactly `text` otherwise.
    pub fn paint<T: fmt::Display>(self, on: bool, text: T) -> Painted<T> {
        Painted {
            style: if on { self } else { Style::PLAIN },
            text,
        }
    }
}

/// Text with a style, written by `Display`. A style never spans a newline: it is reset before
/// each `\n` and set again after it, so pagers that style line by line (`less -R`) agree.
#[derive(Debug)]
pub struct Painted<T> {
    style: Style,
    text: T,
}

impl<T: fmt::Display> fmt::Display for Painted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.style == Style::PLAIN {
            return write!(f, "{}", self.text);
        }
        let text = self.text.to_string();
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if !line.is_empty() {
                write!(f, "\x1b[{}m{line}\x1b[0m", self.style.0)?;
            }
        }
        Ok(())
    }
}

/// The style of a level: fatal and error bold red, warn yellow, info green, debug blue, trace
/// dim.
pub fn level(level: Level) -> Style {
    match level {
        Level::Fatal | Level::Error => Style::BOLD_RED,
        Level::Warn => Style::YELLOW,
        Level::Info => Style::GREEN,
        Level::Debug => Style::BLUE,
        Level::Trace => Style::DIM,
    }
}

/// The colour of an app: one of six, the same for a name on every run and every machine
/// (32-bit FNV-1a of the name, not std's randomly seeded hasher).
pub fn app(name: &str) -> Style {
    const PALETTE: [Style; 6] = [
        Style::CYAN,
        Style::MAGENTA,
        Style::YELLOW,
        Style::GREEN,
        Style::BLUE,
        Style::RED,
    ];
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    PALETTE[hash as usize % PALETTE.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_decision_table() {
        use ColorChoice::{Always, Auto, Never};
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        // (choice, stdout is a terminal, NO_COLOR) -> colour
        let table = [
            (Auto, true, None, true),
            (Auto, true, empty, true),
            (Auto, true, set, false),
            (Auto, false, None, false),
            (Auto, false, empty, false),
            (Auto, false, set, false),
            (Always, false, set, true),
            (Always, true, None, true),
            (Never, true, None, false),
            (Never, false, empty, false),
        ];
        for (choice, tty, no_color, want) in table {
            assert_eq!(
                enabled(choice, tty, no_color),
                want,
                "{choice:?} tty={tty} NO_COLOR={no_color:?}"
            );
        }
    }

    #[test]
    fn painting_off_is_the_text_itself() {
        assert_eq!(Style::BOLD_RED.paint(false, "boom").to_string(), "boom");
        assert_eq!(Style::PLAIN.paint(true, "boom").to_string(), "boom");
        assert_eq!(
            Style::BOLD_RED.paint(true, "boom").to_string(),
            "\x1b[1;31mboom\x1b[0m"
        );
    }

    #[test]
    fn a_style_never_spans_a_newline() {
        assert_eq!(
            Style::DIM.paint(true, "a\n\nb\n").to_string(),
            "\x1b[2ma\x1b[0m\n\n\x1b[2mb\x1b[0m\n"
        );
        assert_eq!(Style::DIM.paint(true, "").to_string(), "");
    }

    #[test]
    fn app_colours_are_stable_and_spread() {
        assert_eq!(app("osm-app"), app("osm-app"));
        // FNV-1a of "" is the offset basis, and 0x811c9dc5 % 6 == 1.
        assert_eq!(app(""), Style::MAGENTA);
        let names = [
            "api", "web", "worker", "cron", "osm-app", "billing", "mailer", "auth",
        ];
        let distinct: std::collections::HashSet<_> = names.iter().map(|n| app(n)).collect();
        assert!(distinct.len() >= 3, "{distinct:?}");
    }
}
