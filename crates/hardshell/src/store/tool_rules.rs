//! SQL for what the owner grants tools beyond trust levels: secret bindings
//! (where a `{{secret:NAME}}` may be resolved) and "allow always" rules.
//!
//! Owns only storage. It never sees a secret's value (those live in the
//! vault) and never decides whether a binding or a rule applies to a call;
//! that is `agents::tools::egress`' and `trust::gate`'s.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Fut, Store, StoreError};

/// Where a secret may go: one origin, an optional path prefix, and the
/// slots of a request it may fill (`header:NAME`, `query:NAME`,
/// `body:FIELD`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretBinding {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub path_prefix: Option<String>,
    pub slots: Vec<String>,
}

/// A secret's name with its binding, as the API lists it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BindingRow {
    pub name: String,
    pub binding: SecretBinding,
    pub updated_at: i64,
}

/// An "allow always" rule: `tool` for `agent_id` runs without asking when
/// its target falls under `scope` (`host:NAME` or `path:PREFIX`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AllowRule {
    pub id: i64,
    pub agent_id: i64,
    pub tool: String,
    pub scope: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

fn binding_of(r: &Row<'_>) -> rusqlite::Result<BindingRow> {
    let slots: String = r.get(5)?;
    Ok(BindingRow {
        name: r.get(0)?,
        binding: SecretBinding {
            scheme: r.get(1)?,
            host: r.get(2)?,
            port: r.get(3)?,
            path_prefix: r.get(4)?,
            slots: serde_json::from_str(&slots).unwrap_or_default(),
        },
        updated_at: r.get(6)?,
    })
}

const BINDING_COLUMNS: &str = "name, scheme, host, port, path_prefix, slots, updated_at";

fn rule_of(r: &Row<'_>) -> rusqlite::Result<AllowRule> {
    Ok(AllowRule {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        tool: r.get(2)?,
        scope: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const RULE_COLUMNS: &str = "id, agent_id, tool, scope, created_by, created_at";

fn bindings_conn(conn: &Connection) -> Result<Vec<BindingRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BINDING_COLUMNS} FROM secret_bindings ORDER BY name"
    ))?;
    let rows = stmt.query_map([], binding_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Secret bindings and "allow always" rules as every backend provides
/// them (SQLCipher: below; PostgreSQL: `pg/trust.rs`).
pub trait ToolRuleStore: Send + Sync {
    /// Every binding, by name.
    fn secret_bindings(&self) -> impl Fut<Vec<BindingRow>>;
    fn secret_binding(&self, name: &str) -> impl Fut<Option<BindingRow>>;
    /// Creates or replaces the binding of `name`.
    fn secret_bind(&self, name: &str, binding: SecretBinding) -> impl Fut<BindingRow>;
    /// Whether there was a binding to remove.
    fn secret_unbind(&self, name: &str) -> impl Fut<bool>;
    /// Adds a rule; an identical one is returned as it is (also when two
    /// identical adds race).
    fn allow_rule_add(
        &self,
        agent: i64,
        tool: &str,
        scope: &str,
        by: Option<i64>,
    ) -> impl Fut<AllowRule>;
    /// Every rule by id, or one agent's rules for one tool.
    fn allow_rules(&self, filter: Option<(i64, String)>) -> impl Fut<Vec<AllowRule>>;
    fn allow_rule_remove(&self, id: i64) -> impl Fut<Option<AllowRule>>;
}

impl ToolRuleStore for Store {
    fn secret_bindings(&self) -> impl Fut<Vec<BindingRow>> {
        Store::secret_bindings(self)
    }
    fn secret_binding(&self, name: &str) -> impl Fut<Option<BindingRow>> {
        Store::secret_binding(self, name)
    }
    fn secret_bind(&self, name: &str, binding: SecretBinding) -> impl Fut<BindingRow> {
        Store::secret_bind(self, name, binding)
    }
    fn secret_unbind(&self, name: &str) -> impl Fut<bool> {
        Store::secret_unbind(self, name)
    }
    fn allow_rule_add(
        &self,
        agent: i64,
        tool: &str,
        scope: &str,
        by: Option<i64>,
    ) -> impl Fut<AllowRule> {
        Store::allow_rule_add(self, agent, tool, scope, by)
    }
    fn allow_rules(&self, filter: Option<(i64, String)>) -> impl Fut<Vec<AllowRule>> {
        Store::allow_rules(self, filter)
    }
    fn allow_rule_remove(&self, id: i64) -> impl Fut<Option<AllowRule>> {
        Store::allow_rule_remove(self, id)
    }
}

impl Store {
    /// Every binding, by name.
    pub async fn secret_bindings(&self) -> Result<Vec<BindingRow>, StoreError> {
        self.read(bindings_conn).await
    }

    pub async fn secret_binding(&self, name: &str) -> Result<Option<BindingRow>, StoreError> {
        let name = name.to_string();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {BINDING_COLUMNS} FROM secret_bindings WHERE name = ?1"
                ))?
                .query_row([name], binding_of)
                .optional()?)
        })
        .await
    }

    /// Creates or replaces the binding of `name`.
    pub async fn secret_bind(
        &self,
        name: &str,
        binding: SecretBinding,
    ) -> Result<BindingRow, StoreError> {
        let name = name.to_string();
        self.write(move |conn| {
            let now = crate::auth::now_secs();
            let slots = serde_json::to_string(&binding.slots).unwrap_or_else(|_| "[]".into());
            conn.prepare_cached(
                "INSERT INTO secret_bindings (name, scheme, host, port, path_prefix, slots, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (name) DO UPDATE SET scheme = excluded.scheme, host = excluded.host,
                   port = excluded.port, path_prefix = excluded.path_prefix,
                   slots = excluded.slots, updated_at = excluded.updated_at",
            )?
            .execute(params![
                name,
                binding.scheme,
                binding.host,
                binding.port,
                binding.path_prefix,
                slots,
                now
            ])?;
            Ok(BindingRow {
                name,
                binding,
                updated_at: now,
            })
        })
        .await
    }

    /// Removes the binding of `name`; whether there was one.
    pub async fn secret_unbind(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.write(move |conn| {
            Ok(conn
                .prepare_cached("DELETE FROM secret_bindings WHERE name = ?1")?
                .execute([name])?
                > 0)
        })
        .await
    }

    /// Adds a rule; an identical existing rule is returned as it is.
    pub async fn allow_rule_add(
        &self,
        agent: i64,
        tool: &str,
        scope: &str,
        by: Option<i64>,
    ) -> Result<AllowRule, StoreError> {
        let (tool, scope) = (tool.to_string(), scope.to_string());
        self.write(move |conn| {
            let now = crate::auth::now_secs();
            conn.prepare_cached(
                "INSERT INTO allow_rules (agent_id, tool, scope, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (agent_id, tool, scope) DO NOTHING",
            )?
            .execute(params![agent, tool, scope, by, now])?;
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {RULE_COLUMNS} FROM allow_rules
                     WHERE agent_id = ?1 AND tool = ?2 AND scope = ?3"
                ))?
                .query_row(params![agent, tool, scope], rule_of)?)
        })
        .await
    }

    /// Every rule, or one agent's rules for one tool.
    pub async fn allow_rules(
        &self,
        filter: Option<(i64, String)>,
    ) -> Result<Vec<AllowRule>, StoreError> {
        self.read(move |conn| {
            let rows = match filter {
                None => conn
                    .prepare_cached(&format!(
                        "SELECT {RULE_COLUMNS} FROM allow_rules ORDER BY id"
                    ))?
                    .query_map([], rule_of)?
                    .collect::<Result<_, _>>()?,
                Some((agent, tool)) => conn
                    .prepare_cached(&format!(
                        "SELECT {RULE_COLUMNS} FROM allow_rules
                         WHERE agent_id = ?1 AND tool = ?2 ORDER BY id"
                    ))?
                    .query_map(params![agent, tool], rule_of)?
                    .collect::<Result<_, _>>()?,
            };
            Ok(rows)
        })
        .await
    }

    /// Removes a rule and returns it.
    pub async fn allow_rule_remove(&self, id: i64) -> Result<Option<AllowRule>, StoreError> {
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "DELETE FROM allow_rules WHERE id = ?1 RETURNING {RULE_COLUMNS}"
                ))?
                .query_row([id], rule_of)
                .optional()?)
        })
        .await
    }
}
