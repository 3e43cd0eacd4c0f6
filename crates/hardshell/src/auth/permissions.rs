//! The permission matrix: who may call which route. Defined once, here.
//!
//! `ROUTES` names every identity route with the access it needs; the web
//! extractor `Authorized` looks the matched route up in it and refuses a
//! route that is missing (fail closed). Agent keys only ever pass a
//! `Resource` rule, so they can never reach user, key, settings, vault or
//! audit routes.

use super::Role;

/// The resources an agent key can be granted rights on.
pub const RESOURCES: [&str; 4] = ["bookmarks", "conversations", "messages", "knowledge"];
/// The actions on each resource.
pub const ACTIONS: [&str; 4] = ["read", "write", "edit", "delete"];

/// A `resource:action` permission such as `bookmarks:read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    pub resource: &'static str,
    pub action: &'static str,
}

impl Permission {
    /// Parses `resource:action`; unknown resources or actions are refused.
    pub fn parse(s: &str) -> Option<Permission> {
        let (res, act) = s.split_once(':')?;
        let resource = RESOURCES.into_iter().find(|r| *r == res)?;
        let action = ACTIONS.into_iter().find(|a| *a == act)?;
        Some(Permission { resource, action })
    }

    /// True when `granted` (a key's stored strings) includes this one.
    pub fn granted_by(self, granted: &[String]) -> bool {
        granted
            .iter()
            .filter_map(|g| Permission::parse(g))
            .any(|g| g == self)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.resource, self.action)
    }
}

/// What a route requires of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No credential (setup, login, token exchange); per-IP limited.
    Public,
    /// Any authenticated principal, human or agent key.
    Any,
    /// A human with at least this role; agent keys are refused.
    Human(Role),
    /// A human with at least `min_role`, or an agent key holding `perm`.
    Resource { min_role: Role, perm: Permission },
}

/// Who is asking, reduced to what the matrix needs.
#[derive(Clone, Debug)]
pub enum Caller<'a> {
    Human(Role),
    /// A key's grants, and its creator's role now: a key never does more
    /// than its creator could (a demoted creator's keys lose the rest).
    AgentKey {
        granted: &'a [String],
        creator: Role,
    },
}

/// The matrix's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Authenticated but not allowed (403).
    Deny,
}

impl Access {
    pub fn decide(self, caller: &Caller<'_>) -> Decision {
        let ok = match (self, caller) {
            (Access::Public | Access::Any, _) => true,
            (Access::Human(min), Caller::Human(role)) => role.at_least(min),
            (Access::Human(_), Caller::AgentKey { .. }) => false,
            (Access::Resource { min_role, .. }, Caller::Human(role)) => role.at_least(min_role),
            (Access::Resource { min_role, perm }, Caller::AgentKey { granted, creator }) => {
                perm.granted_by(granted) && creator.at_least(min_role)
            }
        };
        if ok { Decision::Allow } else { Decision::Deny }
    }
}

/// One row of the matrix.
#[derive(Clone, Copy, Debug)]
pub struct RouteRule {
    pub method: &'static str,
    /// The route template as registered (`/api/v1/users/{id}`).
    pub path: &'static str,
    pub access: Access,
}

const fn rule(method: &'static str, path: &'static str, access: Access) -> RouteRule {
    RouteRule {
        method,
        path,
        access,
    }
}

use Access::{Any, Human, Public};

/// A `Resource` row; `perm` must parse (checked by a unit test).
const fn res(
    method: &'static str,
    path: &'static str,
    min_role: Role,
    perm: &'static str,
) -> RouteRule {
    let (resource, action) = split_perm(perm);
    rule(
        method,
        path,
        Access::Resource {
            min_role,
            perm: Permission { resource, action },
        },
    )
}

/// `resource:action` split at compile time.
const fn split_perm(perm: &'static str) -> (&'static str, &'static str) {
    let bytes = perm.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':' {
            let (res, act) = bytes.split_at(i);
            let (_, act) = act.split_at(1);
            return match (std::str::from_utf8(res), std::str::from_utf8(act)) {
                (Ok(r), Ok(a)) => (r, a),
                _ => ("", ""),
            };
        }
        i += 1;
    }
    ("", "")
}

/// Every identity route and what it requires. A route that is not here is
/// refused by `Authorized`.
pub const ROUTES: &[RouteRule] = &[
    rule("POST", "/api/v1/setup", Public),
    rule("GET", "/api/v1/setup", Public),
    rule("POST", "/api/v1/auth/login", Public),
    rule("POST", "/api/v1/auth/login/key", Public),
    rule("POST", "/api/v1/auth/token", Public),
    rule("GET", "/api/v1/auth/me", Any),
    rule("POST", "/api/v1/auth/logout", Human(Role::Guest)),
    rule("GET", "/api/v1/auth/sessions", Human(Role::Guest)),
    rule("DELETE", "/api/v1/auth/sessions/{id}", Human(Role::Guest)),
    rule(
        "POST",
        "/api/v1/auth/sessions/revoke-all",
        Human(Role::Guest),
    ),
    rule("GET", "/api/v1/users", Human(Role::Admin)),
    rule("POST", "/api/v1/users", Human(Role::Owner)),
    rule("PATCH", "/api/v1/users/{id}", Human(Role::Owner)),
    rule("DELETE", "/api/v1/users/{id}", Human(Role::Owner)),
    // Members mint their own; only the owner mints for someone else (checked
    // in the handler, which knows the target).
    // Yourself, or the owner for anyone (checked in the handler).
    rule("GET", "/api/v1/users/{id}/export", Human(Role::Guest)),
    rule(
        "POST",
        "/api/v1/users/{id}/identity-key",
        Human(Role::Member),
    ),
    rule("GET", "/api/v1/keys", Human(Role::Admin)),
    rule("POST", "/api/v1/keys", Human(Role::Admin)),
    rule("POST", "/api/v1/keys/{id}/revoke", Human(Role::Admin)),
    rule("DELETE", "/api/v1/keys/{id}", Human(Role::Admin)),
    // Who may call what (docs/architecture.md): admins read the audit log; only the owner verifies it.
    rule("GET", "/api/v1/audit", Human(Role::Admin)),
    rule("POST", "/api/v1/audit/verify", Human(Role::Owner)),
    // Operations (docs/architecture.md, "Operations: backups and doctor"): the owner only.
    rule("GET", "/api/v1/backups/status", Human(Role::Owner)),
    rule("GET", "/api/v1/doctor", Human(Role::Owner)),
    // Chat (docs/architecture.md, "The path of a chat message"). The matrix admits by role or key permission; the
    // handlers then require membership of the conversation (a key acts
    // within its creator's memberships), and creator-or-admin for managing
    // a conversation. Guests only ever pass the read rows.
    res(
        "GET",
        "/api/v1/conversations",
        Role::Guest,
        "conversations:read",
    ),
    res(
        "POST",
        "/api/v1/conversations",
        Role::Member,
        "conversations:write",
    ),
    res(
        "GET",
        "/api/v1/conversations/{id}",
        Role::Guest,
        "conversations:read",
    ),
    res(
        "PATCH",
        "/api/v1/conversations/{id}",
        Role::Member,
        "conversations:edit",
    ),
    res(
        "DELETE",
        "/api/v1/conversations/{id}",
        Role::Member,
        "conversations:delete",
    ),
    res(
        "POST",
        "/api/v1/conversations/{id}/members",
        Role::Member,
        "conversations:edit",
    ),
    res(
        "DELETE",
        "/api/v1/conversations/{id}/members",
        Role::Member,
        "conversations:edit",
    ),
    res(
        "GET",
        "/api/v1/conversations/{id}/messages",
        Role::Guest,
        "messages:read",
    ),
    res(
        "POST",
        "/api/v1/conversations/{id}/messages",
        Role::Member,
        "messages:write",
    ),
    res(
        "PATCH",
        "/api/v1/conversations/{id}/messages/{message_id}",
        Role::Member,
        "messages:edit",
    ),
    res(
        "DELETE",
        "/api/v1/conversations/{id}/messages/{message_id}",
        Role::Member,
        "messages:delete",
    ),
    res("GET", "/api/v1/search", Role::Guest, "messages:read"),
    res("GET", "/api/v1/ws", Role::Guest, "messages:read"),
    res("POST", "/api/v1/uploads", Role::Member, "messages:write"),
    res("GET", "/api/v1/uploads/{id}", Role::Guest, "messages:read"),
    // Agents (docs/architecture.md, "The path of an agent turn"): everyone signed in sees them (to @mention them);
    // owners and admins manage them; only the owner touches providers,
    // whose settings lead to API keys.
    res("GET", "/api/v1/agents", Role::Guest, "conversations:read"),
    res(
        "GET",
        "/api/v1/agents/{id}",
        Role::Guest,
        "conversations:read",
    ),
    rule("POST", "/api/v1/agents", Human(Role::Admin)),
    rule("PATCH", "/api/v1/agents/{id}", Human(Role::Admin)),
    rule("DELETE", "/api/v1/agents/{id}", Human(Role::Admin)),
    // SOUL.md and knowledge are the agent's workings: members and above.
    // A guest sees the conversations it was invited to and, in them, only
    // the agents' names.
    res(
        "GET",
        "/api/v1/agents/{id}/soul",
        Role::Member,
        "conversations:read",
    ),
    rule("PUT", "/api/v1/agents/{id}/soul", Human(Role::Admin)),
    rule("GET", "/api/v1/providers", Human(Role::Owner)),
    rule("GET", "/api/v1/providers/{name}", Human(Role::Owner)),
    rule("PUT", "/api/v1/providers/{name}", Human(Role::Owner)),
    rule("DELETE", "/api/v1/providers/{name}", Human(Role::Owner)),
    rule("POST", "/api/v1/providers/detect", Human(Role::Owner)),
    rule("POST", "/api/v1/providers/{name}/test", Human(Role::Owner)),
    rule("GET", "/api/v1/models", Human(Role::Admin)),
    // Knowledge: readable by everyone who can see agents; changed by owners
    // and admins (or a key granted knowledge rights). Memories hold facts
    // about people: owners and admins only, never a key.
    res(
        "GET",
        "/api/v1/agents/{id}/knowledge",
        Role::Member,
        "knowledge:read",
    ),
    res(
        "POST",
        "/api/v1/agents/{id}/knowledge",
        Role::Admin,
        "knowledge:write",
    ),
    res(
        "DELETE",
        "/api/v1/agents/{id}/knowledge/{doc_id}",
        Role::Admin,
        "knowledge:delete",
    ),
    rule("GET", "/api/v1/agents/{id}/memories", Human(Role::Admin)),
    rule("POST", "/api/v1/agents/{id}/memories", Human(Role::Admin)),
    rule(
        "DELETE",
        "/api/v1/agents/{id}/memories/{memory_id}",
        Human(Role::Admin),
    ),
    res(
        "POST",
        "/api/v1/conversations/{id}/stop",
        Role::Member,
        "messages:write",
    ),
    // Approvals and trust (docs/architecture.md, "Agent tools, the gate, trust and approvals"): owners and admins see them; the
    // handlers further limit deciding to the owner (and admins if config
    // allows) and level changes to the owner. Never an agent key.
    rule("GET", "/api/v1/approvals", Human(Role::Admin)),
    rule("GET", "/api/v1/approvals/{id}", Human(Role::Admin)),
    rule("POST", "/api/v1/approvals/{id}/approve", Human(Role::Admin)),
    rule("POST", "/api/v1/approvals/{id}/deny", Human(Role::Admin)),
    rule("GET", "/api/v1/agents/{id}/trust", Human(Role::Admin)),
    rule(
        "PUT",
        "/api/v1/agents/{id}/trust/{domain}",
        Human(Role::Owner),
    ),
    rule("GET", "/api/v1/trust/history", Human(Role::Admin)),
    rule("GET", "/api/v1/allow-rules", Human(Role::Admin)),
    rule("DELETE", "/api/v1/allow-rules/{id}", Human(Role::Admin)),
    // The promptguard judge's counters: the owner alone.
    rule("GET", "/api/v1/promptguard/judge", Human(Role::Owner)),
    // Tool secrets (values write-only): the owner alone.
    rule("GET", "/api/v1/secrets", Human(Role::Owner)),
    rule("GET", "/api/v1/secrets/{name}", Human(Role::Owner)),
    rule("PUT", "/api/v1/secrets/{name}", Human(Role::Owner)),
    rule("DELETE", "/api/v1/secrets/{name}", Human(Role::Owner)),
    rule("PUT", "/api/v1/secrets/{name}/binding", Human(Role::Owner)),
    rule(
        "DELETE",
        "/api/v1/secrets/{name}/binding",
        Human(Role::Owner),
    ),
    rule(
        "POST",
        "/api/v1/trust/history/{id}/rollback",
        Human(Role::Owner),
    ),
    // Bookmarks: each person's own, members and up (guests
    // read only their conversations); a key works on its creator's.
    // Import sessions mint keys, so only people open and close them.
    res("GET", "/api/v1/bookmarks", Role::Member, "bookmarks:read"),
    res("POST", "/api/v1/bookmarks", Role::Member, "bookmarks:write"),
    res(
        "GET",
        "/api/v1/bookmarks/{id}",
        Role::Member,
        "bookmarks:read",
    ),
    res(
        "PATCH",
        "/api/v1/bookmarks/{id}",
        Role::Member,
        "bookmarks:edit",
    ),
    res(
        "DELETE",
        "/api/v1/bookmarks/{id}",
        Role::Member,
        "bookmarks:delete",
    ),
    res(
        "POST",
        "/api/v1/bookmarks/{id}/star",
        Role::Member,
        "bookmarks:edit",
    ),
    res(
        "DELETE",
        "/api/v1/bookmarks/{id}/star",
        Role::Member,
        "bookmarks:edit",
    ),
    res(
        "POST",
        "/api/v1/bookmarks/{id}/archive",
        Role::Member,
        "bookmarks:edit",
    ),
    res(
        "DELETE",
        "/api/v1/bookmarks/{id}/archive",
        Role::Member,
        "bookmarks:edit",
    ),
    res(
        "GET",
        "/api/v1/bookmarks/tags",
        Role::Member,
        "bookmarks:read",
    ),
    res(
        "GET",
        "/api/v1/bookmarks/stats",
        Role::Member,
        "bookmarks:read",
    ),
    res(
        "POST",
        "/api/v1/bookmarks/bulk",
        Role::Member,
        "bookmarks:write",
    ),
    res(
        "POST",
        "/api/v1/bookmarks/import",
        Role::Member,
        "bookmarks:write",
    ),
    res(
        "GET",
        "/api/v1/bookmarks/export",
        Role::Member,
        "bookmarks:read",
    ),
    // Page text: fetching goes out to the web for the caller (members, or
    // a key that may change bookmarks); handing a page to an agent changes
    // the agent's knowledge, so it needs what a knowledge upload needs
    // (the handler also asks a key for `bookmarks:read`).
    res(
        "POST",
        "/api/v1/bookmarks/{id}/fetch",
        Role::Member,
        "bookmarks:edit",
    ),
    res(
        "GET",
        "/api/v1/bookmarks/{id}/page",
        Role::Member,
        "bookmarks:read",
    ),
    res(
        "POST",
        "/api/v1/bookmarks/{id}/to-knowledge",
        Role::Admin,
        "knowledge:write",
    ),
    rule(
        "POST",
        "/api/v1/bookmarks/import-sessions",
        Human(Role::Member),
    ),
    rule(
        "POST",
        "/api/v1/bookmarks/import-sessions/{id}/close",
        Human(Role::Member),
    ),
    res("GET", "/api/v1/folders", Role::Member, "bookmarks:read"),
    res("POST", "/api/v1/folders", Role::Member, "bookmarks:write"),
    res(
        "PATCH",
        "/api/v1/folders/{id}",
        Role::Member,
        "bookmarks:edit",
    ),
    res(
        "DELETE",
        "/api/v1/folders/{id}",
        Role::Member,
        "bookmarks:delete",
    ), // Channels (docs/architecture.md, "Channels and pairing"): the inbound webhook authenticates by its
    // signature; pairing decisions are the owner's, invites also admins'.
    rule("POST", "/api/v1/channels/{name}/inbound", Public),
    // Telegram webhook mode: authenticates by its secret token.
    rule("POST", "/api/v1/channels/telegram/webhook", Public),
    rule("GET", "/api/v1/channels", Human(Role::Owner)),
    rule("GET", "/api/v1/channels/pairing", Human(Role::Owner)),
    rule(
        "POST",
        "/api/v1/channels/pairing/invites",
        Human(Role::Admin),
    ),
    rule(
        "POST",
        "/api/v1/channels/pairing/approve",
        Human(Role::Owner),
    ),
    rule("POST", "/api/v1/channels/pairing/deny", Human(Role::Owner)),
    rule(
        "POST",
        "/api/v1/channels/senders/{id}/revoke",
        Human(Role::Owner),
    ),
];

/// The rule for a matched route, if the matrix has one.
pub fn rule_for(method: &str, path: &str) -> Option<&'static RouteRule> {
    ROUTES
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_strictly() {
        let p = Permission::parse("bookmarks:read").unwrap();
        assert_eq!(p.to_string(), "bookmarks:read");
        for bad in [
            "bookmarks",
            "users:read",
            "bookmarks:admin",
            "vault:read",
            ":",
            "",
        ] {
            assert!(Permission::parse(bad).is_none(), "{bad}");
        }
        let granted = vec!["bookmarks:read".to_string(), "junk".to_string()];
        assert!(p.granted_by(&granted));
        assert!(
            !Permission::parse("bookmarks:write")
                .unwrap()
                .granted_by(&granted)
        );
    }

    #[test]
    fn every_resource_row_names_a_real_permission() {
        for r in ROUTES {
            if let Access::Resource { perm, .. } = r.access {
                let parsed = Permission::parse(&perm.to_string());
                assert_eq!(parsed, Some(perm), "{} {}", r.method, r.path);
            }
        }
    }

    #[test]
    fn guests_only_pass_read_rows() {
        for r in ROUTES.iter().filter(|r| {
            r.path.starts_with("/api/v1/conversations") || r.path.starts_with("/api/v1/uploads")
        }) {
            let allowed = r.access.decide(&Caller::Human(Role::Guest)) == Decision::Allow;
            assert_eq!(allowed, r.method == "GET", "{} {}", r.method, r.path);
        }
    }

    #[test]
    fn guests_never_read_an_agents_soul_or_knowledge() {
        for p in ["/api/v1/agents/{id}/soul", "/api/v1/agents/{id}/knowledge"] {
            let r = rule_for("GET", p).unwrap();
            assert_eq!(
                r.access.decide(&Caller::Human(Role::Guest)),
                Decision::Deny,
                "{p}"
            );
            assert_eq!(
                r.access.decide(&Caller::Human(Role::Member)),
                Decision::Allow,
                "{p}"
            );
        }
    }

    #[test]
    fn agent_keys_never_pass_a_human_rule() {
        let all: Vec<String> = RESOURCES
            .iter()
            .flat_map(|r| ACTIONS.iter().map(move |a| format!("{r}:{a}")))
            .collect();
        let key = Caller::AgentKey {
            granted: &all,
            creator: Role::Owner,
        };
        for r in ROUTES {
            if let Access::Human(_) = r.access {
                assert_eq!(
                    r.access.decide(&key),
                    Decision::Deny,
                    "{} {}",
                    r.method,
                    r.path
                );
            }
        }
        let read = Access::Resource {
            min_role: Role::Guest,
            perm: Permission::parse("messages:read").unwrap(),
        };
        assert_eq!(read.decide(&key), Decision::Allow);
        let none = Caller::AgentKey {
            granted: &[],
            creator: Role::Owner,
        };
        assert_eq!(read.decide(&none), Decision::Deny);
    }

    #[test]
    fn a_key_never_does_more_than_its_creator_can_now() {
        let all: Vec<String> = RESOURCES
            .iter()
            .flat_map(|r| ACTIONS.iter().map(move |a| format!("{r}:{a}")))
            .collect();
        for r in ROUTES {
            let Access::Resource { .. } = r.access else {
                continue;
            };
            for creator in Role::ALL {
                let key = Caller::AgentKey {
                    granted: &all,
                    creator,
                };
                // Wherever the key is allowed, its creator is too.
                if r.access.decide(&key) == Decision::Allow {
                    assert_eq!(
                        r.access.decide(&Caller::Human(creator)),
                        Decision::Allow,
                        "{} {} for a key made by a {creator}",
                        r.method,
                        r.path
                    );
                }
            }
        }
    }

    #[test]
    fn user_and_key_management_is_never_open_to_guests_or_members() {
        for r in ROUTES
            .iter()
            .filter(|r| r.path.starts_with("/api/v1/keys") || r.path == "/api/v1/users")
        {
            for role in [Role::Guest, Role::Member] {
                assert_eq!(
                    r.access.decide(&Caller::Human(role)),
                    Decision::Deny,
                    "{}",
                    r.path
                );
            }
        }
        assert!(rule_for("get", "/api/v1/users").is_some());
        assert!(rule_for("GET", "/api/v1/nope").is_none());
    }
}
