//! `inspect`: not built yet.

fn main() {
    eprintln!("inspect: not built yet");
    std::process::exit(2);
}
