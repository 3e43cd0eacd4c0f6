//! The gate: the single function that decides, and then performs, every
//! tool call from every path (chat turns, nested `call_agent` turns, and
//! resumed turns after an approval).
//!
//! It owns `Permit`, the only key to `agents::tools::execute_with_permit`, and makes
//! one only after deciding to run. It never runs a tainted turn's
//! side-effecting call without an approval, never offers or runs a level-0
//! tool, and audits every decision without argument values.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::{DEMOTE_AFTER, Domain, cards};
use crate::agents::providers::{SharedProvider, ToolCall};
use crate::agents::runtime::Runtime;
use crate::agents::tools::{self, Prepared, ToolScope};
use crate::store::agents::AgentRow;

/// Proof that the gate decided to run a call. The private field means no
/// other module can make one, so no other module can reach an executor.
pub struct Permit {
    _sealed: (),
}

/// What the gate decides for one call, before anything runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Run it; `receipt` posts the call and a short result (level 3).
    Run { receipt: bool },
    /// Level 1: not run; the model is told and a "would run" card shown.
    Describe,
    /// Needs the owner's approval (level 2, or any level in a tainted turn).
    Ask,
    /// Level 0: never offered, refused if called anyway.
    Refuse,
}

/// The rule, as a pure function: read-only tools always run; level 0
/// refuses even with taint; taint makes every other call ask.
pub fn decide(read_only: bool, level: u8, tainted: bool) -> Decision {
    if read_only {
        return Decision::Run { receipt: false };
    }
    match level {
        0 => Decision::Refuse,
        _ if tainted => Decision::Ask,
        1 => Decision::Describe,
        2 => Decision::Ask,
        3 => Decision::Run { receipt: true },
        _ => Decision::Run { receipt: false },
    }
}

/// The turn a call comes from.
pub(crate) struct CallSite<'a> {
    pub agent: &'a AgentRow,
    pub conversation_id: i64,
    pub user_id: Option<i64>,
    pub depth: u8,
    pub turn_id: &'a str,
    /// The untrusted source that tainted the turn, if any.
    pub taint: Option<&'a str>,
    pub embedder: Option<SharedProvider>,
    /// The approval a resumed turn dispatches this call under.
    pub approval: Option<i64>,
}

/// A call that needs the owner's approval.
#[derive(Clone, Debug)]
pub(crate) struct Ask {
    pub tool: &'static str,
    pub domain: Domain,
    pub fingerprint: String,
    pub target: String,
    /// Normalised arguments, leak guard applied (for the card).
    pub arguments: String,
    pub reason: String,
    pub taint: Option<String>,
}

/// How the gate handled a call.
pub(crate) enum Gated {
    Ran {
        ok: bool,
        text: String,
        /// The result is untrusted content: it taints the turn.
        taints: bool,
        /// What the call read or acted on (names a taint's source).
        target: String,
    },
    /// Not run (level 1); the text tells the model.
    Described(String),
    Ask(Ask),
    Refused(String),
}

/// SHA-256 over the canonical call: tool, normalised arguments (keys
/// sorted), resolved target and any extra target bytes (a body hash).
pub fn fingerprint(tool: &str, normalised: &Value, target: &str, extra: &str) -> String {
    let canonical = audit::canonical::to_canonical_string(&serde_json::json!({
        "tool": tool, "args": normalised, "target": target, "extra": extra,
    }));
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn fingerprint_of(p: &Prepared) -> String {
    fingerprint(p.def.name, &p.normalised, &p.target, &p.target_extra)
}

struct Record<'a> {
    site: &'a CallSite<'a>,
    tool: &'a str,
    domain: &'a str,
    level: Option<u8>,
    decision: &'static str,
    fingerprint: &'a str,
    target: &'a str,
    outcome: audit::Outcome,
    started: Instant,
    reason: &'a str,
}

async fn audit_decision(rt: &Runtime, r: Record<'_>) {
    crate::metrics::tool_call(r.decision);
    let draft = audit::Draft::new(
        audit::Actor::agent(r.site.agent.id.to_string()),
        "tool.call",
        r.outcome,
    )
    .target(r.target.to_string())
    .detail("tool", r.tool.to_string())
    .detail("domain", r.domain.to_string())
    .detail("level", r.level.map_or(Value::Null, Value::from))
    .detail("decision", r.decision)
    .detail("fingerprint", r.fingerprint.to_string())
    .detail("conversation_id", r.site.conversation_id)
    .detail("turn_id", r.site.turn_id.to_string())
    .detail("depth", u64::from(r.site.depth))
    .detail(
        "taint_source",
        r.site.taint.map_or(Value::Null, Value::from),
    )
    .detail("reason", r.reason.to_string())
    .detail(
        "duration_us",
        u64::try_from(r.started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    if let Err(e) = rt.audit.record(draft).await {
        tracing::error!(%e, "could not audit a gate decision");
    }
}

/// Records a call's outcome as trust evidence; a demotion is audited.
pub(crate) async fn evidence(
    store: &crate::store::Store,
    audit_log: &crate::audit_log::AuditLog,
    agent: i64,
    domain: Domain,
    ok: bool,
) {
    match store
        .trust_record_outcome(
            agent,
            domain.as_str(),
            domain.default_level(),
            ok,
            DEMOTE_AFTER,
        )
        .await
    {
        Ok(Some(change)) => {
            let draft = audit::Draft::new(
                audit::Actor::system(),
                "trust.changed",
                audit::Outcome::Success,
            )
            .target(format!("agent:{agent}"))
            .detail("domain", domain.as_str())
            .detail("old_level", u64::from(change.old_level))
            .detail("new_level", u64::from(change.new_level))
            .detail("reason", change.reason.clone())
            .detail("change_id", change.id);
            if let Err(e) = audit_log.record(draft).await {
                tracing::error!(%e, "could not audit a trust change");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(%e, "could not record trust evidence"),
    }
}

/// The id of an "allow always" rule covering this call, if the domain is
/// at level 2 (rules never lift any other level).
async fn standing_rule(
    rt: &Runtime,
    agent: i64,
    tool: &str,
    level: u8,
    target: &str,
) -> Option<i64> {
    if !super::rules::may_have_rules(level) {
        return None;
    }
    match rt.store.allow_rules(Some((agent, tool.to_string()))).await {
        Ok(rules) => rules
            .iter()
            .find(|r| super::rules::covers(&r.scope, tool, target))
            .map(|r| r.id),
        Err(e) => {
            tracing::error!(%e, "allow rules unavailable; asking instead");
            None
        }
    }
}

/// Decides `call` and, when the decision is to run, runs it.
pub(crate) async fn call(
    rt: &Arc<Runtime>,
    site: &CallSite<'_>,
    call: &ToolCall,
    cancel: watch::Receiver<bool>,
) -> Gated {
    let started = Instant::now();
    let mut rec = Record {
        site,
        tool: &call.name,
        domain: "",
        level: None,
        decision: "refuse",
        fingerprint: "",
        target: "",
        outcome: audit::Outcome::Denied,
        started,
        reason: "",
    };
    let Some(def) = tools::lookup(&call.name) else {
        let why = format!("unknown tool `{}`", call.name);
        rec.reason = "unknown tool";
        audit_decision(rt, rec).await;
        return Gated::Refused(why);
    };
    rec.domain = def.domain.as_str();
    if !tools::available(site.agent, def.name, site.depth, rt.offer()) {
        rec.reason = "not in the agent's tools";
        audit_decision(rt, rec).await;
        return Gated::Refused(format!("tool `{}` is not available to you", call.name));
    }
    let level = if def.read_only {
        4
    } else {
        match super::level_of(&rt.store, site.agent.id, def.domain).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(%e, "trust level lookup failed");
                rec.reason = "trust level unavailable";
                audit_decision(rt, rec).await;
                return Gated::Refused(
                    "I could not check my trust level, so I did not act.".into(),
                );
            }
        }
    };
    rec.level = Some(level);
    let names_secret = tools::egress::mentions_secret(&call.arguments);
    let bindings = if names_secret || call.name == "http_request" {
        match rt.store.secret_bindings().await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(%e, "secret bindings unavailable");
                rec.reason = "secret bindings unavailable";
                audit_decision(rt, rec).await;
                return Gated::Refused(
                    "I could not check the secret bindings, so I did not act.".into(),
                );
            }
        }
    } else {
        Vec::new()
    };
    let memory_user = if def.name.starts_with("memory_") {
        match crate::agents::memory::person(&rt.store, site.conversation_id, site.user_id).await {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(%e, "memory scope lookup failed");
                rec.reason = "memory scope unavailable";
                audit_decision(rt, rec).await;
                return Gated::Refused("I could not check whose memories these are.".into());
            }
        }
    } else {
        site.user_id
    };
    let scope = ToolScope {
        agent: site.agent,
        conversation_id: site.conversation_id,
        user_id: site.user_id,
        memory_user,
        depth: site.depth,
        embedder: site.embedder.clone(),
        bindings,
        max_file_bytes: rt.tool_net.config.max_file_bytes,
        workspace: (def.domain == super::Domain::Shell)
            .then(|| tools::workspace_root(rt, site.agent.id)),
        level,
    };
    let prepared = match tools::prepare(call, &scope) {
        Ok(p) => p,
        Err(e) => {
            // Audited without the arguments: they may name a secret.
            rec.reason = if names_secret {
                "secret placeholder refused"
            } else {
                "invalid arguments"
            };
            audit_decision(rt, rec).await;
            return Gated::Refused(e);
        }
    };
    let fp = fingerprint_of(&prepared);
    let target = prepared.target.clone();
    rec.fingerprint = &fp;
    rec.target = &target;
    let mut decision = decide(def.read_only, level, site.taint.is_some());
    let mut rule_reason = None;
    if decision == Decision::Ask
        && site.taint.is_none()
        && site.approval.is_none()
        && let Some(id) = standing_rule(rt, site.agent.id, def.name, level, &target).await
    {
        decision = Decision::Run { receipt: true };
        rule_reason = Some(format!("allow-always rule #{id}"));
    }
    if let (Some(id), Decision::Ask | Decision::Describe | Decision::Run { .. }) =
        (site.approval, decision)
    {
        // A resumed call runs only under its approval, once, unchanged.
        match rt.store.approval_dispatch(id, &fp).await {
            Ok(true) => decision = Decision::Run { receipt: false },
            Ok(false) => {
                rec.decision = "refuse";
                rec.reason = "approval does not cover this call";
                audit_decision(rt, rec).await;
                return Gated::Refused(
                    "this call does not match what the owner approved (or it already ran), so it did not run".into(),
                );
            }
            Err(e) => {
                tracing::error!(%e, "approval dispatch failed");
                rec.reason = "approval check failed";
                audit_decision(rt, rec).await;
                return Gated::Refused("I could not check the approval, so I did not act.".into());
            }
        }
    }
    let (text, _) = rt.vault.redactor().redact(&prepared.normalised.to_string());
    match decision {
        Decision::Refuse => {
            rec.reason = "trust level 0";
            audit_decision(rt, rec).await;
            Gated::Refused(format!(
                "tool `{}` is not available to you (trust level 0 for {})",
                def.name,
                def.domain.as_str()
            ))
        }
        Decision::Describe => {
            rec.decision = "describe";
            rec.outcome = audit::Outcome::Success;
            rec.reason = "trust level 1";
            audit_decision(rt, rec).await;
            cards::would_run(
                rt,
                site.agent,
                site.conversation_id,
                def.name,
                &target,
                &text,
            )
            .await;
            Gated::Described(format!(
                "not run: your trust level for {} is 1 (inform), so the owner was shown that you would run `{}` on {target}",
                def.domain.as_str(),
                def.name
            ))
        }
        Decision::Ask => {
            rec.decision = "ask";
            rec.outcome = audit::Outcome::Success;
            let reason = match site.taint {
                Some(src) => format!("the turn read untrusted content from {src}"),
                None => format!("trust level 2 for {}", def.domain.as_str()),
            };
            rec.reason = &reason;
            audit_decision(rt, rec).await;
            Gated::Ask(Ask {
                tool: def.name,
                domain: def.domain,
                fingerprint: fp.clone(),
                target: target.clone(),
                arguments: text,
                reason: reason.clone(),
                taint: site.taint.map(str::to_string),
            })
        }
        Decision::Run { receipt } => {
            let domain = def.domain;
            let read_only = def.read_only;
            let taints = def.taints;
            let permit = Permit { _sealed: () };
            let result = tools::execute_with_permit(permit, rt, scope, prepared, cancel).await;
            let ok = result.is_ok();
            rec.decision = "run";
            if let Some(r) = &rule_reason {
                rec.reason = r;
            }
            rec.outcome = if ok {
                audit::Outcome::Success
            } else {
                audit::Outcome::Failure
            };
            audit_decision(rt, rec).await;
            if !read_only {
                evidence(&rt.store, &rt.audit, site.agent.id, domain, ok).await;
            }
            let text = match result {
                Ok(t) | Err(t) => t,
            };
            if receipt {
                cards::receipt(
                    rt,
                    site.agent,
                    site.conversation_id,
                    def.name,
                    &target,
                    ok,
                    &text,
                )
                .await;
            }
            // A failed call read nothing from outside: only netguard's or
            // the executor's own words, which taint nothing.
            Gated::Ran {
                ok,
                text,
                taints: taints && ok,
                target,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_table() {
        assert_eq!(decide(true, 0, true), Decision::Run { receipt: false });
        assert_eq!(decide(false, 0, false), Decision::Refuse);
        assert_eq!(decide(false, 0, true), Decision::Refuse);
        assert_eq!(decide(false, 1, false), Decision::Describe);
        assert_eq!(decide(false, 2, false), Decision::Ask);
        assert_eq!(decide(false, 3, false), Decision::Run { receipt: true });
        assert_eq!(decide(false, 4, false), Decision::Run { receipt: false });
        for level in 1..=4 {
            assert_eq!(decide(false, level, true), Decision::Ask, "level {level}");
        }
    }

    #[test]
    fn fingerprints_ignore_key_order_but_not_values() {
        let a = fingerprint("t", &serde_json::json!({"a":1,"b":2}), "x", "");
        let b = fingerprint("t", &serde_json::json!({"b":2,"a":1}), "x", "");
        let c = fingerprint("t", &serde_json::json!({"a":1,"b":3}), "x", "");
        let d = fingerprint("t", &serde_json::json!({"a":1,"b":2}), "y", "");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_eq!(a.len(), 64);
    }
}
