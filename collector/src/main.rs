//! The `logq-collector` binary: flags and config file in, [`logq_collector::server::run`] out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use logq_collector::Config;
use tokio_util::sync::CancellationToken;

/// mimalloc rather than glibc's malloc: indexing allocates and frees many small buffers, and
/// glibc's allocator took a quarter of the collector's CPU under ingest (`perf record`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Receives, stores, indexes and serves logs.
#[derive(Debug, Parser)]
#[command(name = "logq-collector", version)]
struct Args {
    /// TOML config file; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (default ./logq-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTP API address (default 127.0.0.1:7700).
    #[arg(long)]
    http_addr: Option<SocketAddr>,
    /// TCP ingest address (default 127.0.0.1:7701).
    #[arg(long)]
    tcp_addr: Option<SocketAddr>,
    /// UDP ingest address (default 127.0.0.1:7702).
    #[arg(long)]
    udp_addr: Option<SocketAddr>,
    /// Listen beyond loopback without TLS and tokens (the risk is yours; said at start).
    #[arg(long)]
    insecure: bool,
    /// Check a config file (or the one --config names), its secret and certificate files
    /// included, print `config ok` and exit; exit 2 naming the key and the reason otherwise.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    check_config: Option<Option<PathBuf>>,
}

impl Args {
    /// The config file, if any.
    fn config_path(&self) -> Option<&PathBuf> {
        match &self.check_config {
            Some(Some(path)) => Some(path),
            _ => self.config.as_ref(),
        }
    }

    /// The config file with the flags applied over it.
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = match self.config_path() {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(addr) = self.http_addr {
            config.http_addr = addr;
        }
        if let Some(addr) = self.tcp_addr {
            config.tcp_addr = addr;
        }
        if let Some(addr) = self.udp_addr {
            config.udp_addr = addr;
        }
        config.insecure |= self.insecure;
        config.validate()?;
        Ok(config)
    }
}

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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logq-collector: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let config = args.load()?;
    if args.check_config.is_some() {
        // What the collector would read at start: secret files and certificates.
        logq_collector::auth::Tokens::from_config(&config)?;
        if let Some(tls) = &config.tls {
            logq_collector::tls::ServerTls::from_config(tls)?;
        }
        println!("config ok");
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("while starting the runtime")?;
    let result = runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(signal_shutdown(shutdown.clone()));
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(signal_reload(args, reload_tx));
        logq_collector::server::run(config, shutdown, reload_rx, |addrs| {
            // One line on stdout for scripts and tests: the addresses actually bound.
            println!(
                "logq-collector listening http={} tcp={} udp={}",
                addrs.http, addrs.tcp, addrs.udp
            );
        })
        .await
    });
    // Whatever is still blocked (the shutdown deadline passed) must not keep the process.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// On SIGHUP, reads the config file again (with the same flags over it) and hands it over.
async fn signal_reload(
    args: Args,
    reload: tokio::sync::mpsc::Sender<logq_collector::server::Reload>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot install the SIGHUP handler; reload needs a restart");
        return;
    };
    while hup.recv().await.is_some() {
        if args.config_path().is_none() {
            tracing::warn!("SIGHUP: no --config file to reload");
            continue;
        }
        // The server applies it, or logs and counts why not.
        let next = args.load().map_err(|e| format!("{e:#}"));
        if reload.send(next).await.is_err() {
            return;
        }
    }
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
