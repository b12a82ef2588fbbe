//! What a tail job follows: patterns, each with the app, stream name, fields and shape its
//! files' lines get. A `tail` job has one fixed target; a `pm2` job's targets change as pm2
//! starts, restarts and deletes processes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::shape::Shape;

/// One path or glob and what its files' streams are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A path or a glob (`*`, `?`, `[..]`, `**`).
    pub pattern: String,
    pub app: String,
    /// The record `stream`; `None` names each file's stream by its path.
    pub stream: Option<String>,
    /// A format hint for the collector.
    pub format: Option<String>,
    /// Fields every record of the file carries.
    pub fields: BTreeMap<String, String>,
    pub shape: Shape,
}

impl Target {
    /// A `tail` job's pattern: its files' streams are named by their paths, read as written.
    pub fn tail(pattern: &str, app: &str, format: Option<String>) -> Target {
        Target {
            pattern: pattern.to_owned(),
            app: app.to_owned(),
            stream: None,
            format,
            fields: BTreeMap::new(),
            shape: Shape::Lines,
        }
    }

    /// Whether `path` is this target's file (or one of its glob's).
    pub fn matches(&self, path: &std::path::Path) -> bool {
        if self.pattern.contains(['*', '?', '[']) {
            glob::Pattern::new(&self.pattern).is_ok_and(|p| p.matches_path(path))
        } else {
            std::path::Path::new(&self.pattern) == path
        }
    }
}

/// The current targets, shared between whoever sets them and the tailer that reads them.
#[derive(Debug, Clone, Default)]
pub struct Targets(Arc<Mutex<(u64, Arc<Vec<Target>>)>>);

impl Targets {
    pub fn fixed(targets: Vec<Target>) -> Targets {
        Targets(Arc::new(Mutex::new((0, Arc::new(targets)))))
    }

    /// Replaces the targets (when they differ); the tailer picks them up on its next round.
    pub fn set(&self, targets: Vec<Target>) {
        let mut guard = self.0.lock().expect("targets lock");
        if *guard.1 != targets {
            guard.0 += 1;
            guard.1 = Arc::new(targets);
        }
    }

    /// The targets and their version (which grows with every change).
    pub fn get(&self) -> (u64, Arc<Vec<Target>>) {
        let guard = self.0.lock().expect("targets lock");
        (guard.0, guard.1.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(pattern: &str) -> Target {
        Target::tail(pattern, "a", None)
    }

    #[test]
    fn the_version_moves_only_on_a_change() {
        let t = Targets::fixed(vec![target("/x")]);
        assert_eq!(t.get().0, 0);
        t.set(vec![target("/x")]);
        assert_eq!(t.get().0, 0);
        t.set(vec![target("/y")]);
        assert_eq!(t.get().0, 1);
        assert_eq!(t.get().1[0].pattern, "/y");
    }

    #[test]
    fn paths_and_globs_match() {
        assert!(target("/l/a.log").matches("/l/a.log".as_ref()));
        assert!(!target("/l/a.log").matches("/l/b.log".as_ref()));
        assert!(target("/l/*.log").matches("/l/b.log".as_ref()));
        assert!(!target("/l/*.log").matches("/m/b.log".as_ref()));
    }
}
