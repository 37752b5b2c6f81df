//! Rebuilds when a migration is added or changed: `refinery::embed_migrations!` reads the
//! directories at compile time, and Cargo does not watch them on its own.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
