//! This service's schema migrations (`migrations/identity`), embedded in the binary.

mod embedded {
    refinery::embed_migrations!("../../migrations/identity");
}

/// This service's migrations, applied by `identity migrate` to the `identity` schema.
pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}
