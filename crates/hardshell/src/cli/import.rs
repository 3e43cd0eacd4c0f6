//! `hardshell import clawchives FILE [--user NAME] [--json]`: moving in
//! from ClawChives (issue 22).
//!
//! Thin: the mapping is `bookmarks::import` (the same code as
//! `POST /api/v1/bookmarks/import?format=clawchives`), so every bookmark is
//! validated on its own and a bad one fails alone. The bookmarks belong to
//! `--user` (default: the owner) and are attributed to them; the import is
//! audited under `system:cli`. Never reads more than `MAX_FILE` bytes.
//!
//! `hardshell import xiajiao DIR [--user NAME] [--json]` is read and
//! checked in full by `import_xiajiao` before anything is written; it
//! changes the vault, so it takes the data directory lock and is refused
//! while a server runs.

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
    /// A xiajiao directory (the one holding agents.json, models.json and
    /// data/): its agents with SOUL.md, direct conversations, memories,
    /// knowledge files and providers. Its plaintext API keys move into the
    /// vault. Refused while a server runs (stop it first).
    Xiajiao {
        /// xiajiao's root directory.
        dir: PathBuf,
        /// Who owns the conversations and memories (default: the owner).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Print what was imported as JSON.
        #[arg(long)]
        json: bool,
    },
}

async fn target_user(store: &Store, name: Option<&str>) -> anyhow::Result<UserRow> {
    if let Some(name) = name {
        return match store.user_login_lookup(name.to_string()).await? {
            Some((u, _)) if u.disabled => bail!("{} is disabled", u.username),
            Some((u, _)) if !u.role.at_least(Role::Member) => {
                bail!("{} is a guest; guests cannot own imported data", u.username)
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
    let (file, user, json) = match cmd {
        ImportCommand::Clawchives { file, user, json } => (file, user, json),
        ImportCommand::Xiajiao { dir, user, json } => return xiajiao(g, &dir, user, json).await,
    };
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

async fn xiajiao(
    g: &GlobalArgs,
    dir: &std::path::Path,
    user: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use std::collections::HashSet;

    let dd = g.data_dir()?;
    // The vault file changes: never under a running server.
    let _lock = crate::lock::DataDirLock::acquire(&dd).map_err(|e| match e {
        crate::lock::LockError::Busy(d) => anyhow::anyhow!(
            "a running server (or another command) holds {d}; stop it, import, then start it again"
        ),
        other => other.into(),
    })?;
    let (mut unlocked, opened) = super::open_all(g)?;
    opened.audit.check().await?;
    let store = &opened.store;
    let user = target_user(store, user.as_deref()).await?;
    let mut taken: HashSet<String> = store
        .agent_list()
        .await?
        .into_iter()
        .map(|a| a.handle)
        .collect();
    taken.extend(
        store
            .users_list()
            .await?
            .into_iter()
            .map(|u| u.username.to_ascii_lowercase()),
    );
    let configured: HashSet<String> = store
        .provider_list()
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    let (d, t, c) = (dir.to_path_buf(), taken, configured.clone());
    let plan = tokio::task::spawn_blocking(move || super::import_xiajiao::read(&d, &t, &c))
        .await
        .context("reading the xiajiao directory")?
        .map_err(|e| anyhow::anyhow!("{}: {e:#}; nothing was imported", dir.display()))?;
    let report =
        super::import_xiajiao::apply(plan, store, &mut unlocked.vault, &dd, user.id, &configured)
            .await;
    // Audited whether it finished or not: a failure midway is on record.
    let (outcome, detail) = match &report {
        Ok(r) => (Outcome::Success, serde_json::to_value(r)?),
        Err(e) => (
            Outcome::Failure,
            serde_json::json!({ "error": e.to_string() }),
        ),
    };
    opened
        .audit
        .record(
            Draft::new(super::audit::cli_actor(), "import.xiajiao", outcome)
                .target(format!("user:{}", user.id))
                .detail("agents", detail["agents"].clone())
                .detail("messages", detail["messages"].clone())
                .detail("keys_moved", detail["keys_moved"].clone())
                .detail("error", detail["error"].clone()),
        )
        .await?;
    let report = report?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "imported {} agent{} for {} ({}): {} messages, {} memories, {} knowledge files",
            report.agents.len(),
            if report.agents.len() == 1 { "" } else { "s" },
            user.username,
            report.agents.join(", "),
            report.messages,
            report.memories,
            report.knowledge_files
        );
        if report.skipped_messages > 0 {
            println!(
                "  {} messages were not carried across (group channels, unknown agents, or over {} characters)",
                report.skipped_messages,
                crate::chat::validate::MAX_TEXT_CHARS
            );
        }
        for f in &report.skipped_files {
            println!("  skipped (not a document Hardshell reads): {f}");
        }
        for p in &report.providers_kept {
            println!("  provider {p} is already configured here and was left as it is");
        }
        if !report.providers.is_empty() {
            println!("  providers configured: {}", report.providers.join(", "));
        }
    }
    if !report.keys_moved.is_empty() {
        let notice = format!(
            "moved {} API key{} into the vault ({}).\n\
             xiajiao still holds them in plaintext in {}: wipe the old copy \
             (delete that file or blank its apiKey values, and any backups of it), \
             and rotate the keys if that directory was ever shared.",
            report.keys_moved.len(),
            if report.keys_moved.len() == 1 {
                ""
            } else {
                "s"
            },
            report.keys_moved.join(", "),
            dir.join("models.json").display()
        );
        // With --json the notice goes to stderr so stdout stays JSON.
        if json {
            eprintln!("{notice}");
        } else {
            println!("{notice}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
