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
    AgentKey(&'a [String]),
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
            (Access::Human(_), Caller::AgentKey(_)) => false,
            (Access::Resource { min_role, .. }, Caller::Human(role)) => role.at_least(min_role),
            (Access::Resource { perm, .. }, Caller::AgentKey(granted)) => perm.granted_by(granted),
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

/// Every identity route and what it requires. A route that is not here is
/// refused by `Authorized`.
pub const ROUTES: &[RouteRule] = &[
    rule("POST", "/api/v1/setup", Public),
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
    rule(
        "POST",
        "/api/v1/users/{id}/identity-key",
        Human(Role::Member),
    ),
    rule("GET", "/api/v1/keys", Human(Role::Admin)),
    rule("POST", "/api/v1/keys", Human(Role::Admin)),
    rule("POST", "/api/v1/keys/{id}/revoke", Human(Role::Admin)),
    rule("DELETE", "/api/v1/keys/{id}", Human(Role::Admin)),
    // DESIGN §6: admins read the audit log; only the owner verifies it.
    rule("GET", "/api/v1/audit", Human(Role::Admin)),
    rule("POST", "/api/v1/audit/verify", Human(Role::Owner)),
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
    fn agent_keys_never_pass_a_human_rule() {
        let all: Vec<String> = RESOURCES
            .iter()
            .flat_map(|r| ACTIONS.iter().map(move |a| format!("{r}:{a}")))
            .collect();
        let key = Caller::AgentKey(&all);
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
        assert_eq!(read.decide(&Caller::AgentKey(&[])), Decision::Deny);
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
