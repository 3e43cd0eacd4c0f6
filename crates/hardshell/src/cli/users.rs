//! `hardshell users add|list|set-role|disable|enable|delete [--erase]`.
//!
//! The same rules as the API: the password policy, Argon2id hashing, the
//! last owner protected, every change audited (actor `system:cli`).
//! Passwords come from stdin or a prompt, never from argv.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, bail};
use audit::{Draft, Outcome};
use clap::Subcommand;
use zeroize::Zeroizing;

use super::GlobalArgs;
use crate::auth::{Role, password, validate_username};
use crate::store::Store;
use crate::store::users::UserRow;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user.
    Add {
        username: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Read the password from stdin (one line) instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// Create the account without a password (identity-key login only).
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a user's role.
    SetRole {
        username: String,
        #[arg(value_enum)]
        role: Role,
    },
    /// Disable a user and end their sessions.
    Disable { username: String },
    /// Re-enable a disabled user.
    Enable { username: String },
    /// Delete a user with their sessions and keys.
    Delete {
        username: String,
        /// Also erase their content: messages in conversations others use
        /// become tombstones, conversations only they used are deleted, and
        /// so are memories about them, their unshared uploads and bookmarks.
        /// The audit log keeps its entries and still verifies.
        #[arg(long)]
        erase: bool,
    },
}

fn read_password(from_stdin: bool) -> anyhow::Result<Zeroizing<String>> {
    if from_stdin {
        let mut s = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from stdin")?;
        let line = s.lines().next().unwrap_or_default().to_string();
        return Ok(Zeroizing::new(line));
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal: pass --password-stdin and pipe the password in");
    }
    let first = Zeroizing::new(rpassword::prompt_password("Password: ")?);
    let again = Zeroizing::new(rpassword::prompt_password("Repeat: ")?);
    if first != again {
        bail!("the passwords differ");
    }
    Ok(first)
}

async fn find(store: &Store, username: &str) -> anyhow::Result<UserRow> {
    match store.user_login_lookup(username.to_string()).await? {
        Some((user, _)) => Ok(user),
        None => bail!("no user named {username:?}"),
    }
}

async fn set_disabled(
    opened: &crate::app::Opened,
    username: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    let user = find(&opened.store, username).await?;
    let after = opened.store.user_set_disabled(user.id, disabled).await?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    opened
        .audit
        .record(
            Draft::new(super::audit::cli_actor(), action, Outcome::Success)
                .target(format!("user:{}", user.id)),
        )
        .await?;
    let state = if after.disabled {
        "disabled"
    } else {
        "enabled"
    };
    println!("{} is {state}", after.username);
    Ok(())
}

pub async fn run(g: &GlobalArgs, cmd: UsersCommand) -> anyhow::Result<ExitCode> {
    let (unlocked, opened) = super::open_all(g)?;
    let store = &opened.store;
    let audit = &opened.audit;
    if !matches!(cmd, UsersCommand::List { .. }) {
        // Refused before any change: nothing may change unaudited.
        audit.check().await?;
    }
    match cmd {
        UsersCommand::Add {
            username,
            role,
            password_stdin,
            no_password,
        } => {
            validate_username(&username).map_err(anyhow::Error::msg)?;
            let phc = if no_password {
                None
            } else {
                let pw = read_password(password_stdin)?;
                password::validate(&pw, &username)?;
                Some(tokio::task::spawn_blocking(move || password::hash(&pw)).await??)
            };
            let user = store.user_create(username, role, phc).await?;
            audit
                .record(
                    Draft::new(super::audit::cli_actor(), "user.create", Outcome::Success)
                        .target(format!("user:{}", user.id))
                        .detail("username", user.username.clone())
                        .detail("role", user.role.as_str()),
                )
                .await?;
            println!(
                "created {} ({}) with id {}",
                user.username, user.role, user.id
            );
        }
        UsersCommand::List { json } => {
            let users = store.users_list().await?;
            if json {
                println!("{}", serde_json::to_string(&users)?);
            } else {
                for u in users {
                    let status = if u.disabled { "disabled" } else { "active" };
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        u.id, u.username, u.role, status, u.uuid
                    );
                }
            }
        }
        UsersCommand::SetRole { username, role } => {
            let user = find(store, &username).await?;
            let (before, after) = store.user_set_role(user.id, role).await?;
            audit
                .record(
                    Draft::new(
                        super::audit::cli_actor(),
                        "user.role_change",
                        Outcome::Success,
                    )
                    .target(format!("user:{}", user.id))
                    .detail("from", before.role.as_str())
                    .detail("to", after.role.as_str()),
                )
                .await?;
            println!("{} is now {}", after.username, after.role);
        }
        UsersCommand::Disable { username } => set_disabled(&opened, &username, true).await?,
        UsersCommand::Enable { username } => set_disabled(&opened, &username, false).await?,
        UsersCommand::Delete { username, erase } if erase => {
            let user = find(store, &username).await?;
            let dd = g.data_dir()?;
            let key = crate::secrets::key_bytes(&unlocked.vault, crate::secrets::UPLOAD_KEY)?;
            let files = crate::chat::upload_files::UploadFiles::new(dd.uploads_dir(), &key);
            let (user, erased) = crate::user_data::erase(store, &files, user.id).await?;
            audit
                .record(
                    Draft::new(super::audit::cli_actor(), "user.erase", Outcome::Success)
                        .target(format!("user:{}", user.id))
                        .detail("username", user.username.clone())
                        .detail("erased", crate::user_data::erase_details(&erased)),
                )
                .await?;
            println!(
                "deleted {} and erased their content: {} messages now tombstones, {} conversations, {} memories, {} uploads, {} bookmarks deleted",
                user.username,
                erased.tombstoned_messages,
                erased.deleted_conversations,
                erased.deleted_memories,
                erased.deleted_uploads,
                erased.deleted_bookmarks
            );
        }
        UsersCommand::Delete { username, .. } => {
            let user = find(store, &username).await?;
            store.user_delete(user.id).await?;
            audit
                .record(
                    Draft::new(super::audit::cli_actor(), "user.delete", Outcome::Success)
                        .target(format!("user:{}", user.id))
                        .detail("username", user.username.clone()),
                )
                .await?;
            println!("deleted {}", user.username);
        }
    }
    Ok(ExitCode::SUCCESS)
}
