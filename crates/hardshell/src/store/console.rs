//! The owner's SQL console on the encrypted database (`hardshell db shell`).
//!
//! Owns one keyed connection and running the statements typed at it. It is
//! read-only unless the caller asks for writes: the connection is then
//! opened with SQLite's read-only flag, so no statement (not even
//! `PRAGMA query_only = OFF`) can change the file. It never runs
//! migrations or any statement of its own beyond the key and a probe.

use std::path::Path;

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::types::ValueRef;
use rusqlite::{Batch, Connection, OpenFlags};

use super::{DbKey, StoreError};

/// One cell of a result, typed as SQLite stored it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// The rows one statement returned (empty `columns` for a statement that
/// returns nothing).
#[derive(Debug, Default)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

pub struct Console {
    conn: Connection,
}

impl Console {
    /// Opens the database with its key; read-only unless `writable`.
    pub fn open(path: &Path, key: &DbKey, writable: bool) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::io(
                path,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        let access = if writable {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        };
        let conn = Connection::open_with_flags(path, access | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
        key.apply(&conn)?;
        super::probe(&conn)?;
        conn.busy_timeout(super::BUSY_TIMEOUT)?;
        Ok(Self { conn })
    }

    /// Runs every statement in `sql`, in order, and returns their rows.
    /// Stops at the first error; statements before it have run.
    pub fn run(&self, sql: &str) -> Result<Vec<ResultSet>, StoreError> {
        let mut out = Vec::new();
        let mut batch = Batch::new(&self.conn, sql);
        while let Some(mut stmt) = batch.next()? {
            let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
            let width = columns.len();
            let mut set = ResultSet {
                columns,
                rows: Vec::new(),
            };
            let mut rows = stmt.raw_query();
            while let Some(row) = rows.next()? {
                let mut cells = Vec::with_capacity(width);
                for i in 0..width {
                    cells.push(cell(row.get_ref(i)?));
                }
                set.rows.push(cells);
            }
            out.push(set);
        }
        Ok(out)
    }
}

fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Integer(i),
        ValueRef::Real(f) => Cell::Real(f),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn fixture() -> (tempfile::TempDir, std::path::PathBuf, String) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("hardshell.db");
        let key = DbKey::generate();
        let hex = key.expose_hex().to_string();
        drop(Store::open(&path, key).unwrap());
        (tmp, path, hex)
    }

    #[test]
    fn reads_rows_and_refuses_every_write_when_read_only() {
        let (_tmp, path, hex) = fixture();
        let key = DbKey::parse(&hex).unwrap();
        let console = Console::open(&path, &key, false).unwrap();
        let sets = console
            .run("SELECT 1 AS one, 'two' AS two, NULL AS three; SELECT count(*) FROM users;")
            .unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].columns, ["one", "two", "three"]);
        assert_eq!(
            sets[0].rows,
            [[Cell::Integer(1), Cell::Text("two".into()), Cell::Null]]
        );
        assert_eq!(sets[1].rows, [[Cell::Integer(0)]]);
        for write in [
            "INSERT INTO users (uuid, username, role, created_at) VALUES ('u','x','owner','t')",
            "PRAGMA query_only = OFF; DELETE FROM audit_log",
            "DROP TABLE users",
            "PRAGMA journal_mode = DELETE",
        ] {
            let r = console.run(write);
            let changed = console.run("SELECT count(*) FROM users").unwrap();
            assert_eq!(changed[0].rows, [[Cell::Integer(0)]], "{write}");
            assert!(
                r.is_err() || write.starts_with("PRAGMA journal_mode"),
                "{write} was accepted"
            );
        }
        let still: String = Connection::open(&path)
            .and_then(|c| {
                key.apply(&c).map_err(|_| rusqlite::Error::InvalidQuery)?;
                c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
            })
            .unwrap();
        assert_eq!(still, "wal");
    }

    #[test]
    fn writes_only_when_asked() {
        let (_tmp, path, hex) = fixture();
        let key = DbKey::parse(&hex).unwrap();
        let console = Console::open(&path, &key, true).unwrap();
        console
            .run(
                "INSERT INTO users (uuid, username, role, created_at) VALUES ('u','x','owner','t')",
            )
            .unwrap();
        let n = console.run("SELECT count(*) FROM users").unwrap();
        assert_eq!(n[0].rows, [[Cell::Integer(1)]]);
    }

    #[test]
    fn a_wrong_key_is_refused() {
        let (_tmp, path, _hex) = fixture();
        assert!(matches!(
            Console::open(&path, &DbKey::generate(), false),
            Err(StoreError::WrongKeyOrCorrupt)
        ));
    }
}
