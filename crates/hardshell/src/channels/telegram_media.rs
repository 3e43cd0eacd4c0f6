//! Photos and documents from Telegram: fetched only for a paired sender in
//! a private chat, capped in size, typed by their bytes exactly like web
//! uploads, stored as an upload and attached to the message the sender's
//! conversation gets, so the agent sees it as it sees a web upload.
//!
//! The cap (`max_file_bytes`) is checked against the size the message
//! declares, then the size `getFile` declares, and the download itself is
//! cut off past it (netguard's body cap), so a lying size stores nothing.
//! An unpaired or revoked sender's file is never fetched: their caption
//! (or a placeholder) takes the text path, where the pairing gate answers.
//! A refused file is audited and the sender told why; nothing is stored.
//!
//! The poller (or webhook) only queues the message with its file still to
//! fetch; the download happens in the message's own task, before its turn,
//! at most `DOWNLOADS` at a time, so a slow or hanging download never
//! holds up other updates. A restart fetches a file left pending.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::telegram::{Client, Message, Update};
use super::{ChannelError, Channels, Inbound, MAX_TEXT_CHARS};
use crate::chat::upload_files::{UploadFiles, public_id};
use crate::store::channels::{InboundRow, SenderRow};
use crate::store::channels_deferred::PendingFile;
use crate::store::uploads::NewUpload;

/// Downloads running at once (each also within the client's time caps).
pub(super) const DOWNLOADS: usize = 2;

/// One size of a photo, as the Bot API describes it.
#[derive(Clone, Debug, Deserialize)]
pub struct PhotoSize {
    pub file_id: String,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
    #[serde(default)]
    pub file_size: Option<u64>,
}

/// A document (any file sent as a file).
#[derive(Clone, Debug, Deserialize)]
pub struct Document {
    pub file_id: String,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub file_size: Option<u64>,
}

/// `getFile`'s answer.
#[derive(Debug, Deserialize)]
struct TgFile {
    #[serde(default)]
    file_size: Option<u64>,
    #[serde(default)]
    file_path: Option<String>,
}

/// The file a message carries, as we will fetch it.
#[derive(Debug, PartialEq, Eq)]
struct Wanted {
    file_id: String,
    declared: Option<u64>,
    /// The sender's file name (display only), if a document.
    name: Option<String>,
}

/// Why a file was not stored (told to the sender and audited).
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("it is larger than {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    Type(&'static str),
    #[error("it could not be downloaded")]
    Unavailable,
}

/// The netguard client for downloads: only the API host, no redirects,
/// and no body past `cap`.
pub(super) fn file_client(host: &str, cap: u64) -> Result<netguard::Client, String> {
    let cap = usize::try_from(cap).map_err(|e| e.to_string())?;
    let policy = netguard::Policy::builder()
        .allow(host)
        .and_then(|p| p.allow_private(host))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .total_timeout(Duration::from_secs(120))
        .max_body_bytes(cap)
        .max_redirects(0)
        .max_concurrent(2)
        .build();
    netguard::Client::new(policy, Arc::new(netguard::SystemResolver)).map_err(|e| e.to_string())
}

/// The photo size or document to fetch. For a photo, the largest size
/// whose declared size fits `cap` (sizes without one count as fitting;
/// the download is capped anyway); none fitting means the smallest, which
/// the size check then refuses.
fn wanted(m: &Message, cap: u64) -> Option<Wanted> {
    if let Some(d) = &m.document {
        return Some(Wanted {
            file_id: d.file_id.clone(),
            declared: d.file_size,
            name: d.file_name.clone(),
        });
    }
    let sizes = m.photo.as_ref()?;
    let fits = |p: &&PhotoSize| p.file_size.is_none_or(|n| n <= cap);
    let area = |p: &&PhotoSize| (u64::from(p.width) * u64::from(p.height), p.file_size);
    let best = sizes
        .iter()
        .filter(fits)
        .max_by_key(area)
        .or_else(|| sizes.iter().min_by_key(area))?;
    Some(Wanted {
        file_id: best.file_id.clone(),
        declared: best.file_size,
        name: None,
    })
}

/// A `file_path` safe to put in a URL path: Telegram's are like
/// `photos/file_3.jpg`.
fn safe_path(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 256
        && !p.starts_with('/')
        && !p
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'))
}

/// The display name of a stored file: the document's own (sanitised), or
/// `photo.<ext>` from the type its bytes have.
fn file_name(w: &Wanted, mime: &str) -> String {
    match &w.name {
        Some(n) if !uploadtype::display_name(n).is_empty() => uploadtype::display_name(n),
        _ => {
            let ext = match mime {
                "image/jpeg" => "jpg",
                other => other.rsplit('/').next().unwrap_or("bin"),
            };
            format!("photo.{ext}")
        }
    }
}

/// Where a queued message's file stands before its turn.
pub(super) enum FileStep {
    /// No file to wait for (none, or stored and attached): post and answer.
    Ready,
    /// Refused: the row now holds the refusal as its answer, to deliver.
    Refused(String),
    /// Dropped (sender revoked) or our own failure: nothing now (the
    /// sweeper comes back to a row left queued).
    Stop,
}

impl Channels {
    /// A private photo or document message, from the poller or the
    /// webhook: stores it with its file still to fetch and returns. The
    /// download happens when the message is processed, so a slow file
    /// holds up only its own message. `Err` only when the store failed
    /// (the update is then not confirmed and comes again).
    pub(super) async fn telegram_file(
        self: &Arc<Self>,
        client: &Client,
        u: &Update,
    ) -> Result<(), ChannelError> {
        let Some(m) = &u.message else {
            return Ok(());
        };
        let Some(from) = &m.from else {
            return Ok(());
        };
        if m.chat.kind != "private" || from.is_bot || m.chat.id != from.id {
            return Ok(());
        }
        let Some(want) = wanted(m, client.max_file_bytes) else {
            return Ok(());
        };
        let placeholder = if m.document.is_some() {
            "(a file)"
        } else {
            "(a photo)"
        };
        let text: String = match m.caption.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => c.chars().take(MAX_TEXT_CHARS).collect(),
            _ => placeholder.into(),
        };
        let key = u.update_id.to_string();
        let external = from.id.to_string();
        let store = &self.rt.store;
        let sender = match store.channel_sender("telegram", &external).await? {
            Some(s) if s.revoked_at.is_none() => s,
            _ => {
                // Not paired: the pairing gate answers the text; the file
                // is never fetched.
                let display = from
                    .username
                    .as_ref()
                    .map(|n| format!("@{n}"))
                    .unwrap_or_else(|| from.first_name.clone());
                let inbound = Inbound {
                    channel: "telegram".into(),
                    message_key: key,
                    external_id: external,
                    display,
                    text,
                    group: None,
                };
                return self.ingest(inbound).await.map(|_| ());
            }
        };
        if self.per_sender.check_key(&sender.id).is_err() {
            return Ok(());
        }
        let file = PendingFile {
            file_id: want.file_id,
            declared: want.declared,
            name: want.name,
        };
        if let Some(id) = store
            .channel_inbound_enqueue_file("telegram", &key, sender.id, &text, file)
            .await?
        {
            let me = Arc::clone(self);
            tokio::spawn(async move { me.process(id).await });
        }
        Ok(())
    }

    /// Fetches the file a queued message still waits for (at most
    /// `DOWNLOADS` at a time, each within the client's size and time
    /// caps), so it is attached when the message is posted. Runs in the
    /// row's own task; a restart finds the row queued with its file still
    /// pending and fetches it again.
    pub(super) async fn telegram_pending_file(&self, row: &InboundRow) -> FileStep {
        let store = &self.rt.store;
        let file = match store.channel_inbound_file(row.id).await {
            Ok(Some(f)) => f,
            Ok(None) => return FileStep::Ready,
            Err(e) => {
                tracing::error!(%e, "could not read a pending file");
                return FileStep::Stop;
            }
        };
        let sender = match store.channel_inbound_sender(row.sender_id).await {
            Ok(Some(s)) if s.revoked_at.is_none() => s,
            Ok(_) => {
                let _ = store.channel_inbound_finish(row.id, false).await;
                return FileStep::Stop;
            }
            Err(e) => {
                tracing::error!(%e, "sender lookup failed");
                return FileStep::Stop;
            }
        };
        let want = Wanted {
            file_id: file.file_id,
            declared: file.declared,
            name: file.name,
        };
        let fetched = match &self.telegram {
            Some((client, _)) => {
                let Ok(_slot) = self.downloads.acquire().await else {
                    return FileStep::Stop;
                };
                self.fetch(client, &want, &sender).await
            }
            None => Err(Some(Refused::Unavailable)),
        };
        match fetched {
            Ok(upload) => match store.channel_inbound_file_stored(row.id, upload).await {
                Ok(()) => FileStep::Ready,
                Err(e) => {
                    tracing::error!(%e, "could not attach a Telegram file");
                    FileStep::Stop
                }
            },
            Err(Some(why)) => {
                let text = format!("That file was not accepted: {why}.");
                if self.refused(&sender, &why).await.is_err() {
                    return FileStep::Stop;
                }
                match store.channel_inbound_file_refused(row.id, &text).await {
                    Ok(()) => FileStep::Refused(text),
                    Err(e) => {
                        tracing::error!(%e, "could not record a refused file");
                        FileStep::Stop
                    }
                }
            }
            // A store or file-system failure: the sweeper tries again.
            Err(None) => FileStep::Stop,
        }
    }

    /// Audits a refused file (the caller stores the sender's answer).
    async fn refused(&self, s: &SenderRow, why: &Refused) -> Result<(), ChannelError> {
        let d = audit::Draft::new(
            audit::Actor::channel_sender(s.id.to_string()),
            "chat.upload",
            audit::Outcome::Denied,
        )
        .target("channel:telegram")
        .detail("external_id", s.external_id.clone())
        .detail("message", why.to_string());
        self.rt.audit.record(d).await.map_err(|e| {
            tracing::error!(%e, "could not audit a refused file");
            super::pairing::PairingError::Audit
        })?;
        Ok(())
    }

    /// Fetches, types and stores one file; the upload's row id. `Err(None)`
    /// is our own failure (store, disk), `Err(Some(_))` a refused file.
    async fn fetch(
        &self,
        client: &Client,
        want: &Wanted,
        s: &SenderRow,
    ) -> Result<i64, Option<Refused>> {
        let cap = client.max_file_bytes;
        if want.declared.is_some_and(|n| n > cap) {
            return Err(Some(Refused::TooLarge(cap)));
        }
        let file = client
            .call("getFile", &json!({"file_id": want.file_id}))
            .await
            .ok()
            .and_then(|v| serde_json::from_value::<TgFile>(v).ok())
            .ok_or(Some(Refused::Unavailable))?;
        if file.file_size.is_some_and(|n| n > cap) {
            return Err(Some(Refused::TooLarge(cap)));
        }
        let path = file
            .file_path
            .filter(|p| safe_path(p))
            .ok_or(Some(Refused::Unavailable))?;
        let response = match client.files.get(&client.file_url(&path)).await {
            Ok(r) if r.status == 200 => r,
            Ok(_) => return Err(Some(Refused::Unavailable)),
            Err(netguard::NetError::BodyTooLarge { .. }) => {
                return Err(Some(Refused::TooLarge(cap)));
            }
            Err(e) => {
                tracing::warn!(reason = e.reason(), "telegram: a file download failed");
                return Err(Some(Refused::Unavailable));
            }
        };
        let data = response.body;
        if data.is_empty() {
            return Err(Some(Refused::Unavailable));
        }
        if u64::try_from(data.len()).map_or(true, |n| n > cap) {
            return Err(Some(Refused::TooLarge(cap)));
        }
        let name_hint = want.name.clone().unwrap_or_default();
        let (data, kind) = tokio::task::spawn_blocking(move || {
            let kind = uploadtype::classify(&data, &uploadtype::display_name(&name_hint));
            (data, kind)
        })
        .await
        .map_err(|_| None)?;
        let kind = kind.map_err(|why| Some(Refused::Type(why.0)))?;
        let files = self.upload_files().ok_or(None)?;
        let size = i64::try_from(data.len()).map_err(|_| None)?;
        let address = tokio::task::spawn_blocking(move || files.store(&data))
            .await
            .map_err(|_| None)?
            .map_err(|e| {
                tracing::error!(%e, "could not store a Telegram file");
                None
            })?;
        let row = self
            .rt
            .store
            .upload_insert(NewUpload {
                public_id: public_id(),
                file_name: address,
                size,
                mime: kind.mime().to_string(),
                name: file_name(want, kind.mime()),
                uploader_user: Some(s.user_id),
                uploader_key: None,
                created_at: crate::auth::now_secs(),
            })
            .await
            .map_err(|e| {
                tracing::error!(%e, "could not record a Telegram file");
                None
            })?;
        let d = audit::Draft::new(
            audit::Actor::channel_sender(s.id.to_string()),
            "chat.upload",
            audit::Outcome::Success,
        )
        .target(format!("upload:{}", row.public_id))
        .detail("size", row.size)
        .detail("mime", row.mime.clone())
        .detail("channel", "telegram");
        if let Err(e) = self.rt.audit.record(d).await {
            tracing::error!(%e, "could not audit a Telegram file");
            return Err(None);
        }
        Ok(row.row_id)
    }

    /// The upload store, keyed from the vault as the web server's is.
    fn upload_files(&self) -> Option<UploadFiles> {
        use secrecy::ExposeSecret;
        let value = self.rt.vault.get(crate::secrets::UPLOAD_KEY)?;
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(value.expose_secret().trim(), key.as_mut()).ok()?;
        Some(UploadFiles::new(self.rt.data_dir.uploads_dir(), &key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(v: serde_json::Value) -> Message {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_largest_photo_under_the_cap_is_taken() {
        let m = message(
            json!({"message_id": 1, "chat": {"id": 1, "type": "private"},
            "photo": [
                {"file_id": "s", "file_unique_id": "a", "width": 90, "height": 60, "file_size": 900},
                {"file_id": "m", "file_unique_id": "b", "width": 320, "height": 240, "file_size": 9000},
                {"file_id": "l", "file_unique_id": "c", "width": 1280, "height": 960, "file_size": 90000}]}),
        );
        assert_eq!(wanted(&m, 100_000).unwrap().file_id, "l");
        assert_eq!(wanted(&m, 10_000).unwrap().file_id, "m");
        // Nothing fits: the smallest, which the size check refuses.
        let w = wanted(&m, 100).unwrap();
        assert_eq!((w.file_id.as_str(), w.declared), ("s", Some(900)));
        let text = message(
            json!({"message_id": 1, "chat": {"id": 1, "type": "private"},
            "text": "hi"}),
        );
        assert!(wanted(&text, 100).is_none());
    }

    #[test]
    fn only_plain_relative_file_paths_are_fetched() {
        for ok in ["photos/file_3.jpg", "documents/file_10.pdf"] {
            assert!(safe_path(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../bot/getMe",
            "photos/../../x",
            "photos//x",
            "a?b",
            "a#b",
            "a%2fb",
            "http://evil/x",
        ] {
            assert!(!safe_path(bad), "{bad}");
        }
    }

    #[test]
    fn names_come_from_the_document_or_the_type() {
        let w = |name: Option<&str>| Wanted {
            file_id: "x".into(),
            declared: None,
            name: name.map(str::to_string),
        };
        assert_eq!(file_name(&w(None), "image/png"), "photo.png");
        assert_eq!(file_name(&w(None), "image/jpeg"), "photo.jpg");
        assert_eq!(
            file_name(&w(Some("report.pdf")), "application/pdf"),
            "report.pdf"
        );
    }
}
