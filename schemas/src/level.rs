//! Severity levels, normalized across formats.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A record's severity, from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

/// A level name that no format uses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown level {0:?} (expected trace, debug, info, warn, error or fatal)")]
pub struct UnknownLevel(pub String);

impl Level {
    /// All levels, least severe first.
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    /// The canonical lowercase name, as stored and indexed.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }

    /// Maps the spellings that loggers use (syslog, Ruby Logger, Python logging, bunyan numbers
    /// excluded) onto a level, ignoring ASCII case. Returns `None` for anything else.
    pub fn from_alias(word: &str) -> Option<Level> {
        const ALIASES: &[(&str, Level)] = &[
            ("trace", Level::Trace),
            ("trc", Level::Trace),
            ("verbose", Level::Trace),
            ("debug", Level::Debug),
            ("dbg", Level::Debug),
            ("d", Level::Debug),
            ("info", Level::Info),
            ("inf", Level::Info),
            ("i", Level::Info),
            ("notice", Level::Info),
            ("information", Level::Info),
            ("informational", Level::Info),
            ("warn", Level::Warn),
            ("warning", Level::Warn),
            ("wrn", Level::Warn),
            ("w", Level::Warn),
            ("error", Level::Error),
            ("err", Level::Error),
            ("e", Level::Error),
            ("fatal", Level::Fatal),
            ("critical", Level::Fatal),
            ("crit", Level::Fatal),
            ("f", Level::Fatal),
            ("emerg", Level::Fatal),
            ("emergency", Level::Fatal),
            ("alert", Level::Fatal),
            ("panic", Level::Fatal),
        ];
        // Parsers call this for every line: compare in place rather than lowercase a copy.
        let word = word.trim();
        ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(word))
            .map(|&(_, level)| level)
    }
}

/// The levels a `--level` option selects: `warn` means warn and worse, `warn..error` the
/// levels from warn to error. Both ends inclusive, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelRange {
    pub min: Level,
    pub max: Level,
}

impl LevelRange {
    pub fn contains(&self, level: Level) -> bool {
        (self.min..=self.max).contains(&level)
    }

    /// The levels in the range, least severe first.
    pub fn levels(&self) -> impl Iterator<Item = Level> + '_ {
        Level::ALL.into_iter().filter(|l| self.contains(*l))
    }
}

/// Why a level range is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BadLevelRange {
    #[error(transparent)]
    Unknown(#[from] UnknownLevel),
    #[error("level range {0:?} is empty: its first level is more severe than its last")]
    Empty(String),
}

impl FromStr for LevelRange {
    type Err = BadLevelRange;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let range = match s.split_once("..") {
            None => LevelRange {
                min: s.parse()?,
                max: Level::Fatal,
            },
            Some((min, max)) => LevelRange {
                min: if min.is_empty() {
                    Level::Trace
                } else {
                    min.parse()?
                },
                max: if max.is_empty() {
                    Level::Fatal
                } else {
                    max.parse()?
                },
            },
        };
        if range.min > range.max {
            return Err(BadLevelRange::Empty(s.to_owned()));
        }
        Ok(range)
    }
}

impl fmt::Display for LevelRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.min, self.max)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::from_alias(s).ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_normalize() {
        assert_eq!("WARNING".parse::<Level>(), Ok(Level::Warn));
        assert_eq!("CRITICAL".parse::<Level>(), Ok(Level::Fatal));
        assert_eq!("Info".parse::<Level>(), Ok(Level::Info));
        assert!("loud".parse::<Level>().is_err());
    }

    #[test]
    fn ranges_are_a_minimum_or_both_ends() {
        let r: LevelRange = "warn".parse().expect("min");
        assert_eq!(
            r.levels().collect::<Vec<_>>(),
            [Level::Warn, Level::Error, Level::Fatal]
        );
        let r: LevelRange = "info..WARNING".parse().expect("range");
        assert_eq!((r.min, r.max), (Level::Info, Level::Warn));
        assert_eq!(r.to_string().parse::<LevelRange>(), Ok(r));
        let r: LevelRange = "..debug".parse().expect("open start");
        assert_eq!((r.min, r.max), (Level::Trace, Level::Debug));
        assert!(matches!(
            "error..info".parse::<LevelRange>(),
            Err(BadLevelRange::Empty(_))
        ));
        let err = "loud..error".parse::<LevelRange>().expect_err("unknown");
        assert!(err.to_string().contains("expected trace, debug"), "{err}");
    }

    #[test]
    fn order_is_severity() {
        assert!(Level::Trace < Level::Debug && Level::Error < Level::Fatal);
        for level in Level::ALL {
            assert_eq!(level.as_str().parse::<Level>(), Ok(level));
        }
    }
}
