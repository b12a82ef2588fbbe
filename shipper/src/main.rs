//! The `logq-shipper` binary: parse arguments, open the job's state, start the sources and the
//! delivery core. Exit 0 when done, 2 on errors (one line on stderr).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use logq_schemas::{DEFAULT_MAX_FRAME_BYTES, StreamInfo, validate_app_name};
use logq_shipper::cli::{Args, Command, default_state_dir};
use logq_shipper::ship::{Core, Outcome, ShipConfig};
use logq_shipper::source::{SourceEvent, file::FileSource, stdin};
use logq_shipper::state::JobState;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Events buffered between the sources and the core.
const SOURCE_QUEUE: usize = 64;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logq-shipper: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let app = args.command.app().to_owned();
    validate_app_name(&app).with_context(|| format!("invalid --app {app:?}"))?;
    let host = args.host.clone().unwrap_or_else(logq_shipper::hostname);
    let state_dir = args.state_dir.clone().unwrap_or_else(default_state_dir);
    let state = JobState::open(&state_dir, &args.command.job(), &host)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("while starting the runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(signal_shutdown(shutdown.clone()));
        let (tx, rx) = mpsc::channel(SOURCE_QUEUE);
        start_sources(&args, &state, tx)?;
        let tz = logq_shipper::time_zone();
        if args.udp {
            return logq_shipper::udp::run(
                &args.to,
                args.token.clone(),
                host,
                tz,
                state,
                rx,
                shutdown,
            )
            .await;
        }
        let config = ShipConfig {
            to: args.to.clone(),
            token: args.token.clone(),
            host,
            tz,
            batch_max_bytes: args.batch_max_bytes.max(1),
            flush_interval: Duration::from_millis(args.flush_interval_ms),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_unacked_bytes: 64 * 1024 * 1024,
            drain_timeout: Duration::from_secs(args.drain_timeout_secs),
        };
        match Core::new(config, state).run(rx, shutdown).await {
            Outcome::Done => Ok(()),
            Outcome::Undelivered(n) => bail!(
                "{n} lines were not acknowledged by the collector at {}",
                args.to
            ),
            Outcome::Refused(msg) => {
                bail!("the collector at {} refused this shipper: {msg}", args.to)
            }
        }
    })
}

fn start_sources(
    args: &Args,
    state: &JobState,
    tx: mpsc::Sender<SourceEvent>,
) -> anyhow::Result<()> {
    match &args.command {
        Command::Tail { paths, app, format } => {
            for path in paths {
                let source = FileSource {
                    path: path.clone(),
                    app: app.clone(),
                    format: format.clone(),
                    max_line_bytes: args.max_line_bytes,
                };
                let tx = tx.clone();
                std::thread::Builder::new()
                    .name("tail".into())
                    .spawn(move || source.run(tx))
                    .context("while starting a file source")?;
            }
        }
        Command::Pipe { app, format } => {
            let id = format!("pipe:{app}");
            let base = state
                .checkpoint
                .streams
                .get(&id)
                .map_or(0, |c| c.position.max(c.reserved));
            let info = StreamInfo {
                id: id.clone(),
                app: app.clone(),
                stream: "stdin".into(),
                format: format.clone(),
            };
            tx.try_send(SourceEvent::Register { info, seek: None })
                .context("while registering stdin")?;
            let max_line = args.max_line_bytes;
            std::thread::Builder::new()
                .name("stdin".into())
                .spawn(move || stdin::run(std::io::stdin().lock(), id, base, max_line, tx))
                .context("while starting the stdin reader")?;
        }
    }
    Ok(())
}

async fn signal_shutdown(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    shutdown.cancel();
}
