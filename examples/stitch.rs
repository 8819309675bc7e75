//! `stitch`: not built yet.

fn main() {
    eprintln!("stitch: not built yet");
    std::process::exit(2);
}
