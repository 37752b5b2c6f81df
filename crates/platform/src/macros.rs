//! The two macros that make a service's hook into the shared binary a few lines:
//! [`service_main!`](crate::service_main) and [`embed_migrations!`](crate::embed_migrations).
//!
//! A service states only what differs: its configuration type, its state, its migrations
//! and its build function. The configuration type has an inherent
//! `from_env(&Env) -> Result<Self, ConfigErrors>` and a `common: CommonConfig` field, as
//! every service's has. In `src/migrations.rs`:
//!
//! ```ignore
//! //! This service's schema migrations, embedded at build time.
//! platform::embed_migrations!("../../migrations/billing");
//! ```
//!
//! And in `src/lib.rs`:
//!
//! ```ignore
//! platform::service_main! {
//!     /// Hooks this service into the shared binary entry point.
//!     pub struct Service(kind: Billing, config: Config, state: State, migrations: migrations, build: build);
//! }
//! ```
//!
//! `main.rs` then calls `platform::cli::run::<Service>(command)` as before.

/// Defines a unit struct and implements [`cli::ServiceMain`](crate::cli::ServiceMain) for
/// it: `KIND` from the [`ServiceKind`](crate::config::ServiceKind) variant named,
/// `read_config` and `common` through the configuration's inherent `from_env` and its
/// `common` field, `migrations` and `build` by calling
/// the functions named (`fn() -> refinery::Runner` and
/// `async fn(Config) -> anyhow::Result<Application<State>>`, paths in scope at the call).
///
/// ```ignore
/// platform::service_main! {
///     /// Hooks this service into the shared binary entry point.
///     pub struct Service(kind: Billing, config: Config, state: State, migrations: migrations, build: build);
/// }
/// ```
#[macro_export]
macro_rules! service_main {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident(
            kind: $kind:ident,
            config: $config:ty,
            state: $state:ty,
            migrations: $migrations:path,
            build: $build:path $(,)?
        );
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis struct $name;

        impl $crate::cli::ServiceMain for $name {
            type Config = $config;
            type State = $state;
            const KIND: $crate::config::ServiceKind = $crate::config::ServiceKind::$kind;

            fn read_config(
                env: &$crate::config::Env,
            ) -> ::std::result::Result<$config, $crate::config::ConfigErrors> {
                <$config>::from_env(env)
            }

            fn common(cfg: &$config) -> &$crate::config::CommonConfig {
                &cfg.common
            }

            fn migrations() -> $crate::__private::refinery::Runner {
                $migrations()
            }

            fn build(
                cfg: $config,
            ) -> impl ::std::future::Future<
                Output = $crate::__private::anyhow::Result<$crate::app::Application<$state>>,
            > + Send {
                $build(cfg)
            }
        }
    };
}

/// Embeds a directory of migrations (a path relative to the calling crate's manifest, as
/// `refinery::embed_migrations!` takes it) and defines `pub fn migrations() ->
/// refinery::Runner` returning them. The calling crate depends on `refinery`.
///
/// ```ignore
/// platform::embed_migrations!("../../migrations/identity");
/// ```
#[macro_export]
macro_rules! embed_migrations {
    ($(#[$meta:meta])* $path:literal) => {
        mod embedded {
            refinery::embed_migrations!($path);
        }

        $(#[$meta])*
        /// This service's migrations, embedded at build time (applied by `<service> migrate`
        /// to the service's schema).
        pub fn migrations() -> $crate::__private::refinery::Runner {
            embedded::migrations::runner()
        }
    };
}
