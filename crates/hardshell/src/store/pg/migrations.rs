//! The PostgreSQL schema: one SQL file per SQLite migration, under the same
//! version number, so "schema version N" names the same tables, columns,
//! keys and indexes on both backends. The translation rules (types, NOCASE,
//! FTS5 → generated `tsvector` columns, triggers) are written at the top of
//! `migrations/0001_initial.sql`.
//!
//! This module only lists the files; the runner in `pg/mod.rs` applies each
//! once, in its own transaction, and records the version. It must never
//! edit a migration that has shipped (append a new one instead, to both
//! backends, with one number), never use an extension (plain PostgreSQL 15),
//! and never let the two lists drift apart: the tests below compare them.

/// `(version, name, sql)`, in order, from version 1 without gaps.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (2, "identity", include_str!("migrations/0002_identity.sql")),
    (3, "chat", include_str!("migrations/0003_chat.sql")),
    (4, "agents", include_str!("migrations/0004_agents.sql")),
    (5, "memory", include_str!("migrations/0005_memory.sql")),
    (6, "tools", include_str!("migrations/0006_tools.sql")),
    (
        7,
        "bookmarks",
        include_str!("migrations/0007_bookmarks.sql"),
    ),
    (
        8,
        "bookmark_pages",
        include_str!("migrations/0008_bookmark_pages.sql"),
    ),
    (9, "channels", include_str!("migrations/0009_channels.sql")),
    (
        10,
        "channels_media",
        include_str!("migrations/0010_channels_media.sql"),
    ),
    (
        11,
        "channels_groups",
        include_str!("migrations/0011_channels_groups.sql"),
    ),
    (
        12,
        "channels_deferred",
        include_str!("migrations/0012_channels_deferred.sql"),
    ),
];

/// The newest version this build knows: what a fresh database is migrated
/// to, on either backend.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

#[cfg(test)]
mod tests;
