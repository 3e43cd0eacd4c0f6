//! Approving from Telegram: a new approval request is sent to each
//! decider's private chat (an owner, or an admin when `[approvals]
//! admins_may_decide` is set, with a paired, not revoked Telegram sender)
//! with Approve / Deny buttons, and a button press decides it.
//!
//! Each prompt's buttons carry the approval id and a 128-bit CSPRNG nonce;
//! only the nonce's SHA-256 is stored, bound to the approval and the sender
//! it went to. A press counts only when it comes from that sender's own
//! platform id, in a private chat, with the right nonce (compared in
//! constant time), for a prompt not used before and a request still
//! pending, from a user who may still decide. It is then decided through
//! `trust::approvals::decide` exactly as the web and CLI do (same audit
//! entries, same resume). Anything else is answered with one neutral text,
//! decides nothing and is audited as denied. Never in a group chat.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::telegram::{Client, Message, User};
use super::{ChannelError, Channels, telegram_text};
use crate::store::approvals::ApprovalRow;

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

/// A parsed `callback_data`: `ap:<id>:<a|d>:<32 hex>`.
#[derive(Debug, PartialEq, Eq)]
struct Press {
    approval_id: i64,
    approve: bool,
    nonce: [u8; NONCE_BYTES],
}

fn callback_data(approval_id: i64, approve: bool, nonce: &[u8; NONCE_BYTES]) -> String {
    let verb = if approve { "a" } else { "d" };
    format!("ap:{approval_id}:{verb}:{}", hex::encode(nonce))
}

fn parse(data: &str) -> Option<Press> {
    let mut parts = data.split(':');
    if parts.next()? != "ap" {
        return None;
    }
    let approval_id: i64 = parts.next()?.parse().ok()?;
    let approve = match parts.next()? {
        "a" => true,
        "d" => false,
        _ => return None,
    };
    let mut nonce = [0u8; NONCE_BYTES];
    hex::decode_to_slice(parts.next()?, &mut nonce).ok()?;
    if parts.next().is_some() || approval_id <= 0 {
        return None;
    }
    Some(Press {
        approval_id,
        approve,
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

impl Client {
    /// Sends one MarkdownV2 message with an inline keyboard.
    async fn send_keyboard(
        &self,
        chat_id: i64,
        text: &str,
        keyboard: serde_json::Value,
    ) -> Result<(), super::telegram::TgError> {
        let body = json!({"chat_id": chat_id, "text": text, "parse_mode": "MarkdownV2",
            "reply_markup": {"inline_keyboard": keyboard}});
        self.call("sendMessage", &body).await.map(|_| ())
    }

    /// Takes the buttons off a decided prompt (best effort).
    async fn drop_keyboard(&self, chat_id: i64, message_id: i64) {
        let body = json!({"chat_id": chat_id, "message_id": message_id,
            "reply_markup": {"inline_keyboard": []}});
        if let Err(e) = self.call("editMessageReplyMarkup", &body).await {
            tracing::debug!(error = %e, "telegram: could not remove a keyboard");
        }
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
        for s in deciders {
            let Ok(chat) = s.external_id.parse::<i64>() else {
                continue;
            };
            let nonce: [u8; NONCE_BYTES] = rand::random();
            match store
                .channel_prompt_create(row.id, s.id, nonce_hash(&nonce))
                .await
            {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(%e, "could not store an approval prompt");
                    continue;
                }
            }
            let keyboard = json!([[
                {"text": "Approve", "callback_data": callback_data(row.id, true, &nonce)},
                {"text": "Deny", "callback_data": callback_data(row.id, false, &nonce)},
            ]]);
            if let Err(e) = client.send_keyboard(chat, &text, keyboard).await {
                tracing::warn!(error = %e, "telegram: could not send an approval prompt");
            }
        }
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
                let Some(p) = press else {
                    return Ok(());
                };
                let (answer, decided) = self.decide(p, user_id, prompt_id).await;
                client.answer_callback(&q.id, answer).await;
                if let (true, Some(m)) = (decided, &q.message) {
                    client.drop_keyboard(m.chat.id, m.message_id).await;
                }
            }
            Err(reason) => {
                let mut d = audit::Draft::new(
                    audit::Actor::channel_sender(format!("telegram:{}", q.from.id)),
                    "approval.telegram_button",
                    audit::Outcome::Denied,
                )
                .detail("reason", reason)
                .detail("external_id", q.from.id.to_string());
                if let Some(p) = &press {
                    d = d.target(format!("approval:{}", p.approval_id));
                }
                if let Err(e) = self.rt.audit.record(d).await {
                    tracing::error!(%e, "could not audit a refused approval button");
                }
                client.answer_callback(&q.id, NEUTRAL).await;
            }
        }
        Ok(())
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

    /// Spends the prompt and decides as `user_id`, as the web does; the
    /// answer to show and whether it was decided.
    async fn decide(&self, press: Press, user_id: i64, prompt_id: i64) -> (&'static str, bool) {
        let rt = &self.rt;
        match rt.store.channel_prompt_use(prompt_id).await {
            Ok(true) => {}
            Ok(false) => return (NEUTRAL, false),
            Err(e) => {
                tracing::error!(%e, "could not spend an approval prompt");
                return (NEUTRAL, false);
            }
        }
        let decided = crate::trust::approvals::decide(
            &rt.store,
            &rt.audit,
            press.approval_id,
            press.approve,
            user_id,
            audit::Actor::user(user_id.to_string()),
        )
        .await;
        match decided {
            Ok(_) => {
                rt.approval_decided(press.approval_id);
                let answer = if press.approve {
                    "Approved."
                } else {
                    "Denied."
                };
                (answer, true)
            }
            Err(e) => {
                tracing::warn!(error = %e, "an approval from Telegram was not decided");
                (NEUTRAL, false)
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
        for approve in [true, false] {
            let d = callback_data(i64::MAX, approve, &nonce);
            assert!(d.len() <= 64, "{} bytes", d.len());
            assert_eq!(
                parse(&d),
                Some(Press {
                    approval_id: i64::MAX,
                    approve,
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
