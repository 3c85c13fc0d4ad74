//! The in-memory key-value store that answers `kv-*` requests.

use std::collections::BTreeMap;

use lang::Value;

use crate::request::Tx;

/// An ordered in-memory store of SX values under string keys.
#[derive(Default, Debug)]
pub struct KvStore {
    map: BTreeMap<String, Value>,
    /// How many writes (`kv-put`, `kv-delete`) it has executed.
    pub writes: u64,
}

impl KvStore {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Stores `value` under `key`.
    pub fn put(&mut self, key: &str, value: Value) {
        self.writes += 1;
        self.map.insert(key.to_string(), value);
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: &str) {
        self.writes += 1;
        self.map.remove(key);
    }

    /// Every `(key value)` whose key starts with `prefix`, in key order.
    pub fn scan(&self, prefix: &str) -> Vec<(String, Value)> {
        self.map
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Makes `tx` when its conditions hold (true), or nothing (false).
    pub fn transact(&mut self, tx: Tx) -> bool {
        let holds = tx.absent.iter().all(|k| !self.map.contains_key(k))
            && tx.present.iter().all(|k| self.map.contains_key(k));
        if holds {
            for k in &tx.delete {
                self.delete(k);
            }
            for (k, v) in tx.put {
                self.put(&k, v);
            }
        }
        holds
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
