//! `[tools]` in config.toml and the netguard clients the web tools use.
//!
//! Owns the tools' egress policy (allow, block and private-address grants,
//! name overrides, limits) and one netguard client per agent, so each
//! agent gets its own limit of fetches in flight, and the client that
//! fetches bookmarked pages for people (same policy, a smaller body cap and
//! time limit, at most `PAGE_FETCHES` at once and one per person). It never
//! decides whether a call may run (the gate does) and never resolves a
//! secret (egress does).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netguard::{Client, Policy, StaticResolver, SystemResolver};
use serde::{Deserialize, Serialize};

/// `[tools]`: what the web tools may reach and how much file tools may hold.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolsConfig {
    /// Host patterns (`host` or `*.suffix`); when any is set, only those.
    pub allow: Vec<String>,
    /// Host patterns always refused.
    pub block: Vec<String>,
    /// Hosts that may resolve to private addresses (a NAS, a LAN service).
    pub allow_private: Vec<String>,
    /// Fixed `HOST:IP` answers, like curl's `--resolve`. The address is
    /// still checked: a private one needs `allow_private` too.
    pub resolve: Vec<String>,
    /// Largest response body a web tool reads.
    pub max_body_bytes: usize,
    /// Seconds for a whole fetch, redirects included.
    pub timeout_secs: u64,
    /// Fetches in flight at once per agent.
    pub max_concurrent: usize,
    /// Largest file a file tool reads or writes.
    pub max_file_bytes: usize,
    /// Most characters of a result handed back to the model.
    pub max_result_chars: usize,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            block: Vec::new(),
            allow_private: Vec::new(),
            resolve: Vec::new(),
            max_body_bytes: 5 * 1024 * 1024,
            timeout_secs: 30,
            max_concurrent: 10,
            max_file_bytes: 1024 * 1024,
            max_result_chars: 20_000,
        }
    }
}

impl ToolsConfig {
    /// The netguard policy these settings describe.
    pub fn policy(&self) -> Result<Policy, String> {
        let mut b = Policy::builder();
        for p in &self.allow {
            b = b.allow(p).map_err(|e| format!("tools.allow: {e}"))?;
        }
        for p in &self.block {
            b = b.block(p).map_err(|e| format!("tools.block: {e}"))?;
        }
        for p in &self.allow_private {
            b = b
                .allow_private(p)
                .map_err(|e| format!("tools.allow_private: {e}"))?;
        }
        let total = Duration::from_secs(self.timeout_secs.clamp(1, 300));
        Ok(b.connect_timeout(total.min(Duration::from_secs(10)))
            .read_timeout(total)
            .total_timeout(total)
            .max_body_bytes(self.max_body_bytes)
            .max_concurrent(self.max_concurrent)
            .build())
    }

    fn resolver(&self) -> Result<StaticResolver, String> {
        let mut r = StaticResolver::with_fallback(Arc::new(SystemResolver));
        for spec in &self.resolve {
            r.add_override(spec)
                .map_err(|e| format!("tools.resolve: {e}"))?;
        }
        Ok(r)
    }

    pub fn validate(&self) -> Result<(), String> {
        self.policy()?;
        self.resolver()?;
        if self.max_file_bytes == 0 || self.max_body_bytes == 0 || self.max_result_chars == 0 {
            return Err("tools limits must be positive".into());
        }
        Ok(())
    }
}

/// Bookmarked-page fetches in flight at once, for everyone.
pub const PAGE_FETCHES: usize = 4;
/// Largest page body a bookmark fetch reads.
pub const PAGE_MAX_BYTES: usize = 2 * 1024 * 1024;
/// Seconds for a whole bookmark fetch, redirects included.
pub const PAGE_TIMEOUT_SECS: u64 = 20;

/// The tools' egress: one policy, one resolver, a client per agent.
pub(crate) struct ToolNet {
    pub config: ToolsConfig,
    policy: Policy,
    resolver: Arc<StaticResolver>,
    clients: Mutex<HashMap<i64, Client>>,
    pages: Client,
    /// Users with a page fetch in flight.
    page_users: Arc<Mutex<HashSet<i64>>>,
}

/// A person's one page fetch in flight; dropping it frees the place.
pub(crate) struct PageSlot {
    user: i64,
    users: Arc<Mutex<HashSet<i64>>>,
}

impl Drop for PageSlot {
    fn drop(&mut self) {
        if let Ok(mut set) = self.users.lock() {
            set.remove(&self.user);
        }
    }
}

impl std::fmt::Debug for ToolNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ToolNet")
    }
}

impl ToolNet {
    pub fn new(config: ToolsConfig) -> Result<Self, String> {
        let resolver = Arc::new(config.resolver()?);
        let pages_config = ToolsConfig {
            max_body_bytes: config.max_body_bytes.min(PAGE_MAX_BYTES),
            timeout_secs: config.timeout_secs.min(PAGE_TIMEOUT_SECS),
            max_concurrent: PAGE_FETCHES,
            ..config.clone()
        };
        let pages = Client::new(pages_config.policy()?, resolver.clone())
            .map_err(|e| format!("could not build the page client: {e}"))?;
        Ok(ToolNet {
            policy: config.policy()?,
            resolver,
            config,
            clients: Mutex::new(HashMap::new()),
            pages,
            page_users: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// The client for bookmarked pages and the caller's one place to use
    /// it; `None` while the user already has a page fetch in flight.
    pub fn page_client(&self, user: i64) -> Option<(Client, PageSlot)> {
        let mut set = self.page_users.lock().ok()?;
        if !set.insert(user) {
            return None;
        }
        Some((
            self.pages.clone(),
            PageSlot {
                user,
                users: Arc::clone(&self.page_users),
            },
        ))
    }

    /// The agent's client; clones share its limit of fetches in flight.
    pub fn client(&self, agent: i64) -> Result<Client, String> {
        let mut map = self
            .clients
            .lock()
            .map_err(|_| "the tool network is unavailable".to_string())?;
        if let Some(c) = map.get(&agent) {
            return Ok(c.clone());
        }
        let client = Client::new(self.policy.clone(), self.resolver.clone())
            .map_err(|e| format!("could not build the tool client: {e}"))?;
        map.insert(agent, client.clone());
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_patterns_and_overrides_are_refused() {
        let mut c = ToolsConfig::default();
        assert!(c.validate().is_ok());
        c.resolve = vec!["nohost".into()];
        assert!(c.validate().is_err());
        c.resolve = vec!["api.test:127.0.0.1".into()];
        assert!(c.validate().is_ok());
        c.allow = vec!["*".into()];
        assert!(c.validate().is_err());
    }
}
