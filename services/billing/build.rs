//! Rebuilds when a migration is added or changed: `refinery::embed_migrations!` reads the
//! directory at compile time, and Cargo does not watch it on its own.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/billing");
}
