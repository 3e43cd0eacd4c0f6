//! Whole-file key changes: migrating a plaintext SQLite database to SQLCipher
//! and rotating the key (`db rekey`).
//!
//! Both export into a new file and rename it over the old one, so a crash
//! leaves either the old database or the new one, never a half-written file.
//! Callers must hold the data directory's server lock: no other connection
//! may be open while the file is replaced.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{DbKey, PLAINTEXT_MAGIC, StoreError, open_connection};

/// True when the file starts with the plaintext SQLite header.
pub fn is_plaintext(path: &Path) -> Result<bool, StoreError> {
    let mut f = fs::File::open(path).map_err(|e| StoreError::io(path, e))?;
    let mut head = [0u8; 16];
    match f.read_exact(&mut head) {
        Ok(()) => Ok(&head == PLAINTEXT_MAGIC),
        // Shorter than a header: an empty file we created, not plaintext.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Encrypts a plaintext database in place, keeping a 0600 backup of the
/// original beside it. Returns the backup's path.
pub fn migrate_plaintext(path: &Path, key: &DbKey) -> Result<PathBuf, StoreError> {
    let plain = Connection::open(path)?;
    // Fold any WAL into the main file so the backup is complete.
    plain.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    let backup = sibling(path, &format!("plaintext-backup-{}", unix_now()));
    copy_private(path, &backup)?;
    export_to(&plain, path, key)?;
    Ok(backup)
}

/// Re-encrypts the database under `new`, keeping every row.
pub fn rekey(path: &Path, old: &DbKey, new: &DbKey) -> Result<(), StoreError> {
    let conn = open_connection(path, old)?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    export_to(&conn, path, new)?;
    // Prove the new file opens with the new key before reporting success.
    drop(open_connection(path, new)?);
    Ok(())
}

/// Exports `src` (the database at `path`) into a fresh file keyed with `key`
/// and renames it over `path`.
fn export_to(src: &Connection, path: &Path, key: &DbKey) -> Result<(), StoreError> {
    let tmp = sibling(path, "export-tmp");
    let _ = fs::remove_file(&tmp);
    crate::config::datadir::create_private_file(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    let tmp_str = tmp.to_str().ok_or_else(|| {
        StoreError::io(
            &tmp,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "path is not UTF-8"),
        )
    })?;
    let user_version: i64 = src.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let result = (|| -> Result<(), StoreError> {
        src.execute_batch(&key.attach_sql(tmp_str, "hs_export"))?;
        src.query_row("SELECT sqlcipher_export('hs_export')", [], |_| Ok(()))?;
        // sqlcipher_export copies the schema and rows but not user_version,
        // which the migrations use.
        src.execute_batch(&format!("PRAGMA hs_export.user_version = {user_version};"))?;
        src.execute_batch("DETACH DATABASE hs_export;")?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(&tmp, e))?;
    for suffix in ["-wal", "-shm"] {
        let _ = fs::remove_file(with_suffix(path, suffix));
    }
    fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(dir, e))?;
    }
    Ok(())
}

fn copy_private(from: &Path, to: &Path) -> Result<(), StoreError> {
    let mut src = fs::File::open(from).map_err(|e| StoreError::io(from, e))?;
    let mut dst =
        crate::config::datadir::create_private_file(to).map_err(|e| StoreError::io(to, e))?;
    std::io::copy(&mut src, &mut dst).map_err(|e| StoreError::io(to, e))?;
    dst.sync_all().map_err(|e| StoreError::io(to, e))
}

fn sibling(path: &Path, tag: &str) -> PathBuf {
    with_suffix(path, &format!(".{tag}"))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn seed_plaintext(path: &Path) {
        let c = Connection::open(path).unwrap();
        c.execute_batch(
            "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
             INSERT INTO notes(body) VALUES ('alpha'), ('beta'), ('gamma');",
        )
        .unwrap();
    }

    #[test]
    fn plaintext_database_is_encrypted_with_backup_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("hardshell.db");
        seed_plaintext(&path);
        assert!(is_plaintext(&path).unwrap());
        let key = DbKey::generate();
        let hex = key.expose_hex().to_string();
        drop(Store::open(&path, key).unwrap());
        assert!(!is_plaintext(&path).unwrap());
        let conn = open_connection(&path, &DbKey::parse(&hex).unwrap()).unwrap();
        let bodies: Vec<String> = conn
            .prepare("SELECT body FROM notes ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(bodies, ["alpha", "beta", "gamma"]);
        let backups: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("plaintext-backup"))
            .collect();
        assert_eq!(backups.len(), 1);
        assert!(is_plaintext(&backups[0].path()).unwrap());
    }

    #[test]
    fn rekey_keeps_rows_and_old_key_stops_working() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("hardshell.db");
        let old = DbKey::generate();
        let old_hex = old.expose_hex().to_string();
        {
            let store = Store::open(&path, old).unwrap();
            drop(store);
            let c = open_connection(&path, &DbKey::parse(&old_hex).unwrap()).unwrap();
            for i in 0..500 {
                c.execute(
                    "INSERT INTO users(uuid, username, role, created_at) VALUES (?1, ?2, 'member', 'now')",
                    (format!("u{i}"), format!("user{i}")),
                )
                .unwrap();
            }
        }
        let old = DbKey::parse(&old_hex).unwrap();
        let before = table_counts_at(&path, &old);
        let new = DbKey::generate();
        rekey(&path, &old, &new).unwrap();
        assert!(matches!(
            open_connection(&path, &old),
            Err(StoreError::WrongKeyOrCorrupt)
        ));
        assert_eq!(table_counts_at(&path, &new), before);
        let uv: i64 = open_connection(&path, &new)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert!(uv >= 1, "schema version survives the rekey");
    }

    fn table_counts_at(path: &Path, key: &DbKey) -> Vec<(String, i64)> {
        super::super::table_counts(&open_connection(path, key).unwrap()).unwrap()
    }
}
