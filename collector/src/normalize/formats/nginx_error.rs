//! nginx's error log (`error_log`), whose lines read:
//!
//! ```text
//! 2021/04/01 13:02:31 [error] 31#31: *1 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 172.17.0.1, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "localhost:8081"
//! 2026/11/22 13:15:46 [error] 16279#16279: *3 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: osm.local, request: "GET /api/items HTTP/1.1", upstream: "http://127.0.0.1:9/api/items", host: "127.0.0.1:18080", referrer: "https://ref.example/x?y=1"
//! 2021/06/17 19:25:59 [notice] 133309#133309: signal process started
//! ```
//!
//! The time has no zone: it is read in `Context::tz`. The level in brackets is one of nginx's
//! (`debug`, `info`, `notice`, `warn`, `error`, `crit`, `alert`, `emerg`). Then come the worker's
//! `pid#tid`, the connection number `*N` when the line is about a connection, the message, and
//! the context nginx appends for a request: `, client: X, server: Y, request: "M P H",
//! upstream: "U", host: "H", referrer: "R"`.
//!
//! Fields: `pid` (number), `tid`, `connection` (number), `remote_addr` (client), `server`,
//! `method`, `path` and `protocol` (from `request`), `upstream`, `http_host` (the `Host` header:
//! `host` names the record's machine) and `referer`; empty values are left out. `body` points
//! at the message, after `*N`; the message text (`connect() failed (111: Connection refused)`)
//! stays in the line.

use logq_schemas::Level;

use crate::normalize::format::{Context, Format, Parsed, put};
use crate::normalize::formats::access::request_line;
use crate::normalize::time::{civil, digits, in_zone};

/// nginx error log lines.
#[derive(Debug)]
pub struct NginxError;

/// Where nginx's request context starts, after the message.
const CONTEXT: &str = ", client: ";
/// The longest level word (`notice`, `emerg`).
const MAX_LEVEL: usize = 8;

impl Format for NginxError {
    fn name(&self) -> &'static str {
        "nginx_error"
    }

    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed> {
        let b = line.as_bytes();
        let time = stamp(b, cx)?;
        // `YYYY/MM/DD HH:MM:SS [` is 21 bytes.
        let close = b[21..]
            .iter()
            .take(MAX_LEVEL + 1)
            .position(|&c| c == b']')?;
        let level = level(&b[21..21 + close])?;
        let (pid, tid, mut at) = worker(line, 21 + close + 1)?;

        let mut p = Parsed {
            time: Some(time),
            level: Some(level),
            ..Parsed::default()
        };
        put(&mut p.fields, "pid", pid);
        put(&mut p.fields, "tid", tid);
        if b.get(at) == Some(&b'*')
            && let Some((cid, len)) = number(&b[at + 1..])
            && b.get(at + 1 + len) == Some(&b' ')
        {
            put(&mut p.fields, "connection", cid);
            at += len + 2;
        }
        p.body = at;
        if let Some(i) = line[at..].find(CONTEXT) {
            context(&line[at + i + 2..], &mut p);
        }
        Some(p)
    }

    /// nginx writes each error on one line.
    fn single_line(&self) -> bool {
        true
    }
}

/// `YYYY/MM/DD HH:MM:SS [` at the start of `b`, read in the context's zone.
fn stamp(b: &[u8], cx: &Context) -> Option<jiff::Timestamp> {
    if b.len() < 24
        || b[4] != b'/'
        || b[7] != b'/'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b' '
        || b[20] != b'['
    {
        return None;
    }
    let (y, mo, d) = (digits(b, 4)?, digits(&b[5..], 2)?, digits(&b[8..], 2)?);
    let (h, mi, s) = (
        digits(&b[11..], 2)?,
        digits(&b[14..], 2)?,
        digits(&b[17..], 2)?,
    );
    in_zone(civil(y, mo, d, h, mi, s.min(59), 0)?, &cx.tz)
}

/// The level of one of nginx's level words; the same as `Level::from_alias` gives for them,
/// without its lowercase copy.
fn level(word: &[u8]) -> Option<Level> {
    Some(match word {
        b"debug" => Level::Debug,
        b"info" | b"notice" => Level::Info,
        b"warn" => Level::Warn,
        b"error" => Level::Error,
        b"crit" | b"alert" | b"emerg" => Level::Fatal,
        _ => return None,
    })
}

/// ` pid#tid: ` from `at`: the worker's process and thread ids and the index after them.
fn worker(line: &str, at: usize) -> Option<(u64, &str, usize)> {
    let b = line.as_bytes();
    if b.get(at) != Some(&b' ') {
        return None;
    }
    let pid_at = at + 1;
    let (pid, pid_len) = number(&b[pid_at..])?;
    let tid_at = pid_at + pid_len + 1;
    if b.get(tid_at - 1) != Some(&b'#') {
        return None;
    }
    let (_, tid_len) = number(&b[tid_at..])?;
    let end = tid_at + tid_len;
    if b.get(end) != Some(&b':') || !matches!(b.get(end + 1), None | Some(b' ')) {
        return None;
    }
    Some((pid, &line[tid_at..end], (end + 2).min(b.len())))
}

/// A decimal number at the start of `b` and its length.
fn number(b: &[u8]) -> Option<(u64, usize)> {
    let len = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if len == 0 || len > 19 {
        return None;
    }
    let v = b[..len]
        .iter()
        .fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'));
    Some((v, len))
}

/// Reads nginx's request context, `client: X, server: Y, request: "...", ...`, into fields.
fn context(mut rest: &str, p: &mut Parsed) {
    while let Some((key, value, next)) = pair(rest) {
        if !value.is_empty() {
            let f = &mut p.fields;
            match key {
                "client" => put(f, "remote_addr", value),
                "server" => put(f, "server", value),
                "upstream" => put(f, "upstream", value),
                "host" => put(f, "http_host", value),
                "referrer" => put(f, "referer", value),
                "request" => {
                    // The error log writes the request line as it came, unescaped.
                    if let Some(req) = request_line(value) {
                        req.put(f, req.path);
                    }
                }
                _ => {}
            }
        }
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
}

/// The first `key: value` of `s`, the value unquoted, and what follows its `, ` (`None` at the
/// end). A quoted value ends at a `"` followed by `, ` or the end of the line, since nginx
/// writes the request line and headers inside the quotes as they came.
fn pair(s: &str) -> Option<(&str, &str, Option<&str>)> {
    let (key, rest) = s
        .split_once(": ")
        .or_else(|| s.strip_suffix(':').map(|k| (k, "")))?;
    if key.is_empty() || !key.bytes().all(|c| c.is_ascii_lowercase() || c == b'_') {
        return None;
    }
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut from = 0;
        loop {
            let q = from + quoted.get(from..)?.find('"')?;
            let after = &quoted[q + 1..];
            if after.is_empty() {
                return Some((key, &quoted[..q], None));
            }
            if let Some(next) = after.strip_prefix(", ") {
                return Some((key, &quoted[..q], Some(next)));
            }
            from = q + 1;
        }
    }
    match rest.split_once(", ") {
        Some((value, next)) => Some((key, value, Some(next))),
        None => Some((key, rest, None)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::normalize::formats::fixture;
    use crate::normalize::formats::testing::ts;

    fn cx() -> Context {
        Context::utc("2026-11-23T12:00:00Z".parse().expect("ts"))
    }

    fn parse(line: &str) -> Option<Parsed> {
        NginxError.parse(line, &cx())
    }

    fn line(file: &str, n: usize) -> (String, Parsed) {
        let text = fixture("nginx_error", file);
        let line = text.lines().nth(n - 1).expect("line in fixture").to_owned();
        let p = parse(&line).unwrap_or_else(|| panic!("{file}:{n} parses: {line}"));
        (line, p)
    }

    fn field<'p>(p: &'p Parsed, name: &str) -> Option<&'p Value> {
        p.fields.get(name)
    }

    #[test]
    fn every_fixture_line_parses_without_panic() {
        let captured = fixture("nginx_error", "nginx_1.22_captured_error.log");
        for l in captured.lines() {
            assert!(parse(l).is_some(), "{l}");
        }
        let vrl = fixture("nginx_error", "vrl_nginx_lines.log");
        let taken = vrl.lines().filter(|l| parse(l).is_some()).count();
        let error_lines = vrl
            .lines()
            .filter(|l| l.as_bytes().get(4) == Some(&b'/'))
            .count();
        assert_eq!((taken, error_lines), (10, 10));
    }

    #[test]
    fn upstream_refused_502_line() {
        let (text, p) = line("nginx_1.22_captured_error.log", 2);
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(p.time, Some(ts("2026-11-22T13:15:46Z")));
        assert!(text[p.body..].starts_with("connect() failed (111: Connection refused) while"));
        assert_eq!(field(&p, "pid"), Some(&json!(16279)));
        assert_eq!(field(&p, "tid"), Some(&json!("16279")));
        assert_eq!(field(&p, "connection"), Some(&json!(3)));
        assert_eq!(field(&p, "remote_addr"), Some(&json!("127.0.0.1")));
        assert_eq!(field(&p, "server"), Some(&json!("osm.local")));
        assert_eq!(field(&p, "method"), Some(&json!("GET")));
        assert_eq!(field(&p, "path"), Some(&json!("/api/items")));
        assert_eq!(field(&p, "protocol"), Some(&json!("HTTP/1.1")));
        assert_eq!(
            field(&p, "upstream"),
            Some(&json!("http://127.0.0.1:9/api/items"))
        );
        assert_eq!(field(&p, "http_host"), Some(&json!("127.0.0.1:18080")));
        assert_eq!(
            field(&p, "referer"),
            Some(&json!("https://ref.example/x?y=1"))
        );
        assert_eq!(field(&p, "host"), None);

        let (_, p) = line("nginx_1.22_captured_error.log", 3);
        assert_eq!(field(&p, "method"), Some(&json!("POST")));
        assert_eq!(field(&p, "referer"), None);
    }

    #[test]
    fn utf8_paths_and_the_local_zone() {
        let (text, p) = line("nginx_1.22_captured_error.log", 4);
        assert!(text[p.body..].starts_with("open() \"/srv/appsrv1/nginx/html/été/café\" failed"));
        assert_eq!(field(&p, "path"), Some(&json!("/%C3%A9t%C3%A9/caf%C3%A9")));

        let paris = jiff::tz::TimeZone::get("Europe/Paris").expect("tzdb");
        let cx = Context {
            tz: paris,
            received: ts("2026-11-23T12:00:00Z"),
        };
        let p = NginxError.parse(&text, &cx).expect("parses");
        assert_eq!(p.time, Some(ts("2026-11-22T12:15:47Z")));
    }

    #[test]
    fn vrl_levels_empty_values_and_lines_without_a_connection() {
        // warn, with `server: ,` and `host: ""` left out.
        let (_, p) = line("vrl_nginx_lines.log", 19);
        assert_eq!(p.level, Some(Level::Warn));
        assert_eq!(field(&p, "connection"), Some(&json!(531)));
        assert_eq!(field(&p, "server"), None);
        assert_eq!(field(&p, "http_host"), None);
        assert_eq!(field(&p, "referer"), None);
        assert_eq!(
            field(&p, "upstream"),
            Some(&json!("fastcgi://127.0.0.1:9000"))
        );

        // info, with a tid of 0 and an upstream holding `:`.
        let (_, p) = line("vrl_nginx_lines.log", 23);
        assert_eq!(p.level, Some(Level::Info));
        assert_eq!(field(&p, "tid"), Some(&json!("0")));
        assert_eq!(
            field(&p, "upstream"),
            Some(&json!("fastcgi://unix:/run/php-fpm/php8.3-fpm.sock:"))
        );
        assert_eq!(field(&p, "http_host"), Some(&json!("example:8080")));

        // notice, no connection, no context.
        let (text, p) = line("vrl_nginx_lines.log", 25);
        assert_eq!(p.level, Some(Level::Info));
        assert_eq!(field(&p, "connection"), None);
        assert_eq!(&text[p.body..], "signal process started");
        assert_eq!(p.fields.len(), 2);

        // The upstream is the last context item.
        let (_, p) = line("vrl_nginx_lines.log", 20);
        assert_eq!(field(&p, "upstream"), Some(&json!("http://127.0.0.1:80/")));
        assert_eq!(field(&p, "protocol"), Some(&json!("HTTP/2.0")));
    }

    #[test]
    fn nginx_level_words_map_as_from_alias_maps_them() {
        for w in [
            "debug", "info", "notice", "warn", "error", "crit", "alert", "emerg",
        ] {
            assert_eq!(level(w.as_bytes()), Level::from_alias(w), "{w}");
        }
        assert_eq!(level(b"fatal"), None);
    }

    #[test]
    fn crit_and_emerg_are_fatal() {
        let p = parse(
            "2026/11/23 10:00:00 [emerg] 1#1: bind() to 0.0.0.0:80 failed (98: Address in use)",
        )
        .expect("parses");
        assert_eq!(p.level, Some(Level::Fatal));
        let p =
            parse("2026/11/23 10:00:00 [crit] 1#1: *7 SSL_do_handshake() failed").expect("parses");
        assert_eq!(p.level, Some(Level::Fatal));
        assert_eq!(field(&p, "connection"), Some(&json!(7)));
    }

    #[test]
    fn a_quote_inside_a_quoted_request_stays_in_the_value() {
        let p = parse(
            r#"2026/11/23 10:00:00 [error] 1#1: *2 x, client: ::1, server: s, request: "GET /a"b HTTP/1.1", host: "h""#,
        )
        .expect("parses");
        assert_eq!(field(&p, "path"), Some(&json!(r#"/a"b"#)));
        assert_eq!(field(&p, "http_host"), Some(&json!("h")));
        assert_eq!(field(&p, "remote_addr"), Some(&json!("::1")));
    }

    #[test]
    fn other_formats_are_rejected() {
        for l in [
            r#"127.0.0.1 - - [22/Nov/2026:13:15:46 +0000] "GET / HTTP/1.1" 200 13 "-" "curl/7.88.1""#,
            "[2026-11-22 13:11:35 +0000] [13776] [INFO] Starting gunicorn",
            "2026-11-22 13:15:46 [error] 1#1: dashes",
            "2026/11/22 13:15:46 [loud] 1#1: unknown level",
            "2026/11/22 13:15:46 [error] x#1: no pid",
            "2026/11/22 13:15:46 [error] 1#1 no colon",
            "2026/11/22 13:15:46 [errorééééé] 1#1: x",
            "2026/11/22 13:15:46 [",
            "nginx: [emerg] unknown directive",
            "",
        ] {
            assert_eq!(parse(l), None, "{l}");
        }
    }

    #[test]
    fn every_prefix_of_every_fixture_line_is_safe() {
        let cx = cx();
        for file in ["nginx_1.22_captured_error.log", "vrl_nginx_lines.log"] {
            for l in fixture("nginx_error", file).lines() {
                for (i, _) in l.char_indices() {
                    let _ = NginxError.parse(&l[..i], &cx);
                    let _ = NginxError.parse(&l[i..], &cx);
                }
            }
        }
    }
}
