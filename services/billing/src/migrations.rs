//! This service's schema migrations (`migrations/billing`), embedded at build time.

platform::embed_migrations!("../../migrations/billing");
