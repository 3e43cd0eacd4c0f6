//! `hardshell db rekey|shell`: rotate the database key, keeping every row;
//! and SQL on the encrypted database (`db_shell.rs`).

use std::process::ExitCode;

use clap::Subcommand;
use secrecy::{ExposeSecret, SecretString};

use super::GlobalArgs;
use crate::lock::DataDirLock;
use crate::secrets;
use crate::store::key::{VAULT_NAME, VAULT_NAME_NEXT};
use crate::store::{DbKey, encrypt};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Re-encrypt the database under a new random key.
    Rekey,
    /// Run SQL on the database (read-only unless --write).
    Shell(super::db_shell::ShellArgs),
}

pub async fn run(g: &GlobalArgs, cmd: DbCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DbCommand::Rekey => rekey(g).await,
        DbCommand::Shell(a) => super::db_shell::run(g, a).await,
    }
}

async fn rekey(g: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let dd = g.data_dir()?;
    dd.check_permissions()?;
    let _lock = DataDirLock::acquire(&dd)?;
    let mut unlocked = secrets::unlock(&dd, &g.unlock_options()?)?;
    // Finish any interrupted rotation and run migrations first.
    let store = crate::app::open_store(&dd, &mut unlocked.vault)?;
    let before = store.table_counts().await?;
    store.close().await?;
    let old = DbKey::parse(
        unlocked
            .vault
            .get(VAULT_NAME)
            .map(|s| s.expose_secret().to_string())
            .unwrap_or_default()
            .as_str(),
    )?;
    let new = DbKey::generate();
    let new_hex = SecretString::from(new.expose_hex().to_string());
    // Order matters: the new key is in the vault before the file changes,
    // so a crash at any point leaves a key that opens the database.
    unlocked.vault.set(VAULT_NAME_NEXT, new_hex.clone())?;
    encrypt::rekey(&dd.db_path(), &old, &new)?;
    unlocked.vault.set(VAULT_NAME, new_hex)?;
    unlocked.vault.remove(VAULT_NAME_NEXT)?;
    let opened = crate::app::open(&dd, &mut unlocked.vault)?;
    let after = opened.store.table_counts().await?;
    if before != after {
        anyhow::bail!("row counts differ after rekey: before {before:?}, after {after:?}");
    }
    opened
        .audit
        .record(audit::Draft::new(
            super::audit::cli_actor(),
            "db.rekey",
            audit::Outcome::Success,
        ))
        .await?;
    opened.store.close().await?;
    let rows: i64 = after.iter().map(|(_, n)| n).sum();
    println!(
        "Database re-encrypted under a new key; {rows} rows in {} tables kept.",
        after.len()
    );
    Ok(ExitCode::SUCCESS)
}
