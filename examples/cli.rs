//! The conventions every callrec tool follows (see the README's "Exit status and signals"):
//!
//! - exit status [`DONE`] (0) done, [`BAD`] (1) the recording is bad or some recordings failed,
//!   [`CANNOT_RUN`] (2) the tool could not run (usage, I/O, lock);
//! - a closed stdout (`| head`) ends the tool quietly with [`CLOSED_PIPE`] (141, what a shell
//!   reports for a tool killed by SIGPIPE), any other error writing stdout (`> /dev/full`) is a
//!   message and [`CANNOT_RUN`];
//! - SIGINT and SIGTERM remove this process's temporary files, say so, and exit 130 or 143;
//! - thread counts are capped at what the machine can run, with a note on stderr.

use std::io::{self, Write};
use std::process::ExitCode;

/// Exit status: done.
pub const DONE: u8 = 0;
/// Exit status: the recording is bad, or some recordings failed.
pub const BAD: u8 = 1;
/// Exit status: the tool could not run (usage, I/O, lock).
pub const CANNOT_RUN: u8 = 2;
/// Exit status when stdout is a closed pipe: 128 + SIGPIPE, without dying of the signal.
pub const CLOSED_PIPE: u8 = 141;

/// Writes `text` to stdout and flushes it. `Err` carries the exit status to end with: quietly
/// [`CLOSED_PIPE`] when the reader went away, [`CANNOT_RUN`] with a message naming `tool` on any
/// other write error.
pub fn emit(tool: &str, text: &str) -> Result<(), ExitCode> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) => Err(stdout_failed(tool, &e)),
    }
}

/// The exit status for an error writing stdout (see [`emit`]), after saying why unless the
/// reader merely went away.
pub fn stdout_failed(tool: &str, e: &io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe {
        ExitCode::from(CLOSED_PIPE)
    } else {
        note(&format!("{tool}: cannot write to standard output: {e}"));
        ExitCode::from(CANNOT_RUN)
    }
}

/// One line on stderr; a stderr that cannot be written is ignored (never a panic, unlike
/// `eprintln!`).
pub fn note(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// `n` capped at the threads this machine can run (`std::thread::available_parallelism`),
/// saying so on stderr when it is cut (`flag` names the option).
pub fn cap_threads(tool: &str, flag: &str, n: usize) -> usize {
    let max = callrec::max_threads();
    if n > max {
        note(&format!(
            "{tool}: {flag} {n} capped at {max}, the threads this machine can run at once"
        ));
        max
    } else {
        n.max(1)
    }
}

/// `count` and the noun, singular when `count` is 1: `1 error`, `2 errors`.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Installs the SIGINT/SIGTERM handler: a thread that, on the first signal, removes every
/// temporary file of this process ([`callrec::crates::stitch::temp::remove_all`]), prints
/// `<tool>: interrupted by SIG...: ` followed by what was removed and `after` (what stands, e.g.
/// "nothing was written to OUT"), and exits 130 (SIGINT) or 143 (SIGTERM).
///
/// A tool that cannot install it (no signal support) runs without it.
pub fn on_interrupt(tool: &'static str, after: String) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let removed = callrec::crates::stitch::temp::remove_all();
                let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                let temps = match removed {
                    0 => "no temporary file to remove".to_string(),
                    n => format!("removed {} of this run", plural(n, "temporary file")),
                };
                note(&format!("{tool}: interrupted by {name}: {temps}; {after}"));
                std::process::exit(128 + sig);
            }
        });
    drop(spawned);
}
