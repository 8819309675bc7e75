//! `timeline`: not built yet.

fn main() {
    eprintln!("timeline: not built yet");
    std::process::exit(2);
}
