//! Which lines continue the event before them: stack traces and tracebacks as Node, Ruby,
//! Python and Java print them.

use logq_schemas::Level;

/// What the normalizer knows about the open event a line may continue.
#[derive(Debug, Clone, Copy, Default)]
pub struct Open {
    /// The event's level.
    pub level: Option<Level>,
    /// The event holds a Python traceback whose final `Name: message` line has not come yet.
    pub in_python_traceback: bool,
}

impl Open {
    /// Whether the event may take lines that are not indented (Ruby backtraces, lines a
    /// prefixed format does not recognise): an event at warn level or above.
    fn is_error(&self) -> bool {
        self.level.is_some_and(|l| l >= Level::Warn)
    }
}

/// Whether `text` (a line, or the body after a wrapper's prefix) continues the open event.
/// `foreign` says that the line is not in the stream's format although the event's line was,
/// which is how unprefixed backtrace lines look in a prefixed log (gunicorn, Rails, sidekiq).
pub fn continues(text: &str, open: &Open, foreign: bool) -> bool {
    let trimmed = text.trim_end();
    if trimmed.is_empty() {
        return open.is_error();
    }
    let first = text.as_bytes()[0];
    if first == b' ' || first == b'\t' {
        return true;
    }
    if CONTINUATION_STARTS.iter().any(|s| trimmed.starts_with(s)) {
        return true;
    }
    if matches!(trimmed, "}" | "]" | "})" | "});") {
        return true;
    }
    if open.in_python_traceback && is_exception_line(trimmed) {
        return true;
    }
    open.is_error() && (foreign || is_ruby_frame(trimmed))
}

/// Whether `text` starts a Python traceback (the event then waits for its exception line).
pub fn starts_python_traceback(text: &str) -> bool {
    text.trim_start()
        .starts_with("Traceback (most recent call last)")
}

/// Whether `text` is the last line of a Python traceback: an exception name, optionally
/// dotted, then a colon or nothing (`ValueError: boom`, `socket.timeout`).
pub fn is_exception_line(text: &str) -> bool {
    let name = text.split(':').next().unwrap_or("");
    !name.is_empty()
        && name.len() < 128
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && (name.ends_with("Error")
            || name.ends_with("Exception")
            || name.ends_with("Exit")
            || name.ends_with("Interrupt")
            || name.ends_with("Warning")
            || text.contains(':'))
}

/// Lines that continue a trace whatever their indentation.
const CONTINUATION_STARTS: &[&str] = &[
    "Caused by:",
    "Traceback (most recent call last)",
    "During handling of the above exception",
    "The above exception was the direct cause",
    "from /",
    "...",
];

/// A Ruby backtrace frame: `path:line:in 'method'`.
fn is_ruby_frame(text: &str) -> bool {
    let Some(at) = text.find(":in ") else {
        return false;
    };
    let before = &text[..at];
    before
        .rsplit(':')
        .next()
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERROR: Open = Open {
        level: Some(Level::Error),
        in_python_traceback: false,
    };
    const INFO: Open = Open {
        level: Some(Level::Info),
        in_python_traceback: false,
    };

    #[test]
    fn stack_frames_of_each_runtime_continue() {
        for line in [
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)",
            "\tat com.example.Book.getId(Book.java:22)",
            "  File \"/srv/app/wsgiapp.py\", line 6, in app",
            "Caused by: java.lang.NullPointerException",
            "     ... 1 more",
            "}",
        ] {
            assert!(continues(line, &INFO, false), "{line}");
        }
        assert!(continues("app.rb:42:in `block in <main>'", &ERROR, false));
        assert!(!continues("app.rb:42:in `block in <main>'", &INFO, false));
    }

    #[test]
    fn a_python_traceback_ends_with_its_exception_line() {
        let tb = Open {
            level: None,
            in_python_traceback: true,
        };
        assert!(continues("ValueError: boom: something broke", &tb, false));
        assert!(continues("Exception: ('spam', 'eggs')", &tb, false));
        assert!(!continues("hello world, not multiline", &tb, false));
        assert!(starts_python_traceback(
            "Traceback (most recent call last):"
        ));
    }

    #[test]
    fn ordinary_lines_start_events() {
        assert!(!continues("GET /items 200", &INFO, false));
        assert!(!continues("GET /items 200", &INFO, true));
        assert!(continues("ActiveRecord::RecordNotFound (x):", &ERROR, true));
        assert!(!continues("", &INFO, false));
        assert!(continues("", &ERROR, false));
    }
}
