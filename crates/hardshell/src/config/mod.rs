//! Settings from `config.toml` in the data directory.
//!
//! Config never holds secrets (those live in the vault); unknown keys are an
//! error so that a typo in a security setting is not silently ignored.

pub mod datadir;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use datadir::{DataDir, DataDirError};

pub const DEFAULT_BIND: &str = "127.0.0.1:18780";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid setting {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub limits: Limits,
    /// Approval expiry and who may decide (docs/architecture.md, "Agent tools, the gate, trust and approvals").
    pub approvals: crate::trust::ApprovalSettings,
    /// Where the audit chain's anchors live outside the data directory.
    pub audit: AuditConfig,
    /// What the web tools may reach and the file tools' limits (docs/architecture.md, "Agent tools, the gate, trust and approvals").
    pub tools: crate::agents::tools::ToolsConfig,
    /// Where backups go and whom they are encrypted to (docs/architecture.md, "Operations: backups and doctor").
    pub backup: BackupConfig,
    /// Critical `doctor` findings the owner accepts (docs/architecture.md, "Operations: backups and doctor").
    pub doctor: DoctorConfig,
    /// Signed webhooks and other messaging channels (docs/architecture.md, "Channels and pairing").
    pub channels: crate::channels::config::ChannelsConfig,
    /// The optional model judge of untrusted content (docs/architecture.md, "The path of an agent turn").
    pub promptguard: crate::agents::judge::PromptguardConfig,
    /// `/metrics` for Prometheus (docs/architecture.md, "Operations: backups and doctor"), off by default.
    pub metrics: MetricsConfig,
}

/// `[metrics]`: the Prometheus endpoint, owner bearer only.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` and record counters; off by default.
    pub enabled: bool,
}

/// `[doctor]`: findings acknowledged by id, so they no longer stop `serve`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DoctorConfig {
    /// Ids such as `"trust.risky_domain"`; each is still reported.
    pub acknowledge: Vec<String>,
}

/// `[backup]`: the default archive directory and age recipient.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Where `backup create` writes and `backup list` looks (default: a
    /// directory beside the data directory, `~/.hardshell-backups`).
    pub dir: Option<PathBuf>,
    /// An age public key (`age1…`) archives are encrypted to when no
    /// passphrase or recipient is given on the command line.
    pub recipient: Option<String>,
    /// Scheduled backups by the server: how often (`"24h"`, `"30m"`,
    /// `"7d"`). Needs `recipient`.
    pub every: Option<String>,
    /// Scheduled archives kept in `dir` (older ones are deleted); default 7.
    pub keep: Option<usize>,
}

/// Parses `"24h"`-style intervals (`humantime`: `90s`, `30m`, `24h`, `7d`,
/// `1h 30m`); zero is refused.
pub fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?}: {e} (write it like \"24h\", \"30m\" or \"7d\")"))?;
    if d.is_zero() {
        return Err(format!("{s:?} must be longer than zero"));
    }
    Ok(d)
}

/// `[audit]`: the outside anchor's place and the optional witness (docs/architecture.md, "Audit log and anchors").
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Directory for the outside anchor (another disk, a mounted share).
    /// Default: beside the machine key (`~/.config/hardshell`).
    pub outside_anchor_dir: Option<PathBuf>,
    /// Append-only file that receives each new signed head (never content).
    pub witness_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default.
    pub bind: SocketAddr,
    /// The origin browsers use to reach the server (e.g. `https://hs.example.com`).
    /// The server's own bind origin is always allowed; this adds the public one.
    pub public_origin: Option<String>,
    /// Extra origins allowed for state-changing cookie requests and WebSocket upgrades.
    pub allowed_origins: Vec<String>,
    /// TLS served by Hardshell itself (rustls).
    pub tls: Option<TlsConfig>,
    /// Set when a reverse proxy terminates TLS in front of Hardshell.
    pub behind_proxy: bool,
    /// Proxies whose `X-Forwarded-For` / `X-Real-IP` are believed. IPs or CIDRs.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 18780)),
            public_origin: None,
            allowed_origins: Vec::new(),
            tls: None,
            behind_proxy: false,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest JSON request body, in bytes.
    pub json_body_bytes: usize,
    /// Largest upload, in bytes.
    pub upload_bytes: usize,
    /// Largest WebSocket frame or message a client may send, in bytes.
    pub ws_frame_bytes: usize,
    /// Messages a WebSocket client may send per minute.
    pub ws_messages_per_minute: u32,
    /// Seconds between server pings; a connection that has not answered by
    /// the next ping is closed, and the credential is re-checked each time.
    pub ws_ping_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            json_body_bytes: 64 * 1024,
            upload_bytes: 20 * 1024 * 1024,
            ws_frame_bytes: 16 * 1024,
            ws_messages_per_minute: 120,
            ws_ping_secs: 20,
        }
    }
}

/// A parsed trusted-proxy entry: one address or a CIDR block (`ipnet`).
///
/// Blocks wider than a /16 (IPv4) or a /48 (IPv6) are refused: a proxy
/// list is a handful of machines, and `0.0.0.0/0` would let anyone on the
/// internet set `X-Forwarded-For` and pass as a proxied local client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet(ipnet::IpNet);

/// The widest block a trusted-proxy entry may name.
pub const WIDEST_PROXY_V4: u8 = 16;
pub const WIDEST_PROXY_V6: u8 = 48;

impl ProxyNet {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let net = match s.parse::<ipnet::IpNet>() {
            Ok(net) => net,
            Err(_) => s
                .parse::<IpAddr>()
                .map(ipnet::IpNet::from)
                .map_err(|_| format!("not an IP address or CIDR block: {s}"))?,
        };
        let widest = match net {
            ipnet::IpNet::V4(_) => WIDEST_PROXY_V4,
            ipnet::IpNet::V6(_) => WIDEST_PROXY_V6,
        };
        if net.prefix_len() < widest {
            return Err(format!(
                "{s} is wider than a /{widest}: list the proxies' own addresses, \
                 not a whole network (anyone in it could forge X-Forwarded-For)"
            ));
        }
        Ok(Self(net.trunc()))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical_ip(ip))
    }
}

/// IPv4-mapped IPv6 peers (dual-stack sockets) compare as IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

impl Config {
    /// Reads `config.toml`; a missing file means defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.message().to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.trusted_proxy_nets()?;
        self.channels
            .validate()
            .and_then(|()| {
                crate::channels::telegram_webhook::check_origin(
                    &self.channels,
                    self.server.public_origin.as_deref(),
                )
            })
            .map_err(|message| ConfigError::Invalid {
                key: "channels",
                message,
            })?;
        self.tools
            .validate()
            .map_err(|message| ConfigError::Invalid {
                key: "tools",
                message,
            })?;
        self.promptguard
            .validate()
            .map_err(|message| ConfigError::Invalid {
                key: "promptguard",
                message,
            })?;
        for origin in self
            .server
            .allowed_origins
            .iter()
            .chain(self.server.public_origin.iter())
        {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.trim_end_matches('/').matches('/').count() != 2
            {
                return Err(ConfigError::Invalid {
                    key: "server.allowed_origins",
                    message: format!("{origin:?} is not an origin like https://host[:port]"),
                });
            }
        }
        if let Some(every) = &self.backup.every {
            parse_interval(every).map_err(|message| ConfigError::Invalid {
                key: "backup.every",
                message,
            })?;
            if self.backup.recipient.is_none() {
                return Err(ConfigError::Invalid {
                    key: "backup.every",
                    message: "scheduled backups need `recipient` (an age public key): the server \
                              has no passphrase to encrypt them with"
                        .into(),
                });
            }
        }
        if self.backup.keep == Some(0) {
            return Err(ConfigError::Invalid {
                key: "backup.keep",
                message: "keep at least one backup".into(),
            });
        }
        let l = &self.limits;
        if l.json_body_bytes == 0
            || l.upload_bytes == 0
            || l.ws_frame_bytes == 0
            || l.ws_messages_per_minute == 0
            || l.ws_ping_secs == 0
        {
            return Err(ConfigError::Invalid {
                key: "limits",
                message: "limits must be greater than zero".into(),
            });
        }
        Ok(())
    }

    pub fn trusted_proxy_nets(&self) -> Result<Vec<ProxyNet>, ConfigError> {
        self.server
            .trusted_proxies
            .iter()
            .map(|s| {
                ProxyNet::parse(s).map_err(|message| ConfigError::Invalid {
                    key: "server.trusted_proxies",
                    message,
                })
            })
            .collect()
    }

    /// The text `init` writes: the defaults, with comments a person can follow.
    pub fn default_file_text() -> String {
        format!(
            "# Hardshell settings. Secrets never go here: use `hardshell vault set`.\n\
             [server]\n\
             bind = \"{DEFAULT_BIND}\"\n\
             # To listen beyond loopback, configure TLS or a reverse proxy first:\n\
             # tls = {{ cert = \"/path/cert.pem\", key = \"/path/key.pem\" }}\n\
             # behind_proxy = true\n\
             # trusted_proxies = [\"127.0.0.1\"]\n\
             # public_origin = \"https://hardshell.example.com\"\n\
             allowed_origins = []\n\n\
             [limits]\n\
             json_body_bytes = 65536\n\
             upload_bytes = 20971520\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_parses_to_defaults() {
        let c: Config = toml::from_str(&Config::default_file_text()).unwrap();
        assert_eq!(c.server.bind, Config::default().server.bind);
        c.validate().unwrap();
    }

    #[test]
    fn intervals_and_scheduled_backups_are_checked() {
        assert_eq!(parse_interval("24h").unwrap().as_secs(), 86_400);
        assert_eq!(parse_interval("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_interval("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(parse_interval("1h 30m").unwrap().as_secs(), 5400);
        for bad in ["", "h", "0h", "24", "-1h", "soon", "99999999999999999999d"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
        let no_recipient: Config = toml::from_str("[backup]\nevery = \"24h\"\n").unwrap();
        assert!(no_recipient.validate().is_err());
        let zero: Config = toml::from_str("[backup]\nkeep = 0\n").unwrap();
        assert!(zero.validate().is_err());
        let ok: Config =
            toml::from_str("[backup]\nevery = \"24h\"\nkeep = 3\nrecipient = \"age1x\"\n\n[metrics]\nenabled = true\n")
                .unwrap();
        ok.validate().unwrap();
        assert!(ok.metrics.enabled);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<Config>("[server]\nbnid = \"0.0.0.0:1\"\n").unwrap_err();
        assert!(err.to_string().contains("bnid"));
    }

    #[test]
    fn proxy_nets_match_cidrs_and_mapped_addresses() {
        let n = ProxyNet::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        let one = ProxyNet::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6 = ProxyNet::parse("fd00:1:2::/48").unwrap();
        assert!(v6.contains("fd00:1:2::1".parse().unwrap()));
        assert!(!v6.contains("fd00:1:3::1".parse().unwrap()));
        assert!(ProxyNet::parse("10.0.0.0/33").is_err());
        assert!(ProxyNet::parse("nope").is_err());
        // Too wide to be a list of proxies: refused, with the reason.
        for wide in [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "10.0.0.0/15",
            "::/0",
            "fd00::/8",
            "2001:db8::/47",
        ] {
            let err = ProxyNet::parse(wide).unwrap_err();
            assert!(err.contains("wider than"), "{wide}: {err}");
        }
        assert!(ProxyNet::parse("10.1.0.0/16").is_ok());
        assert!(ProxyNet::parse("2001:db8:1::/48").is_ok());
    }

    #[test]
    fn a_judge_must_name_provider_and_model() {
        let c: Config = toml::from_str("[promptguard]\njudge = \"ollama/llama3.2\"\n").unwrap();
        c.validate().unwrap();
        let c: Config = toml::from_str("[promptguard]\njudge = \"llama3.2\"\n").unwrap();
        assert!(c.validate().is_err());
        assert!(toml::from_str::<Config>("[promptguard]\njugde = \"a/b\"\n").is_err());
    }

    #[test]
    fn bad_origin_is_rejected() {
        let mut c = Config::default();
        c.server.allowed_origins = vec!["https://a.example/path".into()];
        assert!(c.validate().is_err());
        c.server.allowed_origins = vec!["https://a.example:8443".into()];
        c.validate().unwrap();
    }
}
