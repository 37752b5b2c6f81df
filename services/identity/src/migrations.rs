//! This service's schema migrations (`migrations/identity`), embedded at build time.

platform::embed_migrations!("../../migrations/identity");
