//! `check`: not built yet.

fn main() {
    eprintln!("check: not built yet");
    std::process::exit(2);
}
