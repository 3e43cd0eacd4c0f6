//! Schema V7 (issue 20): bookmarks, their nested folders, tags, an FTS5
//! index, and import sessions. Kept apart from `migrations.rs` so the
//! bookmark code owns its tables.

/// Everything belongs to one user. Composite foreign keys `(folder_id,
/// user_id)` and `(parent_id, user_id)` make the database itself refuse a
/// bookmark or folder that points into another user's folder, and refuse
/// deleting a folder that still has children (the store moves them to the
/// parent first). `norm_url` is the dedup key, unique per user. `tags` on
/// `bookmarks` is the space-joined copy the FTS index reads; the rows of
/// `bookmark_tags` are what filters and counts use. Exactly one creator
/// column says who made a bookmark: a person, an agent key, or an agent.
/// An import session owns one short-lived agent key and tallies what the
/// key imported.
pub(super) const V7: &str = r#"
CREATE TABLE bookmark_folders (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    parent_id  INTEGER,
    name       TEXT NOT NULL,
    color      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (id, user_id),
    FOREIGN KEY (parent_id, user_id) REFERENCES bookmark_folders(id, user_id)
);
CREATE INDEX bookmark_folders_user ON bookmark_folders(user_id, parent_id);

CREATE TABLE bookmarks (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    norm_url         TEXT NOT NULL,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    tags             TEXT NOT NULL DEFAULT '',
    folder_id        INTEGER,
    starred          INTEGER NOT NULL DEFAULT 0,
    archived         INTEGER NOT NULL DEFAULT 0,
    color            TEXT,
    created_by_user  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_by_key   INTEGER REFERENCES agent_keys(id) ON DELETE SET NULL,
    created_by_agent INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    creator_kind     TEXT NOT NULL CHECK (creator_kind IN ('user','key','agent')),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (user_id, norm_url),
    FOREIGN KEY (folder_id, user_id) REFERENCES bookmark_folders(id, user_id)
);
CREATE INDEX bookmarks_user ON bookmarks(user_id, id);
CREATE INDEX bookmarks_folder ON bookmarks(folder_id);

CREATE TABLE bookmark_tags (
    bookmark_id INTEGER NOT NULL REFERENCES bookmarks(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    tag         TEXT NOT NULL,
    PRIMARY KEY (bookmark_id, tag)
) WITHOUT ROWID;
CREATE INDEX bookmark_tags_user ON bookmark_tags(user_id, tag, bookmark_id);

CREATE VIRTUAL TABLE bookmarks_fts USING fts5(
    title, description, url, tags, content='bookmarks', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER bookmarks_fts_insert AFTER INSERT ON bookmarks BEGIN
    INSERT INTO bookmarks_fts(rowid, title, description, url, tags)
    VALUES (new.id, new.title, new.description, new.url, new.tags);
END;
CREATE TRIGGER bookmarks_fts_delete AFTER DELETE ON bookmarks BEGIN
    INSERT INTO bookmarks_fts(bookmarks_fts, rowid, title, description, url, tags)
    VALUES ('delete', old.id, old.title, old.description, old.url, old.tags);
END;
CREATE TRIGGER bookmarks_fts_update AFTER UPDATE OF title, description, url, tags ON bookmarks BEGIN
    INSERT INTO bookmarks_fts(bookmarks_fts, rowid, title, description, url, tags)
    VALUES ('delete', old.id, old.title, old.description, old.url, old.tags);
    INSERT INTO bookmarks_fts(rowid, title, description, url, tags)
    VALUES (new.id, new.title, new.description, new.url, new.tags);
END;

CREATE TABLE bookmark_import_sessions (
    id         INTEGER PRIMARY KEY,
    public_id  TEXT NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_id     INTEGER NOT NULL UNIQUE REFERENCES agent_keys(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    closed_at  INTEGER,
    imported   INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    errors     TEXT NOT NULL DEFAULT '[]'
);
"#;

/// Schema V8 (issue 20, page text): what `POST /bookmarks/{id}/fetch` read
/// from a bookmark's page, one row per bookmark, replaced by each fetch.
/// `text` is only the visible text (promptguard's carrier splitter kept
/// hidden passages out); `hidden` names the carriers withheld; `flagged`
/// and `score` are the scanner's verdict with hidden text weighing double.
/// The text is untrusted content: it reaches a model only through an
/// agent's knowledge, which wraps and taints.
pub(super) const V8: &str = r#"
CREATE TABLE bookmark_pages (
    bookmark_id INTEGER PRIMARY KEY REFERENCES bookmarks(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    final_url   TEXT NOT NULL,
    status      INTEGER NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    text        TEXT NOT NULL,
    truncated   INTEGER NOT NULL,
    hidden      TEXT NOT NULL,
    flagged     INTEGER NOT NULL,
    score       REAL NOT NULL,
    fetched_at  INTEGER NOT NULL
);
CREATE INDEX bookmark_pages_user ON bookmark_pages(user_id);
"#;
