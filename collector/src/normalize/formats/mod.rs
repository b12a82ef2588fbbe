//! The format registry: one module per line format, each with fixture files under
//! `tests/data/formats/<name>/` (copied from real clients' output, with their LICENSE files).

pub mod access;
pub mod gunicorn;
pub mod json;
pub mod lograge_kv;
pub mod nginx_error;
pub mod plain;
pub mod pm2;
pub mod rails;
pub mod sidekiq;
pub mod syslog;

use super::format::Format;

/// Every format, in the order detection tries them: the most specific first, plain text last
/// (it takes any line).
pub static ALL: &[&dyn Format] = &[
    &pm2::Pm2,
    &rails::Rails,
    &sidekiq::Sidekiq,
    &gunicorn::Gunicorn,
    &nginx_error::NginxError,
    &access::Access,
    &syslog::Syslog,
    &lograge_kv::LogrageKv,
    &json::Json,
    &plain::Plain,
];

/// The format named `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Format> {
    ALL.iter().copied().find(|f| f.name() == name)
}

/// The formats a shipper's `--format` hint stands for, in the order they are tried: a hint
/// names an app family whose logs hold several line formats (gunicorn writes an error log and
/// an access log; Rails apps write Logger lines or lograge). `None` for an unknown hint.
pub fn family(hint: &str) -> Option<Vec<&'static dyn Format>> {
    let names: &[&str] = match hint.to_ascii_lowercase().as_str() {
        "pm2" | "node" => &["pm2", "json"],
        "rails" | "ruby" => &["rails", "json", "lograge_kv"],
        "lograge" => &["json", "lograge_kv"],
        "gunicorn" | "python" => &["gunicorn", "access"],
        "sidekiq" => &["sidekiq", "json"],
        "nginx" => &["access", "nginx_error"],
        "apache" | "access" | "combined" | "common" => &["access"],
        "nginx_error" => &["nginx_error"],
        "json" | "bunyan" | "pino" | "logstash" => &["json"],
        "lograge_kv" | "logfmt" => &["lograge_kv"],
        "syslog" => &["syslog"],
        "plain" | "text" => &[],
        _ => return None,
    };
    Some(names.iter().filter_map(|n| by_name(n)).collect())
}

/// Test fixtures: `tests/data/formats/<format>/<file>` at the repository root.
#[cfg(test)]
pub(crate) fn fixture(format: &str, file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/formats")
        .join(format)
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// What the format modules' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use jiff::Timestamp;

    use crate::normalize::format::{Context, Format};

    /// A UTC context received at 2026-11-23T10:00:00Z.
    pub fn cx() -> Context {
        Context::utc(ts("2026-11-23T10:00:00Z"))
    }

    pub fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    /// The lines of a fixture file.
    pub fn lines(format: &str, file: &str) -> Vec<String> {
        super::fixture(format, file)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Lines made of `tokens` in a fixed pseudo-random order (a small LCG: reproducible).
    pub fn token_soup(tokens: &[&str], count: usize) -> Vec<String> {
        let mut state: u64 = 0x2026_1122;
        let mut next = move |n: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        (0..count)
            .map(|_| (0..next(14)).map(|_| tokens[next(tokens.len())]).collect())
            .collect()
    }

    /// Every line of the fixture, and every cut of it at a char boundary, parses without panic
    /// and with its body on a char boundary inside the text.
    pub fn every_cut_parses(f: &dyn Format, file: &str) {
        for line in lines(f.name(), file) {
            for cut in (0..=line.len()).filter(|&i| line.is_char_boundary(i)) {
                let part = &line[..cut];
                if let Some(p) = f.parse(part, &cx()) {
                    assert!(part.is_char_boundary(p.body), "{file}: {part}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_fixture_files_with_their_provenance() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/formats");
        for f in ALL {
            let dir = root.join(f.name());
            let files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| {
                    panic!(
                        "format {} has no fixtures in {}: {e}",
                        f.name(),
                        dir.display()
                    )
                })
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            assert!(
                files
                    .iter()
                    .any(|n| n.ends_with(".log") || n.ends_with(".txt") || n.ends_with(".json")),
                "format {} has no fixture log in {}",
                f.name(),
                dir.display()
            );
            assert!(
                files
                    .iter()
                    .any(|n| n.starts_with("LICENSE") || n == "SOURCE.md"),
                "format {}: its fixtures need a LICENSE file or a SOURCE.md saying where they come from",
                f.name()
            );
        }
    }

    /// Lines of every format, whose prefixes the property tests cut and mutate.
    const SHAPES: &[&str] = &[
        "I, [2026-11-22T13:14:55.004321 #15971]  INFO -- : [6f66c1ca-d073] Started GET \"/\" for 127.0.0.1",
        "[c6233bf5-fced-41ef-90de-001a3333fca4] app.rb:42:in `block in <main>'",
        "2026-11-22T13:15:08.707Z pid=16030 tid=bs2 class=OsmSyncJob jid=86d84f6fa587 INFO: start",
        "2015-11-10T03:07:39.602Z 21565 TID-16b40s ERROR: msg",
        "[2026-11-22 13:11:35 +0000] [13776] [INFO] Starting gunicorn 27.0.1",
        "10.0.50.212 - - [23/Nov/2026:10:57:00 +0000] \"GET /a HTTP/1.1\" 304 77 \"-\" \"M\\\"o\"",
        "2021/04/01 13:02:31 [error] 31#31: *1 connect() failed (111: Connection refused), client: 1.2.3.4, request: \"GET / HTTP/1.1\"",
        "<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed",
        "<165>1 2003-10-11T22:14:15.003Z host app - ID47 [ex@1 a=\"3\"] msg",
        "method=GET path=/items/42 format=html status=200 duration=1.23",
        "{\"message\":\"tick\\n\",\"timestamp\":\"2026-11-22T13:07:27.700Z\",\"type\":\"out\",\"process_id\":2}",
        "{\"level\":30,\"time\":1531171074631,\"msg\":\"hello\",\"pid\":657}",
        "\u{1b}[32m0|osm-app  | \u{1b}[39m2026-11-22T13:07:27: Error: x",
        "2026-11-22T13:07:27: warn: config file missing",
    ];

    use super::testing::cx;

    proptest::proptest! {
        #[test]
        fn no_parser_panics_on_arbitrary_text(line in proptest::prelude::any::<String>()) {
            for f in ALL {
                let _ = f.parse(&line, &cx());
            }
        }

        #[test]
        fn no_parser_panics_on_cut_and_mutated_lines_of_every_format(
            shape in proptest::sample::select(SHAPES),
            cut in 0usize..200,
            tail in proptest::prelude::any::<String>(),
            flip in 0usize..200,
        ) {
            let mut line: String = shape.chars().take(cut).collect();
            line.push_str(&tail);
            // Replace one character with a multi-byte one, where parsers look for ASCII.
            let line: String = line
                .chars()
                .enumerate()
                .map(|(i, c)| if i == flip { 'é' } else { c })
                .collect();
            for f in ALL {
                let parsed = f.parse(&line, &cx());
                if let Some(p) = parsed {
                    proptest::prop_assert!(p.body <= line.len(), "{}: body past the end", f.name());
                }
            }
        }
    }

    #[test]
    fn hints_name_known_formats() {
        for hint in [
            "pm2", "rails", "gunicorn", "sidekiq", "nginx", "apache", "json", "syslog",
        ] {
            let fam = family(hint).expect("known hint");
            assert!(!fam.is_empty(), "{hint}");
        }
        assert_eq!(family("plain").map(|f| f.len()), Some(0));
        assert!(family("cobol").is_none());
    }
}
