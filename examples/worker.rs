//! The archival worker: drains an Azure Storage Queue fed by Event Grid with
//! `Microsoft.Communication.RecordingFileStatusUpdated` events, downloads each recording's
//! chunks, checks and stitches them, and uploads the outputs to a blob container.
//!
//! ```text
//! CALLREC_ACS_KEY=<base64 key> cargo run --release --example worker -- \
//!     --queue QUEUE_SAS_URL --container CONTAINER_SAS_URL --acs-endpoint ACS_URL \
//!     [--allow-host HOST:PORT]... [--workdir DIR] [--exit-when-idle SECS]
//! ```
//!
//! Exits 0 when stopped (SIGTERM/SIGINT: the current message is released) or idle for
//! `--exit-when-idle`; 2 when misconfigured (a bad URL or key, a 401/403 from the download
//! host or from storage, a work directory that cannot be written).
//! See [`callrec_fetch`] for what happens to each message.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use callrec_fetch::{AcsKey, Config, Url, Worker};
use clap::Parser;

/// Archive ACS call recordings announced on a Storage Queue into a blob container.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Environment: CALLREC_ACS_KEY, the ACS resource's access key (base64); \
RUST_LOG, the log filter (default info).\n\
Exit status: 0 when stopped by SIGTERM/SIGINT (the current message is released) or idle \
for --exit-when-idle; 2 when misconfigured (bad arguments or key, a 401/403 from the \
download host or from storage, a work directory that cannot be written); 1 on any other \
error."
)]
struct Args {
    /// The queue's URL with an account SAS for the queue service (it also reaches
    /// `<queue>-poison`).
    #[arg(long, value_name = "QUEUE_SAS_URL")]
    queue: Url,
    /// The container's URL with a SAS that may read, create, write and list.
    #[arg(long, value_name = "CONTAINER_SAS_URL")]
    container: Url,
    /// The ACS resource's endpoint (`https://<name>.communication.azure.com`): its host is
    /// signed as `x-ms-host`; it is never contacted. The key comes from `CALLREC_ACS_KEY`.
    #[arg(long, value_name = "ACS_URL")]
    acs_endpoint: Url,
    /// Also download from HOST:PORT (plain http only for a loopback host). By default only
    /// the service's storage domains over https.
    #[arg(long = "allow-host", value_name = "HOST:PORT")]
    allow_host: Vec<String>,
    /// Where chunks are downloaded and outputs made (default: <tmp>/callrec-worker).
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Exit 0 after SECS without messages.
    #[arg(long, value_name = "SECS")]
    exit_when_idle: Option<u64>,
    /// Visibility timeout of a received message, renewed every 10 s (or a third of it, when
    /// shorter) while the recording is worked on (1 to 604800, the service's cap).
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    visibility: u64,
    /// Delete the chunks at their `deleteLocation` once the blobs are committed and verified.
    #[arg(long)]
    delete_source: bool,
    /// Deliveries after which a failing message goes to `<queue>-poison` (at least 1).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_dequeues: u64,
    /// Size of the staged blocks uploads are cut into, MiB (1 to 4000, the service's cap).
    #[arg(long, value_name = "MIB", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=4000))]
    block_size: u64,
    /// Files downloaded at once.
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    downloads: u64,
    /// Blocks staged at once (each held in memory while it is sent). The chunks' blocks
    /// staged ahead and the MP4's others may go up at the same time, each with N + 2 blocks
    /// in memory: about 2 × (N + 2) × the block size at most.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    upload_parallel: u64,
}

fn config(args: Args) -> anyhow::Result<Config> {
    let key = std::env::var("CALLREC_ACS_KEY").map_err(|_| {
        anyhow::anyhow!("set CALLREC_ACS_KEY to the ACS resource's access key (base64)")
    })?;
    let key = AcsKey::from_base64(&key)?;
    let mut cfg = Config::new(args.queue, args.container, args.acs_endpoint, key);
    for h in &args.allow_host {
        cfg.allow.allow(h)?;
    }
    if let Some(w) = args.workdir {
        cfg.workdir = w;
    }
    let vis = args.visibility.max(1);
    cfg.visibility = Duration::from_secs(vis);
    cfg.renew_every = Duration::from_secs(10)
        .min(Duration::from_millis(vis * 1000 / 3).max(Duration::from_millis(500)));
    cfg.exit_when_idle = args.exit_when_idle.map(Duration::from_secs);
    cfg.delete_source = args.delete_source;
    cfg.max_dequeues = args.max_dequeues.max(1);
    cfg.staging.block_size = (args.block_size << 20) as usize;
    cfg.staging.parallel = args.upload_parallel as usize;
    cfg.downloads = args.downloads as usize;
    Ok(cfg)
}

async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = int.recv() => tracing::info!("SIGINT"),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cfg = match config(Args::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let r = rt.block_on(async {
        let w = Worker::new(cfg)?;
        w.run(shutdown()).await
    });
    // A job abandoned at SIGTERM (its message released) runs on a blocking thread: do not
    // wait for it to finish.
    rt.shutdown_timeout(Duration::from_secs(1));
    match r {
        Ok(s) => {
            tracing::info!(
                archived = s.archived,
                duplicates = s.duplicates,
                poisoned = s.poisoned,
                ignored = s.ignored,
                retried = s.retried,
                reused_bytes = s.reused_bytes,
                "stopped"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.stops_worker() { 2 } else { 1 })
        }
    }
}
