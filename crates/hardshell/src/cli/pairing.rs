//! `hardshell pairing invite|list|approve|deny|revoke`: the owner's side
//! of channel pairing from the command line.
//!
//! Whoever can unlock the vault is the owner, so these act as the owner
//! (audited as `system:cli`), through the same `channels::pairing`
//! functions as the API. They work while the server runs: the next
//! inbound message sees the change. Codes are printed once and never
//! stored in clear.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;

use super::GlobalArgs;
use super::audit::cli_actor;
use crate::auth::Role;
use crate::channels::pairing::{self, Ctx, Guesses};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum PairingCommand {
    /// Mint a single-use invite code (15 minutes) for a channel; the person
    /// sends `/start CODE` to it.
    Invite {
        /// `telegram` or `webhook:NAME`.
        #[arg(long)]
        channel: String,
    },
    /// Pending requests and paired senders.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Approve the pending request with this code.
    Approve {
        code: String,
        /// The user the sender acts for (default: the owner).
        #[arg(long)]
        user: Option<String>,
    },
    /// Deny the pending request with this code.
    Deny { code: String },
    /// Cut a paired sender off (by sender id, as `list` shows).
    Revoke { sender: i64 },
}

async fn owner_id(store: &Store) -> anyhow::Result<i64> {
    store
        .users_list()
        .await?
        .into_iter()
        .find(|u| u.role == Role::Owner && !u.disabled)
        .map(|u| u.id)
        .context("there is no owner account yet")
}

pub async fn run(g: &GlobalArgs, cmd: PairingCommand) -> anyhow::Result<ExitCode> {
    let (_unlocked, opened) = super::open_all(g)?;
    let store = &opened.store;
    let guesses = Guesses::default();
    let ctx = Ctx {
        store,
        audit: &opened.audit,
        pepper: &opened.pepper,
        guesses: &guesses,
    };
    match cmd {
        PairingCommand::Invite { channel } => {
            let config = crate::config::Config::load(&g.data_dir()?.config_path())?;
            let known = channel
                .strip_prefix("webhook:")
                .is_some_and(|n| config.channels.webhooks.contains_key(n));
            if !known {
                bail!(
                    "no channel `{channel}` in config.toml (webhook channels are `webhook:NAME`)"
                );
            }
            let by = owner_id(store).await?;
            let (code, row) = pairing::invite(&ctx, &channel, by, cli_actor()).await?;
            println!(
                "{}  (send `/start {}` to {channel}; single use, expires at {})",
                pairing::show(&code),
                pairing::show(&code),
                row.expires_at
            );
        }
        PairingCommand::List { json } => {
            let requests = store.pairing_requests_pending().await?;
            let senders = store.channel_senders().await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"requests": requests, "senders": senders})
                );
            } else {
                if requests.is_empty() {
                    println!("no pending requests");
                }
                for r in requests {
                    println!(
                        "request #{} {} {} ({:?}) expires {}",
                        r.id, r.channel, r.external_id, r.display, r.expires_at
                    );
                }
                for s in senders {
                    let state = if s.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "paired"
                    };
                    println!(
                        "sender #{} {} {} ({:?}) {state} user {} via {}",
                        s.id, s.channel, s.external_id, s.display, s.user_id, s.via
                    );
                }
            }
        }
        PairingCommand::Approve { code, user } => {
            let by = owner_id(store).await?;
            let link = match user {
                Some(name) => store
                    .users_list()
                    .await?
                    .into_iter()
                    .find(|u| u.username.eq_ignore_ascii_case(&name) && !u.disabled)
                    .map(|u| u.id)
                    .with_context(|| format!("no user `{name}`"))?,
                None => by,
            };
            let (r, s) = pairing::decide(&ctx, &code, true, by, link, cli_actor()).await?;
            let sid = s.map(|s| s.id).unwrap_or_default();
            println!("approved: {} {} is sender #{sid}", r.channel, r.external_id);
        }
        PairingCommand::Deny { code } => {
            let by = owner_id(store).await?;
            let (r, _) = pairing::decide(&ctx, &code, false, by, by, cli_actor()).await?;
            println!("denied: {} {}", r.channel, r.external_id);
        }
        PairingCommand::Revoke { sender } => {
            let s = pairing::revoke(&ctx, sender, cli_actor())
                .await
                .map_err(|e| match e {
                    pairing::PairingError::Store(crate::store::StoreError::NotFound) => {
                        anyhow::anyhow!("no paired sender #{sender}")
                    }
                    other => other.into(),
                })?;
            println!("revoked: {} {}", s.channel, s.external_id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
