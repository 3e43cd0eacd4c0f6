//! The PostgreSQL migration list against the SQLite one: same versions, and
//! (read from the SQL text, no server needed) the same tables, columns,
//! named indexes, unique keys, foreign keys and CHECKs as a fresh SQLite
//! store at the latest version. `tests/pg_schema_parity.rs` checks the
//! applied schema on a real server.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::MIGRATIONS;

/// Columns PostgreSQL has that SQLite has not, each documented in its file:
/// the generated `search` columns that replace FTS5 tables, and the row id
/// SQLite's code orders members by.
const EXTRA_COLUMNS: &[(&str, &str)] = &[
    ("messages", "search"),
    ("agent_memories", "search"),
    ("knowledge_chunks", "search"),
    ("bookmarks", "search"),
    ("conversation_members", "rowid"),
];

/// PostgreSQL indexes without a SQLite twin of the same name: the GIN
/// indexes of the `search` columns, and the lower() indexes that stand in
/// for `COLLATE NOCASE` unique keys (checked as unique keys below).
const EXTRA_INDEXES: &[&str] = &[
    "messages_search",
    "agent_memories_search",
    "knowledge_chunks_search",
    "bookmarks_search",
    "users_username_lower",
    "agents_handle_lower",
    "providers_name_lower",
];

#[test]
fn versions_run_from_one_without_gaps_and_match_sqlite() {
    for (i, (version, _, _)) in MIGRATIONS.iter().enumerate() {
        assert_eq!(*version, i as i64 + 1, "versions must be 1..=N in order");
    }
    assert_eq!(
        MIGRATIONS.len(),
        crate::store::migrations::sqlite_migration_count(),
        "every SQLite migration needs its PostgreSQL twin under the same number"
    );
    assert_eq!(
        super::latest_version(),
        crate::store::migrations::sqlite_migration_count() as i64
    );
}

#[test]
fn files_are_plain_sql_for_the_runner() {
    let mut names = BTreeSet::new();
    for (version, name, sql) in MIGRATIONS {
        assert!(names.insert(*name), "duplicate name {name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{name}"
        );
        // Extensions are out; the runner owns the transaction; the rest
        // is SQLite's dialect that PostgreSQL would reject or misread.
        let upper = code(sql).to_uppercase();
        for word in [
            "CREATE EXTENSION",
            "BEGIN;",
            "COMMIT;",
            "COLLATE",
            "AUTOINCREMENT",
            "INTEGER",
            " REAL",
            "BLOB",
            "IFNULL",
            "WITHOUT ROWID",
            "VIRTUAL",
        ] {
            assert!(!upper.contains(word), "version {version} says {word}");
        }
    }
}

/// What the PostgreSQL files declare, read from their text.
#[derive(Default, Debug)]
struct PgTable {
    /// Column name → its definition (the line in CREATE TABLE, or what
    /// follows ADD COLUMN).
    columns: BTreeMap<String, String>,
    /// Table-level lines (constraints) and the whole text, for searching.
    constraints: Vec<String>,
    checks: usize,
    unique_keys: BTreeSet<Vec<String>>,
}

/// The SQL without `--` comment lines.
fn code(sql: &str) -> String {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn cols(list: &str) -> Vec<String> {
    list.split(',').map(|c| c.trim().to_string()).collect()
}

fn parse_pg() -> (BTreeMap<String, PgTable>, BTreeMap<String, (String, bool)>) {
    let all: String = MIGRATIONS
        .iter()
        .map(|(_, _, sql)| code(sql) + "\n")
        .collect();
    let create = Regex::new(r"(?ms)^CREATE TABLE (\w+) \(\n(.*?)^\);").unwrap();
    let column = Regex::new(r"^    ([a-z_][a-z0-9_]*) +(.*)$").unwrap();
    let constraint = Regex::new(r"^    (UNIQUE|PRIMARY KEY|FOREIGN KEY|CHECK) ?(.*)$").unwrap();
    let multi = Regex::new(r"^(?:UNIQUE|PRIMARY KEY) \(([^)]*)\)").unwrap();
    let mut tables: BTreeMap<String, PgTable> = BTreeMap::new();
    for c in create.captures_iter(&all) {
        let mut t = PgTable::default();
        let mut last = String::new();
        for line in c[2].lines() {
            t.checks += line.matches("CHECK (").count();
            if let Some(m) = column.captures(line) {
                last = m[1].to_string();
                let def = m[2].to_string();
                if def.contains("UNIQUE") || def.contains("PRIMARY KEY") {
                    t.unique_keys.insert(vec![last.clone()]);
                }
                assert!(t.columns.insert(last.clone(), def).is_none());
            } else if let Some(m) = constraint.captures(line) {
                let text = format!("{} {}", &m[1], m[2].trim_end_matches(','));
                if let Some(k) = multi.captures(&text) {
                    t.unique_keys.insert(cols(&k[1]));
                }
                t.constraints.push(text);
            } else if let Some(def) = t.columns.get_mut(&last) {
                // A column definition continued on the next line.
                def.push(' ');
                def.push_str(line.trim());
            }
        }
        assert!(tables.insert(c[1].to_string(), t).is_none(), "{}", &c[1]);
    }
    let alter = Regex::new(r"(?m)^ALTER TABLE (\w+) ADD COLUMN (\w+) ([^;]*);").unwrap();
    for c in alter.captures_iter(&all) {
        let t = tables.get_mut(&c[1]).unwrap();
        t.checks += c[3].matches("CHECK (").count();
        assert!(
            t.columns
                .insert(c[2].to_string(), c[3].to_string())
                .is_none()
        );
    }
    let index = Regex::new(r"(?m)^CREATE (UNIQUE )?INDEX (\w+)\s+ON (\w+)(?: USING \w+)? \(([^;]*?)\)(?:\s+WHERE [^;]*)?;").unwrap();
    let lower = Regex::new(r"^lower\((\w+)\)$").unwrap();
    let mut indexes = BTreeMap::new();
    for c in index.captures_iter(&all) {
        let unique = c.get(1).is_some();
        indexes.insert(c[2].to_string(), (c[3].to_string(), unique));
        if unique {
            let key: Vec<String> = cols(&c[4])
                .into_iter()
                .map(|k| lower.captures(&k).map_or(k.clone(), |m| m[1].to_string()))
                .collect();
            tables.get_mut(&c[3]).unwrap().unique_keys.insert(key);
        }
    }
    (tables, indexes)
}

#[test]
fn every_sqlite_table_column_key_and_index_has_a_postgres_twin() {
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    crate::store::migrations::migrations()
        .to_latest(&mut conn)
        .unwrap();
    let (pg, pg_indexes) = parse_pg();

    let mut st = conn
        .prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .unwrap();
    let all: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let fts: Vec<&str> = all
        .iter()
        .filter(|(_, sql)| sql.starts_with("CREATE VIRTUAL TABLE"))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        fts.len(),
        4,
        "each FTS5 table needs a search column: {fts:?}"
    );
    let tables: Vec<&(String, String)> = all
        .iter()
        .filter(|(n, _)| {
            !fts.iter()
                .any(|f| n == f || n.starts_with(&format!("{f}_")))
        })
        .collect();

    let names: BTreeSet<&str> = tables.iter().map(|(n, _)| n.as_str()).collect();
    let pg_names: BTreeSet<&str> = pg.keys().map(String::as_str).collect();
    assert_eq!(names, pg_names, "the same tables on both backends");

    let mut named_indexes = BTreeSet::new();
    for (table, sql) in &tables {
        let t = &pg[table.as_str()];
        let mut st = conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .unwrap();
        let mut want: BTreeSet<String> = st
            .query_map([table], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (tt, extra) in EXTRA_COLUMNS {
            if tt == table {
                want.insert((*extra).to_string());
            }
        }
        let got: BTreeSet<String> = t.columns.keys().cloned().collect();
        assert_eq!(want, got, "columns of {table}");

        let sqlite_checks = code(sql).matches("CHECK (").count();
        assert_eq!(sqlite_checks, t.checks, "CHECK constraints of {table}");

        // Foreign keys: same columns, same target, same ON DELETE.
        let mut st = conn
            .prepare(
                "SELECT id, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?1) \
                 ORDER BY id, seq",
            )
            .unwrap();
        let mut fks: BTreeMap<i64, (String, Vec<String>, Vec<String>, String)> = BTreeMap::new();
        for row in st
            .query_map([table], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .unwrap()
        {
            let (id, target, from, to, on_delete) = row.unwrap();
            let e = fks
                .entry(id)
                .or_insert_with(|| (target, vec![], vec![], on_delete));
            e.1.push(from);
            e.2.push(to);
        }
        for (target, from, to, on_delete) in fks.values() {
            let action = if on_delete == "NO ACTION" {
                String::new()
            } else {
                format!(" ON DELETE {on_delete}")
            };
            if from.len() == 1 {
                let def = &t.columns[&from[0]];
                let want = format!("REFERENCES {target}({}){action}", to[0]);
                assert!(
                    def.contains(&want) && (!action.is_empty() || !def.contains("ON DELETE")),
                    "{table}.{}: want `{want}` in `{def}`",
                    from[0]
                );
            } else {
                let want = format!(
                    "FOREIGN KEY ({}) REFERENCES {target}({}){action}",
                    from.join(", "),
                    to.join(", ")
                );
                assert!(
                    t.constraints.iter().any(|c| c == &want),
                    "{table}: want `{want}` in {:?}",
                    t.constraints
                );
            }
        }

        // Indexes: a named one by name and uniqueness; an automatic one
        // (UNIQUE or PRIMARY KEY) as a unique key over the same columns.
        let mut st = conn
            .prepare("SELECT name, origin, \"unique\" FROM pragma_index_list(?1)")
            .unwrap();
        let list: Vec<(String, String, bool)> = st
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (name, origin, unique) in list {
            if origin == "c" {
                assert_eq!(
                    pg_indexes.get(&name),
                    Some(&(table.clone(), unique)),
                    "index {name} on {table}"
                );
                named_indexes.insert(name);
            } else {
                let mut st = conn
                    .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                    .unwrap();
                let key: Vec<String> = st
                    .query_map([&name], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert!(
                    t.unique_keys.contains(&key),
                    "{table}: unique key {key:?} ({name}) missing from {:?}",
                    t.unique_keys
                );
            }
        }
    }
    for name in pg_indexes.keys() {
        assert!(
            named_indexes.contains(name) || EXTRA_INDEXES.contains(&name.as_str()),
            "PostgreSQL index {name} has no SQLite twin and is not documented"
        );
    }
}
