//! `hardshell vault …`: inspect and change the vault from the shell.
//!
//! Values are read from stdin or a no-echo prompt, never from argv (argv is
//! visible to every user through /proc). `get` prints a value only with
//! `--reveal`. Commands that change the vault take the data directory lock,
//! so they cannot race a running server's copy.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::GlobalArgs;
use crate::lock::DataDirLock;
use crate::secrets::{self, RESERVED_PREFIX};

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Show whether the vault exists, how it is unlocked, and its KDF settings.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List secret names (never values).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Store a secret; the value is read from stdin or a no-echo prompt.
    Set { name: String },
    /// Show a secret: without --reveal only that it exists.
    Get {
        name: String,
        #[arg(long)]
        reveal: bool,
    },
    /// Delete a secret.
    Rm { name: String },
    /// Change the vault passphrase.
    Passwd {
        /// Read the new passphrase from this file instead of prompting.
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Seal the vault passphrase to this machine (optionally with --pin-file).
    Seal,
    /// Stop sealing: choose a passphrase and remove the seal.
    Unseal {
        /// Read the new passphrase from this file instead of prompting.
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
}

/// A busy lock while a server runs: say how to change secrets through it.
fn while_serving(e: crate::lock::LockError) -> anyhow::Error {
    match e {
        crate::lock::LockError::Busy(dir) => anyhow::anyhow!(
            "a running server (or another command) holds {dir}, so the vault file cannot be changed now. \
             While the server runs, set tool secrets through it: the Secrets page, or \
             `curl -X PUT -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' \
             --data '{{\"value\":\"...\"}}' http://127.0.0.1:8080/api/v1/secrets/NAME` with an owner token \
             (provider keys go through PUT /api/v1/providers/NAME). Or stop the server and run this again."
        ),
        other => other.into(),
    }
}

pub async fn run(g: &GlobalArgs, cmd: VaultCommand) -> anyhow::Result<ExitCode> {
    let dd = g.data_dir()?;
    match cmd {
        VaultCommand::Status { json } => status(g, json),
        VaultCommand::List { json } => {
            let u = secrets::unlock(&dd, &g.unlock_options()?)?;
            let names = u.vault.names();
            if json {
                println!("{}", serde_json::to_string(&names)?);
            } else {
                for n in names {
                    println!("{n}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        VaultCommand::Get { name, reveal } => {
            let u = secrets::unlock(&dd, &g.unlock_options()?)?;
            let Some(value) = u.vault.get(&name) else {
                bail!("no secret named {name}");
            };
            if reveal {
                println!("{}", value.expose_secret());
            } else {
                eprintln!(
                    "{name} is set ({} characters); pass --reveal to print it",
                    value.expose_secret().chars().count()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        VaultCommand::Set { name } => {
            if name.starts_with(RESERVED_PREFIX) {
                bail!("{name} is managed by Hardshell itself and cannot be set by hand");
            }
            let _lock = DataDirLock::acquire(&dd).map_err(while_serving)?;
            let mut u = secrets::unlock(&dd, &g.unlock_options()?)?;
            audit_writable(&dd, &mut u.vault).await?;
            let value = read_value(&name)?;
            u.vault.set(&name, value)?;
            record(&dd, &mut u.vault, "vault.set", &name).await?;
            eprintln!("stored {name}");
            Ok(ExitCode::SUCCESS)
        }
        VaultCommand::Rm { name } => {
            if name.starts_with(RESERVED_PREFIX) {
                bail!("{name} is managed by Hardshell itself and cannot be removed");
            }
            let _lock = DataDirLock::acquire(&dd).map_err(while_serving)?;
            let mut u = secrets::unlock(&dd, &g.unlock_options()?)?;
            audit_writable(&dd, &mut u.vault).await?;
            if !u.vault.remove(&name)? {
                bail!("no secret named {name}");
            }
            record(&dd, &mut u.vault, "vault.rm", &name).await?;
            eprintln!("removed {name}");
            Ok(ExitCode::SUCCESS)
        }
        VaultCommand::Passwd {
            new_passphrase_file,
        } => {
            let _lock = DataDirLock::acquire(&dd)?;
            let opts = g.unlock_options()?;
            let mut u = secrets::unlock(&dd, &opts)?;
            audit_writable(&dd, &mut u.vault).await?;
            let new = new_passphrase(new_passphrase_file)?;
            u.vault.change_passphrase(&new)?;
            if vault::seal::is_sealed(&dd.seal_path()) {
                let pin = match u.source {
                    secrets::PassphraseSource::Sealed { pin: true } => Some(seal_pin(g)?),
                    _ => None,
                };
                vault::seal::seal(&dd.seal_path(), &new, &opts.machine, pin.as_ref())?;
            }
            record(&dd, &mut u.vault, "vault.passwd", "").await?;
            eprintln!("vault passphrase changed");
            Ok(ExitCode::SUCCESS)
        }
        VaultCommand::Seal => {
            let _lock = DataDirLock::acquire(&dd)?;
            let opts = g.unlock_options()?;
            let mut u = secrets::unlock(&dd, &opts)?;
            audit_writable(&dd, &mut u.vault).await?;
            let pin = g
                .pin_file
                .as_deref()
                .map(secrets::read_secret_file)
                .transpose()?;
            vault::seal::seal(&dd.seal_path(), &u.passphrase, &opts.machine, pin.as_ref())?;
            record(
                &dd,
                &mut u.vault,
                "vault.seal",
                if pin.is_some() { "with_pin" } else { "" },
            )
            .await?;
            eprintln!(
                "sealed to this machine (machine secret {}){}",
                opts.machine.machine_key_path().display(),
                if pin.is_some() { ", with a PIN" } else { "" }
            );
            Ok(ExitCode::SUCCESS)
        }
        VaultCommand::Unseal {
            new_passphrase_file,
        } => {
            if !vault::seal::is_sealed(&dd.seal_path()) {
                bail!("the vault is not sealed");
            }
            let _lock = DataDirLock::acquire(&dd)?;
            let mut opts = g.unlock_options()?;
            // Unseal means the seal is the source, whatever else is set.
            opts.passphrase_file = None;
            let mut u = secrets::unlock(&dd, &opts)?;
            audit_writable(&dd, &mut u.vault).await?;
            let new = new_passphrase(new_passphrase_file)?;
            u.vault.change_passphrase(&new)?;
            remove_seal(&dd.seal_path())?;
            record(&dd, &mut u.vault, "vault.unseal", "").await?;
            eprintln!("unsealed: the vault now opens with the passphrase you chose");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn status(g: &GlobalArgs, json_out: bool) -> anyhow::Result<ExitCode> {
    let dd = g.data_dir()?;
    if !dd.is_initialised() {
        if json_out {
            println!("{}", json!({"initialised": false}));
        } else {
            println!("no vault at {}", dd.vault_path().display());
        }
        return Ok(ExitCode::FAILURE);
    }
    let info = vault::inspect(&dd.vault_path())?;
    let sealed = vault::seal::is_sealed(&dd.seal_path());
    let pin = sealed && vault::seal::requires_pin(&dd.seal_path())?;
    let value = json!({
        "initialised": true,
        "path": dd.vault_path(),
        "format_version": info.version,
        "kdf": {"algorithm": "argon2id", "m_kib": info.kdf.m_kib(), "t": info.kdf.t_cost(), "p": info.kdf.p_cost()},
        "sealed": sealed,
        "sealed_with_pin": pin,
    });
    if json_out {
        println!("{value}");
    } else {
        println!("vault: {}", dd.vault_path().display());
        println!("format version: {}", info.version);
        println!(
            "kdf: argon2id m={} KiB t={} p={}",
            info.kdf.m_kib(),
            info.kdf.t_cost(),
            info.kdf.p_cost()
        );
        println!(
            "unlock: {}",
            match (sealed, pin) {
                (true, true) => "sealed to this machine, with PIN",
                (true, false) => "sealed to this machine",
                _ => "passphrase",
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses a vault change up front when the audit log could not record it
/// (its chain disagrees with an anchor), so nothing changes unaudited.
async fn audit_writable(
    dd: &crate::config::DataDir,
    vault: &mut vault::Vault,
) -> anyhow::Result<()> {
    let opened = crate::app::open(dd, vault)?;
    opened.audit.check().await?;
    Ok(())
}

/// Records a vault change in the audit log (the value never appears).
async fn record(
    dd: &crate::config::DataDir,
    vault: &mut vault::Vault,
    action: &str,
    target: &str,
) -> anyhow::Result<()> {
    let opened = crate::app::open(dd, vault)?;
    opened
        .audit
        .record(
            audit::Draft::new(super::audit::cli_actor(), action, audit::Outcome::Success)
                .target(target),
        )
        .await?;
    Ok(())
}

/// A value from stdin (scripts) or a no-echo prompt (people).
fn read_value(name: &str) -> anyhow::Result<SecretString> {
    if std::io::stdin().is_terminal() {
        let v = secrets::prompt_secret(&format!("Value for {name}: "))?;
        if v.expose_secret().is_empty() {
            bail!("empty value; nothing stored");
        }
        return Ok(v);
    }
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .context("reading the value from stdin")?;
    let trimmed = buf
        .strip_suffix("\r\n")
        .or_else(|| buf.strip_suffix('\n'))
        .unwrap_or(&buf)
        .to_string();
    zeroize::Zeroize::zeroize(&mut buf);
    if trimmed.is_empty() {
        bail!("empty value on stdin; nothing stored");
    }
    Ok(SecretString::from(trimmed))
}

fn new_passphrase(file: Option<PathBuf>) -> anyhow::Result<SecretString> {
    let p = match file {
        Some(f) => secrets::read_secret_file(&f)?,
        None if std::io::stdin().is_terminal() => secrets::prompt_new_passphrase()?,
        None => bail!("no terminal: pass --new-passphrase-file FILE"),
    };
    secrets::check_new_passphrase(&p)?;
    Ok(p)
}

fn seal_pin(g: &GlobalArgs) -> anyhow::Result<SecretString> {
    match &g.pin_file {
        Some(f) => Ok(secrets::read_secret_file(f)?),
        None if std::io::stdin().is_terminal() => Ok(secrets::prompt_secret("Seal PIN: ")?),
        None => bail!("re-sealing needs the PIN: pass --pin-file FILE"),
    }
}

/// Deletes the seal and its PIN-attempt counter.
fn remove_seal(seal_path: &std::path::Path) -> anyhow::Result<()> {
    std::fs::remove_file(seal_path).context("removing the seal")?;
    match std::fs::remove_file(vault::seal::attempts_path(seal_path)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).context("removing the PIN counter")
        }
        _ => Ok(()),
    }
}
