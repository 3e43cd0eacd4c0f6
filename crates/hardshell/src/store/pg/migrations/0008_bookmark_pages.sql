-- PostgreSQL schema, version 8 (mirrors SQLite V8 in bookmarks_schema.rs):
-- what `POST /bookmarks/{id}/fetch` read from a bookmark's page, one row per
-- bookmark, replaced by each fetch. `text` is only the visible text;
-- `hidden` names the carriers withheld; `flagged` and `score` are the
-- scanner's verdict. The text is untrusted content and is not indexed.
--
-- `bookmark_id` is SQLite's `INTEGER PRIMARY KEY REFERENCES bookmarks(id)`:
-- its value always comes from the bookmark, so no identity.
-- `truncated` and `flagged` are flags (BOOLEAN); `status` is the HTTP
-- status (BIGINT); `score` REAL -> DOUBLE PRECISION.
CREATE TABLE bookmark_pages (
    bookmark_id BIGINT PRIMARY KEY REFERENCES bookmarks(id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    final_url   TEXT NOT NULL,
    status      BIGINT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    text        TEXT NOT NULL,
    truncated   BOOLEAN NOT NULL,
    hidden      TEXT NOT NULL,
    flagged     BOOLEAN NOT NULL,
    score       DOUBLE PRECISION NOT NULL,
    fetched_at  BIGINT NOT NULL
);
CREATE INDEX bookmark_pages_user ON bookmark_pages (user_id);
