//! The credentials aggregate's interface: setup tokens, sessions with
//! their cookie/bearer/refresh tokens, identity keys and agent keys, as
//! every backend provides them. The SQLCipher implementation is the
//! inherent methods in `auth.rs` (with the credential cache in front of the
//! lookups); the PostgreSQL one is `pg/credentials.rs`. The conformance
//! suite (`tests/store_conformance/credentials.rs`) runs the same cases on
//! both.
//!
//! Every credential arrives already hashed; no implementation may store or
//! return a token in a reversible form, and a revocation must hold from the
//! next lookup on.

use super::auth::{
    AgentKeyRow, NewAgentKey, NewSession, NewToken, RefreshOutcome, SessionAuth, SessionInfo,
    SetupOutcome, TokenHash,
};
use super::users::UserRow;
use super::{Fut, Store};

pub trait CredentialStore: Send + Sync {
    /// Replaces every setup token with this one.
    fn setup_token_replace(&self, hash: TokenHash, expires_at: i64) -> impl Fut<()>;
    /// Spends the setup token and creates the owner in one transaction;
    /// once an owner exists, setup is `Gone` for good. Two setups racing
    /// with the one token create one owner.
    fn setup_create_owner(
        &self,
        hash: TokenHash,
        now: i64,
        username: String,
        password_hash: String,
    ) -> impl Fut<SetupOutcome>;
    /// Creates a session with its first tokens; returns (row id, public id).
    fn session_create(&self, s: NewSession, tokens: Vec<NewToken>) -> impl Fut<(i64, String)>;
    /// The live session behind a cookie or access token: expired, spent,
    /// revoked, idle-out (web), disabled-user, revoked- or expired-key and
    /// disabled-key-creator sessions are `None`.
    fn session_by_token(
        &self,
        hash: TokenHash,
        kind: &'static str,
        now: i64,
        idle_secs: i64,
    ) -> impl Fut<Option<SessionAuth>>;
    /// Records activity on a session (for the idle limit).
    fn session_touch(&self, session_id: i64, now: i64) -> impl Fut<()>;
    /// Spends a refresh token and stores its successors (ending the access
    /// tokens issued before); a token already spent revokes its whole
    /// family. Two presentations racing: one `Rotated`, the other `Reused`.
    fn refresh_rotate(
        &self,
        hash: TokenHash,
        now: i64,
        next: Vec<NewToken>,
    ) -> impl Fut<RefreshOutcome>;
    /// Revokes one session by row id; true if it was live.
    fn session_revoke(&self, session_id: i64) -> impl Fut<bool>;
    /// Revokes a user's own session by public id; another user's id is
    /// simply not revoked (false).
    fn session_revoke_public(&self, user_id: i64, public_id: String) -> impl Fut<bool>;
    /// Revokes every live session of a user; returns how many.
    fn sessions_revoke_all(&self, user_id: i64) -> impl Fut<usize>;
    /// A user's live sessions, newest first.
    fn sessions_list(
        &self,
        user_id: i64,
        current: Option<i64>,
        now: i64,
    ) -> impl Fut<Vec<SessionInfo>>;
    /// Stores a user's identity key, replacing the old one (true if so).
    fn identity_key_replace(&self, user_id: i64, hash: TokenHash) -> impl Fut<bool>;
    /// The enabled user an identity key belongs to.
    fn identity_key_user(&self, hash: TokenHash) -> impl Fut<Option<UserRow>>;
    fn agent_key_create(&self, k: NewAgentKey) -> impl Fut<AgentKeyRow>;
    /// Every key, oldest first.
    fn agent_keys_list(&self) -> impl Fut<Vec<AgentKeyRow>>;
    /// An unrevoked key by hash whose creator is enabled, with the
    /// creator's current role (the caller checks expiry).
    fn agent_key_by_hash(&self, hash: TokenHash) -> impl Fut<Option<AgentKeyRow>>;
    /// The public id of a revoked key with this hash.
    fn agent_key_revoked(&self, hash: TokenHash) -> impl Fut<Option<String>>;
    fn agent_key_touch(&self, row_id: i64, now: i64) -> impl Fut<()>;
    /// Revokes a key (and every bearer it was exchanged for).
    fn agent_key_revoke(&self, public_id: String) -> impl Fut<AgentKeyRow>;
    fn agent_key_delete(&self, public_id: String) -> impl Fut<AgentKeyRow>;
}

impl CredentialStore for Store {
    fn setup_token_replace(&self, hash: TokenHash, expires_at: i64) -> impl Fut<()> {
        Store::setup_token_replace(self, hash, expires_at)
    }
    fn setup_create_owner(
        &self,
        hash: TokenHash,
        now: i64,
        username: String,
        password_hash: String,
    ) -> impl Fut<SetupOutcome> {
        Store::setup_create_owner(self, hash, now, username, password_hash)
    }
    fn session_create(&self, s: NewSession, tokens: Vec<NewToken>) -> impl Fut<(i64, String)> {
        Store::session_create(self, s, tokens)
    }
    fn session_by_token(
        &self,
        hash: TokenHash,
        kind: &'static str,
        now: i64,
        idle_secs: i64,
    ) -> impl Fut<Option<SessionAuth>> {
        Store::session_by_token(self, hash, kind, now, idle_secs)
    }
    fn session_touch(&self, session_id: i64, now: i64) -> impl Fut<()> {
        Store::session_touch(self, session_id, now)
    }
    fn refresh_rotate(
        &self,
        hash: TokenHash,
        now: i64,
        next: Vec<NewToken>,
    ) -> impl Fut<RefreshOutcome> {
        Store::refresh_rotate(self, hash, now, next)
    }
    fn session_revoke(&self, session_id: i64) -> impl Fut<bool> {
        Store::session_revoke(self, session_id)
    }
    fn session_revoke_public(&self, user_id: i64, public_id: String) -> impl Fut<bool> {
        Store::session_revoke_public(self, user_id, public_id)
    }
    fn sessions_revoke_all(&self, user_id: i64) -> impl Fut<usize> {
        Store::sessions_revoke_all(self, user_id)
    }
    fn sessions_list(
        &self,
        user_id: i64,
        current: Option<i64>,
        now: i64,
    ) -> impl Fut<Vec<SessionInfo>> {
        Store::sessions_list(self, user_id, current, now)
    }
    fn identity_key_replace(&self, user_id: i64, hash: TokenHash) -> impl Fut<bool> {
        Store::identity_key_replace(self, user_id, hash)
    }
    fn identity_key_user(&self, hash: TokenHash) -> impl Fut<Option<UserRow>> {
        Store::identity_key_user(self, hash)
    }
    fn agent_key_create(&self, k: NewAgentKey) -> impl Fut<AgentKeyRow> {
        Store::agent_key_create(self, k)
    }
    fn agent_keys_list(&self) -> impl Fut<Vec<AgentKeyRow>> {
        Store::agent_keys_list(self)
    }
    fn agent_key_by_hash(&self, hash: TokenHash) -> impl Fut<Option<AgentKeyRow>> {
        Store::agent_key_by_hash(self, hash)
    }
    fn agent_key_revoked(&self, hash: TokenHash) -> impl Fut<Option<String>> {
        Store::agent_key_revoked(self, hash)
    }
    fn agent_key_touch(&self, row_id: i64, now: i64) -> impl Fut<()> {
        Store::agent_key_touch(self, row_id, now)
    }
    fn agent_key_revoke(&self, public_id: String) -> impl Fut<AgentKeyRow> {
        Store::agent_key_revoke(self, public_id)
    }
    fn agent_key_delete(&self, public_id: String) -> impl Fut<AgentKeyRow> {
        Store::agent_key_delete(self, public_id)
    }
}
