//! The page at `/` in a real headless Chromium: tests/browser/page.test.mjs drives it (with
//! playwright-core) against a real collector fed by a real shipper tailing a file, and appends
//! to that file itself. Needs `chromium` and `npm ci --prefix tests/browser` (scripts/test
//! installs both).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{Collector, Shipper, wait_until};

const APP: &str = "webapp";

#[test]
fn page_and_assets_are_served_with_their_content_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("data"));
    for (path, content_type, holds) in [
        ("/", "text/html; charset=utf-8", "/assets/app.js"),
        (
            "/assets/app.js",
            "text/javascript; charset=utf-8",
            "sseParser",
        ),
        ("/assets/style.css", "text/css; charset=utf-8", ".row"),
    ] {
        let mut resp = ureq::get(format!("{}{path}", collector.url()))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-type"), content_type, "{path}");
        assert_eq!(header("cache-control"), "no-cache", "{path}");
        let body = resp.body_mut().read_to_string().expect("body");
        assert!(body.contains(holds), "{path} does not hold {holds:?}");
    }
}

#[test]
fn page_tails_and_searches_in_chromium() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/page.test.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .exists(),
        "run `npm ci --prefix tests/browser` first (scripts/test does)"
    );
    let artifacts = root.join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).expect("create artifacts dir");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut collector = Collector::start(&dir.path().join("data"));
    let log = dir.path().join("web.log");
    std::fs::write(&log, "INFO page test starts\n").expect("write log");
    let _shipper = Shipper::tail(&collector, &dir.path().join("state"), &log, APP);
    wait_until(Duration::from_secs(30), "the first line stored", || {
        collector.count(APP) >= 1
    });

    // The script prints `@restart-collector` when it wants the collector restarted (kill -9,
    // then started again on the same ports) and waits for `restarted` on its stdin.
    let mut node = Command::new("node")
        .arg(&script)
        .env("LOGQ_URL", collector.url())
        .env("LOGQ_FILE", &log)
        .env("LOGQ_APP", APP)
        .env("LOGQ_ARTIFACTS", &artifacts)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    let mut stdin = node.stdin.take().expect("node stdin");
    let mut said = String::new();
    for line in BufReader::new(node.stdout.take().expect("node stdout")).lines() {
        let line = line.expect("read node stdout");
        if line == "@restart-collector" {
            collector.kill9_and_restart();
            writeln!(stdin, "restarted").expect("answer node");
        }
        said.push_str(&line);
        said.push('\n');
    }
    let out = node.wait_with_output().expect("wait for node");
    // Its step timings, shown with --nocapture.
    print!("{said}");
    assert!(
        out.status.success(),
        "{} failed ({}):\n--- stdout\n{said}\n--- stderr\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn page_asks_for_the_read_token_and_refuses_a_wrong_one() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/token.test.mjs");
    let artifacts = root.join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).expect("create artifacts dir");
    let dir = tempfile::tempdir().expect("tempdir");
    let token = "page-read-token-1";
    let collector = Collector::start_with(
        &dir.path().join("data"),
        Some(&format!(
            "[[tokens]]\nname = \"page\"\nsecret = \"{token}\"\nrole = \"read\"\n"
        )),
    );
    let log = dir.path().join("web.log");
    std::fs::write(&log, "INFO a guarded line\n").expect("write log");
    let _shipper = Shipper::tail(&collector, &dir.path().join("state"), &log, APP);
    let apps = format!("{}/api/v1/apps", collector.url());
    wait_until(Duration::from_secs(30), "the line stored", || {
        ureq::get(&apps)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .is_some_and(|body| body.contains(APP))
    });
    let out = Command::new("node")
        .arg(&script)
        .env("LOGQ_URL", collector.url())
        .env("LOGQ_APP", APP)
        .env("LOGQ_TOKEN", token)
        .env("LOGQ_ARTIFACTS", &artifacts)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "{} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
