//! Wiring: opens storage, replays the WAL, binds the listeners, runs until shutdown.

use std::fs::File;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{ApiState, router};
use crate::auth::{SharedTokens, Tokens};
use crate::config::Config;
use crate::index::{LogIndex, PendingDeletes, spawn_indexer};
use crate::ingest::{IngestContext, tcp, udp};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::storage::{FreeSpace, Store, spawn_sealer, statvfs_probe};
use crate::tls::{ServerTls, TlsListener};
use crate::wal::{IndexedMarker, Wal, WalLocation};

/// How long shutdown waits for connections to drain and storage to flush.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// The addresses actually bound (a port 0 in the config becomes a real port).
#[derive(Debug, Clone, Copy)]
pub struct BoundAddrs {
    pub http: SocketAddr,
    pub tcp: SocketAddr,
    pub udp: SocketAddr,
}

/// Runs the collector until `shutdown` fires. `on_ready` gets the bound addresses once the
/// collector accepts connections.
/// A config read again on SIGHUP, or why it could not be read.
pub type Reload = std::result::Result<Config, String>;

/// Each config sent on `reload` replaces the retention policies and the tokens in force.
pub async fn run(
    config: Config,
    shutdown: CancellationToken,
    reload: mpsc::Receiver<Reload>,
    on_ready: impl FnOnce(BoundAddrs),
) -> Result<()> {
    run_with(config, shutdown, reload, None, on_ready).await
}

/// [`run`] with a free-space probe of choice (tests simulate a filling disk with it).
pub async fn run_with(
    config: Config,
    shutdown: CancellationToken,
    reload: mpsc::Receiver<Reload>,
    free_space: Option<FreeSpace>,
    on_ready: impl FnOnce(BoundAddrs),
) -> Result<()> {
    config.validate()?;
    // Everything that reads files (secrets, certificates) is checked before any data is touched.
    let tokens = SharedTokens::new(Tokens::from_config(&config)?);
    let tls = config
        .tls
        .as_ref()
        .map(ServerTls::from_config)
        .transpose()?;
    if config.insecure && !config.exposed_listeners().is_empty() {
        tracing::warn!(
            listeners = %config.exposed_listeners().join(" "),
            tls = tls.is_some(),
            ingest_token = tokens.get().ingest_required(),
            read_token = tokens.get().read_required(),
            "--insecure: listening beyond loopback without the TLS and tokens that would protect it"
        );
    }
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("while creating data dir {}", data_dir.display()))?;
    let lock = lock_data_dir(data_dir)?;

    let started = std::time::Instant::now();
    let (store, store_report) = Store::open(
        data_dir,
        config.storage.clone(),
        config.retention.clone(),
        free_space.unwrap_or_else(statvfs_probe),
    )
    .context("while opening the segment store")?;
    let store = Arc::new(store);
    let metrics = Arc::new(Metrics::new());
    store.set_metrics(metrics.clone());
    let limits = Arc::new(Limits::new(config.limits.clone()));
    tracing::info!(
        segments = store_report.segments,
        splits_rebuilt = store_report.splits_rebuilt,
        segments_salvaged = store_report.segments_salvaged,
        segments_dropped = store_report.segments_dropped,
        records_lost = store_report.records_lost,
        took_ms = started.elapsed().as_millis() as u64,
        "opened the segment store"
    );
    let old_index = data_dir.join("index");
    if old_index.is_dir() {
        // The hot index of an older layout, which held records as stored text.
        tracing::warn!(dir = %old_index.display(), "removing the hot index of an older layout");
        let _ = std::fs::remove_dir_all(&old_index);
    }
    let index = LogIndex::open(&data_dir.join("hot")).context("while opening the hot index")?;
    // Before the indexer's first commit applies any deletion: what damaged or deleted active
    // segments lost, by the hot index's count of the records only they held.
    for u in &store_report.unsealed {
        let held = index
            .count_ids(&u.app, u.after, u.below)
            .context("while counting the hot index's records")?;
        let lost = held.saturating_sub(u.kept);
        if lost > 0 {
            store.add_records_lost(lost);
            tracing::error!(
                app = %u.app,
                lost,
                kept = u.kept,
                "records only an active segment held are lost (the segment was damaged or deleted)"
            );
        }
    }
    let deletes = PendingDeletes::default();
    // Records a crash left in the hot index after their segment was written.
    deletes
        .lock()
        .expect("deletes")
        .extend(store.sealed_through());
    let committed = index
        .committed_mark()
        .context("while reading the index commit")?;
    // Before the WAL starts a new file: files deleted or lost outside logq took with them the
    // acknowledged records that were not in a segment yet. Said, never silent.
    let missing_wal_files = crate::wal::missing_files(&data_dir.join("wal"), committed.location)
        .context("while listing the write-ahead log")?;
    if !missing_wal_files.is_empty() {
        tracing::error!(
            files = ?missing_wal_files,
            "write-ahead log files are missing (deleted outside logq?): the acknowledged records \
             in them that were not yet in a segment are lost"
        );
    }
    // The indexer tells the WAL what is indexed through a marker, never a `Wal` handle: a
    // `Wal` would keep the writer thread (and so the indexer) alive forever at shutdown.
    let wal_cell: Arc<OnceLock<IndexedMarker>> = Arc::new(OnceLock::new());
    let on_commit = {
        let wal_cell = wal_cell.clone();
        move |location| {
            if let Some(marker) = wal_cell.get() {
                marker.mark(location);
            }
        }
    };
    let (watermarks, watermarks_rx) = tokio::sync::watch::channel(Default::default());
    let indexer = spawn_indexer(
        &index,
        store.clone(),
        config.index.writer_memory_bytes,
        crate::index::Timing {
            commit_interval: Duration::from_millis(config.index.commit_interval_ms),
            event_idle: Duration::from_millis(config.index.event_idle_ms),
        },
        crate::index::Links {
            deletes: deletes.clone(),
            watermarks,
        },
        on_commit,
    )?;
    let started = std::time::Instant::now();
    let (wal, report, wal_thread) = Wal::open(
        &data_dir.join("wal"),
        config.wal.max_file_bytes,
        config.wal.fsync,
        // Every file kept: the indexer skips what the hot index and the segments hold.
        WalLocation::default(),
        indexer.tx.clone(),
    )
    .context("while opening the write-ahead log")?;
    drop(indexer.tx);
    let _ = wal_cell.set(wal.indexed_marker());
    tracing::info!(
        files = report.files,
        batches = report.batches,
        replayed = report.replayed_to_index,
        dropped_bytes = report.bytes_dropped,
        corrupt_records = report.corrupt_records,
        missing_files = missing_wal_files.len(),
        took_ms = started.elapsed().as_millis() as u64,
        "recovered write-ahead log"
    );

    let tcp_listener = TcpListener::bind(config.tcp_addr)
        .await
        .with_context(|| format!("while binding TCP ingest on {}", config.tcp_addr))?;
    let udp_socket = UdpSocket::bind(config.udp_addr)
        .await
        .with_context(|| format!("while binding UDP ingest on {}", config.udp_addr))?;
    let http_listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("while binding HTTP on {}", config.http_addr))?;
    let addrs = BoundAddrs {
        http: http_listener.local_addr()?,
        tcp: tcp_listener.local_addr()?,
        udp: udp_socket.local_addr()?,
    };

    let ctx = IngestContext {
        wal: wal.clone(),
        max_frame_bytes: config.max_frame_bytes,
        handshake_timeout: Duration::from_millis(config.handshake_timeout_ms),
        tokens: tokens.clone(),
        tls: tls.as_ref().map(|t| t.ingest.clone()),
        store: Some(store.clone()),
        metrics: metrics.clone(),
        limits: limits.clone(),
    };
    drop(wal);
    let tracker = TaskTracker::new();
    tracker.spawn(tcp::serve(
        tcp_listener,
        ctx.clone(),
        shutdown.clone(),
        tracker.clone(),
    ));
    tracker.spawn(udp::serve(
        udp_socket,
        ctx.clone(),
        Arc::default(),
        shutdown.clone(),
    ));
    let stop_sealer = Arc::new(AtomicBool::new(false));
    let sealer = spawn_sealer(store.clone(), deletes, stop_sealer.clone())
        .context("while starting the sealer")?;
    let ready = Arc::new(AtomicBool::new(false));
    let reload_metrics = metrics.clone();
    let app = router(
        ApiState {
            index: index.clone(),
            store: store.clone(),
            tokens: tokens.clone(),
            watermarks: watermarks_rx,
            shutdown: shutdown.clone(),
            metrics,
            limits,
            ready: ready.clone(),
        },
        ctx,
    );
    let http_shutdown = shutdown.clone();
    let shutdown_for_tls = shutdown.clone();
    let http_tls = tls.map(|t| t.http);
    tracker.spawn(async move {
        let stop = async move { http_shutdown.cancelled().await };
        let served = match http_tls {
            None => {
                axum::serve(http_listener, app)
                    .with_graceful_shutdown(stop)
                    .await
            }
            Some(acceptor) => {
                let listener = TlsListener::new(http_listener, acceptor, shutdown_for_tls);
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
            }
        };
        if let Err(e) = served {
            tracing::error!(error = %e, "http server failed");
        }
    });
    tracker.spawn(apply_reloads(
        reload,
        config.clone(),
        store,
        tokens,
        reload_metrics,
        shutdown.clone(),
    ));
    tracing::info!(http = %addrs.http, tcp = %addrs.tcp, udp = %addrs.udp, data_dir = %data_dir.display(), "collector ready");
    ready.store(true, Ordering::SeqCst);
    on_ready(addrs);

    shutdown.cancelled().await;
    ready.store(false, Ordering::SeqCst);
    tracing::info!("shutting down: draining connections");
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_DEADLINE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections did not drain within the deadline");
    }
    // Every WAL handle is gone with the tasks: the writer thread ends, then the indexer commits.
    stop_sealer.store(true, Ordering::SeqCst);
    let joined = tokio::task::spawn_blocking(move || {
        let _ = wal_thread.join();
        let _ = indexer.join.join();
        let _ = sealer.join();
    });
    if tokio::time::timeout(SHUTDOWN_DEADLINE, joined)
        .await
        .is_err()
    {
        tracing::warn!("storage did not flush within the deadline; the WAL will replay at start");
    }
    drop(lock);
    Ok(())
}

/// Applies each reloaded config: retention policies and tokens change at once, for new
/// connections and requests (connections already admitted keep going); anything else that
/// changed needs a restart, and says so.
async fn apply_reloads(
    mut reload: mpsc::Receiver<Reload>,
    mut current: Config,
    store: Arc<Store>,
    tokens: SharedTokens,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = reload.recv() => match next {
                Some(next) => next,
                None => return,
            },
        };
        let built = next.and_then(|next| {
            next.validate()
                .and_then(|()| Tokens::from_config(&next))
                .map(|tokens| (next, tokens))
                .map_err(|e| e.to_string())
        });
        let (next, new_tokens) = match built {
            Ok(built) => built,
            Err(e) => {
                tracing::error!(error = %e, "config reload refused; the previous config stays in force");
                metrics.config_reloaded(false);
                continue;
            }
        };
        let restart: Vec<&str> = [
            ("data_dir", current.data_dir != next.data_dir),
            ("http_addr", current.http_addr != next.http_addr),
            ("tcp_addr", current.tcp_addr != next.tcp_addr),
            ("udp_addr", current.udp_addr != next.udp_addr),
            (
                "tls",
                format!("{:?}", current.tls) != format!("{:?}", next.tls),
            ),
            (
                "storage",
                format!("{:?}", current.storage) != format!("{:?}", next.storage),
            ),
            (
                "wal",
                format!("{:?}", current.wal) != format!("{:?}", next.wal),
            ),
            (
                "index",
                format!("{:?}", current.index) != format!("{:?}", next.index),
            ),
        ]
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect();
        if !restart.is_empty() {
            tracing::warn!(keys = %restart.join(","), "these settings changed but take effect only at the next start");
        }
        store.set_retention(next.retention.clone());
        tokens.set(new_tokens);
        metrics.config_reloaded(true);
        tracing::info!(
            tokens = next.tokens.len() + usize::from(next.token.is_some()),
            retention_apps = next.retention.apps.len(),
            "config reloaded: retention policies and tokens in force"
        );
        current = next;
    }
}

/// Holds an exclusive lock on the data dir so two collectors never share it.
fn lock_data_dir(dir: &std::path::Path) -> Result<File> {
    let path = dir.join("lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("while opening {}", path.display()))?;
    file.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "data dir {} is in use by another logq-collector",
            dir.display()
        )
    })?;
    Ok(file)
}
