//! The durable store behind `sx serve`: one SQLite table of keys and values.
//!
//! Values are kept as the printed (readable) form of SX data, so what a program
//! stores comes back equal. The database runs in WAL mode with `synchronous=FULL`:
//! a transaction that has committed survives a crash of the process and of the
//! machine. Readers and the writer each hold their own connection; WAL lets
//! readers go on while a write commits.

use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

/// A key and the printed form of its value.
pub type Entry = (String, String);

/// One atomic write, with values already printed (see [`crate::request::Tx`]).
#[derive(Debug, Default)]
pub struct StoredTx {
    /// Keys and printed values to store.
    pub put: Vec<Entry>,
    /// Keys to remove.
    pub delete: Vec<String>,
    /// Keys that must not exist.
    pub absent: Vec<String>,
    /// Keys that must exist.
    pub present: Vec<String>,
}

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[error("store {path}: {source}")]
pub struct StoreError {
    /// The database file.
    pub path: String,
    /// What SQLite said.
    #[source]
    pub source: rusqlite::Error,
}

/// A connection to the store.
pub struct Store {
    conn: Connection,
    path: String,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;";

impl Store {
    /// Opens (creating it with its schema when new) the store at `path`;
    /// `:memory:` is a private in-memory database (tests), which only this one
    /// connection sees.
    pub fn open(path: &str) -> Result<Store, StoreError> {
        let err = |source| StoreError {
            path: path.to_string(),
            source,
        };
        let conn = if path == ":memory:" {
            Connection::open_in_memory()
        } else {
            Connection::open_with_flags(
                Path::new(path),
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        }
        .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Store {
            conn,
            path: path.to_string(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            source,
        }
    }

    /// The printed value under `key`.
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT value FROM kv WHERE key = ?1")
            .and_then(|mut s| s.query_row(params![key], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn scan(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        // No successor (an empty prefix, say): no upper bound.
        let end = successor(prefix);
        self.conn
            .prepare_cached(
                "SELECT key, value FROM kv WHERE key >= ?1 AND (?2 IS NULL OR key < ?2) ORDER BY key",
            )
            .and_then(|mut s| {
                s.query_map(params![prefix, end], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// Whether the store holds no key at all.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM kv)", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Makes every transaction of `batch` that its conditions allow, each all or
    /// nothing, and commits them together (one durable commit for the batch: a
    /// group commit). Answers, per transaction, whether it was made; an error of
    /// the commit fails them all, and then none was made.
    pub fn commit(&mut self, batch: &[StoredTx]) -> Result<Vec<bool>, StoreError> {
        let run = |conn: &mut Connection| -> rusqlite::Result<Vec<bool>> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut made = Vec::with_capacity(batch.len());
            for t in batch {
                made.push(apply(&tx, t)?);
            }
            tx.commit()?;
            Ok(made)
        };
        run(&mut self.conn).map_err(|e| self.err(e))
    }
}

/// Makes `t` inside the open transaction when its conditions hold.
fn apply(conn: &Connection, t: &StoredTx) -> rusqlite::Result<bool> {
    let mut exists = conn.prepare_cached("SELECT 1 FROM kv WHERE key = ?1")?;
    for k in &t.absent {
        if exists.exists(params![k])? {
            return Ok(false);
        }
    }
    for k in &t.present {
        if !exists.exists(params![k])? {
            return Ok(false);
        }
    }
    let mut delete = conn.prepare_cached("DELETE FROM kv WHERE key = ?1")?;
    for k in &t.delete {
        delete.execute(params![k])?;
    }
    let mut put = conn.prepare_cached("INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)")?;
    for (k, v) in &t.put {
        put.execute(params![k, v])?;
    }
    Ok(true)
}

/// The least string greater than every string that starts with `prefix`, if any:
/// `prefix` with its last character incremented (characters that cannot be are
/// dropped first).
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        let mut next = c as u32 + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(n) = char::from_u32(next) {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_takes_exactly_the_prefix() {
        let mut s = Store::open(":memory:").unwrap();
        let put = ["a", "ab", "abc", "ab\u{10FFFF}x", "ac", "b", ""]
            .iter()
            .map(|k| (k.to_string(), format!("{k:?}")))
            .collect();
        s.commit(&[StoredTx {
            put,
            ..StoredTx::default()
        }])
        .unwrap();
        let keys =
            |p: &str| -> Vec<String> { s.scan(p).unwrap().into_iter().map(|(k, _)| k).collect() };
        assert_eq!(keys("ab"), ["ab", "abc", "ab\u{10FFFF}x"]);
        assert_eq!(keys(""), ["", "a", "ab", "abc", "ab\u{10FFFF}x", "ac", "b"]);
        assert!(keys("z").is_empty());
    }

    #[test]
    fn a_failed_condition_writes_nothing_and_others_in_the_batch_commit() {
        let mut s = Store::open(":memory:").unwrap();
        let put = |k: &str| StoredTx {
            put: vec![(k.into(), "1".into())],
            absent: vec![k.into()],
            ..StoredTx::default()
        };
        assert_eq!(
            s.commit(&[put("a"), put("a"), put("b")]).unwrap(),
            [true, false, true]
        );
        let del = StoredTx {
            delete: vec!["a".into()],
            present: vec!["a".into(), "zz".into()],
            ..StoredTx::default()
        };
        assert_eq!(s.commit(&[del]).unwrap(), [false]);
        assert_eq!(s.get("a").unwrap().as_deref(), Some("1"));
        assert!(!s.is_empty().unwrap());
    }
}
