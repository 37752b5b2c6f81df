//! This service's schema migrations, embedded at build time.

mod embedded {
    refinery::embed_migrations!("../../migrations/analytics");
}

/// This service's migrations, applied by `analytics migrate` to the `analytics` schema.
pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}
