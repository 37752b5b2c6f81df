//! This service's database schema: the embedded migrations of `migrations/marketplace`.

mod embedded {
    refinery::embed_migrations!("../../migrations/marketplace");
}

/// This service's migrations, applied by `marketplace migrate` to the `marketplace` schema.
pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}
