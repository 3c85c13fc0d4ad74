//! Node names interned to dense ids, so adjacency holds `u32`s.

use hashbrown::HashMap;

/// A node's dense id.
pub(crate) type NodeId = u32;

/// Node names and their ids. Ids are never reused: a node that loses every edge keeps
/// its id (one small string per node ever named).
#[derive(Debug, Default)]
pub(crate) struct Names {
    ids: HashMap<Box<str>, NodeId>,
    names: Vec<Box<str>>,
}

impl Names {
    /// The id of `name`, assigned on first sight.
    pub(crate) fn intern(&mut self, name: &str) -> NodeId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as NodeId;
        self.names.push(Box::from(name));
        self.ids.insert(Box::from(name), id);
        id
    }

    /// The id of `name`, if it was ever named.
    pub(crate) fn get(&self, name: &str) -> Option<NodeId> {
        self.ids.get(name).copied()
    }

    /// The name of `id`.
    pub(crate) fn name(&self, id: NodeId) -> &str {
        &self.names[id as usize]
    }

    /// The names of `ids`, sorted by bytes.
    pub(crate) fn sorted(&self, ids: impl IntoIterator<Item = NodeId>) -> Vec<String> {
        let mut v: Vec<&str> = ids.into_iter().map(|i| self.name(i)).collect();
        v.sort_unstable();
        v.into_iter().map(String::from).collect()
    }
}
