//! The `logq-collector` binary: flags and config file in, [`logq_collector::server::run`] out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use logq_collector::Config;
use tokio_util::sync::CancellationToken;

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
    /// Check the config file and exit.
    #[arg(long)]
    check_config: bool,
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
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(addr) = args.http_addr {
        config.http_addr = addr;
    }
    if let Some(addr) = args.tcp_addr {
        config.tcp_addr = addr;
    }
    if let Some(addr) = args.udp_addr {
        config.udp_addr = addr;
    }
    config.validate()?;
    if args.check_config {
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
        logq_collector::server::run(config, shutdown, |addrs| {
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
