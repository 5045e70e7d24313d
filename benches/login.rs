//! Login latency, alone and under a burst of concurrent logins, and how `GET /healthz`
//! fares during that burst. Starts the real application (release build) on a fresh
//! PostgreSQL database and talks to it over loopback.
//!
//! Run with `cargo bench --bench login`. It prints figures only and never asserts timings.
//! The PostgreSQL server is `TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`.
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lorebase::config::Config;
use lorebase::startup::Application;
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;
use uuid::Uuid;

/// Logins measured one after another.
const SEQUENTIAL: usize = 50;
/// Logins started at the same moment.
const CONCURRENT: usize = 50;
/// `/healthz` probes measured while the server is idle.
const IDLE_PROBES: usize = 200;
/// Parallel `/healthz` probers during the burst.
const PROBERS: usize = 2;
/// No single request may take longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The whole run stops after this long, whatever happens.
const RUN_DEADLINE: Duration = Duration::from_secs(300);
const PASSWORD: &str = "tangerine-orbit-42";

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn summary(samples: &[Duration]) -> String {
    format!(
        "n = {:>4}   p50 = {:>9}   p99 = {:>9}   max = {:>9}",
        samples.len(),
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 99.0)),
        ms(percentile(samples, 100.0)),
    )
}

struct Bench {
    base: String,
    client: reqwest::Client,
}

impl Bench {
    async fn register(&self, email: &str) {
        let response = self
            .client
            .post(format!("{}/api/v1/auth/register", self.base))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("register request");
        assert_eq!(response.status().as_u16(), 201, "registration failed");
    }

    /// One login, timed from sending to the whole body read.
    async fn login(&self, email: &str) -> Duration {
        let started = Instant::now();
        let response = self
            .client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login request");
        let status = response.status();
        response.bytes().await.expect("login body");
        let elapsed = started.elapsed();
        assert_eq!(status.as_u16(), 200, "login failed");
        elapsed
    }
}

async fn healthz(client: &reqwest::Client, base: &str) -> Duration {
    let started = Instant::now();
    let response = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz request");
    let status = response.status();
    response.bytes().await.expect("healthz body");
    let elapsed = started.elapsed();
    assert_eq!(status.as_u16(), 200, "healthz failed");
    elapsed
}

async fn fresh_database() -> (String, String, String) {
    let server = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = Database::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {server} is required: {e}"));
    let name = format!("lorebase_bench_{}", Uuid::now_v7().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create benchmark database");
    admin.close().await.ok();
    let base = server
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(&server);
    (format!("{base}/{name}"), server.clone(), name)
}

async fn run() {
    let (database_url, server_url, database_name) = fresh_database().await;
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", database_url.as_str()),
        (
            "JWT_SECRET",
            "benchmark-secret-that-is-long-enough-0123456789",
        ),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("REGISTRATIONS_PER_IP", "10000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = Config::from_map(&vars).expect("configuration");
    let params = config.auth.password_params;
    let workers = config
        .server
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let app = Application::build(config)
        .await
        .expect("application starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("HTTP client");
    let bench = Arc::new(Bench {
        base: base.clone(),
        client,
    });

    // One account per concurrent login, as when many people log in at once.
    let emails: Vec<String> = (0..CONCURRENT)
        .map(|i| format!("bench{i}-{}@example.com", Uuid::now_v7().simple()))
        .collect();
    for email in &emails {
        bench.register(email).await;
    }
    for email in emails.iter().take(3) {
        bench.login(email).await; // warm-up
    }

    println!();
    println!(
        "login benchmark: release build, PostgreSQL, argon2id m={} KiB t={} p={}, {} actix workers, {} CPUs",
        params.memory_kib,
        params.iterations,
        params.parallelism,
        workers,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );

    // Sequential logins.
    let mut sequential = Vec::with_capacity(SEQUENTIAL);
    for i in 0..SEQUENTIAL {
        sequential.push(bench.login(&emails[i % emails.len()]).await);
    }
    println!(
        "{:<38}{}",
        "POST /auth/login, sequential",
        summary(&sequential)
    );

    // Idle /healthz, for comparison.
    let probe_client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("HTTP client");
    let mut idle = Vec::with_capacity(IDLE_PROBES);
    for _ in 0..IDLE_PROBES {
        idle.push(healthz(&probe_client, &base).await);
    }
    println!("{:<38}{}", "GET /healthz, idle", summary(&idle));

    // A burst of concurrent logins, with /healthz probed throughout.
    let burst_running = Arc::new(AtomicBool::new(true));
    let probers: Vec<_> = (0..PROBERS)
        .map(|_| {
            let running = burst_running.clone();
            let client = probe_client.clone();
            let base = base.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while running.load(Ordering::Relaxed) {
                    samples.push(healthz(&client, &base).await);
                }
                samples
            })
        })
        .collect();
    let burst_started = Instant::now();
    let logins: Vec<_> = emails
        .iter()
        .cloned()
        .map(|email| {
            let bench = bench.clone();
            tokio::spawn(async move { bench.login(&email).await })
        })
        .collect();
    let mut concurrent = Vec::with_capacity(CONCURRENT);
    for login in logins {
        concurrent.push(login.await.expect("login task"));
    }
    let burst = burst_started.elapsed();
    burst_running.store(false, Ordering::Relaxed);
    let mut during = Vec::new();
    for prober in probers {
        during.extend(prober.await.expect("prober task"));
    }
    println!(
        "{:<38}{}",
        format!("POST /auth/login, {CONCURRENT} concurrent"),
        summary(&concurrent)
    );
    println!(
        "{:<38}{}",
        "GET /healthz, during that burst",
        summary(&during)
    );
    println!("burst wall time: {}", ms(burst));
    println!();

    // Best effort: remove the benchmark database.
    if let Ok(admin) = Database::connect(&server_url).await {
        let _ = admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {database_name} WITH (FORCE)"
            ))
            .await;
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        if tokio::time::timeout(RUN_DEADLINE, run()).await.is_err() {
            eprintln!("benchmark stopped after {RUN_DEADLINE:?}");
            std::process::exit(1);
        }
    });
}
