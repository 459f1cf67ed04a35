//! `sqlx::migrate!` embeds `migrations/` at compile time but cannot tell cargo to watch it on
//! stable Rust; this makes a new or edited migration rebuild the server.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
