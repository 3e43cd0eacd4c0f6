//! "Allow always" rules: the owner's standing yes for one agent, one tool
//! and one scope (an exact host for web tools, a path prefix for file
//! tools, the exact target for the rest).
//!
//! Owns what a rule's scope is and whether it covers a call's resolved
//! target. Rules apply only to level-2 domains and never in a tainted turn;
//! the gate enforces both. None is made from a tainted turn's request
//! (`rule_scope`), and this module never widens a scope beyond what the
//! approved call touched. `decide` is the one path from "approve, always"
//! (the API, Telegram's button) to a decision and its rule.

use url::Url;

use super::Domain;

/// The scope a rule made from an approved call gets: the URL's host, the
/// file's directory (or the file itself at the workspace root), or the
/// exact target.
pub fn scope_for(tool: &str, target: &str) -> Option<String> {
    match tool {
        "web_fetch" | "http_request" => {
            let url = target.split_once(' ').map(|(_, u)| u)?;
            let host = Url::parse(url).ok()?.host_str()?.to_ascii_lowercase();
            Some(format!("host:{host}"))
        }
        "file_write" | "file_delete" | "file_read" | "file_list" => {
            let path = target.strip_prefix("file:")?;
            Some(match path.rsplit_once('/') {
                Some((dir, _)) => format!("path:{dir}/"),
                None => format!("path:{path}"),
            })
        }
        "shell" => {
            // Only a plain command (one program, no shell syntax) becomes
            // a rule, and its whole argv is the prefix.
            let command = target.strip_prefix("shell: ")?;
            let argv = crate::agents::tools::shell::plain_argv(command)?;
            Some(format!("argv:{}", argv.join(" ")))
        }
        _ => Some(format!("target:{target}")),
    }
}

/// Whether a rule's scope covers a call's resolved target.
pub fn covers(scope: &str, tool: &str, target: &str) -> bool {
    match scope.split_once(':') {
        Some(("host", host)) => {
            matches!(tool, "web_fetch" | "http_request")
                && target
                    .split_once(' ')
                    .and_then(|(_, u)| Url::parse(u).ok())
                    .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
                    .is_some_and(|h| h == host)
        }
        Some(("path", prefix)) => {
            let Some(path) = target.strip_prefix("file:") else {
                return false;
            };
            if prefix.ends_with('/') {
                path.starts_with(prefix)
            } else {
                path == prefix
            }
        }
        Some(("argv", prefix)) => {
            let Some(argv) = target
                .strip_prefix("shell: ")
                .and_then(crate::agents::tools::shell::plain_argv)
            else {
                return false;
            };
            let prefix: Vec<&str> = prefix.split(' ').collect();
            tool == "shell"
                && argv.len() >= prefix.len()
                && argv.iter().zip(&prefix).all(|(a, p)| a == p)
        }
        Some(("target", t)) => t == target,
        _ => false,
    }
}

/// Rules exist only for domains at level 2.
pub fn may_have_rules(level: u8) -> bool {
    level == 2
}

/// Every domain may have rules (shell only for plain commands).
pub fn rule_domain_supported(_domain: Domain) -> bool {
    true
}

/// Why a rule cannot be made from an approval.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("\"allow always\" is only for domains at trust level 2 ({domain} is at {level})")]
    NotLevelTwo { domain: String, level: u8 },
    #[error("\"allow always\" is not offered for {0}")]
    Unsupported(String),
    #[error("the approval's target has no scope a rule could name")]
    NoScope,
    #[error("\"allow always\" is not offered in a turn that read untrusted content ({0})")]
    Tainted(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Checks that an approval's call may become a rule, and the scope it gets.
/// Called before the approval is decided, so a refusal changes nothing.
pub async fn rule_scope(
    store: &crate::store::Store,
    row: &crate::store::approvals::ApprovalRow,
) -> Result<String, RuleError> {
    // A rule never applies in a tainted turn, and a tainted turn never
    // makes one: the call it asks about may be an injection's.
    if let Some(source) = &row.taint_source {
        return Err(RuleError::Tainted(source.chars().take(100).collect()));
    }
    let domain =
        Domain::parse(&row.domain).ok_or_else(|| RuleError::Unsupported(row.domain.clone()))?;
    if !rule_domain_supported(domain) {
        return Err(RuleError::Unsupported(row.domain.clone()));
    }
    let level = super::level_of(store, row.agent_id, domain).await?;
    if !may_have_rules(level) {
        return Err(RuleError::NotLevelTwo {
            domain: row.domain.clone(),
            level,
        });
    }
    scope_for(&row.tool, &row.target).ok_or(RuleError::NoScope)
}

/// Why `decide` did not decide (or made no rule).
#[derive(Debug, thiserror::Error)]
pub enum DecideRuleError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Decide(#[from] super::approvals::DecideError),
}

/// Approves or denies approval `id` as `by` (role already checked), and
/// with `always` (approve only) also makes its "allow always" rule: the
/// one path for the API and Telegram's buttons. The rule's scope is
/// checked before anything is decided, so a refused rule changes nothing.
pub async fn decide(
    store: &crate::store::Store,
    audit_log: &crate::audit_log::AuditLog,
    id: i64,
    approve: bool,
    always: bool,
    by: i64,
    actor: audit::Actor,
) -> Result<crate::store::approvals::ApprovalRow, DecideRuleError> {
    let rule_scope = if always && approve {
        let pending = store
            .approval_get(id)
            .await
            .map_err(RuleError::Store)?
            .ok_or(super::approvals::DecideError::NotFound)?;
        Some((rule_scope(store, &pending).await?, pending))
    } else {
        None
    };
    let row = super::approvals::decide(store, audit_log, id, approve, by, actor.clone()).await?;
    if let Some((scope, pending)) = rule_scope {
        add(store, audit_log, &pending, &scope, by, actor).await?;
    }
    Ok(row)
}

/// Stores the rule and audits it.
pub async fn add(
    store: &crate::store::Store,
    audit_log: &crate::audit_log::AuditLog,
    row: &crate::store::approvals::ApprovalRow,
    scope: &str,
    by: i64,
    actor: audit::Actor,
) -> Result<crate::store::tool_rules::AllowRule, RuleError> {
    let rule = store
        .allow_rule_add(row.agent_id, &row.tool, scope, Some(by))
        .await?;
    let draft = audit::Draft::new(actor, "allow_rule.created", audit::Outcome::Success)
        .target(format!("agent:{}", row.agent_id))
        .detail("tool", rule.tool.clone())
        .detail("scope", rule.scope.clone())
        .detail("rule_id", rule.id)
        .detail("approval_id", row.id);
    if let Err(e) = audit_log.record(draft).await {
        tracing::error!(%e, "could not audit a new rule");
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_as_narrow_as_the_approved_call() {
        assert_eq!(
            scope_for("http_request", "POST https://api.github.com/repos/x/issues").as_deref(),
            Some("host:api.github.com")
        );
        assert_eq!(
            scope_for("file_write", "file:notes/a.txt").as_deref(),
            Some("path:notes/")
        );
        assert_eq!(
            scope_for("file_write", "file:a.txt").as_deref(),
            Some("path:a.txt")
        );
        assert_eq!(
            scope_for("send_message", "conversation:3").as_deref(),
            Some("target:conversation:3")
        );
    }

    #[test]
    fn shell_rules_are_argv_prefixes_of_plain_commands() {
        assert_eq!(
            scope_for("shell", "shell: ls -la").as_deref(),
            Some("argv:ls -la")
        );
        assert_eq!(scope_for("shell", "shell: ls; rm -rf /work"), None);
        assert_eq!(scope_for("shell", "shell: cat x | sh"), None);
        let rule = "argv:ls -la";
        assert!(covers(rule, "shell", "shell: ls -la"));
        assert!(covers(rule, "shell", "shell: ls -la docs"));
        assert!(!covers(rule, "shell", "shell: ls -l"));
        assert!(!covers(rule, "shell", "shell: ls -la; rm -rf /work"));
        assert!(!covers(rule, "shell", "shell: ls -la $(rm x)"));
        assert!(!covers(rule, "shell", "shell: ls -la\nrm x"));
        assert!(!covers(rule, "file_write", "shell: ls -la"));
    }

    #[test]
    fn coverage_is_exact_host_and_component_prefix() {
        let host = "host:api.github.com";
        assert!(covers(host, "web_fetch", "GET https://api.github.com/x"));
        assert!(!covers(
            host,
            "web_fetch",
            "GET https://api.github.com.evil.test/x"
        ));
        assert!(!covers(
            host,
            "web_fetch",
            "GET https://evil.test/?h=api.github.com"
        ));
        assert!(!covers(host, "file_write", "file:api.github.com"));
        assert!(covers("path:notes/", "file_write", "file:notes/b.txt"));
        assert!(!covers("path:notes/", "file_write", "file:notes2/b.txt"));
        assert!(covers("path:a.txt", "file_write", "file:a.txt"));
        assert!(!covers("path:a.txt", "file_write", "file:a.txt2"));
        assert!(!covers(
            "target:conversation:3",
            "send_message",
            "conversation:4"
        ));
    }
}
