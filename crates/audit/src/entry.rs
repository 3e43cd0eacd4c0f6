//! The audit entry model, the draft builder and the entry's canonical form.
//!
//! Owns: field names (a stable export and hashing contract), actor kinds,
//! outcomes, timestamps and the exact bytes an entry's hash covers. It must
//! never compute MACs itself (see `seal` / `verify`) or touch storage.

use crate::canonical::{write_canonical, write_string};
use crate::error::AuditError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// `prev_hash` of entry 1: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A signed-in person.
    User,
    /// An outside agent or automation using an API key.
    AgentKey,
    /// One of the server's own agents.
    Agent,
    /// A sender on a messaging channel (Telegram etc.).
    ChannelSender,
    /// The server itself.
    System,
}

impl ActorKind {
    /// The stored / exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::AgentKey => "agent_key",
            Self::Agent => "agent",
            Self::ChannelSender => "channel_sender",
            Self::System => "system",
        }
    }
}

impl std::str::FromStr for ActorKind {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, AuditError> {
        Ok(match s {
            "user" => Self::User,
            "agent_key" => Self::AgentKey,
            "agent" => Self::Agent,
            "channel_sender" => Self::ChannelSender,
            "system" => Self::System,
            other => return Err(AuditError::UnknownActorKind(other.to_owned())),
        })
    }
}

/// Actor of an entry: kind plus an id within that kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// What kind of principal.
    pub kind: ActorKind,
    /// Its id (user id, key id, agent id, channel sender id; `system` for the server).
    pub id: String,
}

impl Actor {
    /// An actor of any kind.
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }
    /// A signed-in user.
    pub fn user(id: impl Into<String>) -> Self {
        Self::new(ActorKind::User, id)
    }
    /// A caller authenticated by an API key (id: the key's public id).
    pub fn agent_key(id: impl Into<String>) -> Self {
        Self::new(ActorKind::AgentKey, id)
    }
    /// One of the server's agents.
    pub fn agent(id: impl Into<String>) -> Self {
        Self::new(ActorKind::Agent, id)
    }
    /// A messaging-channel sender.
    pub fn channel_sender(id: impl Into<String>) -> Self {
        Self::new(ActorKind::ChannelSender, id)
    }
    /// The server itself.
    pub fn system() -> Self {
        Self::new(ActorKind::System, "system")
    }
}

/// How the action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was attempted and failed (bad password, error).
    Failure,
    /// A control refused it (permission, trust level, rate limit).
    Denied,
}

impl Outcome {
    /// The stored / exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, AuditError> {
        Ok(match s {
            "success" => Self::Success,
            "failure" => Self::Failure,
            "denied" => Self::Denied,
            other => return Err(AuditError::UnknownOutcome(other.to_owned())),
        })
    }
}

/// One sealed audit entry, as stored and exported (JSONL field names are stable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the chain, contiguous from 1.
    pub seq: u64,
    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-23T21:40:00.123Z`.
    pub ts: String,
    /// Who did it.
    pub actor: Actor,
    /// Dotted event name, e.g. `vault.set`.
    pub action: String,
    /// What it was done to; may be empty.
    pub target: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Client address, when there was one.
    pub ip: Option<String>,
    /// Event-specific JSON object (already redacted).
    pub details: Value,
    /// `hash` of the previous entry (64 hex), or [`GENESIS_HASH`].
    pub prev_hash: String,
    /// HMAC-SHA256 of [`Entry::canonical_body`] (64 lowercase hex).
    pub hash: String,
}

impl Entry {
    /// The canonical JSON (RFC 8785) of every field except `hash`: the exact
    /// bytes the entry's HMAC covers.
    pub fn canonical_body(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_canonical_body(&mut out);
        out
    }

    /// Like [`Entry::canonical_body`], reusing `out`'s allocation.
    pub fn write_canonical_body(&self, out: &mut String) {
        out.clear();
        // Keys written in JCS order (all ASCII, so byte order = UTF-16 order):
        // action, actor{id,kind}, details, ip, outcome, prev_hash, seq, target, ts.
        out.push_str("{\"action\":");
        write_string(&self.action, out);
        out.push_str(",\"actor\":{\"id\":");
        write_string(&self.actor.id, out);
        out.push_str(",\"kind\":");
        write_string(self.actor.kind.as_str(), out);
        out.push_str("},\"details\":");
        write_canonical(&self.details, out);
        out.push_str(",\"ip\":");
        match &self.ip {
            Some(ip) => write_string(ip, out),
            None => out.push_str("null"),
        }
        out.push_str(",\"outcome\":");
        write_string(self.outcome.as_str(), out);
        out.push_str(",\"prev_hash\":");
        write_string(&self.prev_hash, out);
        let _ = write!(out, ",\"seq\":{}", self.seq);
        out.push_str(",\"target\":");
        write_string(&self.target, out);
        out.push_str(",\"ts\":");
        write_string(&self.ts, out);
        out.push('}');
    }
}

/// The head of the chain an entry is appended to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// Seq of the last entry (0 for an empty chain).
    pub seq: u64,
    /// Hash of the last entry ([`GENESIS_HASH`] for an empty chain).
    pub hash: String,
}

impl ChainHead {
    /// The head of an empty chain.
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
    /// The head after `entry`.
    pub fn of(entry: &Entry) -> Self {
        Self {
            seq: entry.seq,
            hash: entry.hash.clone(),
        }
    }
}

/// An event before it is sealed into the chain. Not yet redacted, so its
/// `Debug` shows only the action, actor and outcome.
#[derive(Clone, PartialEq)]
pub struct Draft {
    pub(crate) ts: String,
    pub(crate) actor: Actor,
    pub(crate) action: String,
    pub(crate) target: String,
    pub(crate) outcome: Outcome,
    pub(crate) ip: Option<String>,
    pub(crate) details: Map<String, Value>,
}

impl std::fmt::Debug for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draft")
            .field("action", &self.action)
            .field("actor", &self.actor)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl Draft {
    /// A draft stamped with the current time, no target, ip or details.
    pub fn new(actor: Actor, action: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            ts: format_ts(SystemTime::now()),
            actor,
            action: action.into(),
            target: String::new(),
            outcome,
            ip: None,
            details: Map::new(),
        }
    }
    /// Sets what the action was done to.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = target.into();
        self
    }
    /// Sets the client address.
    pub fn ip(mut self, ip: impl ToString) -> Self {
        self.ip = Some(ip.to_string());
        self
    }
    /// Sets the client address if there is one.
    pub fn ip_opt(mut self, ip: Option<impl ToString>) -> Self {
        self.ip = ip.map(|i| i.to_string());
        self
    }
    /// Sets the details. An object is used as is, `null` means none, and any
    /// other value is stored as `{"value": ...}` so details stay an object.
    pub fn details(mut self, details: Value) -> Self {
        self.details = match details {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                let mut map = Map::new();
                map.insert("value".to_owned(), other);
                map
            }
        };
        self
    }
    /// Adds one details field.
    pub fn detail(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.insert(name.into(), value.into());
        self
    }
    /// Overrides the timestamp (e.g. the moment the event happened).
    pub fn at(mut self, when: SystemTime) -> Self {
        self.ts = format_ts(when);
        self
    }
}

/// Formats a time as RFC 3339 UTC with milliseconds: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
/// Times before 1970 are clamped to the epoch.
pub fn format_ts(when: SystemTime) -> String {
    let since = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let (y, m, d) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Gregorian (year, month, day) of a day count since 1970-01-01
/// (H. Hinnant's days-to-civil algorithm, non-negative days only).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::to_canonical_string;
    use serde_json::json;
    use std::time::Duration;

    fn sample() -> Entry {
        Entry {
            seq: 7,
            ts: "2026-11-23T21:40:00.123Z".into(),
            actor: Actor::user("42"),
            action: "auth.login".into(),
            target: "user:42".into(),
            outcome: Outcome::Failure,
            ip: Some("192.0.2.1".into()),
            details: json!({"b": [1, 2.5, {"\u{e000}": 1, "\u{1f600}": 2}], "a": "x\ny"}),
            prev_hash: GENESIS_HASH.into(),
            hash: "ab".repeat(32),
        }
    }

    #[test]
    fn canonical_body_equals_generic_canonical_form_without_hash() {
        for ip in [Some("192.0.2.1".to_owned()), None] {
            let mut e = sample();
            e.ip = ip;
            let mut v = serde_json::to_value(&e).unwrap();
            v.as_object_mut().unwrap().remove("hash");
            assert_eq!(e.canonical_body(), to_canonical_string(&v));
        }
    }

    #[test]
    fn json_field_names_are_stable_and_round_trip() {
        let e = sample();
        let v = serde_json::to_value(&e).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "action",
                "actor",
                "details",
                "hash",
                "ip",
                "outcome",
                "prev_hash",
                "seq",
                "target",
                "ts"
            ]
        );
        assert_eq!(v["actor"], json!({"kind": "user", "id": "42"}));
        assert_eq!(v["outcome"], json!("failure"));
        let line = serde_json::to_string(&e).unwrap();
        let back: Entry = serde_json::from_str(&line).unwrap();
        assert_eq!(back, e);
        let mut none_ip = e.clone();
        none_ip.ip = None;
        assert_eq!(serde_json::to_value(&none_ip).unwrap()["ip"], Value::Null);
    }

    #[test]
    fn kinds_and_outcomes_parse_their_own_names_only() {
        for k in [
            ActorKind::User,
            ActorKind::AgentKey,
            ActorKind::Agent,
            ActorKind::ChannelSender,
            ActorKind::System,
        ] {
            assert_eq!(k.as_str().parse::<ActorKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
        for o in [Outcome::Success, Outcome::Failure, Outcome::Denied] {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
            assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
        }
        assert!("admin".parse::<ActorKind>().is_err());
        assert!("User".parse::<ActorKind>().is_err());
        assert!("ok".parse::<Outcome>().is_err());
    }

    #[test]
    fn timestamps_are_rfc3339_utc_millis() {
        let at = |ms: u64| format_ts(UNIX_EPOCH + Duration::from_millis(ms));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(1_795_470_000_123), "2026-11-23T21:40:00.123Z");
        assert_eq!(at(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
        assert_eq!(at(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(format_ts(before), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn draft_builder_sets_every_field() {
        let d = Draft::new(Actor::user("42"), "auth.login", Outcome::Success)
            .target("user:42")
            .ip("198.51.100.7")
            .details(json!({"method": "password"}))
            .detail("n", 3);
        assert_eq!(d.action, "auth.login");
        assert_eq!(d.target, "user:42");
        assert_eq!(d.ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(
            Value::Object(d.details.clone()),
            json!({"method": "password", "n": 3})
        );
        assert_eq!(d.ts.len(), "2026-11-23T21:40:00.123Z".len());
        assert!(d.ts.ends_with('Z'));
        let wrapped = Draft::new(Actor::system(), "x", Outcome::Success).details(json!([1]));
        assert_eq!(Value::Object(wrapped.details), json!({"value": [1]}));
        let none = Draft::new(Actor::system(), "x", Outcome::Success).ip_opt(None::<String>);
        assert_eq!(none.ip, None);
    }

    #[test]
    fn draft_debug_hides_unredacted_fields() {
        let d = Draft::new(Actor::user("1"), "vault.set", Outcome::Success)
            .target("secret-target-xyz")
            .details(json!({"password": "hunter2-secret"}));
        let shown = format!("{d:?}");
        assert!(shown.contains("vault.set"));
        assert!(
            !shown.contains("hunter2-secret") && !shown.contains("secret-target-xyz"),
            "{shown}"
        );
    }
}
