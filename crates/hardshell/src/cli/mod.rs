//! The command line: argument definitions and dispatch.
//!
//! Each subcommand lives in its own file and is a thin layer over domain
//! functions; secrets are read from files, prompts or stdin, never argv.

mod approvals;
mod audit;
mod backup;
mod db;
mod db_shell;
mod doctor;
mod import;
mod import_xiajiao;
mod init;
mod net;
mod pairing;
mod scan;
mod serve;
mod sigpipe;
mod users;
mod vault_cmd;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::DataDir;
use crate::secrets::UnlockOptions;

#[derive(Debug, Parser)]
#[command(
    name = "hardshell",
    version,
    about = "Self-hosted, security-first home for AI agents"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Data directory (default ~/.hardshell).
    #[arg(long, global = true, env = "HARDSHELL_HOME", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// File holding the vault passphrase (systemd/Docker credentials).
    #[arg(
        long,
        global = true,
        env = "HARDSHELL_VAULT_PASSPHRASE_FILE",
        value_name = "FILE"
    )]
    pub passphrase_file: Option<PathBuf>,
    /// File holding the seal PIN.
    #[arg(long, global = true, env = "HARDSHELL_PIN_FILE", value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// The machine secret used by sealed mode; kept outside the data directory.
    #[arg(
        long,
        global = true,
        env = "HARDSHELL_MACHINE_KEY_FILE",
        value_name = "FILE"
    )]
    pub machine_key_file: Option<PathBuf>,
    /// Machine identity file mixed into the seal (default /etc/machine-id).
    #[arg(
        long,
        global = true,
        env = "HARDSHELL_MACHINE_ID_FILE",
        value_name = "FILE",
        hide = true
    )]
    pub machine_id_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (initialises an empty data directory first).
    Serve(serve::ServeArgs),
    /// Create a data directory: vault, keys and default config.
    Init(init::InitArgs),
    /// Manage the encrypted vault.
    #[command(subcommand)]
    Vault(vault_cmd::VaultCommand),
    /// Database maintenance.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Egress policy checks (what agent tools may reach).
    #[command(subcommand)]
    Net(net::NetCommand),
    /// Prompt-injection verdict for the text on stdin.
    Scan(scan::ScanArgs),
    /// Approval requests from agents: list, approve, deny.
    #[command(subcommand)]
    Approvals(approvals::ApprovalsCommand),
    /// Agents' trust levels: show, set, history, rollback.
    #[command(subcommand)]
    Trust(approvals::TrustCommand),
    /// Channel pairing: invite, list, approve, deny, revoke.
    #[command(subcommand)]
    Pairing(pairing::PairingCommand),
    /// The go-live checklist as checks; critical findings stop `serve`.
    Doctor(doctor::DoctorArgs),
    /// Encrypted backups: create (online), verify, restore, list.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Moving in: bring data across from another tool.
    #[command(subcommand)]
    Import(import::ImportCommand),
}

impl GlobalArgs {
    pub fn data_dir(&self) -> anyhow::Result<DataDir> {
        let dd = DataDir::resolve(self.data_dir.clone())?;
        // The outside audit anchor lives beside the machine key by default.
        let home = self.machine().ok().and_then(|m| {
            m.machine_key_path()
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(std::path::Path::to_path_buf)
        });
        Ok(match home {
            Some(h) => dd.with_anchor_home(h),
            None => dd,
        })
    }

    pub fn machine(&self) -> anyhow::Result<vault::MachineBinding> {
        let defaults = vault::MachineBinding::default_paths()?;
        Ok(vault::MachineBinding::new(
            self.machine_key_file
                .clone()
                .unwrap_or_else(|| defaults.machine_key_path().to_path_buf()),
            self.machine_id_file
                .clone()
                .unwrap_or_else(|| defaults.machine_id_path().to_path_buf()),
        ))
    }

    pub fn unlock_options(&self) -> anyhow::Result<UnlockOptions> {
        Ok(UnlockOptions {
            passphrase_file: self.passphrase_file.clone(),
            pin_file: self.pin_file.clone(),
            machine: self.machine()?,
        })
    }
}

/// Unlocks the vault and opens the store and audit writer, as every
/// command that touches the database does.
pub fn open_all(g: &GlobalArgs) -> anyhow::Result<(crate::secrets::Unlocked, crate::app::Opened)> {
    let dd = g.data_dir()?;
    dd.check_permissions()?;
    let mut unlocked = crate::secrets::unlock(&dd, &g.unlock_options()?)?;
    let opened = crate::app::open(&dd, &mut unlocked.vault)?;
    Ok((unlocked, opened))
}

/// Runs the parsed command; the binary maps the error to exit status 1.
pub async fn run(
    cli: Cli,
    log: crate::logging::LogRedactor,
) -> anyhow::Result<std::process::ExitCode> {
    crate::config::datadir::private_umask();
    if !matches!(cli.command, Command::Serve(_)) {
        sigpipe::restore_default();
    }
    let g = cli.global;
    match cli.command {
        Command::Serve(a) => serve::run(&g, a, log).await,
        Command::Init(a) => init::run(&g, a),
        Command::Vault(c) => vault_cmd::run(&g, c).await,
        Command::Db(c) => db::run(&g, c).await,
        Command::Audit(c) => audit::run(&g, c).await,
        Command::Net(c) => net::run(c).await,
        Command::Scan(a) => scan::run(a),
        Command::Users(c) => users::run(&g, c).await,
        Command::Approvals(c) => approvals::run_approvals(&g, c).await,
        Command::Trust(c) => approvals::run_trust(&g, c).await,
        Command::Pairing(c) => pairing::run(&g, c).await,
        Command::Backup(c) => backup::run(&g, c).await,
        Command::Doctor(a) => doctor::run(&g, a).await,
        Command::Import(c) => import::run(&g, c).await,
    }
}
