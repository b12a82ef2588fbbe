//! HTTP access logs in the NCSA common and combined formats, as Apache (`%h %l %u %t \"%r\" %>s
//! %b \"%{Referer}i\" \"%{User-agent}i\"`), nginx (`combined`, its default) and gunicorn
//! (`--access-logfile`) write them:
//!
//! ```text
//! 10.0.50.212 - frank [23/Nov/2026:10:57:00 +0000] "GET /api/v1/items/760971 HTTP/1.1" 304 77281 "http://ref/" "Mozilla/5.0"
//! 1.56.136.157 - - [08/Sep/2009:07:54:07 -0400] "GET /designs/1.flashxml HTTP/1.1" 304 -
//! 127.0.0.1 - - [22/Nov/2026:13:15:46 +0000] "GARBAGE" 400 157 "-" "-"
//! www.example.com 1.2.3.4 - theuser [10/Feb/2012:16:41:07 -0500] "GET / HTTP/1.0" 200 368 "-" "-"
//! 172.18.0.1 - - [29/Aug/2023 22:02:58] "GET / HTTP/1.1" 200 -
//! ```
//!
//! Accepted: a virtual host before the client address (Apache's `vhost_combined`), a stamp
//! without a zone (werkzeug; read in `Context::tz`) or in ISO 8601, `-` for the byte count,
//! a referer and user agent quoted or bare, and any fields after the user agent (nginx's
//! `"$http_x_forwarded_for"`, ingress-nginx's upstream fields), which are ignored.
//!
//! Fields: `remote_addr`, `user` (when not `-`), `method`, `path`, `protocol` (absent when the
//! request line is not `METHOD path [HTTP/x]`, as with the `"-"` or binary garbage nginx logs
//! with a 400), `status`, `bytes`, `referer` and `user_agent` (when not `-` or empty; `\"`,
//! `\\` and nginx's `\xHH` escapes of ASCII are decoded). The level follows the status: 5xx
//! error, 4xx warn, else info. `body` points at the request's opening quote.

use serde_json::Value;

use crate::normalize::format::{Context, Format, Parsed, level_of_status, put};
use crate::normalize::time::{at_offset, civil, digits, in_zone, iso8601, month_abbrev, offset};

/// A parsed line's fields.
use crate::normalize::format::Fields;

/// Apache common and combined, nginx combined and gunicorn access lines.
#[derive(Debug)]
pub struct Access;

/// How far into the line the `[` of the time may sit: past the client address, the ident, the
/// user and a virtual host.
const MAX_PREFIX: usize = 320;
/// The longest HTTP method taken as one (`VERSION-CONTROL`).
const MAX_METHOD: usize = 20;

impl Format for Access {
    fn name(&self) -> &'static str {
        "access"
    }

    fn parse(&self, line: &str, cx: &Context) -> Option<Parsed> {
        let b = line.as_bytes();
        if !b
            .first()
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b':' || c == b'-')
        {
            return None;
        }
        let open = line.find('[').filter(|&i| i <= MAX_PREFIX)?;
        let client = client(line.get(..open)?)?;
        let (time, close) = stamp(line, open + 1, cx)?;
        let mut cur = Cursor { s: line, at: close };
        cur.space()?;
        let body = cur.at;
        let request = cur.quoted()?;
        cur.space()?;
        let status = cur.status()?;
        let bytes = cur.bytes()?;

        let mut p = Parsed {
            time: Some(time),
            level: Some(level_of_status(u64::from(status))),
            body,
            ..Parsed::default()
        };
        let f = &mut p.fields;
        client.put(f);
        if let Some(req) = request_line(request) {
            req.put(f, unescape(req.path));
        }
        put(f, "status", status);
        if let Some(bytes) = bytes {
            put(f, "bytes", bytes);
        }
        // Common format lines end here; combined ones go on with the referer and user agent.
        for name in ["referer", "user_agent"] {
            match cur.space().and_then(|()| cur.field()) {
                Some(v) if !v.is_empty() && v != "-" => put(f, name, unescape(v)),
                Some(_) => {}
                None => break,
            }
        }
        Some(p)
    }

    /// An access log line is a whole request.
    fn single_line(&self) -> bool {
        true
    }
}

/// Who made the request, from the words before the time.
#[derive(Debug)]
struct Client<'a> {
    addr: &'a str,
    user: &'a str,
}

impl Client<'_> {
    /// Sets `remote_addr` and `user`, unless they are `-`.
    fn put(&self, f: &mut Fields) {
        if self.addr != "-" {
            put(f, "remote_addr", self.addr);
        }
        if self.user != "-" {
            put(f, "user", self.user);
        }
    }
}

/// The client address and user from `addr ident user ` or `vhost addr ident user `.
fn client(prefix: &str) -> Option<Client<'_>> {
    if !prefix.ends_with(' ') {
        return None;
    }
    let mut words: [&str; 4] = [""; 4];
    let mut n = 0;
    for w in prefix.split(' ').filter(|w| !w.is_empty()) {
        *words.get_mut(n)? = w;
        n += 1;
    }
    if n < 3 {
        return None;
    }
    let addr = words[n - 3];
    let host_like =
        |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b':' | b'-' | b'_' | b'%');
    if !addr.bytes().all(host_like) {
        return None;
    }
    Some(Client {
        addr,
        user: words[n - 1],
    })
}

/// The time in the brackets opened just before `at`, and the index after the `]`.
///
/// `23/Nov/2026:10:57:00 +0000` as CLF writes it, `29/Aug/2023 22:02:58` (werkzeug, no zone) or
/// an ISO 8601 time.
fn stamp(line: &str, at: usize, cx: &Context) -> Option<(jiff::Timestamp, usize)> {
    let b = line.as_bytes().get(at..)?;
    if b.get(2) == Some(&b'/') {
        let (time, len) = clf_time(b, cx)?;
        return (b.get(len) == Some(&b']')).then_some((time, at + len + 1));
    }
    let (time, len) = iso8601(line.get(at..)?, &cx.tz)?;
    (b.get(len) == Some(&b']')).then_some((time, at + len + 1))
}

/// `dd/Mon/yyyy:HH:MM:SS[ +zzzz]` at the start of `b`: the instant and the bytes read.
fn clf_time(b: &[u8], cx: &Context) -> Option<(jiff::Timestamp, usize)> {
    if b.len() < 20
        || b[2] != b'/'
        || b[6] != b'/'
        || !matches!(b[11], b':' | b' ')
        || b[14] != b':'
        || b[17] != b':'
    {
        return None;
    }
    let (d, mo, y) = (digits(b, 2)?, month_abbrev(&b[3..])?, digits(&b[7..], 4)?);
    let (h, mi, s) = (
        digits(&b[12..], 2)?,
        digits(&b[15..], 2)?,
        digits(&b[18..], 2)?,
    );
    let dt = civil(y, mo, d, h, mi, s.min(59), 0)?;
    if b.get(20) == Some(&b' ')
        && let Some((secs, len)) = offset(&b[21..])
    {
        return Some((at_offset(dt, secs)?, 21 + len));
    }
    Some((in_zone(dt, &cx.tz)?, 20))
}

/// A request line split into its parts.
#[derive(Debug, PartialEq)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) protocol: Option<&'a str>,
}

impl Request<'_> {
    /// Sets `method`, `path` (the request's, decoded as the caller needs) and `protocol`.
    pub(crate) fn put(&self, f: &mut Fields, path: impl Into<Value>) {
        put(f, "method", self.method);
        put(f, "path", path);
        if let Some(protocol) = self.protocol {
            put(f, "protocol", protocol);
        }
    }
}

/// `METHOD path HTTP/x` or `METHOD path` (HTTP/0.9); `None` for anything else (`-`, an empty
/// request, the bytes of a TLS handshake sent to a plain-HTTP port).
pub(crate) fn request_line(r: &str) -> Option<Request<'_>> {
    let (method, rest) = r.split_once(' ')?;
    let method_char = |c: u8| c.is_ascii_uppercase() || c == b'-' || c == b'_';
    if method.is_empty() || method.len() > MAX_METHOD || !method.bytes().all(method_char) {
        return None;
    }
    let (path, protocol) = match rest.rsplit_once(' ') {
        Some((path, proto)) if proto.starts_with("HTTP/") => (path, Some(proto)),
        _ => (rest, None),
    };
    (!path.is_empty() && !path.starts_with(' ')).then_some(Request {
        method,
        path,
        protocol,
    })
}

/// A quoted string's text with `\"`, `\\` and `\xHH` (ASCII only) decoded; other escapes and
/// bytes stay as written.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let esc = &rest[i..];
        let (decoded, len) = match esc.as_bytes().get(1) {
            Some(&c @ (b'"' | b'\\')) => (Some(char::from(c)), 2),
            Some(b'x') => match hex_byte(esc.as_bytes().get(2..4)) {
                Some(v) if v.is_ascii() => (Some(char::from(v)), 4),
                _ => (None, 1),
            },
            _ => (None, 1),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push('\\'),
        }
        rest = &esc[len..];
    }
    out.push_str(rest);
    out
}

/// The byte two hex digits spell.
fn hex_byte(h: Option<&[u8]>) -> Option<u8> {
    let h = h?;
    let v = |c: u8| char::from(c).to_digit(16);
    u8::try_from(v(*h.first()?)? * 16 + v(*h.get(1)?)?).ok()
}

/// A read position in a line; every index it stops at follows an ASCII delimiter.
#[derive(Debug)]
struct Cursor<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.at).copied()
    }

    /// Steps over one or more spaces; `None` when there are none (or at the end).
    fn space(&mut self) -> Option<()> {
        let start = self.at;
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
        (self.at > start && self.at < self.s.len()).then_some(())
    }

    /// A word up to the next space or the end.
    fn word(&mut self) -> &'a str {
        let rest = &self.s[self.at..];
        // Words here are short: a byte loop beats `find`'s searcher set-up.
        let len = rest.bytes().position(|c| c == b' ').unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    /// A `"`-quoted string, escapes left in; `None` when it is not quoted or not closed.
    fn quoted(&mut self) -> Option<&'a str> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.at + 1;
        let mut from = start;
        loop {
            let q = from + self.s.get(from..)?.find('"')?;
            if !escaped(self.s.as_bytes(), q) {
                self.at = q + 1;
                return Some(&self.s[start..q]);
            }
            from = q + 1;
        }
    }

    /// A quoted string, or a bare word (Apache's `%{Referer}i` without quotes).
    fn field(&mut self) -> Option<&'a str> {
        if self.peek() == Some(b'"') {
            self.quoted()
        } else {
            Some(self.word())
        }
    }

    /// A three-digit status followed by a space or the end.
    fn status(&mut self) -> Option<u32> {
        let b = self.s.as_bytes().get(self.at..)?;
        let status = digits(b, 3)?;
        if !matches!(b.get(3), None | Some(b' ')) {
            return None;
        }
        self.at += 3;
        Some(status)
    }

    /// The byte count after the status: a number, or `-` (none).
    fn bytes(&mut self) -> Option<Option<u64>> {
        self.space()?;
        let w = self.word();
        if w == "-" {
            return Some(None);
        }
        if w.is_empty() || w.len() > 19 || !w.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        w.parse().ok().map(Some)
    }
}

/// Whether the byte at `i` is escaped by an odd run of backslashes before it.
fn escaped(b: &[u8], i: usize) -> bool {
    b[..i].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1
}

#[cfg(test)]
mod tests {
    use logq_schemas::Level;
    use serde_json::json;

    use super::*;
    use crate::normalize::formats::fixture;
    use crate::normalize::formats::testing::ts;

    const FIXTURES: [&str; 10] = [
        "nginx_1.22_captured.log",
        "gunicorn_27_captured.log",
        "lnav_shop_access_log.log",
        "lnav_access_log.log",
        "lnav_format_samples_access.log",
        "rla_apache_common.log",
        "rla_apache_combined.log",
        "vrl_nginx_lines.log",
        "vrl_apache_lines.log",
        "vrl_common_log_lines.log",
    ];

    fn cx() -> Context {
        Context::utc("2026-11-23T12:00:00Z".parse().expect("ts"))
    }

    fn parse(line: &str) -> Option<Parsed> {
        Access.parse(line, &cx())
    }

    /// Line `n` (from 1) of a fixture, parsed.
    fn line(file: &str, n: usize) -> Parsed {
        let text = fixture("access", file);
        let line = text.lines().nth(n - 1).expect("line in fixture");
        parse(line).unwrap_or_else(|| panic!("{file}:{n} parses: {line}"))
    }

    fn field<'p>(p: &'p Parsed, name: &str) -> Option<&'p Value> {
        p.fields.get(name)
    }

    #[test]
    fn every_fixture_line_parses_without_panic() {
        for file in FIXTURES {
            for line in fixture("access", file).lines() {
                let _ = parse(line);
            }
        }
        // Every line of the captured and lnav files is an access line.
        for file in [
            "nginx_1.22_captured.log",
            "gunicorn_27_captured.log",
            "lnav_shop_access_log.log",
            "lnav_access_log.log",
            "rla_apache_common.log",
            "rla_apache_combined.log",
        ] {
            for (i, l) in fixture("access", file).lines().enumerate() {
                let p = parse(l).unwrap_or_else(|| panic!("{file}:{} parses: {l}", i + 1));
                assert!(p.fields.contains_key("status"), "{file}:{}", i + 1);
            }
        }
    }

    #[test]
    fn nginx_upstream_failure_is_a_502_error_with_its_request() {
        let p = line("nginx_1.22_captured.log", 3);
        assert_eq!(field(&p, "status"), Some(&json!(502)));
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(field(&p, "method"), Some(&json!("GET")));
        assert_eq!(field(&p, "path"), Some(&json!("/api/items")));
        assert_eq!(field(&p, "protocol"), Some(&json!("HTTP/1.1")));
        assert_eq!(field(&p, "bytes"), Some(&json!(157)));
        assert_eq!(
            field(&p, "referer"),
            Some(&json!("https://ref.example/x?y=1"))
        );
        assert_eq!(
            field(&p, "user_agent"),
            Some(&json!("Mozilla/5.0 \"quoted\" agent"))
        );
        assert_eq!(field(&p, "remote_addr"), Some(&json!("127.0.0.1")));
        assert_eq!(p.time, Some(ts("2026-11-22T13:15:46Z")));
        assert_eq!(
            p.body,
            line_text("nginx_1.22_captured.log", 3)
                .find('"')
                .expect("quote")
        );

        let p = line("nginx_1.22_captured.log", 4);
        assert_eq!(field(&p, "method"), Some(&json!("POST")));
        assert_eq!(field(&p, "path"), Some(&json!("/api/orders")));
        assert_eq!(field(&p, "referer"), None);
    }

    fn line_text(file: &str, n: usize) -> String {
        fixture("access", file)
            .lines()
            .nth(n - 1)
            .expect("line")
            .to_owned()
    }

    #[test]
    fn garbage_requests_keep_status_but_no_method_or_path() {
        let p = line("nginx_1.22_captured.log", 6);
        assert_eq!(field(&p, "status"), Some(&json!(400)));
        assert_eq!(p.level, Some(Level::Warn));
        assert_eq!(field(&p, "method"), None);
        assert_eq!(field(&p, "path"), None);
        assert_eq!(field(&p, "user_agent"), None);

        let p = line("lnav_access_log.log", 4);
        assert_eq!(
            (field(&p, "status"), field(&p, "bytes")),
            (Some(&json!(400)), Some(&json!(0)))
        );
        assert_eq!(field(&p, "method"), None);

        // nginx's escaped TLS handshake bytes, and an empty request with empty strings.
        let p = line("vrl_nginx_lines.log", 4);
        assert_eq!(
            (field(&p, "status"), field(&p, "method")),
            (Some(&json!(400)), None)
        );
        assert_eq!(field(&p, "bytes"), Some(&json!(150)));
        let p = line("vrl_nginx_lines.log", 3);
        assert_eq!(
            (field(&p, "status"), field(&p, "referer")),
            (Some(&json!(400)), None)
        );
    }

    #[test]
    fn shop_log_with_forwarded_for_and_a_0330_offset() {
        let p = line("lnav_shop_access_log.log", 2);
        assert_eq!(field(&p, "remote_addr"), Some(&json!("31.56.96.51")));
        assert_eq!(field(&p, "bytes"), Some(&json!(5667)));
        assert_eq!(
            field(&p, "path"),
            Some(&json!("/image/60844/productModel/200x200"))
        );
        assert_eq!(
            field(&p, "referer"),
            Some(&json!("https://www.zanbil.ir/m/filter/b113"))
        );
        assert_eq!(
            field(&p, "user_agent"),
            Some(&json!(
                "Mozilla/5.0 (Linux; Android 6.0; ALE-L21 Build/HuaweiALE-L21) AppleWebKit/537.36 \
                 (KHTML, like Gecko) Chrome/66.0.3359.158 Mobile Safari/537.36"
            ))
        );
        // 03:56:16 at +03:30 is 00:26:16 UTC.
        assert_eq!(p.time, Some(ts("2019-01-22T00:26:16Z")));
        assert_eq!(p.level, Some(Level::Info));
        assert_eq!(field(&p, "user"), None);
    }

    #[test]
    fn common_format_with_dash_bytes_and_a_negative_offset() {
        let p = line("rla_apache_common.log", 1);
        assert_eq!(field(&p, "status"), Some(&json!(304)));
        assert_eq!(field(&p, "bytes"), None);
        assert_eq!(
            field(&p, "path"),
            Some(&json!("/form_configurations/show.flashxml"))
        );
        assert_eq!(field(&p, "user_agent"), None);
        assert_eq!(p.time, Some(ts("2009-09-08T11:54:07Z")));
    }

    #[test]
    fn users_vhosts_bare_referers_and_zone_less_stamps() {
        let p = line("vrl_apache_lines.log", 3);
        assert_eq!(field(&p, "user"), Some(&json!("frank")));
        assert_eq!(field(&p, "status"), Some(&json!(401)));
        assert_eq!(field(&p, "method"), Some(&json!("PATCH")));
        assert_eq!(field(&p, "referer"), None);
        assert_eq!(field(&p, "user_agent"), None);

        let p = line("lnav_format_samples_access.log", 6);
        assert_eq!(field(&p, "remote_addr"), Some(&json!("1.2.3.4")));
        assert_eq!(field(&p, "user"), Some(&json!("theuser")));
        assert_eq!(p.time, Some(ts("2012-02-10T21:41:07Z")));

        let p = line("lnav_format_samples_access.log", 5);
        assert_eq!(field(&p, "bytes"), None);
        assert_eq!(field(&p, "method"), Some(&json!("POST")));

        // werkzeug: no zone, read in the context's zone.
        let paris = jiff::tz::TimeZone::get("Europe/Paris").expect("tzdb");
        let cx = Context {
            tz: paris,
            received: ts("2026-11-23T12:00:00Z"),
        };
        let text = fixture("access", "lnav_format_samples_access.log");
        let p = Access
            .parse(text.lines().nth(7).expect("line"), &cx)
            .expect("parses");
        assert_eq!(p.time, Some(ts("2023-08-29T20:02:58Z")));
        assert_eq!(field(&p, "bytes"), None);

        // HTTP/0.9: no protocol.
        let p = line("lnav_format_samples_access.log", 9);
        assert_eq!(field(&p, "path"), Some(&json!("/~scottp/publish.html")));
        assert_eq!(field(&p, "protocol"), None);

        // ISO 8601 in the brackets.
        let p = line("vrl_common_log_lines.log", 4);
        assert_eq!(p.time, Some(ts("2000-10-10T20:55:36Z")));
        assert_eq!(field(&p, "user"), Some(&json!("frank")));
    }

    #[test]
    fn ingress_nginx_extra_fields_are_ignored() {
        let p = line("vrl_nginx_lines.log", 7);
        assert_eq!(field(&p, "user"), None);
        assert_eq!(field(&p, "protocol"), Some(&json!("HTTP/2.0")));
        assert_eq!(field(&p, "bytes"), Some(&json!(12312)));
        assert!(
            field(&p, "user_agent")
                .and_then(Value::as_str)
                .is_some_and(|ua| ua.ends_with("Safari/537.36"))
        );
        assert_eq!(p.fields.len(), 8);
    }

    #[test]
    fn gunicorn_500_and_the_brief_example() {
        let p = line("gunicorn_27_captured.log", 4);
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(
            (field(&p, "status"), field(&p, "bytes")),
            (Some(&json!(500)), Some(&json!(0)))
        );
        assert_eq!(field(&p, "path"), Some(&json!("/boom")));

        let p = parse(
            r#"10.0.50.212 - frank [23/Nov/2026:10:57:00 +0000] "GET /api/v1/items/760971 HTTP/1.1" 304 77281 "http://ref/" "Mozilla/5.0""#,
        )
        .expect("parses");
        assert_eq!(p.time, Some(ts("2026-11-23T10:57:00Z")));
        assert_eq!(field(&p, "user"), Some(&json!("frank")));
        assert_eq!(field(&p, "path"), Some(&json!("/api/v1/items/760971")));
        assert_eq!(field(&p, "referer"), Some(&json!("http://ref/")));
        assert_eq!(field(&p, "user_agent"), Some(&json!("Mozilla/5.0")));
    }

    #[test]
    fn apache_backslash_escapes_are_decoded() {
        let p = parse(
            r#"::1 - - [01/Jan/2026:00:00:00 +0000] "GET /a HTTP/1.1" 200 1 "-" "x \"y\" \\ \xe9""#,
        )
        .expect("parses");
        assert_eq!(field(&p, "user_agent"), Some(&json!(r#"x "y" \ \xe9"#)));
        assert_eq!(field(&p, "remote_addr"), Some(&json!("::1")));
    }

    #[test]
    fn other_formats_and_broken_lines_are_rejected() {
        for l in [
            "2021/04/01 13:02:31 [error] 31#31: *1 open() failed",
            "[2026-11-22 13:11:35 +0000] [13776] [INFO] Starting gunicorn 27.0.1",
            "I, [2015-08-24T07:36:43.598000 #19020]  INFO -- : Started GET",
            "Nov  3 09:23:38 veridian automount[7998]: lookup failed",
            r#"{"level":"info","msg":"[x]"}"#,
            "- - - [-] \"-\" - -",
            "- - - [1234] - - - - - ",
            "127.0.0.1 - - [22/Nov/2026:13:15:46 +0000] \"GET / HTTP/1.1",
            "127.0.0.1 - - [22/Nov/2026:13:15:46 +0000] \"GET / HTTP/1.1\" 2000 1",
            "127.0.0.1 - - [22/Nov/2026:13:15:46 +0000]",
            "127.0.0.1 - - [22/Nov/2026:13:15:46 +0000] \"GET / HTTP/1.1\" 200 1é",
            "127.0.0.1 - - [32/Nov/2026:13:15:46 +0000] \"GET / HTTP/1.1\" 200 1",
            "é - - [22/Nov/2026:13:15:46 +0000] \"GET / HTTP/1.1\" 200 1",
            "",
            "[",
        ] {
            assert_eq!(parse(l), None, "{l}");
        }
    }

    #[test]
    fn request_lines() {
        assert_eq!(
            request_line("GET /a b HTTP/1.1"),
            Some(Request {
                method: "GET",
                path: "/a b",
                protocol: Some("HTTP/1.1")
            })
        );
        assert_eq!(request_line("-"), None);
        assert_eq!(request_line(""), None);
        assert_eq!(request_line(r"\x16\x03\x01 x"), None);
        assert_eq!(request_line("GET "), None);
    }

    #[test]
    fn every_prefix_of_every_fixture_line_is_safe() {
        let cx = cx();
        for file in FIXTURES {
            for l in fixture("access", file).lines() {
                for (i, _) in l.char_indices() {
                    let _ = Access.parse(&l[..i], &cx);
                    let _ = Access.parse(&l[i..], &cx);
                }
            }
        }
    }
}
