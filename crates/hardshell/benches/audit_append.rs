//! Audit log throughput against the real encrypted store.
//!
//! Run: `cargo bench -p hardshell --bench audit_append`
//! Prints sustained appends/s (single waiting writer, and many concurrent
//! writers that the writer task batches) and verified entries/s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use audit::{Actor, Draft, Outcome};
use hardshell::config::DataDir;
use hardshell::secrets::{self, InitMode};
use secrecy::SecretString;

fn draft(i: usize) -> Draft {
    Draft::new(Actor::user("42"), "auth.login", Outcome::Success)
        .target(format!("user:{i}"))
        .ip("127.0.0.1")
        .details(serde_json::json!({"method": "password", "session": "s-1", "attempt": i}))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    // The outside anchor goes beside the (temporary) machine key.
    let dd = DataDir::at(tmp.path().join("data")).with_anchor_home(tmp.path().join("machine"));
    let pass = SecretString::from("benchmark passphrase 123");
    let machine = vault::MachineBinding::new(
        tmp.path().join("machine/machine.key"),
        tmp.path().join("mid"),
    );
    secrets::initialise(&dd, InitMode::Passphrase(pass.clone()), &machine).unwrap();
    let mut v = vault::Vault::open(&dd.vault_path(), &pass).unwrap();
    let opened = hardshell::app::open(&dd, &mut v).unwrap();
    let audit = opened.audit.clone();

    // One caller that waits for each entry to be durable.
    let n = 2_000;
    let t = Instant::now();
    for i in 0..n {
        audit.record(draft(i)).await.unwrap();
    }
    let single = n as f64 / t.elapsed().as_secs_f64();
    println!("single waiting writer: {single:.0} appends/s ({n} entries)");

    // Many concurrent callers: the writer task batches them per transaction.
    let writers = 64;
    let per = 1_000;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let a = audit.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                a.record(draft(w * per + i)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = writers * per;
    let batched = total as f64 / t.elapsed().as_secs_f64();
    println!("{writers} concurrent writers: {batched:.0} appends/s ({total} entries)");

    // Bulk: one call with many drafts (one transaction).
    let t = Instant::now();
    let bulk = 20_000;
    audit
        .record_many((0..bulk).map(draft).collect())
        .await
        .unwrap();
    let bulk_rate = bulk as f64 / t.elapsed().as_secs_f64();
    println!("record_many of {bulk}: {bulk_rate:.0} appends/s");

    let t = Instant::now();
    let report = audit.verify().await.unwrap();
    assert!(report.intact);
    let rate = report.count as f64 / t.elapsed().as_secs_f64();
    println!(
        "verify: {rate:.0} entries/s ({} entries, intact)",
        report.count
    );
}
