//! This service's schema migrations (`migrations/analytics`), embedded at build time.

platform::embed_migrations!("../../migrations/analytics");
