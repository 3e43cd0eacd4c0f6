//! Chat: conversations, messages, mentions, uploads and live events.
//!
//! Domain rules live here without HTTP types; SQL lives in `store::chat`
//! and `store::uploads`. Who may see what is decided from membership in
//! the store, never from anything the client claims.

pub mod hub;
pub mod markdown;
pub mod mentions;
pub mod owner_notices;
pub mod search;
pub mod upload_files;
pub mod upload_slots;
pub mod upload_stream;
pub mod validate;
