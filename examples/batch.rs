//! `batch`: not built yet.

fn main() {
    eprintln!("batch: not built yet");
    std::process::exit(2);
}
