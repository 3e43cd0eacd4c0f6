//! The individual checks of `doctor`, one function per area. Each appends
//! findings; none changes anything except `permissions` with `fix`, which
//! only clears group and other bits.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;

use super::{Context, DoctorError, Finding, Severity};
use crate::audit_log::AuditLog;
use crate::config::{Config, DataDir};
use crate::secrets::PassphraseSource;
use crate::store::doctor::{DoctorFacts, OwnerHash};

const DAY: i64 = 86_400;
/// A key unused for this long should be revoked.
const UNUSED_DAYS: i64 = 90;
/// The newest backup should be younger than this.
const BACKUP_DAYS: i64 = 7;
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Data directory modes: 0700 directories, 0600 files, no links. With
/// `fix`, tightens whatever is too open and reports what it changed.
pub fn permissions(dd: &DataDir, fix: bool) -> Finding {
    if fix
        && let Ok(changed) = dd.tighten_permissions()
        && !changed.is_empty()
    {
        let mut f = Finding::new(
            "permissions.too_open",
            Severity::Critical,
            format!(
                "{} path(s) in the data directory were readable by group or others: {}",
                changed.len(),
                changed
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "tightened to 0700/0600 by --fix",
        );
        f.fixed = true;
        return f;
    }
    match dd.check_permissions() {
        Ok(()) => Finding::new(
            "permissions.too_open",
            Severity::Info,
            "the data directory is 0700 and every file in it 0600",
            "nothing to do",
        ),
        Err(e) => Finding::new(
            "permissions.too_open",
            Severity::Critical,
            e.to_string(),
            "run `hardshell doctor --fix` (tightens modes to 0700/0600)",
        ),
    }
}

pub fn bind_and_tls(ctx: &Context<'_>, owner_exists: bool, out: &mut Vec<Finding>) {
    let server = &ctx.config.server;
    let loopback = ctx.bind.ip().is_loopback();
    if loopback {
        out.push(Finding::new(
            "bind.loopback",
            Severity::Info,
            format!("listens on {} (this machine only)", ctx.bind),
            "to serve others, configure TLS or a reverse proxy first (README: Exposing it safely)",
        ));
    } else {
        if server.tls.is_none() && !server.behind_proxy {
            out.push(Finding::new(
                "bind.no_tls",
                Severity::Critical,
                format!("listens on {} without TLS and not behind a proxy", ctx.bind),
                "set [server] tls = { cert, key }, or behind_proxy = true with trusted_proxies",
            ));
        }
        if !owner_exists {
            out.push(Finding::new(
                "bind.no_owner",
                Severity::Critical,
                format!("listens on {} and no owner account exists", ctx.bind),
                "create the owner first (setup link, or `hardshell users add NAME --role owner`)",
            ));
        }
    }
    if let Some(tls) = &server.tls {
        for (what, path) in [("certificate", &tls.cert), ("key", &tls.key)] {
            match std::fs::metadata(path) {
                Err(e) => out.push(Finding::new(
                    "tls.unreadable",
                    Severity::Critical,
                    format!("the TLS {what} {} cannot be read: {e}", path.display()),
                    "fix [server] tls in config.toml",
                )),
                Ok(m) if what == "key" && m.mode() & 0o077 != 0 => out.push(Finding::new(
                    "tls.key_readable",
                    Severity::Warning,
                    format!(
                        "the TLS key {} is readable by group or others (mode {:04o})",
                        path.display(),
                        m.mode() & 0o7777
                    ),
                    format!("chmod 600 {}", path.display()),
                )),
                Ok(_) => {}
            }
        }
    }
}

fn is_public(ip: IpAddr) -> bool {
    match crate::config::canonical_ip(ip) {
        IpAddr::V4(v4) => !(v4.is_private() || v4.is_loopback() || v4.is_link_local()),
        IpAddr::V6(v6) => !(v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local()),
    }
}

pub fn proxies(config: &Config, out: &mut Vec<Finding>) {
    let server = &config.server;
    if server.behind_proxy && server.trusted_proxies.is_empty() {
        out.push(Finding::new(
            "proxy.none_trusted",
            Severity::Warning,
            "behind_proxy is set but trusted_proxies is empty: every client appears as the \
             proxy's address, so rate limits, lockouts and fail2ban see one address",
            "list the proxy's own address in [server] trusted_proxies",
        ));
    }
    for entry in &server.trusted_proxies {
        let addr = entry.split('/').next().unwrap_or(entry).trim();
        if let Ok(ip) = addr.parse::<IpAddr>()
            && is_public(ip)
        {
            out.push(Finding::new(
                "proxy.public",
                Severity::Warning,
                format!(
                    "trusted proxy {entry} is a public address: whoever controls it can set \
                     any client address"
                ),
                "trust only the reverse proxy's own (usually private) address",
            ));
        }
    }
}

pub fn vault_unlock(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    match ctx.unlock {
        PassphraseSource::Environment => out.push(Finding::new(
            "vault.unlock_env",
            Severity::Warning,
            "the vault passphrase comes from HARDSHELL_VAULT_PASSPHRASE; environment variables \
             leak into process listings and crash reports",
            "use --passphrase-file (systemd LoadCredential=) or `hardshell vault seal --pin-file`",
        )),
        PassphraseSource::Sealed { pin: false } => out.push(Finding::new(
            "vault.sealed_without_pin",
            Severity::Info,
            "the vault is sealed to this machine without a PIN: anyone who can read the \
             machine key as this user can unlock it",
            "add a PIN: `hardshell vault seal --pin-file FILE`",
        )),
        PassphraseSource::Sealed { pin: true } => out.push(Finding::new(
            "vault.sealed_with_pin",
            Severity::Info,
            "the vault is sealed to this machine with a PIN",
            "nothing to do",
        )),
        PassphraseSource::Prompt => out.push(Finding::new(
            "vault.prompt",
            Severity::Info,
            "the vault passphrase was typed at a terminal; an unattended restart will need it",
            "for unattended starts use a passphrase file or `hardshell vault seal`",
        )),
        PassphraseSource::File => {
            let Some(path) = &ctx.passphrase_file else {
                return;
            };
            if path.starts_with(ctx.dd.root()) {
                out.push(Finding::new(
                    "vault.passphrase_file_inside",
                    Severity::Critical,
                    format!(
                        "the passphrase file {} is inside the data directory: a copy of the \
                         directory carries the key to its vault",
                        path.display()
                    ),
                    "move it outside the data directory",
                ));
            }
            if let Ok(m) = std::fs::metadata(path)
                && m.mode() & 0o077 != 0
            {
                out.push(Finding::new(
                    "vault.passphrase_file_readable",
                    Severity::Warning,
                    format!(
                        "the passphrase file {} is readable by group or others (mode {:04o})",
                        path.display(),
                        m.mode() & 0o7777
                    ),
                    format!("chmod 600 {}", path.display()),
                ));
            }
        }
    }
}

pub async fn audit_chain(audit: &AuditLog, out: &mut Vec<Finding>) -> Result<(), DoctorError> {
    let report = audit.verify().await?;
    match report.first_break {
        None => out.push(Finding::new(
            "audit.chain",
            Severity::Info,
            format!("the audit chain is intact ({} entries)", report.count),
            "nothing to do",
        )),
        Some(b) => out.push(Finding::new(
            "audit.chain",
            Severity::Critical,
            format!(
                "the audit chain is broken: {} at seq {}{}",
                b.kind.as_str(),
                b.seq,
                report.detail.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
            "see `hardshell audit verify`; restore from a backup taken before the break, or \
             `hardshell audit accept --reason` if the state is intended",
        )),
    }
    Ok(())
}

pub async fn outside_anchor(audit: &AuditLog, out: &mut Vec<Finding>) -> Result<(), DoctorError> {
    let s = audit.outside_anchor_status().await?;
    // Current, or a fresh installation with nothing to anchor yet.
    if s.current || (!s.present && s.head_seq == 0) {
        return Ok(());
    }
    let what = if !s.present {
        "is missing".to_string()
    } else if !s.genuine {
        "is not signed by this data directory's audit key".to_string()
    } else {
        format!(
            "names seq {} while the chain's head is seq {}",
            s.seq.unwrap_or(0),
            s.head_seq
        )
    };
    let severity = if s.present && s.genuine {
        Severity::Warning
    } else {
        Severity::Critical
    };
    out.push(Finding::new(
        "audit.outside_anchor",
        severity,
        format!("the outside audit anchor {} {what}", s.path.display()),
        "keep it on another disk ([audit] outside_anchor_dir) and back it up; after an \
         intended restore, `hardshell audit accept --reason`",
    ));
    Ok(())
}

/// Each owner's hash against the committed list of common passwords
/// (one Argon2id verification per entry and owner).
pub fn owner_passwords(owners: &[OwnerHash]) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in owners {
        let Some(hash) = &o.password_hash else {
            continue;
        };
        let common = COMMON_PASSWORDS
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .any(|p| crate::auth::password::verify(p, hash));
        if common {
            out.push(Finding::new(
                "password.owner_common",
                Severity::Critical,
                format!(
                    "the owner {}'s password is on the list of common passwords",
                    o.username
                ),
                "sign in and change it to a long passphrase (12+ characters, not a common one)",
            ));
        }
    }
    out
}

/// The sandbox as the server would find it (the same probe as its
/// start-up): as root, `shell` is not offered, whatever bubblewrap can do.
pub fn sandbox() -> Finding {
    sandbox_finding(crate::agents::tools::shell::probe_sandbox().map(|_| ()))
}

pub(super) fn sandbox_finding(probed: Result<(), String>) -> Finding {
    match probed {
        Ok(()) => Finding::new(
            "sandbox.unavailable",
            Severity::Info,
            "the command sandbox works (bubblewrap, user namespaces, Landlock, seccomp)",
            "nothing to do",
        ),
        Err(why) if why == crate::agents::tools::shell::ROOT_REFUSAL => Finding::new(
            "sandbox.unavailable",
            Severity::Warning,
            format!("the shell tool is not offered: {why}"),
            "create a system user for Hardshell (see deploy/systemd/hardshell.service) and run the \
             server as that user",
        ),
        Err(why) => Finding::new(
            "sandbox.unavailable",
            Severity::Warning,
            format!("the command sandbox is unavailable: {why}"),
            "install bubblewrap, allow unprivileged user namespaces, use Linux 5.13+ with \
             Landlock; agents cannot run commands until then",
        ),
    }
}

pub fn owners(facts: &DoctorFacts, out: &mut Vec<Finding>) {
    if facts.owners.is_empty() {
        out.push(Finding::new(
            "owner.none",
            Severity::Warning,
            "no owner account exists yet",
            "open the setup link `hardshell serve` prints, or `hardshell users add NAME --role owner`",
        ));
    }
}

fn parse_ts(ts: &str) -> Option<i64> {
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

pub fn backups(facts: &DoctorFacts, now: i64, out: &mut Vec<Finding>) {
    match facts.last_backup.as_deref().and_then(parse_ts) {
        None => out.push(Finding::new(
            "backup.none",
            Severity::Warning,
            "no verified backup has been made",
            "`hardshell backup create --backup-passphrase-file FILE` (works while the server runs)",
        )),
        Some(t) if now - t > BACKUP_DAYS * DAY => out.push(Finding::new(
            "backup.stale",
            Severity::Warning,
            format!("the newest verified backup is {} days old", (now - t) / DAY),
            "make a new one: `hardshell backup create`",
        )),
        Some(t) => out.push(Finding::new(
            "backup.recent",
            Severity::Info,
            format!(
                "the newest verified backup is {} hours old",
                (now - t) / 3600
            ),
            "nothing to do",
        )),
    }
}

pub fn trust(facts: &DoctorFacts, out: &mut Vec<Finding>) {
    for l in &facts.levels {
        let risky = crate::trust::Domain::ALL
            .iter()
            .any(|d| d.as_str() == l.domain && d.default_level() == 0);
        if risky && l.level > 2 {
            out.push(Finding::new(
                "trust.risky_domain",
                Severity::Critical,
                format!(
                    "@{} has trust {} in {}: it acts there without asking",
                    l.handle, l.level, l.domain
                ),
                format!(
                    "`hardshell trust set {} {} 2 --reason ...` (ask first)",
                    l.handle, l.domain
                ),
            ));
        }
    }
    for r in &facts.allow_rules {
        out.push(Finding::new(
            "tools.allow_always",
            Severity::Warning,
            format!(
                "@{} may always run {} on {} without asking",
                r.handle, r.tool, r.scope
            ),
            "remove the rule unless you mean it",
        ));
    }
}

pub fn keys(facts: &DoctorFacts, now: i64, out: &mut Vec<Finding>) {
    for k in &facts.keys {
        if let Some(exp) = k.expires_at
            && exp <= now
        {
            continue;
        }
        if k.expires_at.is_none() {
            out.push(Finding::new(
                "keys.no_expiry",
                Severity::Warning,
                format!("API key {} ({}) never expires", k.name, k.public_id),
                "revoke it and create one with an expiry",
            ));
        }
        let last = k.last_used_at.unwrap_or(k.created_at);
        if now - last > UNUSED_DAYS * DAY {
            out.push(Finding::new(
                "keys.unused",
                Severity::Warning,
                format!(
                    "API key {} ({}) has not been used for {} days",
                    k.name,
                    k.public_id,
                    (now - last) / DAY
                ),
                "revoke it if nothing needs it",
            ));
        }
    }
}

/// Channels: every configured channel lets a stranger ask to pair (the
/// owner decides each request, but the list is a door to watch).
pub fn channels(config: &Config, out: &mut Vec<Finding>) {
    let c = &config.channels;
    let mut open: Vec<String> = c.webhooks.keys().map(|n| format!("webhook {n}")).collect();
    if c.telegram.is_some() {
        open.push("telegram".into());
    }
    if !open.is_empty() {
        out.push(Finding::new(
            "channels.pairing_requests",
            Severity::Info,
            format!("strangers can ask to pair on: {}", open.join(", ")),
            "approve only people you know (`hardshell pairing list`); invite people with `hardshell pairing invite`",
        ));
    }
}

/// A channel secret that is missing, shorter than 32 bytes or equal to
/// another vault value: anyone holding the other value could sign as it.
pub fn channel_secrets(checked: Result<(), String>) -> Option<Finding> {
    checked.err().map(|why| {
        Finding::new(
            "channels.weak_secret",
            Severity::Critical,
            why,
            "store a secret of at least 32 random bytes used nowhere else: `hardshell vault set <name>`",
        )
    })
}

/// A SOUL.md has safety rules when a Markdown heading names them.
fn has_safety_rules(soul: &str) -> bool {
    soul.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with('#') && l.to_lowercase().contains("safety")
    })
}

pub fn souls(dd: &DataDir, facts: &DoctorFacts, out: &mut Vec<Finding>) {
    for (id, handle) in &facts.agents {
        let soul = crate::agents::workspace::read_soul(dd, *id).unwrap_or_default();
        if !has_safety_rules(&soul) {
            out.push(Finding::new(
                "soul.no_safety_rules",
                Severity::Warning,
                format!("@{handle}'s SOUL.md has no safety rules section"),
                "add a \"## Safety rules\" section (see the default agent's SOUL.md)",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::doctor::{KeyFact, LevelFact};

    #[test]
    fn a_root_server_is_reported_as_root_not_as_a_working_sandbox() {
        let root = sandbox_finding(Err(crate::agents::tools::shell::ROOT_REFUSAL.to_string()));
        assert_eq!(root.severity, Severity::Warning);
        assert!(root.finding.contains("not offered"), "{}", root.finding);
        assert!(root.finding.contains("runs as root"), "{}", root.finding);
        let works = sandbox_finding(Ok(()));
        assert_eq!(works.severity, Severity::Info);
        let missing = sandbox_finding(Err("bwrap not found".into()));
        assert!(missing.finding.contains("unavailable"));
    }

    #[test]
    fn safety_heading_is_recognised() {
        assert!(has_safety_rules(&crate::agents::workspace::soul_template(
            "A"
        )));
        assert!(!has_safety_rules("# Bob\nBe helpful. Safety is nice.\n"));
    }

    #[test]
    fn risky_levels_and_keys_are_found() {
        let now = 1_000 * DAY;
        let facts = DoctorFacts {
            levels: vec![
                LevelFact {
                    handle: "a".into(),
                    domain: "shell".into(),
                    level: 3,
                },
                LevelFact {
                    handle: "a".into(),
                    domain: "files".into(),
                    level: 4,
                },
            ],
            keys: vec![
                KeyFact {
                    public_id: "k1".into(),
                    name: "old".into(),
                    created_at: now - 200 * DAY,
                    expires_at: None,
                    last_used_at: Some(now - 100 * DAY),
                },
                KeyFact {
                    public_id: "k2".into(),
                    name: "fresh".into(),
                    created_at: now - DAY,
                    expires_at: Some(now + DAY),
                    last_used_at: None,
                },
            ],
            ..DoctorFacts::default()
        };
        let mut out = Vec::new();
        trust(&facts, &mut out);
        keys(&facts, now, &mut out);
        let ids: Vec<_> = out.iter().map(|f| f.id).collect();
        assert_eq!(
            ids,
            vec!["trust.risky_domain", "keys.no_expiry", "keys.unused"]
        );
        assert!(out[0].finding.contains("shell"));
    }

    #[test]
    fn common_owner_password_is_found_and_a_good_one_is_not() {
        let weak = crate::auth::password::hash("password1234").unwrap();
        let strong = crate::auth::password::hash("violet-harbour-tram-42").unwrap();
        let owners = vec![
            OwnerHash {
                username: "weak".into(),
                password_hash: Some(weak),
            },
            OwnerHash {
                username: "strong".into(),
                password_hash: Some(strong),
            },
        ];
        let found = owner_passwords(&owners);
        assert_eq!(found.len(), 1);
        assert!(found[0].finding.contains("weak"));
        assert!(!found[0].finding.contains("password1234"));
    }

    #[test]
    fn public_proxy_addresses_are_flagged() {
        let mut c = Config::default();
        c.server.behind_proxy = true;
        c.server.trusted_proxies = vec!["10.0.0.2".into(), "203.0.113.9".into()];
        let mut out = Vec::new();
        proxies(&c, &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].finding.contains("203.0.113.9"));
        c.server.trusted_proxies.clear();
        let mut out = Vec::new();
        proxies(&c, &mut out);
        assert_eq!(out[0].id, "proxy.none_trusted");
    }
}
