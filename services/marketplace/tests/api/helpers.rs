//! Spawning the marketplace under test.

use platform::config::Env;
use testkit::{TestApp, TestEnv};

/// Builds and spawns a marketplace with the test's environment plus `overrides`.
pub async fn spawn(env: &TestEnv, overrides: &[(&str, &str)]) -> TestApp<marketplace::State> {
    spawn_env(with(env.env(), overrides)).await
}

/// Builds and spawns a marketplace from a full environment.
pub async fn spawn_env(env: Env) -> TestApp<marketplace::State> {
    let config = marketplace::Config::from_env(&env).expect("valid test configuration");
    let app = marketplace::build(config)
        .await
        .expect("marketplace builds");
    TestApp::spawn(app)
}

/// `env` with `overrides` applied.
pub fn with(mut env: Env, overrides: &[(&str, &str)]) -> Env {
    for (k, v) in overrides {
        env.set(*k, *v);
    }
    env
}
