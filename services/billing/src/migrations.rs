//! This service's schema migrations, embedded at build time.

mod embedded {
    refinery::embed_migrations!("../../migrations/billing");
}

/// This service's migrations, applied by `billing migrate` to the `billing` schema.
pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}
