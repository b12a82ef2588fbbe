//! The `logq-shipper` binary: parse arguments (and the config file), open the job's state,
//! start the sources and the delivery core. Exit 0 when done, 2 on errors (one line on
//! stderr).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use logq_schemas::{DEFAULT_MAX_FRAME_BYTES, StreamInfo, validate_app_name};
use logq_shipper::cli::{Args, Command, FollowArgs, default_pm2_home};
use logq_shipper::config::{Config, Pm2Source, Settings};
use logq_shipper::pm2::{ListError, Pm2};
use logq_shipper::run;
use logq_shipper::ship::{Core, Outcome, ShipConfig};
use logq_shipper::source::SourceEvent;
use logq_shipper::source::spool::Spool;
use logq_shipper::source::tailer::{TailConfig, Tailer};
use logq_shipper::source::target::{Target, Targets};
use logq_shipper::state::JobState;
use logq_shipper::supervisor;
use logq_shipper::tls::TlsClient;
use rustix::process::Signal;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Events buffered between the sources and the core.
const SOURCE_QUEUE: usize = 16;
/// How often a tail job expands its patterns without a file notification.
const SCAN_INTERVAL: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only for a terminal: supervisord, pm2 and systemd write stderr to files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Args::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("logq-shipper: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

/// What this run ships: a subcommand's source, or a config file's.
enum Sources<'a> {
    Command(&'a Command),
    /// `[[tail]]` targets, and pm2 beside them.
    Config {
        targets: Vec<Target>,
        pm2: Option<Pm2Source>,
    },
}

impl Sources<'_> {
    /// The job directory name under the state dir (one config-driven job per state dir).
    fn job(&self) -> String {
        match self {
            Sources::Command(command) => command.job(),
            Sources::Config { .. } => "config".to_owned(),
        }
    }

    /// Whether the job ends once its sources end (`pipe`, `run`).
    fn until_sources_end(&self) -> bool {
        matches!(
            self,
            Sources::Command(Command::Pipe { .. } | Command::Run { .. })
        )
    }
}

/// `--check-config FILE`: everything a start would check, without starting.
fn check_config(args: &Args, path: &Path) -> anyhow::Result<()> {
    let file = Config::load(path)?;
    let settings = Settings::resolve(args, Some(&file))?;
    if let Some(tls) = &settings.tls {
        TlsClient::new(tls, &settings.to).context("while building the TLS client")?;
    }
    Ok(())
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.check_config {
        check_config(&args, path)?;
        println!("config ok");
        return Ok(ExitCode::SUCCESS);
    }
    let file = args.config.as_deref().map(Config::load).transpose()?;
    let sources = match (&args.command, &file, &args.config) {
        (Some(_), Some(f), Some(path)) if f.has_sources() => bail!(
            "{} names sources ([[tail]], [pm2]) and a subcommand was given too: run one or the other",
            path.display()
        ),
        (Some(command), _, _) => Sources::Command(command),
        (None, Some(f), Some(path)) => {
            if !f.has_sources() {
                bail!(
                    "{} names no sources: add a [[tail]] or [pm2] section, or give a subcommand",
                    path.display()
                );
            }
            Sources::Config {
                targets: f.tail_targets(),
                pm2: f.pm2.clone(),
            }
        }
        _ => bail!(
            "give a subcommand (tail, pipe, run, pm2, supervisor) or --config FILE; see --help"
        ),
    };
    if let Sources::Command(command) = &sources
        && let Some(app) = command.app()
    {
        validate_app_name(app).with_context(|| format!("invalid --app {app:?}"))?;
    }
    let settings = Settings::resolve(&args, file.as_ref())?;
    // Built once: a bad PEM file stops the start, never a running shipper.
    let tls = settings
        .tls
        .as_ref()
        .map(|options| TlsClient::new(options, &settings.to))
        .transpose()
        .context("while building the TLS client")?;
    let state = JobState::open(&settings.state_dir, &sources.job(), &settings.host)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("while starting the runtime")?;
    let (args, sources) = (&args, &sources);
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let (tx, rx) = mpsc::channel(SOURCE_QUEUE);
        let job = start_sources(args, &settings, sources, &state, tx, &shutdown)?;
        match &job {
            Job::Run { running, .. } => {
                tokio::spawn(forward_signals(*running));
            }
            Job::Supervisor(listener) => {
                // The listener drains first, then ends the core itself.
                tokio::spawn(signal_shutdown(listener.stop()));
            }
            _ => {
                tokio::spawn(signal_shutdown(shutdown.clone()));
            }
        }
        let tz = logq_shipper::time_zone();
        // `tail` and `supervisor` run until a shutdown: their streams come and go.
        let until_sources_end = sources.until_sources_end();
        let outcome = if settings.udp {
            logq_shipper::udp::run(
                &settings.to,
                settings.token.clone(),
                settings.host.clone(),
                tz,
                state,
                rx,
                shutdown,
                until_sources_end,
            )
            .await?;
            Outcome::Done
        } else {
            let config = ShipConfig {
                to: settings.to.clone(),
                tls,
                token: settings.token.clone(),
                host: settings.host.clone(),
                tz,
                batch_max_bytes: args.batch_max_bytes.max(1),
                flush_interval: Duration::from_millis(args.flush_interval_ms),
                max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
                drain_timeout: Duration::from_secs(args.drain_timeout_secs),
                until_sources_end,
            };
            Core::new(config, state).run(rx, shutdown).await
        };
        job.finish(outcome, &settings.to).await
    })
}

/// What was started, and how its end becomes the exit code.
enum Job {
    Tail,
    Pipe {
        spool: Arc<Spool>,
    },
    Run {
        running: run::Running,
        exited: run::Exited,
        spools: [Arc<Spool>; 2],
    },
    Supervisor(supervisor::Supervising),
}

impl Job {
    async fn finish(self, outcome: Outcome, to: &str) -> anyhow::Result<ExitCode> {
        let spools: Vec<Arc<Spool>> = match &self {
            Job::Tail | Job::Supervisor(_) => Vec::new(),
            Job::Pipe { spool } => vec![spool.clone()],
            Job::Run { spools, .. } => spools.to_vec(),
        };
        for spool in &spools {
            let (lines, bytes) = spool.dropped();
            if lines > 0 {
                tracing::warn!(
                    lines,
                    bytes,
                    "output dropped at the spool cap or on spool write errors"
                );
            }
        }
        let kept = match &outcome {
            Outcome::Undelivered(bytes) => Some(format!(
                "{bytes} bytes were not acknowledged by the collector at {to}; they stay in the spool and the next run with the same --app sends them"
            )),
            _ => None,
        };
        if let Outcome::Refused(msg) = &outcome {
            bail!("the collector at {to} refused this shipper: {msg}");
        }
        match self {
            Job::Tail => Ok(ExitCode::SUCCESS),
            Job::Pipe { .. } => match kept {
                Some(msg) => bail!("{msg}"),
                None => Ok(ExitCode::SUCCESS),
            },
            Job::Run { exited, .. } => {
                if let Some(msg) = kept {
                    eprintln!("logq-shipper: {msg}");
                }
                let status = exited
                    .await
                    .context("the command's waiter vanished")?
                    .context("while waiting for the command")?;
                Ok(ExitCode::from(run::exit_code(&status)))
            }
            Job::Supervisor(listener) => {
                listener.finish().await?;
                if let Outcome::Undelivered(bytes) = outcome {
                    tracing::warn!(
                        bytes,
                        "not acknowledged by the collector at {to}; kept in the spools for the next listener"
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn start_sources(
    args: &Args,
    settings: &Settings,
    sources: &Sources<'_>,
    state: &JobState,
    tx: mpsc::Sender<SourceEvent>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Job> {
    let command = match sources {
        Sources::Command(command) => command,
        Sources::Config { targets, pm2 } => {
            let follow = FollowArgs {
                max_source_bytes: settings.max_source_bytes,
                ..FollowArgs::default()
            };
            let Some(pm2) = pm2 else {
                let tailer = tailer(args, state, tx, Targets::fixed(targets.clone()), &follow);
                spawn("tail", Box::new(move || tailer.run()))?;
                return Ok(Job::Tail);
            };
            let pm2 = Pm2 {
                bin: pm2.pm2_bin.clone().unwrap_or_else(|| PathBuf::from("pm2")),
                home: pm2
                    .pm2_home
                    .clone()
                    .or_else(|| std::env::var_os("PM2_HOME").map(PathBuf::from))
                    .unwrap_or_else(default_pm2_home),
                also: targets.clone(),
            };
            return follow_pm2(args, state, tx, pm2, &follow);
        }
    };
    match command {
        Command::Tail {
            paths,
            app,
            format,
            follow,
        } => {
            let targets = paths
                .iter()
                .map(|p| Target::tail(p, app, format.clone()))
                .collect();
            let tailer = tailer(args, state, tx, Targets::fixed(targets), follow);
            spawn("tail", Box::new(move || tailer.run()))?;
            Ok(Job::Tail)
        }
        Command::Pm2 {
            pm2_home,
            pm2_bin,
            follow,
        } => {
            let pm2 = Pm2 {
                bin: pm2_bin.clone(),
                home: pm2_home.clone().unwrap_or_else(default_pm2_home),
                also: Vec::new(),
            };
            follow_pm2(args, state, tx, pm2, follow)
        }
        Command::Pipe {
            app,
            format,
            spool_max,
        } => {
            let id = format!("pipe:{app}");
            let spool = open_spool(
                args,
                state,
                tx.clone(),
                app,
                format,
                (&id, "stdin"),
                *spool_max,
            )?;
            let writer = spool.clone();
            spawn(
                "stdin",
                Box::new(move || run::tee(std::io::stdin().lock(), std::io::sink(), &writer)),
            )?;
            Ok(Job::Pipe { spool })
        }
        Command::Run {
            app,
            format,
            spool_max,
            command,
        } => {
            let out = open_spool(
                args,
                state,
                tx.clone(),
                app,
                format,
                ("run:stdout", "stdout"),
                *spool_max,
            )?;
            let err = open_spool(
                args,
                state,
                tx,
                app,
                format,
                ("run:stderr", "stderr"),
                *spool_max,
            )?;
            let (running, exited) = run::spawn(command, out.clone(), err.clone())?;
            Ok(Job::Run {
                running,
                exited,
                spools: [out, err],
            })
        }
        Command::Supervisor { format, spool_max } => {
            let config = supervisor::Config {
                format: format.clone(),
                spool_max_bytes: *spool_max,
                max_line_bytes: args.max_line_bytes,
                drain_timeout: Duration::from_secs(args.drain_timeout_secs),
            };
            let listener = supervisor::start(config, state, tx, shutdown.clone())?;
            Ok(Job::Supervisor(listener))
        }
    }
}

/// Starts a named source thread.
fn spawn(name: &str, f: Box<dyn FnOnce() + Send>) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
        .with_context(|| format!("while starting the {name} thread"))
}

/// Follows pm2's processes (and the targets beside them) with one tailer.
fn follow_pm2(
    args: &Args,
    state: &JobState,
    tx: mpsc::Sender<SourceEvent>,
    pm2: Pm2,
    follow: &FollowArgs,
) -> anyhow::Result<Job> {
    let targets = Targets::default();
    match pm2.list() {
        Ok(processes) => targets.set(pm2.targets(&processes)),
        Err(ListError::NotRunning(home)) => {
            tracing::warn!(%home, "pm2 is not running; its processes are followed once it starts");
            targets.set(pm2.targets(&[]));
        }
        Err(ListError::Failed(e)) => return Err(e),
    }
    let tailer = tailer(args, state, tx, targets.clone(), follow);
    spawn("pm2", Box::new(move || pm2.follow(targets)))?;
    spawn("tail", Box::new(move || tailer.run()))?;
    Ok(Job::Tail)
}

/// A tailer of `targets` that resumes the job's checkpoint.
fn tailer(
    args: &Args,
    state: &JobState,
    tx: mpsc::Sender<SourceEvent>,
    targets: Targets,
    follow: &FollowArgs,
) -> Tailer {
    let config = TailConfig {
        targets,
        max_line_bytes: args.max_line_bytes,
        partial_flush: Duration::from_millis(follow.partial_flush_ms),
        rotate_wait: Duration::from_millis(follow.rotate_wait_ms),
        max_source_bytes: follow.max_source_bytes,
        scan_interval: SCAN_INTERVAL,
    };
    let resume = state
        .checkpoint
        .streams
        .iter()
        .filter_map(|(id, c)| Some((id.clone(), PathBuf::from(c.path.as_ref()?))))
        .collect();
    Tailer::new(config, resume, tx)
}

/// Opens the spool of stream `id` (spool directory `name`) under the job dir, registers it
/// and starts its reader.
fn open_spool(
    args: &Args,
    state: &JobState,
    tx: mpsc::Sender<SourceEvent>,
    app: &str,
    format: &Option<String>,
    (id, name): (&str, &str),
    cap: u64,
) -> anyhow::Result<Arc<Spool>> {
    let id = id.to_owned();
    let base = state
        .checkpoint
        .streams
        .get(&id)
        .map_or(0, |c| c.position.max(c.reserved));
    let dir = state.dir().join("spool").join(name);
    let spool = Spool::open(&dir, cap, base, false)
        .with_context(|| format!("cannot open the spool {}", dir.display()))?;
    let info = StreamInfo {
        fields: Default::default(),
        id: id.clone(),
        app: app.to_owned(),
        stream: name.to_owned(),
        format: format.clone(),
    };
    tx.try_send(SourceEvent::Register {
        info,
        seek: spool.seek(),
    })
    .context("while registering a spool")?;
    let reader = spool.clone();
    let max_line = args.max_line_bytes;
    std::thread::Builder::new()
        .name(format!("spool-{name}"))
        .spawn(move || reader.read(id, max_line, tx))
        .context("while starting a spool reader")?;
    Ok(spool)
}

/// SIGTERM and SIGINT, received as one sequence.
struct Terminations {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Terminations {
    fn install() -> Option<Terminations> {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Some(Terminations { term, int }),
            _ => {
                tracing::error!("cannot install signal handlers");
                None
            }
        }
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::TERM,
            _ = self.int.recv() => Signal::INT,
        }
    }
}

/// `run`: SIGTERM and SIGINT go to the command; its exit ends the job.
async fn forward_signals(running: run::Running) {
    let Some(mut signals) = Terminations::install() else {
        return;
    };
    loop {
        running.signal(signals.next().await);
    }
}

/// `tail`, `pipe` and `supervisor`: SIGTERM or SIGINT drains and stops the job.
async fn signal_shutdown(shutdown: CancellationToken) {
    if let Some(mut signals) = Terminations::install() {
        signals.next().await;
        shutdown.cancel();
    }
}
