//! Approving from Telegram: a new approval request is sent to each
//! decider's private chat (an owner, or an admin when `[approvals]
//! admins_may_decide` is set, with a paired, not revoked Telegram sender)
//! with Approve / Deny buttons (and Always allow, only when the request
//! could become an "allow always" rule: `trust::rules::rule_scope`, the
//! same check the API makes for `{"always": true}`), and a button press
//! decides it.
//!
//! Each prompt's buttons carry the approval id and a 128-bit CSPRNG nonce;
//! only the nonce's SHA-256 is stored, bound to the approval and the sender
//! it went to. A press counts only when it comes from that sender's own
//! platform id, in a private chat, with the right nonce (compared in
//! constant time), for a prompt not used before and a request still
//! pending, from a user who may still decide. It is then decided through
//! `trust::approvals::decide` exactly as the web and CLI do (same audit
//! entries, same resume; Always allow through `trust::rules::decide`, as
//! the API, so the rule is made and audited identically). Anything else
//! (including Always allow on a request that may not have a rule, however
//! the button data was made) is answered with one neutral text, decides
//! nothing and is audited as denied. Never in a group chat.
//!
//! A prompt whose request was decided anywhere (a button, the web, the
//! CLI) or expired is edited: its buttons go and it says what happened.
//! The channels' sweep finds those prompts in the store, so a decision in
//! another process or before a restart is caught too.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::telegram::{Client, Message, User};
use super::{ChannelError, Channels, telegram_text};
use crate::store::approvals::ApprovalRow;
use crate::store::channels_deferred::StalePrompt;

/// Bytes of randomness in a button's nonce.
const NONCE_BYTES: usize = 16;
/// What a refused press is told, whatever the reason.
const NEUTRAL: &str = "This button is no longer valid.";
/// Longest excerpt of a target or arguments in a prompt.
const EXCERPT: usize = 300;

/// A button press, as the Bot API sends it.
#[derive(Clone, Debug, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    /// The message the button was on (absent when too old).
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub data: Option<String>,
}

/// What a button asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Approve,
    Deny,
    /// Approve, and make an "allow always" rule.
    Always,
}

impl Verb {
    fn code(self) -> &'static str {
        match self {
            Verb::Approve => "a",
            Verb::Deny => "d",
            Verb::Always => "w",
        }
    }
}

/// A parsed `callback_data`: `ap:<id>:<a|d|w>:<32 hex>`.
#[derive(Debug, PartialEq, Eq)]
struct Press {
    approval_id: i64,
    verb: Verb,
    nonce: [u8; NONCE_BYTES],
}

fn callback_data(approval_id: i64, verb: Verb, nonce: &[u8; NONCE_BYTES]) -> String {
    format!("ap:{approval_id}:{}:{}", verb.code(), hex::encode(nonce))
}

fn parse(data: &str) -> Option<Press> {
    let mut parts = data.split(':');
    if parts.next()? != "ap" {
        return None;
    }
    let approval_id: i64 = parts.next()?.parse().ok()?;
    let verb = match parts.next()? {
        "a" => Verb::Approve,
        "d" => Verb::Deny,
        "w" => Verb::Always,
        _ => return None,
    };
    let mut nonce = [0u8; NONCE_BYTES];
    hex::decode_to_slice(parts.next()?, &mut nonce).ok()?;
    if parts.next().is_some() || approval_id <= 0 {
        return None;
    }
    Some(Press {
        approval_id,
        verb,
        nonce,
    })
}

fn nonce_hash(nonce: &[u8]) -> Vec<u8> {
    Sha256::digest(nonce).to_vec()
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(EXCERPT).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The prompt's text (plain; escaped for MarkdownV2 by the caller).
fn prompt_text(row: &ApprovalRow, handle: &str) -> String {
    let taint = row
        .taint_source
        .as_deref()
        .map(|t| format!("\nThe turn read untrusted content from {t}."))
        .unwrap_or_default();
    format!(
        "Approval #{}: @{handle} asks to run {} on {}.\nArguments: {}\nWhy: {}{taint}",
        row.id,
        row.tool,
        clip(&row.target),
        clip(&row.arguments),
        clip(&row.reason),
    )
}

/// What a closed prompt says instead of its request.
fn closed_text(p: &StalePrompt) -> String {
    let by = p
        .decided_by
        .as_deref()
        .map(|u| format!(" by {u}"))
        .unwrap_or_default();
    let outcome = match p.status.as_str() {
        "approved" | "dispatched" => format!("approved{by}"),
        "denied" => format!("denied{by}"),
        "expired" => "expired without a decision".to_string(),
        other => other.to_string(),
    };
    format!(
        "Approval #{}: {} on {}: {outcome}.",
        p.approval_id,
        p.tool,
        clip(&p.target)
    )
}

impl Client {
    /// Sends one MarkdownV2 message with an inline keyboard; its id.
    async fn send_keyboard(
        &self,
        chat_id: i64,
        text: &str,
        keyboard: serde_json::Value,
    ) -> Result<Option<i64>, super::telegram::TgError> {
        let body = json!({"chat_id": chat_id, "text": text, "parse_mode": "MarkdownV2",
            "reply_markup": {"inline_keyboard": keyboard}});
        let sent = self.call("sendMessage", &body).await?;
        Ok(sent["message_id"].as_i64())
    }

    /// Replaces a prompt's text and takes its buttons off.
    async fn close_prompt(
        &self,
        chat_id: i64,
        message_id: i64,
        text: &str,
    ) -> Result<(), super::telegram::TgError> {
        let body = json!({"chat_id": chat_id, "message_id": message_id, "text": text,
            "parse_mode": "MarkdownV2", "reply_markup": {"inline_keyboard": []}});
        self.call("editMessageText", &body).await.map(|_| ())
    }

    async fn answer_callback(&self, id: &str, text: &str) {
        let body = json!({"callback_query_id": id, "text": text});
        if let Err(e) = self.call("answerCallbackQuery", &body).await {
            tracing::debug!(error = %e, "telegram: answerCallbackQuery failed");
        }
    }
}

impl Channels {
    /// An update that is not a private text message: a button press, a
    /// photo or a document (or nothing we take).
    pub(super) async fn telegram_other(
        self: &Arc<Self>,
        client: &Client,
        u: &super::telegram::Update,
    ) -> Result<(), ChannelError> {
        if let Some(q) = &u.callback_query {
            return self.callback(client, q).await;
        }
        self.telegram_file(client, u).await
    }

    /// Sends a new approval request to every decider's private chat, in
    /// its own task (the turn has already parked).
    pub(crate) fn approval_prompt(self: &Arc<Self>, row: ApprovalRow, handle: String) {
        if self.telegram.is_none() {
            return;
        }
        let me = Arc::clone(self);
        tokio::spawn(async move { me.send_prompts(&row, &handle).await });
    }

    async fn send_prompts(&self, row: &ApprovalRow, handle: &str) {
        let Some((client, _)) = &self.telegram else {
            return;
        };
        let store = &self.rt.store;
        let admins = self.rt.approvals.admins_may_decide;
        let deciders = match store.channel_deciders("telegram", admins).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(%e, "could not list approval deciders");
                return;
            }
        };
        let (plain, _) = self.rt.vault.redactor().redact(&prompt_text(row, handle));
        let Some(text) = telegram_text::render(&plain).into_iter().next() else {
            return;
        };
        // Always allow only where the API would accept `{"always": true}`.
        let always = crate::trust::rules::rule_scope(store, row).await.is_ok();
        for s in deciders {
            let Ok(chat) = s.external_id.parse::<i64>() else {
                continue;
            };
            let nonce: [u8; NONCE_BYTES] = rand::random();
            let prompt = match store
                .channel_prompt_create(row.id, s.id, nonce_hash(&nonce))
                .await
            {
                Ok(Some(id)) => id,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(%e, "could not store an approval prompt");
                    continue;
                }
            };
            let button = |label: &str, verb| json!({"text": label, "callback_data": callback_data(row.id, verb, &nonce)});
            let mut first = vec![button("Approve", Verb::Approve)];
            if always {
                first.push(button("Always allow", Verb::Always));
            }
            let keyboard = json!([first, [button("Deny", Verb::Deny)]]);
            match client.send_keyboard(chat, &text, keyboard).await {
                Ok(Some(message_id)) => {
                    if let Err(e) = store.channel_prompt_sent(prompt, message_id).await {
                        tracing::error!(%e, "could not record an approval prompt's message");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "telegram: could not send an approval prompt");
                }
            }
        }
        // Decided while the prompts went out: close them now.
        self.close_stale_prompts().await;
    }

    /// A button press: decides the approval when every check passes,
    /// otherwise answers neutrally and audits the refusal. `Err` only when
    /// the store failed (the update is then not confirmed).
    pub(super) async fn callback(
        self: &Arc<Self>,
        client: &Client,
        q: &CallbackQuery,
    ) -> Result<(), ChannelError> {
        let press = q.data.as_deref().and_then(parse);
        match self.check(q, press.as_ref()).await? {
            Ok((user_id, prompt_id)) => {
                let Some(p) = &press else {
                    return Ok(());
                };
                if let Some(m) = &q.message {
                    // A prompt whose message id was never recorded (sent
                    // before an upgrade, or a crash) can still be closed.
                    self.rt
                        .store
                        .channel_prompt_sent(prompt_id, m.message_id)
                        .await?;
                }
                match self.decide(p, user_id, prompt_id).await {
                    Ok(answer) => client.answer_callback(&q.id, answer).await,
                    Err(reason) => self.refuse(client, q, press.as_ref(), reason).await,
                }
            }
            Err(reason) => self.refuse(client, q, press.as_ref(), reason).await,
        }
        Ok(())
    }

    /// Answers a press neutrally and audits why it was refused.
    async fn refuse(
        &self,
        client: &Client,
        q: &CallbackQuery,
        press: Option<&Press>,
        reason: &'static str,
    ) {
        let mut d = audit::Draft::new(
            audit::Actor::channel_sender(format!("telegram:{}", q.from.id)),
            "approval.telegram_button",
            audit::Outcome::Denied,
        )
        .detail("reason", reason)
        .detail("external_id", q.from.id.to_string());
        if let Some(p) = press {
            d = d.target(format!("approval:{}", p.approval_id));
        }
        if let Err(e) = self.rt.audit.record(d).await {
            tracing::error!(%e, "could not audit a refused approval button");
        }
        client.answer_callback(&q.id, NEUTRAL).await;
    }

    /// Every check before a decision; `Ok(Err(reason))` refuses.
    async fn check(
        &self,
        q: &CallbackQuery,
        press: Option<&Press>,
    ) -> Result<Result<(i64, i64), &'static str>, ChannelError> {
        let Some(press) = press else {
            return Ok(Err("malformed"));
        };
        let private = q
            .message
            .as_ref()
            .is_some_and(|m| m.chat.kind == "private" && m.chat.id == q.from.id);
        if !private || q.from.is_bot {
            return Ok(Err("not_private"));
        }
        let store = &self.rt.store;
        let Some(prompt) = store
            .channel_prompt(press.approval_id, "telegram", &q.from.id.to_string())
            .await?
        else {
            return Ok(Err("no_prompt"));
        };
        let hash = nonce_hash(&press.nonce);
        if !bool::from(hash.as_slice().ct_eq(prompt.nonce_hash.as_slice())) {
            return Ok(Err("bad_nonce"));
        }
        if prompt.sender.revoked_at.is_some() {
            return Ok(Err("revoked"));
        }
        if prompt.used_at.is_some() {
            return Ok(Err("used"));
        }
        let user = match store.user_by_id(prompt.sender.user_id).await {
            Ok(u) => u,
            Err(crate::store::StoreError::NotFound) => return Ok(Err("forbidden")),
            Err(e) => return Err(e.into()),
        };
        if user.disabled || !crate::trust::approvals::may_decide(user.role, &self.rt.approvals) {
            return Ok(Err("forbidden"));
        }
        match store.approval_get(press.approval_id).await? {
            Some(a) if a.status == "pending" => {}
            _ => return Ok(Err("not_pending")),
        }
        Ok(Ok((user.id, prompt.id)))
    }

    /// Spends the prompt and decides as `user_id` through the same domain
    /// code as the API; the answer to show, or why nothing was decided.
    async fn decide(
        &self,
        press: &Press,
        user_id: i64,
        prompt_id: i64,
    ) -> Result<&'static str, &'static str> {
        let rt = &self.rt;
        if press.verb == Verb::Always {
            // Checked before the prompt is spent: a refused Always allow
            // leaves Approve and Deny usable, as the API leaves the request.
            match rt.store.approval_get(press.approval_id).await {
                Ok(Some(row)) => {
                    if crate::trust::rules::rule_scope(&rt.store, &row)
                        .await
                        .is_err()
                    {
                        return Err("always_not_allowed");
                    }
                }
                Ok(None) => return Err("not_pending"),
                Err(e) => {
                    tracing::error!(%e, "could not read an approval");
                    return Err("store");
                }
            }
        }
        match rt.store.channel_prompt_use(prompt_id).await {
            Ok(true) => {}
            Ok(false) => return Err("used"),
            Err(e) => {
                tracing::error!(%e, "could not spend an approval prompt");
                return Err("store");
            }
        }
        let decided = crate::trust::rules::decide(
            &rt.store,
            &rt.audit,
            press.approval_id,
            press.verb != Verb::Deny,
            press.verb == Verb::Always,
            user_id,
            audit::Actor::user(user_id.to_string()),
        )
        .await;
        match decided {
            Ok(_) => {
                rt.approval_decided(press.approval_id);
                Ok(match press.verb {
                    Verb::Approve => "Approved.",
                    Verb::Always => "Approved. Later calls like this one run without asking.",
                    Verb::Deny => "Denied.",
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "an approval from Telegram was not decided");
                Err("not_decided")
            }
        }
    }

    /// Edits every sent prompt whose request is no longer pending: the
    /// buttons go and the text says what happened. Each prompt is claimed
    /// first, so two passes never edit it twice; a network failure gives
    /// it back for the next pass, a refusal by Telegram (message deleted)
    /// does not.
    pub(crate) async fn close_stale_prompts(&self) {
        let Some((client, _)) = &self.telegram else {
            return;
        };
        let store = &self.rt.store;
        let stale = match store.channel_prompts_stale().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%e, "could not list decided approval prompts");
                return;
            }
        };
        for p in stale {
            let Ok(chat) = p.chat.parse::<i64>() else {
                let _ = store.channel_prompt_close(p.id, false).await;
                continue;
            };
            match store.channel_prompt_close(p.id, false).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(%e, "could not close an approval prompt");
                    return;
                }
            }
            let (plain, _) = self.rt.vault.redactor().redact(&closed_text(&p));
            let Some(text) = telegram_text::render(&plain).into_iter().next() else {
                continue;
            };
            match client.close_prompt(chat, p.message_id, &text).await {
                Ok(()) => {}
                Err(e @ super::telegram::TgError::Api { .. }) => {
                    tracing::debug!(error = %e, "telegram: a decided prompt could not be edited");
                }
                Err(e) => {
                    tracing::debug!(error = %e, "telegram: editing a decided prompt failed; will retry");
                    let _ = store.channel_prompt_close(p.id, true).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data_fits_and_round_trips() {
        let nonce = [0xabu8; NONCE_BYTES];
        for verb in [Verb::Approve, Verb::Deny, Verb::Always] {
            let d = callback_data(i64::MAX, verb, &nonce);
            assert!(d.len() <= 64, "{} bytes", d.len());
            assert_eq!(
                parse(&d),
                Some(Press {
                    approval_id: i64::MAX,
                    verb,
                    nonce
                })
            );
        }
        for bad in [
            "",
            "ap:1:a",
            "ap:1:x:abababababababababababababababab",
            "ap:-1:a:abababababababababababababababab",
            "ap:1:a:abab",
            "ap:1:a:abababababababababababababababab:extra",
            "zz:1:a:abababababababababababababababab",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
