//! This service's schema migrations (`migrations/marketplace`), embedded at build time.

platform::embed_migrations!("../../migrations/marketplace");
