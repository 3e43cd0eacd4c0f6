//! Telegram group chats: which group messages the bot takes, and where
//! their answers go.
//!
//! A group message is taken only when it is addressed to the bot (a
//! `mention` entity spelling `@<bot username>`, a `text_mention` of the
//! bot's id, or a reply to one of the bot's messages) and, in
//! `Channels::ingest`, only from a paired sender. The sender is still
//! (telegram, from.id), never the chat or a name. An unpaired sender in a
//! group gets nothing: no canned reply and no pairing request, so no
//! pairing code ever lands in a group; `/start` in a group is ignored
//! (invites are redeemed only in private chats). The answer goes to the
//! group as a reply to the triggering message, from a conversation of the
//! sender's own for that group, so a group never sees the private
//! conversation's history. The bot's id and username come from `getMe`
//! at start.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::telegram::{Client, Message, TgError, Update, User};
use super::{Channels, GroupRef, Inbound};

const RETRY: Duration = Duration::from_secs(5);

/// Who the bot is, from `getMe`.
#[derive(Clone, Debug)]
pub struct Bot {
    pub id: i64,
    /// Without the `@`, lowercase.
    pub username: String,
}

/// A formatting span of a message (`offset`/`length` in UTF-16 units).
#[derive(Clone, Debug, Deserialize)]
pub struct Entity {
    #[serde(rename = "type")]
    pub kind: String,
    pub offset: usize,
    pub length: usize,
    #[serde(default)]
    pub user: Option<User>,
}

/// The text an entity covers, if its span is inside the text.
fn span(text: &[u16], e: &Entity) -> Option<String> {
    let end = e.offset.checked_add(e.length)?;
    String::from_utf16(text.get(e.offset..end)?).ok()
}

/// Whether the message speaks to the bot.
fn addressed(m: &Message, text: &str, bot: &Bot) -> bool {
    let utf16: Vec<u16> = text.encode_utf16().collect();
    let me = format!("@{}", bot.username);
    let mentioned = m.entities.iter().any(|e| match e.kind.as_str() {
        "mention" => span(&utf16, e).is_some_and(|s| s.eq_ignore_ascii_case(&me)),
        "text_mention" => e.user.as_ref().is_some_and(|u| u.id == bot.id),
        _ => false,
    });
    let replied = m
        .reply_to_message
        .as_ref()
        .and_then(|r| r.from.as_ref())
        .is_some_and(|f| f.id == bot.id);
    mentioned || replied
}

/// The text without the bot's `@username` (what the agent should read).
fn without_mention(text: &str, bot: &Bot) -> String {
    let me = format!("@{}", bot.username).to_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // ASCII-only lowercase keeps byte offsets aligned with `text`.
    while let Some(i) = rest.to_ascii_lowercase().find(&me) {
        out.push_str(&rest[..i]);
        rest = &rest[i + me.len()..];
    }
    out.push_str(rest);
    let trimmed = out.trim();
    if trimmed.is_empty() {
        text.trim().to_string()
    } else {
        trimmed.to_string()
    }
}

/// The inbound message a group update carries, if it is addressed to the
/// bot by a person. Pairing is checked later, by `Channels::ingest`.
pub fn inbound(u: &Update, bot: &Bot) -> Option<Inbound> {
    let m = u.message.as_ref()?;
    let from = m.from.as_ref()?;
    if !matches!(m.chat.kind.as_str(), "group" | "supergroup") || from.is_bot {
        return None;
    }
    let text = m.text.as_deref()?;
    // Invites are redeemed in private chats only (`/start` or `/start@bot`).
    if text.trim_start().starts_with("/start") || !addressed(m, text, bot) {
        return None;
    }
    Some(Inbound {
        channel: "telegram".into(),
        message_key: u.update_id.to_string(),
        external_id: from.id.to_string(),
        display: from
            .username
            .as_ref()
            .map(|n| format!("@{n}"))
            .unwrap_or_else(|| from.first_name.clone()),
        text: without_mention(text, bot),
        group: Some(GroupRef {
            chat: m.chat.id.to_string(),
            message_id: m.message_id.to_string(),
        }),
    })
}

impl Client {
    /// `getMe`: the bot's own user.
    pub async fn get_me(&self) -> Result<User, TgError> {
        let v = self.call("getMe", &json!({})).await?;
        serde_json::from_value(v).map_err(|_| TgError::Protocol)
    }

    /// One MarkdownV2 message in reply to `message_id`; 429 is waited out
    /// once.
    pub async fn send_reply(
        &self,
        chat_id: i64,
        text: &str,
        message_id: i64,
    ) -> Result<(), TgError> {
        let body = json!({"chat_id": chat_id, "text": text, "parse_mode": "MarkdownV2",
            "reply_parameters": {"message_id": message_id, "allow_sending_without_reply": true}});
        match self.call("sendMessage", &body).await {
            Err(TgError::RetryAfter(s)) => {
                tokio::time::sleep(Duration::from_secs(s.min(60))).await;
                self.call("sendMessage", &body).await.map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }
}

impl Channels {
    /// The message an update carries that the bot takes: a private chat's,
    /// or a group's addressed to the bot (once the bot knows who it is).
    pub(super) fn telegram_take(&self, u: &Update) -> Option<Inbound> {
        super::telegram::inbound(u).or_else(|| self.tg_bot.get().and_then(|b| inbound(u, b)))
    }

    /// Learns the bot's id and username (`getMe`), retrying until it can.
    pub(super) async fn telegram_identify(&self, client: &Client) {
        if self.tg_bot.get().is_some() {
            return;
        }
        loop {
            match client.get_me().await {
                Ok(me) => {
                    let bot = Bot {
                        id: me.id,
                        username: me.username.unwrap_or_default().to_lowercase(),
                    };
                    let _ = self.tg_bot.set(bot);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "telegram: getMe failed");
                    client.note(Some(e.to_string()));
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Sends a stored answer to a group, replying to the message that
    /// asked; true when it was delivered.
    pub(super) async fn send_group(&self, group: &GroupRef, text: &str) -> bool {
        let Some((client, _)) = &self.telegram else {
            return false;
        };
        let (Ok(chat), Ok(mid)) = (group.chat.parse::<i64>(), group.message_id.parse::<i64>())
        else {
            return false;
        };
        for part in super::telegram_text::render(text) {
            if let Err(e) = client.send_reply(chat, &part, mid).await {
                tracing::warn!(error = %e, "telegram: could not send a group reply");
                return false;
            }
        }
        true
    }

    /// Where a queued row is answered: its group, or the sender's chat.
    pub(super) async fn group_of(&self, row_id: i64) -> Result<Option<GroupRef>, ()> {
        match self.rt.store.channel_inbound_group(row_id).await {
            Ok(g) => Ok(g.map(|(chat, message_id)| GroupRef { chat, message_id })),
            Err(e) => {
                tracing::error!(%e, "channel group lookup failed");
                Err(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn bot() -> Bot {
        Bot {
            id: 1,
            username: "hardshell_bot".into(),
        }
    }

    fn update(chat_type: &str, text: &str, extra: Value) -> Update {
        let mut m = json!({"message_id": 7, "date": 1,
            "from": {"id": 42, "is_bot": false, "first_name": "Ann", "username": "ann"},
            "chat": {"id": -100, "type": chat_type, "title": "Team"}, "text": text});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        serde_json::from_value(json!({"update_id": 9, "message": m})).unwrap()
    }

    fn mention(offset: usize, length: usize) -> Value {
        json!({"entities": [{"type": "mention", "offset": offset, "length": length}]})
    }

    #[test]
    fn a_group_message_is_taken_only_when_addressed_to_the_bot() {
        let b = bot();
        let plain = update("group", "hello all", json!({}));
        assert!(inbound(&plain, &b).is_none());
        let m = inbound(
            &update("supergroup", "@Hardshell_Bot what time?", mention(0, 14)),
            &b,
        )
        .unwrap();
        assert_eq!(m.text, "what time?");
        assert_eq!(m.external_id, "42");
        let g = m.group.unwrap();
        assert_eq!((g.chat.as_str(), g.message_id.as_str()), ("-100", "7"));
        // Another bot's mention, or our name without an entity: not for us.
        let other = update("group", "@other_bot hi", mention(0, 10));
        assert!(inbound(&other, &b).is_none());
        let no_entity = update("group", "@hardshell_bot hi", json!({}));
        assert!(inbound(&no_entity, &b).is_none());
        // Offsets are UTF-16: an emoji before the mention takes two units.
        let emoji = update("group", "😀 @hardshell_bot hi", mention(3, 14));
        assert!(inbound(&emoji, &b).is_some());
        let bad_span = update("group", "hi", mention(5, 14));
        assert!(inbound(&bad_span, &b).is_none());
        let text_mention = update(
            "group",
            "Hardshell hi",
            json!({"entities": [{"type": "text_mention", "offset": 0, "length": 9,
                "user": {"id": 1, "is_bot": true, "first_name": "Hardshell"}}]}),
        );
        assert!(inbound(&text_mention, &b).is_some());
        let reply = |from: i64| {
            update(
                "group",
                "and then?",
                json!({"reply_to_message": {"message_id": 3, "date": 1,
                    "from": {"id": from, "is_bot": true, "first_name": "X"},
                    "chat": {"id": -100, "type": "group"}, "text": "earlier"}}),
            )
        };
        assert!(inbound(&reply(1), &b).is_some());
        assert!(inbound(&reply(2), &b).is_none());
    }

    #[test]
    fn start_bots_and_private_chats_are_not_group_messages() {
        let b = bot();
        let start = update("group", "/start ABCD-EFGH @hardshell_bot", mention(17, 14));
        assert!(inbound(&start, &b).is_none());
        let start_at = update("group", "/start@hardshell_bot ABCD-EFGH", json!({}));
        assert!(inbound(&start_at, &b).is_none());
        let private = update("private", "@hardshell_bot hi", mention(0, 14));
        assert!(inbound(&private, &b).is_none());
        let mut from_bot = update("group", "@hardshell_bot hi", mention(0, 14));
        if let Some(m) = from_bot.message.as_mut()
            && let Some(f) = m.from.as_mut()
        {
            f.is_bot = true;
        }
        assert!(inbound(&from_bot, &b).is_none());
    }
}
