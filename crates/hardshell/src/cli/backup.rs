//! `hardshell backup create|verify|restore|list`: argument parsing and
//! output over the `backup` domain.
//!
//! The archive key never comes from argv: a passphrase comes from a file
//! (`--backup-passphrase-file`, `HARDSHELL_BACKUP_PASSPHRASE_FILE`) or a
//! terminal prompt; recipients are public keys, so `--recipient age1…` is
//! fine on the command line; their identity comes from a file.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use super::GlobalArgs;
use crate::backup::{self, OpenWith, SealTo};
use crate::config::Config;
use crate::secrets;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take an online, encrypted backup (works while the server runs).
    Create {
        /// The archive to write (default: `[backup] dir`, else
        /// `<data dir>-backups/hardshell-<time>.backup.age`).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long)]
        json: bool,
    },
    /// Decrypt an archive and check every hash, the database and the audit
    /// chain; changes nothing.
    Verify {
        file: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long)]
        json: bool,
    },
    /// Verify an archive fully, then put it in place of the data directory
    /// (the old one is moved aside, never deleted). Refused while a server
    /// runs on the data directory.
    Restore {
        file: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// The archives in the backup directory.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// File holding the archive passphrase (at least 12 characters).
    #[arg(long, env = "HARDSHELL_BACKUP_PASSPHRASE_FILE", value_name = "FILE")]
    pub backup_passphrase_file: Option<PathBuf>,
    /// Encrypt to this age public key instead of a passphrase (create only;
    /// repeat for several).
    #[arg(long, value_name = "AGE1…")]
    pub recipient: Vec<String>,
    /// age identity file that decrypts an archive made for a recipient
    /// (verify and restore).
    #[arg(long, env = "HARDSHELL_BACKUP_IDENTITY_FILE", value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

const NO_KEY: &str = "no backup key: pass --backup-passphrase-file FILE (or set \
     HARDSHELL_BACKUP_PASSPHRASE_FILE), or --recipient age1…, or set [backup] recipient \
     in config.toml, or run on a terminal";

fn seal_to(key: &KeyArgs, config: &Config) -> anyhow::Result<SealTo> {
    if !key.recipient.is_empty() {
        return Ok(SealTo::recipients(&key.recipient)?);
    }
    if let Some(path) = &key.backup_passphrase_file {
        let p = secrets::read_secret_file(path)?;
        secrets::check_new_passphrase(&p)?;
        return Ok(SealTo::Passphrase(p));
    }
    if let Some(r) = &config.backup.recipient {
        return Ok(SealTo::recipients(std::slice::from_ref(r))?);
    }
    if std::io::stdin().is_terminal() {
        let first = secrets::prompt_secret("Backup passphrase: ")?;
        secrets::check_new_passphrase(&first)?;
        let again = secrets::prompt_secret("Repeat the backup passphrase: ")?;
        use secrecy::ExposeSecret;
        anyhow::ensure!(
            first.expose_secret() == again.expose_secret(),
            "the passphrases do not match"
        );
        return Ok(SealTo::Passphrase(first));
    }
    anyhow::bail!(NO_KEY)
}

fn open_with(key: &KeyArgs) -> anyhow::Result<OpenWith> {
    if let Some(path) = &key.identity {
        return Ok(OpenWith::identity_file(path)?);
    }
    if let Some(path) = &key.backup_passphrase_file {
        return Ok(OpenWith::Passphrase(secrets::read_secret_file(path)?));
    }
    if std::io::stdin().is_terminal() {
        return Ok(OpenWith::Passphrase(secrets::prompt_secret(
            "Backup passphrase: ",
        )?));
    }
    anyhow::bail!(
        "no backup key: pass --backup-passphrase-file FILE (or HARDSHELL_BACKUP_PASSPHRASE_FILE), \
         or --identity FILE for an archive made for a recipient"
    )
}

pub async fn run(g: &GlobalArgs, cmd: BackupCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BackupCommand::Create { out, key, json } => {
            let dd = g.data_dir()?;
            let config = Config::load(&dd.config_path())?;
            let to = seal_to(&key, &config)?;
            let out = out.unwrap_or_else(|| {
                backup::default_dir(&dd, config.backup.dir.as_deref())
                    .join(backup::default_name(time::OffsetDateTime::now_utc()))
            });
            let (unlocked, opened) = super::open_all(g)?;
            let keys = backup::StagedKeys::from_vault(&unlocked.vault)?;
            let actor = audit::Actor::new(audit::ActorKind::System, "cli");
            let done = backup::create(&dd, &opened, &keys, &to, &out, actor).await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "path": done.path,
                        "size": done.size,
                        "files": done.verified.files,
                        "audit_head_seq": done.verified.manifest.audit_head_seq,
                        "audit_entries": done.verified.audit_entries,
                    })
                );
            } else {
                println!(
                    "backup written: {} ({} bytes, {} files; database integrity ok, audit chain \
                     intact with {} entries)",
                    done.path.display(),
                    done.size,
                    done.verified.files,
                    done.verified.audit_entries
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Verify { file, key, json } => {
            let with = open_with(&key)?;
            let v = backup::verify(&file, &with, &g.unlock_options()?).await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "ok": true,
                        "name": v.manifest.name,
                        "created_at": v.manifest.created_at,
                        "files": v.files,
                        "bytes": v.bytes,
                        "integrity": "ok",
                        "audit_entries": v.audit_entries,
                    })
                );
            } else {
                println!(
                    "backup {} (made {}): {} files and {} bytes match the manifest; database \
                     integrity ok; audit chain intact with {} entries",
                    v.manifest.name, v.manifest.created_at, v.files, v.bytes, v.audit_entries
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Restore { file, key } => {
            let with = open_with(&key)?;
            let target = g.data_dir()?;
            let r = backup::restore(&file, &with, &g.unlock_options()?, &target).await?;
            println!(
                "restored {} into {}",
                r.verified.manifest.name,
                target.root().display()
            );
            if let Some(aside) = &r.moved_aside {
                println!(
                    "the replaced data directory was moved to {} (delete it when you no longer need it)",
                    aside.display()
                );
            }
            println!(
                "the audit log records the restore (audit.accept) at seq {}",
                r.accepted_seq
            );
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::List { json } => {
            let dd = g.data_dir()?;
            let config = Config::load(&dd.config_path())?;
            let dir = backup::default_dir(&dd, config.backup.dir.as_deref());
            let found = backup::list(&dir)?;
            if json {
                println!("{}", serde_json::to_string(&found)?);
            } else if found.is_empty() {
                println!("no backups in {}", dir.display());
            } else {
                for b in found {
                    let note = if b.incomplete {
                        "  INCOMPLETE (left by an interrupted backup create; delete it)"
                    } else {
                        ""
                    };
                    println!("{}  {:>12}  {}{note}", b.modified, b.size, b.path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
