//! `hardshell serve`: initialise if empty, check, unlock, open, listen.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use audit::{Actor, Draft, Outcome};
use clap::Args;

use super::GlobalArgs;
use crate::config::{Config, DataDir};
use crate::lock::DataDirLock;
use crate::secrets::{self, InitMode};
use crate::web::{self, bind::check_bind, server};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default from config, 127.0.0.1:18780).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
}

pub async fn run(
    g: &GlobalArgs,
    args: ServeArgs,
    log: crate::logging::LogRedactor,
) -> anyhow::Result<ExitCode> {
    crate::auth::hash_gate::return_hash_buffers_to_the_os();
    let dd = g.data_dir()?;
    if !dd.is_initialised() {
        first_run(g, &dd)?;
    }
    dd.check_permissions()?;
    let config = Config::load(&dd.config_path())?;
    let _lock = DataDirLock::acquire(&dd)?;
    let mut unlocked = secrets::unlock(&dd, &g.unlock_options()?)?;
    // Installations made before uploads existed lack this key; we hold the
    // data directory lock, so writing the vault here is safe.
    if secrets::ensure_key(&mut unlocked.vault, secrets::UPLOAD_KEY)? {
        tracing::info!("added the upload key to the vault");
    }
    log.set_secrets(crate::app::vault_values(&unlocked.vault));
    let opened = crate::app::open(&dd, &mut unlocked.vault)?;
    let audit = &opened.audit;
    // Never start past a break: the chain must agree with every anchor
    // (inside, outside, witness) before anything is appended or served.
    audit.check().await?;
    let addr = args.bind.unwrap_or(config.server.bind);
    // Refused before the socket exists: nothing ever listens unprotected.
    if let Err(refusal) = check_bind(addr, &config, opened.store.owner_exists().await?) {
        audit
            .record(
                Draft::new(Actor::system(), "server.bind_refused", Outcome::Denied)
                    .target(addr.to_string())
                    .detail("reason", refusal.to_string()),
            )
            .await?;
        return Err(refusal.into());
    }
    if let Some(agent) = crate::agents::seed::seed_default(&opened.store, &dd).await? {
        audit
            .record(
                Draft::new(Actor::system(), "agent.created", Outcome::Success)
                    .target(format!("agent:{}", agent.id))
                    .detail("handle", agent.handle)
                    .detail("seeded", true),
            )
            .await?;
    }
    // The start-up gate: critical `doctor` findings not acknowledged in
    // `[doctor] acknowledge` stop here, named; the rest are logged.
    let ctx = crate::doctor::Context {
        dd: &dd,
        config: &config,
        store: &opened.store,
        audit,
        bind: addr,
        unlock: unlocked.source,
        passphrase_file: g.passphrase_file.clone(),
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    let findings = crate::doctor::run(&ctx, crate::doctor::Depth::Startup, Vec::new()).await?;
    let blocking: Vec<_> = findings.iter().filter(|f| f.blocks()).collect();
    if !blocking.is_empty() {
        audit
            .record(
                Draft::new(Actor::system(), "server.start_refused", Outcome::Denied).detail(
                    "critical",
                    blocking.iter().map(|f| f.id).collect::<Vec<_>>(),
                ),
            )
            .await?;
        anyhow::bail!(crate::doctor::refusal(&blocking));
    }
    for f in findings
        .iter()
        .filter(|f| f.severity >= crate::doctor::Severity::Warning)
    {
        tracing::warn!(
            id = f.id,
            acknowledged = f.acknowledged,
            "doctor: {}",
            f.finding
        );
    }
    if config.metrics.enabled {
        crate::metrics::enable();
    }
    let tls = config.server.tls.clone();
    let bound = server::bind(addr).await?;
    let origins = crate::app::own_origins(bound.addr, tls.is_some(), &config);
    let source = unlocked.source;
    // The vault stays open in the server: agents need provider keys, and
    // the leak guard needs every value (see `secrets::live`).
    let launch = crate::doctor::Launch {
        bind: bound.addr,
        unlock: source,
        passphrase_file: g.passphrase_file.clone(),
    };
    let state = crate::app::state(
        &opened,
        config,
        origins,
        &dd,
        unlocked.vault,
        Some(log),
        launch,
    )?;
    if let Some(schedule) =
        crate::backup::schedule::Schedule::from_config(&state.config.backup, &dd)
    {
        tracing::info!(
            every_secs = schedule.every.as_secs(),
            keep = schedule.keep,
            dir = %schedule.dir.display(),
            "scheduled backups on"
        );
        let for_schedule = crate::app::Opened {
            store: opened.store.clone(),
            audit: opened.audit.clone(),
            pepper: std::sync::Arc::clone(&opened.pepper),
        };
        crate::backup::schedule::spawn(
            schedule,
            dd.clone(),
            for_schedule,
            std::sync::Arc::clone(&state.vault),
        );
    }
    // Revocations made from the shell reach live sockets within this long.
    opened
        .store
        .watch_foreign_commits(std::time::Duration::from_millis(500));
    audit
        .record(
            Draft::new(Actor::system(), "server.start", Outcome::Success)
                .target(bound.addr.to_string())
                .detail("vault_unlock", source.describe()),
        )
        .await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %bound.addr, vault = source.describe(), "server started");
    // Signal handlers go in before anyone is told the server is up.
    let shutdown = server::shutdown_signal();
    println!("Hardshell listening on {scheme}://{}", bound.addr);
    if !opened.store.owner_exists().await? {
        // Only the HMAC is stored; a new start replaces any older token.
        let token = crate::auth::issue_setup_token(&opened.store, &opened.pepper).await?;
        println!(
            "Open {scheme}://{}/setup#token={} to create the owner account (valid for 30 minutes, single use)",
            bound.addr,
            token.as_str()
        );
    }
    let live_vault = std::sync::Arc::clone(&state.vault);
    tokio::spawn(give_back_memory());
    server::run(bound, web::router(state), tls.as_ref(), shutdown).await?;
    audit
        .record(Draft::new(Actor::system(), "server.stop", Outcome::Success))
        .await?;
    // The last entry is written: the redactors' copies of the secrets go.
    live_vault.wipe();
    opened.store.close().await.context("closing the database")?;
    tracing::info!("server stopped");
    Ok(ExitCode::SUCCESS)
}

/// Once the listener and the first round of every background task have
/// run, start-up's code and buffers need not stay resident. After that,
/// every few seconds: nothing while requests arrive, the same give-back
/// once they stop (a burst pages code in and leaves freed heap), and a
/// heap trim while idle (what background work freed).
async fn give_back_memory() {
    use crate::footprint::{QuietWatch, Tick};
    const SETTLE: std::time::Duration = std::time::Duration::from_secs(5);
    const EVERY: std::time::Duration = std::time::Duration::from_secs(5);
    tokio::time::sleep(SETTLE).await;
    let mut watch = QuietWatch::default();
    watch.tick();
    log_release("released start-up pages").await;
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        match watch.tick() {
            Tick::Busy => {}
            Tick::WentQuiet => log_release("released pages after a burst of requests").await,
            // Off the async workers: trimming locks each arena in turn.
            Tick::Idle => {
                let _ = tokio::task::spawn_blocking(crate::footprint::release_free_heap).await;
            }
        }
    }
}

async fn log_release(what: &'static str) {
    if let Ok(released) =
        tokio::task::spawn_blocking(crate::footprint::release_start_up_pages).await
    {
        tracing::info!(
            rss_kib_before = released.rss_kib_before,
            rss_kib_after = released.rss_kib_after,
            mapped_bytes = released.mapped_bytes,
            heap_trimmed = released.heap_trimmed,
            "{what}"
        );
    }
}

/// First run: a terminal is asked for a passphrase; without one
/// (systemd, Docker, CI) the vault is sealed to this machine and we say so.
fn first_run(g: &GlobalArgs, dd: &DataDir) -> anyhow::Result<()> {
    let machine = g.machine()?;
    let mode = if let Some(path) = &g.passphrase_file {
        InitMode::Passphrase(secrets::read_secret_file(path)?)
    } else if std::io::stdin().is_terminal() {
        println!(
            "Initialising a new Hardshell data directory at {}",
            dd.root().display()
        );
        InitMode::Passphrase(secrets::prompt_new_passphrase()?)
    } else {
        InitMode::Sealed { pin: None }
    };
    let report = secrets::initialise(dd, mode, &machine)?;
    println!(
        "Initialised a new data directory at {}",
        dd.root().display()
    );
    if let Some(key) = report.machine_key {
        println!(
            "No terminal: the vault passphrase was generated and sealed to this machine.\n\
             The machine secret is {}. Back it up somewhere safe: without it (and this\n\
             machine's identity) the vault cannot be opened. Run `hardshell vault unseal`\n\
             to switch to a passphrase you choose.",
            key.display()
        );
    }
    Ok(())
}
