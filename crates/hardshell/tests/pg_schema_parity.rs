//! The PostgreSQL schema against the SQLite one, both at the latest
//! version: a fresh SQLCipher `Store` is read through `sqlite_master` and
//! its pragmas, a fresh PostgreSQL database migrated by `PgStore` through
//! its catalog, and every table, column (type, nullability, identity),
//! index (name, uniqueness, partial, key), unique key, foreign key (with
//! ON DELETE) and CHECK must have its twin. The only differences allowed
//! are the documented ones: each FTS5 table is a generated `search` column
//! with a GIN index on the table it indexes, `COLLATE NOCASE` keys are
//! unique `lower(col)` indexes, 0/1 flags are BOOLEAN, and
//! `conversation_members` carries SQLite's hidden `rowid`.
//!
//! Then the things the catalog cannot show: words are split and folded as
//! FTS5's tokenizer does, and a few constraints are tried and refused.
//! Skipped with a visible line when `HARDSHELL_TEST_POSTGRES` is unset.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_harness;

use std::collections::{BTreeMap, BTreeSet};

use hardshell::store::pg::{PgOptions, PgStore};
use hardshell::store::{DbKey, Store};

/// FTS5 table → the table whose generated `search` column replaces it.
const FTS: &[(&str, &str)] = &[
    ("messages_fts", "messages"),
    ("agent_memories_fts", "agent_memories"),
    ("knowledge_fts", "knowledge_chunks"),
    ("bookmarks_fts", "bookmarks"),
];

/// SQLite INTEGER columns holding 0/1 flags: BOOLEAN on PostgreSQL.
const FLAGS: &[(&str, &str)] = &[
    ("users", "disabled"),
    ("agents", "disabled"),
    ("agents", "memory_enabled"),
    ("agents", "knowledge_enabled"),
    ("knowledge_docs", "flagged"),
    ("approvals", "claimed"),
    ("bookmarks", "starred"),
    ("bookmarks", "archived"),
    ("bookmark_pages", "truncated"),
    ("bookmark_pages", "flagged"),
];

/// `COLLATE NOCASE` unique keys: a unique `lower(col)` index instead.
const NOCASE: &[(&str, &str)] = &[
    ("users", "username"),
    ("agents", "handle"),
    ("providers", "name"),
];

/// SQLite's hidden rowid, ordered by in `chat.rs`, made a real column.
const ROWID: (&str, &str) = ("conversation_members", "rowid");

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    /// PostgreSQL's spelling of the type.
    ty: String,
    not_null: bool,
    /// Filled by BY DEFAULT AS IDENTITY.
    identity: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    from: Vec<String>,
    table: String,
    to: Vec<String>,
    on_delete: String,
}

#[derive(Debug, Default)]
struct Table {
    columns: BTreeMap<String, Column>,
    fks: BTreeSet<ForeignKey>,
    checks: usize,
    /// Named indexes: name → (unique, partial, key; `None` for an
    /// expression).
    indexes: BTreeMap<String, (bool, bool, Vec<Option<String>>)>,
    /// Column lists that are unique (constraints and unique indexes; a
    /// `lower(col)` key counts as `col`).
    unique_keys: BTreeSet<Vec<String>>,
}

type Schema = BTreeMap<String, Table>;

fn sqlite_schema() -> (Schema, BTreeMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hardshell.db");
    let key = DbKey::generate();
    let hex = key.expose_hex().to_string();
    drop(Store::open(&path, key).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";"))
        .unwrap();

    let all: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // FTS5 tables → the content table they index.
    let mut fts = BTreeMap::new();
    for (name, sql) in &all {
        if sql.starts_with("CREATE VIRTUAL TABLE") {
            let content = sql
                .split("content='")
                .nth(1)
                .and_then(|s| s.split('\'').next())
                .unwrap_or_else(|| panic!("{name}: only external-content FTS5 is mapped"));
            fts.insert(name.clone(), content.to_string());
        }
    }
    let shadow = |n: &str| {
        fts.keys()
            .any(|f| n == f || n.starts_with(&format!("{f}_")))
    };

    let mut schema = Schema::new();
    for (name, sql) in all.iter().filter(|(n, _)| !shadow(n)) {
        let mut t = Table {
            checks: sql.matches("CHECK (").count(),
            ..Table::default()
        };
        let mut fks: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        let mut st = conn
            .prepare(
                "SELECT id, \"table\", \"from\", \"to\", on_delete \
                 FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
            )
            .unwrap();
        let rows = st
            .query_map([name], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (id, table, from, to, on_delete) = row.unwrap();
            let fk = fks.entry(id).or_insert_with(|| ForeignKey {
                from: vec![],
                table,
                to: vec![],
                on_delete,
            });
            fk.from.push(from);
            fk.to.push(to);
        }
        let fk_columns: BTreeSet<String> =
            fks.values().flat_map(|f| f.from.iter().cloned()).collect();
        t.fks = fks.into_values().collect();

        let cols: Vec<(String, String, bool, i64)> = conn
            .prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)")
            .unwrap()
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let pk_count = cols.iter().filter(|c| c.3 > 0).count();
        for (col, ty, not_null, pk) in &cols {
            // The translation rules of 0001_initial.sql, column by column.
            let flag = FLAGS.contains(&(name.as_str(), col.as_str()));
            let ty = match ty.as_str() {
                "INTEGER" if flag => "boolean",
                "INTEGER" => "bigint",
                "TEXT" => "text",
                "BLOB" => "bytea",
                "REAL" => "double precision",
                other => panic!("{name}.{col}: no rule for SQLite type {other}"),
            };
            // A lone INTEGER PRIMARY KEY is SQLite's rowid alias: an
            // identity, unless its value always comes from a parent row.
            let rowid_alias = *pk > 0 && pk_count == 1 && ty == "bigint";
            let identity = rowid_alias && !fk_columns.contains(col);
            // PostgreSQL never allows NULL in a primary key.
            let not_null = *not_null || *pk > 0;
            t.columns.insert(
                col.clone(),
                Column {
                    ty: ty.to_string(),
                    not_null,
                    identity,
                },
            );
        }

        let list: Vec<(String, String, bool, bool)> = conn
            .prepare("SELECT name, origin, \"unique\", partial FROM pragma_index_list(?1)")
            .unwrap()
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (index, origin, unique, partial) in list {
            let key: Vec<Option<String>> = conn
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .unwrap()
                .query_map([&index], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            if origin == "c" {
                t.indexes.insert(index, (unique, partial, key));
            } else {
                t.unique_keys
                    .insert(key.into_iter().map(Option::unwrap).collect());
            }
        }
        schema.insert(name.clone(), t);
    }
    // The documented additions, so the two schemas compare equal.
    for (_, table) in FTS {
        let t = schema.get_mut(*table).unwrap();
        let search = Column {
            ty: "tsvector".into(),
            not_null: false,
            identity: false,
        };
        t.columns.insert("search".into(), search);
    }
    let members = schema.get_mut(ROWID.0).unwrap();
    members.columns.insert(
        ROWID.1.into(),
        Column {
            ty: "bigint".into(),
            not_null: true,
            identity: true,
        },
    );
    (schema, fts)
}

/// What PostgreSQL built, and per table its GIN index names and generated
/// columns (checked apart).
async fn pg_schema(client: &tokio_postgres::Client) -> (Schema, BTreeSet<(String, String)>) {
    let mut schema = Schema::new();
    let mut generated = BTreeSet::new();
    let rows = client
        .query(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                    a.attnotnull, a.attidentity::text, a.attgenerated::text \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind = 'r' \
               AND a.attnum > 0 AND NOT a.attisdropped",
            &[],
        )
        .await
        .unwrap();
    for r in rows {
        let (table, col): (String, String) = (r.get(0), r.get(1));
        let identity: String = r.get(4);
        assert_ne!(identity, "a", "{table}.{col}: identities are BY DEFAULT");
        if r.get::<_, String>(5) == "s" {
            generated.insert((table.clone(), col.clone()));
        }
        schema.entry(table).or_default().columns.insert(
            col,
            Column {
                ty: r.get(2),
                not_null: r.get(3),
                identity: identity == "d",
            },
        );
    }
    // The runner's own bookkeeping is not part of the schema.
    schema.retain(|name, _| !name.starts_with("hardshell_"));

    let rows = client
        .query(
            "SELECT c.relname::text, k.contype::text, k.confdeltype::text, f.relname::text, \
                    ARRAY(SELECT attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, o) \
                          JOIN pg_attribute ON attrelid = k.conrelid AND attnum = u.n ORDER BY o), \
                    ARRAY(SELECT attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, o) \
                          JOIN pg_attribute ON attrelid = k.confrelid AND attnum = u.n ORDER BY o) \
             FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
             LEFT JOIN pg_class f ON f.oid = k.confrelid \
             WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND k.contype IN ('c','f')",
            &[],
        )
        .await
        .unwrap();
    for r in rows {
        let table: String = r.get(0);
        let Some(t) = schema.get_mut(&table) else {
            continue;
        };
        if r.get::<_, String>(1) == "c" {
            t.checks += 1;
            continue;
        }
        let on_delete = match r.get::<_, String>(2).as_str() {
            "a" => "NO ACTION",
            "r" => "RESTRICT",
            "c" => "CASCADE",
            "n" => "SET NULL",
            "d" => "SET DEFAULT",
            other => panic!("{table}: ON DELETE {other}?"),
        };
        t.fks.insert(ForeignKey {
            from: r.get(4),
            table: r.get(3),
            to: r.get(5),
            on_delete: on_delete.into(),
        });
    }

    let rows = client
        .query(
            "SELECT t.relname::text, i.relname::text, x.indisunique, x.indpred IS NOT NULL, \
                    am.amname::text, \
                    EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid), \
                    ARRAY(SELECT pg_get_indexdef(x.indexrelid, n, true) \
                          FROM generate_series(1, x.indnkeyatts) n ORDER BY n), \
                    ARRAY(SELECT a.attnum <> 0 FROM unnest(x.indkey::int2[]) WITH ORDINALITY a(attnum, o) \
                          WHERE o <= x.indnkeyatts ORDER BY o) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am am ON am.oid = i.relam \
             WHERE t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
            &[],
        )
        .await
        .unwrap();
    for r in rows {
        let table: String = r.get(0);
        let Some(t) = schema.get_mut(&table) else {
            continue;
        };
        let (name, unique, partial): (String, bool, bool) = (r.get(1), r.get(2), r.get(3));
        let am: String = r.get(4);
        let from_constraint: bool = r.get(5);
        let defs: Vec<String> = r.get(6);
        let plain: Vec<bool> = r.get(7);
        if am == "gin" {
            assert_eq!(
                name,
                format!("{table}_search"),
                "GIN indexes are search indexes"
            );
            t.indexes
                .insert(name, (unique, partial, vec![Some("gin".into())]));
            continue;
        }
        if unique && !partial {
            let key: Vec<String> = defs
                .iter()
                .map(|d| {
                    d.strip_prefix("lower(")
                        .and_then(|d| d.strip_suffix(')'))
                        .unwrap_or(d)
                        .to_string()
                })
                .collect();
            t.unique_keys.insert(key);
        }
        if !from_constraint && !name.ends_with("_lower") {
            let key = defs
                .into_iter()
                .zip(plain)
                .map(|(d, p)| p.then_some(d))
                .collect();
            t.indexes.insert(name, (unique, partial, key));
        }
    }
    (schema, generated)
}

#[tokio::test]
async fn the_postgres_schema_mirrors_the_sqlite_schema() {
    let Some(db) = pg_harness::fresh("schema_parity").await else {
        return;
    };
    PgStore::connect(&PgOptions::new(db.url.clone()))
        .await
        .unwrap();
    let client = db.client().await;
    let (mut lite, fts) = sqlite_schema();
    let (mut pg, generated) = pg_schema(&client).await;

    // Each FTS5 table is one generated column with one GIN index.
    let mapped: BTreeMap<String, String> = FTS
        .iter()
        .map(|(f, t)| ((*f).to_string(), (*t).to_string()))
        .collect();
    assert_eq!(fts, mapped, "every FTS5 table, and the table it indexes");
    let want_generated: BTreeSet<(String, String)> = FTS
        .iter()
        .map(|(_, t)| ((*t).to_string(), "search".to_string()))
        .collect();
    assert_eq!(generated, want_generated);
    for (_, table) in FTS {
        let index = format!("{table}_search");
        assert!(
            pg[*table].indexes.contains_key(&index),
            "{table}: GIN index {index}"
        );
        pg.get_mut(*table).unwrap().indexes.remove(&index);
    }
    // A NOCASE key is a unique lower() index (its uniqueness is compared
    // with the other unique keys below).
    for (table, col) in NOCASE {
        let rows = client
            .query(
                "SELECT 1 FROM pg_indexes WHERE tablename = $1 AND indexname = $2 \
                 AND indexdef LIKE '%UNIQUE%' AND indexdef LIKE $3",
                &[
                    table,
                    &format!("{table}_{col}_lower"),
                    &format!("%(lower({col}))%"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{table}.{col}: unique lower() index");
    }

    let lite_names: BTreeSet<&String> = lite.keys().collect();
    let pg_names: BTreeSet<&String> = pg.keys().collect();
    assert_eq!(lite_names, pg_names, "the same tables");
    for (name, want) in &mut lite {
        let got = &pg[name];
        assert_eq!(want.columns, got.columns, "columns of {name}");
        assert_eq!(want.fks, got.fks, "foreign keys of {name}");
        assert_eq!(want.checks, got.checks, "CHECK constraints of {name}");
        assert_eq!(
            want.indexes.keys().collect::<Vec<_>>(),
            got.indexes.keys().collect::<Vec<_>>(),
            "named indexes of {name}"
        );
        for (index, (unique, partial, key)) in &want.indexes {
            let (pg_unique, pg_partial, pg_key) = &got.indexes[index];
            assert_eq!((unique, partial), (pg_unique, pg_partial), "{index}");
            assert_eq!(key.len(), pg_key.len(), "{index}: key length");
            for (a, b) in key.iter().zip(pg_key) {
                // An expression (IFNULL → COALESCE) is an expression on
                // both sides; a column is the same column.
                assert_eq!(a.is_some(), b.is_some(), "{index}: {key:?} vs {pg_key:?}");
                if a.is_some() {
                    assert_eq!(a, b, "{index}");
                }
            }
        }
        for key in &want.unique_keys {
            assert!(
                got.unique_keys.contains(key),
                "{name}: unique key {key:?} missing; PostgreSQL has {:?}",
                got.unique_keys
            );
        }
    }
}

/// FTS5 `unicode61 remove_diacritics 2` and `search_fold` + 'simple' split
/// and fold these into the same words, in the same order.
#[tokio::test]
async fn search_words_are_split_and_folded_like_fts5() {
    let Some(db) = pg_harness::fresh("search_words").await else {
        return;
    };
    PgStore::connect(&PgOptions::new(db.url.clone()))
        .await
        .unwrap();
    let client = db.client().await;
    let samples = [
        "Le café à https://example.com/a-b_c est déjà ouvert",
        "don't stop-me now: foo@bar.org, v1.2.3 and 3.14",
        "Ærø Øresund Łódź naïve coöperate ŒUVRE straße",
        "CamelCase snake_case kebab-case path/to/file.txt",
        "Ελληνικά Кириллица 日本語テキスト mixed123 456abc",
        "ǖ ǘ Ḕ ṩ ỹ",
        "e\u{301} combining acute; n\u{303} tilde",
        "quotes “curly” ‘single’ — dash … ellipsis «guillemets»",
        "#hashtag @mention $100 50% a+b=c <tag> [x] {y} ~z` ^w |v \\u",
        // A mark typed after any letter goes; a precomposed Greek one stays.
        "α\u{301} ά \u{212b} Å 한국어 Tiếng Việt ﬁnance",
        "ŒUVRE œuvre Ǆ ǆ ǅ İstanbul ı",
    ];
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    lite.execute_batch(
        "CREATE VIRTUAL TABLE f USING fts5(t, tokenize='unicode61 remove_diacritics 2');
         CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance');",
    )
    .unwrap();
    for (i, text) in samples.iter().enumerate() {
        let id = i as i64 + 1;
        lite.execute("INSERT INTO f (rowid, t) VALUES (?1, ?2)", (id, text))
            .unwrap();
        let fts: Vec<String> = lite
            .prepare("SELECT term FROM v WHERE doc = ?1 ORDER BY offset")
            .unwrap()
            .query_map([id], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let row = client
            .query_one(
                "SELECT ARRAY(SELECT w FROM (SELECT lexeme w, unnest(positions) p \
                 FROM unnest(to_tsvector('simple', search_fold($1)))) x ORDER BY p)",
                &[text],
            )
            .await
            .unwrap();
        let pg: Vec<String> = row.get(0);
        assert_eq!(fts, pg, "{text:?}");
    }
}

/// A few constraints, tried and refused (or cascaded) on the real server.
#[tokio::test]
async fn constraints_hold_on_postgres() {
    let Some(db) = pg_harness::fresh("schema_constraints").await else {
        return;
    };
    PgStore::connect(&PgOptions::new(db.url.clone()))
        .await
        .unwrap();
    let c = db.client().await;
    let code = |e: tokio_postgres::Error| e.code().map(|s| s.code().to_string());
    c.batch_execute(
        "INSERT INTO users (id, uuid, username, role, created_at) VALUES
             (1, 'u1', 'Alice', 'owner', 't'), (2, 'u2', 'bob', 'member', 't');
         INSERT INTO agent_keys (id, public_id, name, key_hash, permissions, created_by, created_at)
             VALUES (1, 'k1', 'key', '\\x01', '[]', 1, 0);
         INSERT INTO auth_sessions (public_id, agent_key_id, kind, created_at, last_seen_at, expires_at)
             VALUES ('s1', 1, 'token', 0, 0, 0);
         INSERT INTO bookmark_folders (id, user_id, name, created_at, updated_at) VALUES (1, 1, 'top', 0, 0);
         INSERT INTO bookmark_folders (id, user_id, parent_id, name, created_at, updated_at)
             VALUES (2, 1, 1, 'inner', 0, 0);
         INSERT INTO bookmarks (user_id, url, norm_url, title, folder_id, creator_kind, created_at, updated_at)
             VALUES (1, 'https://a.example/', 'a.example/', 'A', 2, 'user', 0, 0);",
    )
    .await
    .unwrap();

    // Usernames are unique whatever their case.
    let e = c
        .execute(
            "INSERT INTO users (uuid, username, role, created_at) VALUES ('u3', 'ALICE', 'member', 't')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("23505"));
    // A role outside the CHECK.
    let e = c
        .execute(
            "INSERT INTO users (uuid, username, role, created_at) VALUES ('u4', 'carol', 'root', 't')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("23514"));
    // Bob cannot file a bookmark into Alice's folder.
    let e = c
        .execute(
            "INSERT INTO bookmarks (user_id, url, norm_url, title, folder_id, creator_kind, created_at, updated_at) \
             VALUES (2, 'u', 'n', 't', 1, 'user', 0, 0)",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("23503"));
    // A folder with children is not deleted.
    let e = c
        .execute("DELETE FROM bookmark_folders WHERE id = 1", &[])
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("23503"));

    // Deleting Alice takes her key, its session, her nested folders and
    // her bookmark with her, in one statement.
    assert_eq!(
        c.execute("DELETE FROM users WHERE id = 1", &[])
            .await
            .unwrap(),
        1
    );
    for table in [
        "agent_keys",
        "auth_sessions",
        "bookmark_folders",
        "bookmarks",
    ] {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table} after the owner was deleted");
    }
}
