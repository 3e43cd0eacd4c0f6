//! `hardshell db shell`: SQL on the encrypted database, with the key taken
//! from the vault, so no SQLCipher build of the right version is needed.
//!
//! Read-only by default (the connection itself is read-only, so it is safe
//! while the server runs). `--write` is the owner's escape hatch: it needs
//! the server stopped, and it is audited before the database is opened,
//! because writes made here bypass every check the server applies.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;
use crate::lock::DataDirLock;
use crate::store::console::{Cell, Console, ResultSet};
use crate::store::key::VAULT_NAME;

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// SQL to run (one or more statements); without it, statements are
    /// read from stdin, or typed at a prompt on a terminal.
    pub sql: Option<String>,
    /// Allow writes. Needs the server stopped; audited.
    #[arg(long)]
    pub write: bool,
    /// One JSON object per row instead of `|`-separated columns.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(g: &GlobalArgs, a: ShellArgs) -> anyhow::Result<ExitCode> {
    let dd = g.data_dir()?;
    dd.check_permissions()?;
    let mut lock = None;
    let key = if a.write {
        lock = Some(DataDirLock::acquire(&dd)?);
        let (unlocked, opened) = super::open_all(g)?;
        opened
            .audit
            .record(audit::Draft::new(
                super::audit::cli_actor(),
                "db.shell.write",
                audit::Outcome::Success,
            ))
            .await?;
        opened.store.close().await?;
        crate::app::key_from_vault(&unlocked.vault, VAULT_NAME)?
    } else {
        let unlocked = crate::secrets::unlock(&dd, &g.unlock_options()?)?;
        crate::app::key_from_vault(&unlocked.vault, VAULT_NAME)?
    };
    let key = key.ok_or(crate::app::StartError::NoDbKey)?;
    let console = Console::open(&dd.db_path(), &key, a.write)?;
    let mut out = std::io::stdout().lock();
    let code = if let Some(sql) = a.sql {
        run_one(&console, &sql, a.json, &mut out)?
    } else if std::io::stdin().is_terminal() {
        interactive(&console, a.json, a.write, &mut out)?
    } else {
        let mut sql = String::new();
        std::io::stdin().read_to_string(&mut sql)?;
        run_one(&console, &sql, a.json, &mut out)?
    };
    drop(lock);
    Ok(code)
}

/// Runs statements; an SQL error is reported and gives exit status 1.
fn run_one(
    console: &Console,
    sql: &str,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    match console.run(sql) {
        Ok(sets) => {
            for set in &sets {
                print_set(set, json, out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn interactive(
    console: &Console,
    json: bool,
    write: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let mode = if write { "read-write" } else { "read-only" };
    eprintln!(
        "hardshell db shell ({mode}). End statements with `;`. .tables, .schema [NAME], .quit"
    );
    let mut pending = String::new();
    let stdin = std::io::stdin();
    loop {
        eprint!("{}", if pending.is_empty() { "db> " } else { "..> " });
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(ExitCode::SUCCESS);
        }
        let trimmed = line.trim();
        if pending.is_empty() && trimmed.starts_with('.') {
            let mut words = trimmed.split_whitespace();
            let sql = match (words.next(), words.next()) {
                (Some(".quit" | ".exit"), _) => return Ok(ExitCode::SUCCESS),
                (Some(".tables"), _) => {
                    "SELECT name FROM sqlite_master WHERE type IN ('table','view') \
                     AND name NOT LIKE 'sqlite_%' ORDER BY name"
                        .to_string()
                }
                (Some(".schema"), None) => {
                    "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name".into()
                }
                (Some(".schema"), Some(name)) => format!(
                    "SELECT sql FROM sqlite_master WHERE name = '{}'",
                    name.replace('\'', "''")
                ),
                _ => {
                    eprintln!("unknown command: {trimmed} (.tables, .schema [NAME], .quit)");
                    continue;
                }
            };
            run_one(console, &sql, json, out)?;
            continue;
        }
        pending.push_str(&line);
        if trimmed.ends_with(';') {
            run_one(console, &pending, json, out)?;
            pending.clear();
        }
    }
}

fn print_set(set: &ResultSet, json: bool, out: &mut impl Write) -> std::io::Result<()> {
    if set.columns.is_empty() {
        return Ok(());
    }
    if json {
        for row in &set.rows {
            let obj: serde_json::Map<String, serde_json::Value> = set
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| (c.clone(), json_cell(v)))
                .collect();
            writeln!(out, "{}", serde_json::Value::Object(obj))?;
        }
        return Ok(());
    }
    writeln!(out, "{}", set.columns.join("|"))?;
    for row in &set.rows {
        let line: Vec<String> = row.iter().map(text_cell).collect();
        writeln!(out, "{}", line.join("|"))?;
    }
    Ok(())
}

fn text_cell(c: &Cell) -> String {
    match c {
        Cell::Null => String::new(),
        Cell::Integer(i) => i.to_string(),
        Cell::Real(f) => f.to_string(),
        Cell::Text(t) => t.clone(),
        Cell::Blob(b) => format!("X'{}'", hex::encode(b)),
    }
}

fn json_cell(c: &Cell) -> serde_json::Value {
    match c {
        Cell::Null => serde_json::Value::Null,
        Cell::Integer(i) => (*i).into(),
        Cell::Real(f) => (*f).into(),
        Cell::Text(t) => t.clone().into(),
        Cell::Blob(b) => format!("X'{}'", hex::encode(b)).into(),
    }
}
