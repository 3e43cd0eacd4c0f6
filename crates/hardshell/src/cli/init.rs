//! `hardshell init`: create a data directory without starting the server.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;
use crate::secrets::{self, InitMode};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Seal a generated passphrase to this machine instead of asking for one.
    #[arg(long, conflicts_with = "passphrase_file")]
    pub sealed: bool,
}

pub fn run(g: &GlobalArgs, args: InitArgs) -> anyhow::Result<ExitCode> {
    let dd = g.data_dir()?;
    let machine = g.machine()?;
    let mode = if args.sealed {
        let pin = g
            .pin_file
            .as_deref()
            .map(secrets::read_secret_file)
            .transpose()?;
        InitMode::Sealed { pin }
    } else if let Some(path) = &g.passphrase_file {
        InitMode::Passphrase(secrets::read_secret_file(path)?)
    } else if std::io::stdin().is_terminal() {
        InitMode::Passphrase(secrets::prompt_new_passphrase()?)
    } else {
        anyhow::bail!(
            "no terminal to ask for a passphrase: pass --passphrase-file FILE, or --sealed to seal to this machine"
        );
    };
    let report = secrets::initialise(&dd, mode, &machine)?;
    println!("Initialised {}", dd.root().display());
    if let Some(key) = report.machine_key {
        println!(
            "The vault is sealed to this machine; the machine secret is {} (back it up).",
            key.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
