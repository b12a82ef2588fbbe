//! App names: they name directories on the collector's disk, so they are checked before use.

use thiserror::Error;

/// The longest app name accepted.
pub const MAX_APP_NAME_LEN: usize = 64;

/// Why an app name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AppNameError {
    #[error("app name is empty")]
    Empty,
    #[error("app name is longer than {MAX_APP_NAME_LEN} bytes")]
    TooLong,
    #[error("app name must start with a letter or a digit")]
    BadStart,
    #[error("app name may hold only letters, digits, '.', '_' and '-', found {0:?}")]
    BadChar(char),
}

/// Checks `name` against `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
///
/// Such a name can never be `.`, `..`, hold a path separator, a NUL or a newline, so it is safe
/// as a single path component and as a log field.
pub fn validate_app_name(name: &str) -> Result<(), AppNameError> {
    let first = name.chars().next().ok_or(AppNameError::Empty)?;
    if name.len() > MAX_APP_NAME_LEN {
        return Err(AppNameError::TooLong);
    }
    if !first.is_ascii_alphanumeric() {
        return Err(AppNameError::BadStart);
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(bad) => Err(AppNameError::BadChar(bad)),
        None => Ok(()),
    }
}

/// Maps a name another tool gave a process (a pm2 app, a supervisord program) into the app
/// name set: every character outside `[A-Za-z0-9._-]` becomes `_`, a leading `.`, `_` or `-`
/// is dropped, and the result is cut to [`MAX_APP_NAME_LEN`] bytes; nothing left gives
/// `unnamed`. A valid name maps to itself.
pub fn app_name_from(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(MAX_APP_NAME_LEN)
        .collect();
    if mapped.is_empty() {
        "unnamed".to_owned()
    } else {
        mapped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_tools_names_map_into_the_set() {
        assert_eq!(app_name_from("osm-app"), "osm-app");
        assert_eq!(app_name_from("my app:worker"), "my_app_worker");
        assert_eq!(app_name_from("../../etc/passwd"), "etc_passwd");
        assert_eq!(app_name_from("caf\u{e9}\n"), "caf__");
        assert_eq!(app_name_from("///"), "unnamed");
        assert_eq!(app_name_from(&"x".repeat(100)).len(), MAX_APP_NAME_LEN);
        for name in ["a b", "\0", "\u{2713}", "-x", "..", "0|osm"] {
            assert_eq!(validate_app_name(&app_name_from(name)), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn accepts_ordinary_names() {
        for name in ["osm-app", "web.1", "sidekiq_worker", "A", "0x"] {
            assert_eq!(validate_app_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn refuses_path_like_and_control_names() {
        assert_eq!(validate_app_name(""), Err(AppNameError::Empty));
        assert_eq!(
            validate_app_name("../../etc/passwd"),
            Err(AppNameError::BadStart)
        );
        assert_eq!(validate_app_name(".."), Err(AppNameError::BadStart));
        assert_eq!(validate_app_name("a/b"), Err(AppNameError::BadChar('/')));
        assert_eq!(validate_app_name("a\nb"), Err(AppNameError::BadChar('\n')));
        assert_eq!(validate_app_name("a\0"), Err(AppNameError::BadChar('\0')));
        assert_eq!(
            validate_app_name(&"a".repeat(65)),
            Err(AppNameError::TooLong)
        );
        assert_eq!(validate_app_name(&"a".repeat(64)), Ok(()));
    }
}
