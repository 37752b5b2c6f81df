//! Cost of one Redis rate-limit check on loopback, next to a bare `PING` on the same shared
//! connection measured in the same run.
//!
//! `cargo run --release -p platform --example ratelimit_bench` (REDIS_URL to aim elsewhere).
//! Sequential: one check at a time, latency per check. Concurrent: 64 tasks at once, the
//! multiplexed connection pipelining them, time per check.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::{Duration, Instant};

use platform::config::{CommonConfig, Env, Reader, ServiceKind};
use platform::rate_limit::{Action, Check, RateLimiter};
use platform::redis::{Redis, redis};
use platform::telemetry::Metrics;

const SEQUENTIAL: usize = 20_000;
const CONCURRENT_TASKS: usize = 64;
const PER_TASK: usize = 2_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut env = Env::from_process();
    env.set("REDIS_KEY_PREFIX", format!("bench:{}:", std::process::id()));
    env.set("RATE_LIMIT_TOKEN_CLIENT_MAX", "1000000000");
    env.set("RATE_LIMIT_TOKEN_IP_MAX", "1000000000");
    let mut r = Reader::new(&env);
    let common = CommonConfig::read(&mut r, ServiceKind::Identity);
    r.finish()?;
    let redis = Redis::new(&common.redis)?;
    let limiter = RateLimiter::new(
        redis.clone(),
        common.rate_limits.clone(),
        Metrics::new("bench"),
    );
    redis.ping().await?;

    let ping = || {
        let redis = redis.clone();
        async move {
            redis
                .run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
                .await
        }
    };
    // Warm up both paths (script load, connection).
    for _ in 0..1000 {
        ping().await?;
        limiter
            .check(&[Check::new(Action::TokenClient, "warm")])
            .await;
    }

    let mut rows = Vec::new();
    for (name, keys) in [
        ("PING (baseline)", 0),
        ("check, 1 key", 1),
        ("check, 2 keys (token endpoint)", 2),
    ] {
        let mut lat = Vec::with_capacity(SEQUENTIAL);
        let start = Instant::now();
        for i in 0..SEQUENTIAL {
            let t = Instant::now();
            match keys {
                0 => {
                    ping().await?;
                }
                1 => {
                    let subject = format!("client-{}", i % 100);
                    limiter
                        .check(&[Check::new(Action::TokenClient, &subject)])
                        .await;
                }
                _ => {
                    let subject = format!("client-{}", i % 100);
                    limiter
                        .check(&[
                            Check::new(Action::TokenClient, &subject),
                            Check::new(Action::TokenIp, "127.0.0.1"),
                        ])
                        .await;
                }
            }
            lat.push(t.elapsed());
        }
        let total = start.elapsed();
        lat.sort();
        rows.push((
            name,
            total / SEQUENTIAL as u32,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
        ));
    }

    let mut concurrent = Vec::new();
    for (name, keys) in [
        ("PING (baseline)", 0),
        ("check, 2 keys (token endpoint)", 2),
    ] {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..CONCURRENT_TASKS {
            let limiter = limiter.clone();
            let redis = redis.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_TASK {
                    if keys == 0 {
                        let _ = redis
                            .run(|mut c| async move {
                                redis::cmd("PING").query_async::<String>(&mut c).await
                            })
                            .await;
                    } else {
                        let subject = format!("client-{}", (t * PER_TASK + i) % 100);
                        limiter
                            .check(&[
                                Check::new(Action::TokenClient, &subject),
                                Check::new(Action::TokenIp, "127.0.0.1"),
                            ])
                            .await;
                    }
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        let n = CONCURRENT_TASKS * PER_TASK;
        let total = start.elapsed();
        concurrent.push((name, total / n as u32, n as f64 / total.as_secs_f64()));
    }

    println!("sequential ({SEQUENTIAL} each):");
    println!("  {:<34} {:>10} {:>10} {:>10}", "", "mean", "p50", "p99");
    for (name, mean, p50, p99) in &rows {
        println!("  {name:<34} {mean:>10.1?} {p50:>10.1?} {p99:>10.1?}");
    }
    println!("concurrent ({CONCURRENT_TASKS} tasks x {PER_TASK}):");
    for (name, per, rate) in &concurrent {
        println!("  {name:<34} {per:>10.1?} per op  {rate:>10.0} ops/s");
    }
    Ok(())
}
