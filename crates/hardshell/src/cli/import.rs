//! `hardshell import clawchives FILE [--user NAME] [--json]`: moving in
//! from ClawChives (DESIGN §14, issue 22).
//!
//! Thin: the mapping is `bookmarks::import` (the same code as
//! `POST /api/v1/bookmarks/import?format=clawchives`), so every bookmark is
//! validated on its own and a bad one fails alone. The bookmarks belong to
//! `--user` (default: the owner) and are attributed to them; the import is
//! audited under `system:cli`. Never reads more than `MAX_FILE` bytes.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use audit::{Draft, Outcome};
use clap::Subcommand;

use super::GlobalArgs;
use crate::auth::Role;
use crate::bookmarks::import::Format;
use crate::bookmarks::{self as bm, BulkOutcome, Creator};
use crate::store::Store;
use crate::store::users::UserRow;

/// Largest file read (a ClawChives export of 20,000 bookmarks is far less).
const MAX_FILE: u64 = 64 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A ClawChives JSON export (its bookmarks and nested folders) into a
    /// person's bookmarks.
    Clawchives {
        /// The exported JSON file.
        file: PathBuf,
        /// Whose bookmarks they become (default: the owner).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Print the per-item outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

async fn target_user(store: &Store, name: Option<&str>) -> anyhow::Result<UserRow> {
    if let Some(name) = name {
        return match store.user_login_lookup(name.to_string()).await? {
            Some((u, _)) if u.disabled => bail!("{} is disabled", u.username),
            Some((u, _)) if !u.role.at_least(Role::Member) => {
                bail!("{} is a guest; guests have no bookmarks", u.username)
            }
            Some((u, _)) => Ok(u),
            None => bail!("no user named {name:?}"),
        };
    }
    let owners: Vec<UserRow> = store
        .users_list()
        .await?
        .into_iter()
        .filter(|u| u.role == Role::Owner && !u.disabled)
        .collect();
    match owners.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("there is no owner yet; pass --user NAME"),
        _ => bail!("there are several owners; pass --user NAME"),
    }
}

fn read_file(path: &PathBuf) -> anyhow::Result<String> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE {
        bail!("{} is over {} MiB", path.display(), MAX_FILE / 1024 / 1024);
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8", path.display()))
}

fn print(user: &UserRow, out: &BulkOutcome) {
    println!(
        "imported {} bookmark{} for {}; {} failed",
        out.imported,
        if out.imported == 1 { "" } else { "s" },
        user.username,
        out.failed
    );
    for e in out.errors.iter().take(20) {
        println!("  item {}: {} ({})", e.index, e.reason, e.url);
    }
    if out.errors.len() > 20 {
        println!(
            "  … and {} more (--json lists them all)",
            out.errors.len() - 20
        );
    }
}

pub async fn run(g: &GlobalArgs, cmd: ImportCommand) -> anyhow::Result<ExitCode> {
    let ImportCommand::Clawchives { file, user, json } = cmd;
    // The file first: a bad path or an oversized file costs no unlock.
    let text = read_file(&file)?;
    let (_unlocked, opened) = super::open_all(g)?;
    // Refused before any change: nothing may change unaudited.
    opened.audit.check().await?;
    let user = target_user(&opened.store, user.as_deref()).await?;
    let out = bm::import_file(
        &opened.store,
        user.id,
        Creator::User(user.id),
        Format::ClawChives,
        &text,
        None,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    opened
        .audit
        .record(
            Draft::new(
                super::audit::cli_actor(),
                "bookmark.import",
                Outcome::Success,
            )
            .target(format!("user:{}", user.id))
            .detail("format", "clawchives")
            .detail("imported", out.imported)
            .detail("failed", out.failed),
        )
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print(&user, &out);
    }
    Ok(ExitCode::SUCCESS)
}
