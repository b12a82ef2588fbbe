//! The config file (`logq-shipper --config FILE`): where to ship (the same settings as the
//! global flags) and what to ship (any number of `[[tail]]` sources and optionally `[pm2]`),
//! so that one process on a machine ships every log of it.
//!
//! The file is read and checked once, at start ([`Config::load`]): an unknown key, a wrong
//! type, an invalid app name or glob, or a combination that cannot work is refused with the
//! key and the reason. [`Settings::resolve`] then lays the command line over the file: a flag
//! (or its environment variable) given wins over the file's key. Nothing here opens a socket
//! or follows a file.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use logq_schemas::{validate_app_name, validate_stream_fields};
use serde::Deserialize;
use thiserror::Error;

use crate::cli::{Args, default_state_dir, parse_size};
use crate::source::shape::Shape;
use crate::source::target::Target;
use crate::tls::TlsOptions;

/// The collector address when neither the command line nor the file gives one.
pub const DEFAULT_TO: &str = "127.0.0.1:7701";
/// Largest token file read (a token is a line; anything larger is a mistake).
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// Why a config file (or the settings made of it) cannot be used. Every message names the
/// file or the key at fault.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML that does not parse or does not fit the schema (unknown key, wrong type).
    #[error("{path}: {at}: {message}")]
    Parse {
        path: PathBuf,
        /// `line N, key `k``, or `line N ([[tail]])`.
        at: String,
        message: String,
    },
    /// A key whose value cannot work.
    #[error("{path}: {key}: {reason}")]
    Invalid {
        path: PathBuf,
        key: String,
        reason: String,
    },
    #[error("cannot read token file {path}: {reason}")]
    TokenFile { path: PathBuf, reason: String },
    #[error("{0}")]
    Conflict(String),
}

/// The config file.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Collector address, `HOST:PORT` (TCP, or UDP with `udp`). Default `127.0.0.1:7701`.
    #[serde(default)]
    pub to: Option<String>,
    /// Fire-and-forget over UDP instead of acknowledged TCP.
    #[serde(default)]
    pub udp: bool,
    /// Ingest token. Prefer `token_file`: a config file is often readable by many.
    #[serde(default)]
    pub token: Option<String>,
    /// File holding the ingest token (its trailing newline is trimmed).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Connect with TLS (implied by `ca`, `client_cert` and `client_key`).
    #[serde(default)]
    pub tls: bool,
    /// PEM bundle of the CAs to trust for the collector's certificate; without it the
    /// webpki (Mozilla) roots are trusted.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// PEM certificate chain this shipper presents to the collector (mutual TLS).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Name the collector's certificate must carry; default the host part of `to`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// State directory (checkpoints, spools); default `$XDG_STATE_HOME/logq-shipper`.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Host name the records carry; default the machine's.
    #[serde(default)]
    pub host: Option<String>,
    /// Once a tailed file is over this size (bytes, or a size such as "1GiB") and every line
    /// of it is acknowledged, it is truncated in place, so a runaway log cannot fill the disk.
    #[serde(default, deserialize_with = "de_size")]
    pub max_source_bytes: Option<u64>,
    /// Files to follow, each group with its app.
    #[serde(default)]
    pub tail: Vec<TailSource>,
    /// Every pm2 process's output, as pm2 names it (beside the `[[tail]]` files).
    #[serde(default)]
    pub pm2: Option<Pm2Source>,
}

/// A `[[tail]]` entry: files whose lines belong to one app.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailSource {
    /// Absolute paths or globs (`*`, `?`, `[..]`, `**`) of the files to follow.
    pub paths: Vec<String>,
    /// App the lines belong to.
    pub app: String,
    /// Format hint for the collector's parser (`rails`, `gunicorn`, `json`, ...).
    #[serde(default)]
    pub format: Option<String>,
    /// Fields every record of these files carries (`env = "prod"`).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// The `[pm2]` table: ship every pm2 app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pm2Source {
    /// pm2's home directory; default `$PM2_HOME`, else `~/.pm2`.
    #[serde(default)]
    pub pm2_home: Option<PathBuf>,
    /// The pm2 command, for `pm2 jlist`; default `pm2`.
    #[serde(default)]
    pub pm2_bin: Option<PathBuf>,
}

/// A size as a number of bytes or a string such as "512MiB".
fn de_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => Ok(Some(n)),
        Size::Text(s) => parse_size(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

impl Config {
    /// Reads, parses and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks `text`, the content of `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            at: location(text, e.span()),
            message: e.message().to_owned(),
        })?;
        config.check(path)?;
        Ok(config)
    }

    /// Whether the file names any source (then it can run without a subcommand).
    pub fn has_sources(&self) -> bool {
        !self.tail.is_empty() || self.pm2.is_some()
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            reason,
        };
        if let Some(to) = &self.to {
            check_address(to).map_err(|r| invalid("to", r))?;
        }
        if self.token.is_some() && self.token_file.is_some() {
            return Err(invalid(
                "token_file",
                "give token or token_file, not both".into(),
            ));
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            let key = if self.client_cert.is_some() {
                "client_cert"
            } else {
                "client_key"
            };
            return Err(invalid(
                key,
                "a client certificate needs both client_cert and client_key".into(),
            ));
        }
        if self.udp && self.tls_wanted() {
            return Err(invalid(
                "udp",
                "TLS (tls, ca, client_cert) does not apply to udp; use TCP for TLS".into(),
            ));
        }
        if let Some(name) = &self.server_name
            && rustls::pki_types::ServerName::try_from(name.as_str()).is_err()
        {
            return Err(invalid(
                "server_name",
                format!("{name:?} is not a DNS name or an IP address"),
            ));
        }
        if self.host.as_deref().is_some_and(|h| h.trim().is_empty()) {
            return Err(invalid("host", "must not be empty".into()));
        }
        for (i, tail) in self.tail.iter().enumerate() {
            let at = |key: &str| format!("[[tail]] #{}, key `{key}`", i + 1);
            validate_app_name(&tail.app).map_err(|e| invalid(&at("app"), e.to_string()))?;
            if tail.paths.is_empty() {
                return Err(invalid(
                    &at("paths"),
                    "give at least one path or glob".into(),
                ));
            }
            for p in &tail.paths {
                if !Path::new(p).is_absolute() {
                    return Err(invalid(
                        &at("paths"),
                        format!("{p:?} is relative; a config file takes absolute paths"),
                    ));
                }
                if p.contains(['*', '?', '['])
                    && let Err(e) = glob::Pattern::new(p)
                {
                    return Err(invalid(&at("paths"), format!("invalid glob {p:?}: {e}")));
                }
            }
            validate_stream_fields(&tail.fields).map_err(|e| invalid(&at("fields"), e))?;
        }
        Ok(())
    }

    fn tls_wanted(&self) -> bool {
        self.tls || self.ca.is_some() || self.client_cert.is_some() || self.client_key.is_some()
    }

    /// The tail targets of the `[[tail]]` entries.
    pub fn tail_targets(&self) -> Vec<Target> {
        self.tail
            .iter()
            .flat_map(|t| {
                t.paths.iter().map(|p| Target {
                    pattern: p.clone(),
                    app: t.app.clone(),
                    stream: None,
                    format: t.format.clone(),
                    fields: t.fields.clone(),
                    shape: Shape::Lines,
                })
            })
            .collect()
    }
}

/// `HOST:PORT` with a port.
fn check_address(to: &str) -> Result<(), String> {
    match to.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!("{to:?} is not HOST:PORT")),
    }
}

/// Where a parse error is: its line, and the key written on that line.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return "the file".to_owned();
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line = text[..start].rfind('\n').map_or(text, |nl| &text[nl + 1..]);
    let line = line.lines().next().unwrap_or("").trim();
    match line.split_once('=') {
        Some((key, _)) if !line.starts_with('[') => {
            format!("line {line_no}, key `{}`", key.trim())
        }
        _ => format!("line {line_no} ({line})"),
    }
}

/// The settings of a run: the command line laid over the config file, defaults for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub to: String,
    pub udp: bool,
    pub token: Option<String>,
    /// `Some` when shipping over TLS.
    pub tls: Option<TlsOptions>,
    pub state_dir: PathBuf,
    pub host: String,
    pub max_source_bytes: Option<u64>,
}

impl Settings {
    /// The settings of `args` over those of `file`. Reads the token file, if one is named.
    pub fn resolve(args: &Args, file: Option<&Config>) -> Result<Settings, ConfigError> {
        let empty = Config::default();
        let file = file.unwrap_or(&empty);
        let to = args
            .to
            .clone()
            .or_else(|| file.to.clone())
            .unwrap_or_else(|| DEFAULT_TO.to_owned());
        let udp = args.udp || file.udp;
        let token = match (&args.token_file, &args.token) {
            (Some(path), _) => Some(read_token_file(path)?),
            (None, Some(token)) => Some(token.clone()),
            (None, None) => match (&file.token_file, &file.token) {
                (Some(path), _) => Some(read_token_file(path)?),
                (None, token) => token.clone(),
            },
        };
        let tls_wanted = args.tls
            || args.ca.is_some()
            || args.client_cert.is_some()
            || args.client_key.is_some()
            || file.tls_wanted();
        let tls = tls_wanted.then(|| TlsOptions {
            ca: args.ca.clone().or_else(|| file.ca.clone()),
            client_cert: args
                .client_cert
                .clone()
                .or_else(|| file.client_cert.clone()),
            client_key: args.client_key.clone().or_else(|| file.client_key.clone()),
            server_name: args
                .server_name
                .clone()
                .or_else(|| file.server_name.clone()),
        });
        if udp && tls.is_some() {
            return Err(ConfigError::Conflict(
                "TLS (--tls, --ca, --client-cert) does not apply to --udp; use TCP for TLS".into(),
            ));
        }
        Ok(Settings {
            to,
            udp,
            token,
            tls,
            state_dir: args
                .state_dir
                .clone()
                .or_else(|| file.state_dir.clone())
                .unwrap_or_else(default_state_dir),
            host: args
                .host
                .clone()
                .or_else(|| file.host.clone())
                .unwrap_or_else(crate::hostname),
            max_source_bytes: file.max_source_bytes,
        })
    }
}

/// The token in `path`, without its trailing newline.
pub fn read_token_file(path: &Path) -> Result<String, ConfigError> {
    let err = |reason: String| ConfigError::TokenFile {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| err(e.to_string()))?;
    if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(err(format!(
            "larger than {MAX_TOKEN_FILE_BYTES} bytes; a token file holds one line"
        )));
    }
    let token = text.trim_end_matches(['\n', '\r']);
    if token.is_empty() {
        return Err(err("it is empty".into()));
    }
    if token.contains(['\n', '\r']) {
        return Err(err("it holds more than one line".into()));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("shipper.toml"))
    }

    fn args(extra: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("logq-shipper").chain(extra.iter().copied()))
            .expect("args")
    }

    const FULL: &str = r#"
to = "logs.example.com:7701"
token = "t0k"
ca = "/etc/logq/ca.pem"
host = "web-1"
state_dir = "/var/lib/logq-shipper"
max_source_bytes = "1GiB"

[[tail]]
paths = ["/var/log/app/*.log", "/var/log/app/special.txt"]
app = "web"
format = "rails"
fields = { env = "prod" }

[[tail]]
paths = ["/var/log/nginx/access.log"]
app = "nginx"

[pm2]
pm2_home = "/home/deploy/.pm2"
"#;

    #[test]
    fn a_full_file_parses() {
        let c = parse(FULL).expect("valid");
        assert_eq!(c.tail.len(), 2);
        assert_eq!(c.max_source_bytes, Some(1 << 30));
        assert_eq!(c.tail[0].fields["env"], "prod");
        let targets = c.tail_targets();
        assert_eq!(targets.len(), 3);
        assert_eq!(
            (targets[2].app.as_str(), targets[1].format.as_deref()),
            ("nginx", Some("rails"))
        );
        assert!(c.has_sources() && c.tls_wanted());
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let err = parse("to = \"h:1\"\ntimeout = 5\n").expect_err("unknown");
        let msg = err.to_string();
        assert!(msg.contains("unknown field `timeout`"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        let err = parse("[[tail]]\npaths = [\"/x\"]\napp = \"a\"\nformatt = \"json\"\n")
            .expect_err("unknown in a table");
        assert!(err.to_string().contains("`formatt`"), "{err}");
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let err = parse("udp = \"yes\"\n").expect_err("type");
        assert!(err.to_string().contains("key `udp`"), "{err}");
        let err = parse("[[tail]]\npaths = [\"/x\"]\n").expect_err("missing app");
        assert!(err.to_string().contains("missing field `app`"), "{err}");
    }

    #[test]
    fn values_that_cannot_work_are_refused_with_the_key() {
        let cases = [
            ("to = \"nowhere\"", "to"),
            ("token = \"a\"\ntoken_file = \"/t\"", "token_file"),
            ("client_cert = \"/c.pem\"", "client_cert"),
            ("udp = true\ntls = true", "udp"),
            ("server_name = \"a b\"", "server_name"),
            ("max_source_bytes = \"lots\"", "max_source_bytes"),
            ("[[tail]]\npaths = [\"/x\"]\napp = \"../etc\"", "app"),
            ("[[tail]]\npaths = []\napp = \"a\"", "paths"),
            ("[[tail]]\npaths = [\"logs/*.log\"]\napp = \"a\"", "paths"),
            ("[[tail]]\npaths = [\"/l/[.log\"]\napp = \"a\"", "paths"),
            (
                "[[tail]]\npaths = [\"/x\"]\napp = \"a\"\nfields = { Env = \"x\" }",
                "fields",
            ),
        ];
        for (text, key) in cases {
            let err = parse(text).expect_err(text).to_string();
            assert!(
                err.contains(&format!("`{key}`")) || err.contains(&format!(": {key}:")),
                "{text:?} gave {err}"
            );
        }
    }

    #[test]
    fn the_command_line_wins_over_the_file() {
        let file = parse(FULL).expect("valid");
        let s = Settings::resolve(&args(&["--to", "127.0.0.1:9", "--host", "h2"]), Some(&file))
            .expect("settings");
        assert_eq!((s.to.as_str(), s.host.as_str()), ("127.0.0.1:9", "h2"));
        assert_eq!(s.token.as_deref(), Some("t0k"));
        let tls = s.tls.expect("ca implies tls");
        assert_eq!(tls.ca.as_deref(), Some(Path::new("/etc/logq/ca.pem")));
        let s = Settings::resolve(&args(&["--ca", "/other.pem"]), Some(&file)).expect("settings");
        assert_eq!(s.tls.and_then(|t| t.ca), Some(PathBuf::from("/other.pem")));
        let s = Settings::resolve(&args(&[]), None).expect("defaults");
        assert_eq!((s.to.as_str(), s.tls), (DEFAULT_TO, None));
        assert!(Settings::resolve(&args(&["--udp", "--tls"]), None).is_err());
    }

    #[test]
    fn a_token_file_loses_its_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").expect("write");
        assert_eq!(read_token_file(&path).expect("token"), "s3cret");
        let arg = path.to_str().expect("utf-8");
        let s = Settings::resolve(&args(&["--token-file", arg]), None).expect("settings");
        assert_eq!(s.token.as_deref(), Some("s3cret"));
        std::fs::write(&path, "\n").expect("write");
        assert!(read_token_file(&path).is_err());
        std::fs::write(&path, "a\nb\n").expect("write");
        assert!(read_token_file(&path).is_err());
        let err = read_token_file(&dir.path().join("none")).expect_err("missing");
        assert!(err.to_string().contains("none"), "{err}");
    }
}
