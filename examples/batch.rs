//! Archive every recording under a directory: check, stitch and export the timeline of each,
//! several at once, with a manifest that makes a rerun finish what a killed run left.
//!
//! ```text
//! cargo run --release --example batch -- ROOT -o OUTDIR [-j N] [--wall-clock] [--force] [--wait]
//! ```
//!
//! Writes `OUTDIR/<callId>/recording.mp4`, `timeline.json`, `check.json` and one line per
//! recording in `OUTDIR/manifest.jsonl`; see [`callrec_examples::batch`] for what counts as
//! failed and what a rerun redoes. Exits 0 when every recording is ok, 1 when any failed, 2 when
//! the batch could not run (OUT locked by another batch, inside a recording, I/O);
//! SIGINT/SIGTERM remove the temporaries and exit 130/143.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use callrec_examples::batch::{self, Entry, Event, Options};
use callrec_examples::cli;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Check, stitch and export the timeline of every recording under ROOT into OUT, several at
/// once, with a manifest that makes a rerun finish what a killed run left.
///
/// Exit status: 0 every recording ok, 1 some failed, 2 could not run (OUT locked by another
/// batch, inside a recording, I/O), 130/143 interrupted (temporaries removed).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Directory searched for recording directories (only read).
    root: PathBuf,
    /// Output directory: one folder per recording and manifest.jsonl.
    #[arg(short, long)]
    out: PathBuf,
    /// Recordings processed at once (threads of the batch's pool; default and cap: the CPUs).
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Stitch on the wall clock: pauses and gaps between chunks become timestamp gaps.
    #[arg(long)]
    wall_clock: bool,
    /// Redo recordings the manifest says are done.
    #[arg(long)]
    force: bool,
    /// When another batch is working on OUT, wait for it to finish (default: exit 2).
    #[arg(long)]
    wait: bool,
}

fn log_line(e: &Entry) -> String {
    let mut line = format!("{:<8} {}  ({})", e.status.as_str(), e.key, e.dir);
    if let Some(ms) = e.measures.media_ms {
        line += &format!("  {:.3} s", ms as f64 / 1e3);
    }
    if let Some(mp4) = e.outputs.get(batch::RECORDING_MP4) {
        line += &format!("  {} bytes", mp4.bytes);
    }
    line += &format!("  {:.2} s", e.seconds);
    if let Some(r) = &e.reason {
        line += &format!(": {r}");
    }
    line
}

fn main() -> ExitCode {
    let args = Args::parse();
    let opts = options(&args);
    cli::on_interrupt(
        "batch",
        format!(
            "the recordings finished before are in {}; a rerun does the rest",
            args.out.join(batch::MANIFEST).display()
        ),
    );
    let started = Instant::now();
    let progress = Progress {
        args: &args,
        bar: progress_bar(),
    };
    let result = batch::run(&opts, &|event| progress.event(event));
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(summary) => {
            let text = format!(
                "{}manifest: {} ({:.2} s)\n",
                summary.table(),
                args.out.join(batch::MANIFEST).display(),
                started.elapsed().as_secs_f64()
            );
            match cli::emit("batch", &text) {
                Ok(()) => ExitCode::from(summary.exit_code()),
                Err(code) => code,
            }
        }
        Err(e) => {
            cli::note(&format!("batch: {e:#}"));
            ExitCode::from(cli::CANNOT_RUN)
        }
    }
}

/// The batch's options from the arguments.
fn options(args: &Args) -> Options {
    let mut opts = Options::new(&args.root, &args.out);
    if let Some(j) = args.jobs {
        opts.jobs = cli::cap_threads("batch", "-j", j);
    }
    opts.wall_clock = args.wall_clock;
    opts.force = args.force;
    opts.wait = args.wait;
    opts
}

/// A progress bar on stderr when it is a terminal.
fn progress_bar() -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    })
}

/// What the batch's events show: log lines, and the bar when there is one.
struct Progress<'a> {
    args: &'a Args,
    bar: Option<ProgressBar>,
}

impl Progress<'_> {
    /// A line above the bar, or on stderr.
    fn log(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => cli::note(&line),
        }
    }

    /// Shows one event of the batch.
    fn event(&self, event: Event<'_>) {
        let bar = &self.bar;
        match event {
            Event::Waiting { pid } => self.log(format!(
                "waiting for {} to finish with {}",
                pid.map_or("another batch".to_string(), |p| format!("batch pid {p}")),
                self.args.out.display()
            )),
            Event::Start { found, todo } => {
                if let Some(bar) = bar {
                    bar.set_length(todo as u64);
                }
                self.log(format!(
                    "{} under {}: {todo} to do, {} done earlier",
                    cli::plural(found, "recording"),
                    self.args.root.display(),
                    found - todo
                ));
            }
            Event::Skipped(e) => {
                if bar.is_none() {
                    self.log(format!(
                        "skipped  {}  ({}): {} in an earlier run, inputs unchanged",
                        e.key,
                        e.dir,
                        e.status.as_str()
                    ));
                }
            }
            Event::Begin { dir, .. } => {
                if let Some(bar) = bar {
                    bar.set_message(dir.to_string());
                }
            }
            Event::Stitching { .. } => {}
            Event::Done(e) => {
                self.log(log_line(e));
                if let Some(bar) = bar {
                    bar.inc(1);
                }
            }
        }
    }
}
