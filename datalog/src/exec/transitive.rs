//! Transitive closure by SCC condensation: a stratum that only computes `h = e⁺`
//! (`h(x, y) :- e(x, y).` and `h(x, z) :- h(x, y), e(y, z).`, or the left-linear
//! `h(x, z) :- e(x, y), h(y, z).`) over row relations is saturated without iterating.
//! Tarjan's algorithm yields the strongly connected components of `e` with every
//! component after those it reaches; each component's reachable set is the union of its
//! successors' sets (one row union per condensed edge), shared by all its members.
//!
//! Used for a full saturation only; incremental updates run the stratum's semi-naive
//! versions from the saturated result, which stays correct because the result is the
//! same fixpoint.

use crate::exec::eval::Counters;
use crate::storage::relation::Relation;
use crate::storage::rows::{Acc, RowSet};

/// Largest node id the condensation handles (its tables are indexed by id).
const MAX_NODES: usize = 1 << 22;

/// Computes `e⁺` into `out` (empty rows of the head's kind); false (and nothing
/// written) when `e` is not stored as rows or its ids are too wide for the tables.
pub fn closure_into(e: &Relation, out: &mut RowSet, counters: &mut Counters) -> bool {
    let Relation::Rows(e) = e else {
        return false;
    };
    let adj = &e.fwd;
    let mut top = 0u32;
    for (k, row) in adj.iter() {
        top = top.max(k);
        row.for_each(|v| top = top.max(v));
    }
    let n = top as usize + 1;
    if adj.is_empty() || n > MAX_NODES || n > 64 * adj.len() as usize + 4096 {
        return adj.is_empty();
    }
    let comps = tarjan(adj, n);
    let mut comp_of = vec![u32::MAX; n];
    for (c, members) in comps.iter().enumerate() {
        for &v in members {
            comp_of[v as usize] = c as u32;
        }
    }
    // The representative (first member) of each component holds its row in `out`.
    let mut seen = vec![u32::MAX; comps.len()];
    let mut acc = Acc::default();
    let mut succ = Vec::new();
    for (c, members) in comps.iter().enumerate() {
        acc.clear();
        let mut cyclic = members.len() > 1;
        for &v in members {
            let Some(row) = adj.row(v) else { continue };
            succ.clear();
            row.for_each(|w| succ.push(w));
            for &w in &succ {
                let d = comp_of[w as usize];
                if d as usize == c {
                    cyclic = true;
                    continue;
                }
                acc.set(w);
                if seen[d as usize] != c as u32 {
                    seen[d as usize] = c as u32;
                    let rep = comps[d as usize][0];
                    if let Some(r) = out.row(rep) {
                        counters.probes += 1;
                        acc.or_row(r);
                    }
                }
            }
        }
        if cyclic {
            for &v in members {
                acc.set(v);
            }
        }
        if acc.is_empty() {
            continue;
        }
        for &v in members {
            counters.derived += acc.union_into(v, out, None, false);
        }
    }
    true
}

/// Strongly connected components of the graph `adj` over ids `0..n`, each component
/// listed after every component it reaches (iterative Tarjan).
fn tarjan(adj: &RowSet, n: usize) -> Vec<Vec<u32>> {
    const NONE: u32 = u32::MAX;
    let mut index = vec![NONE; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut comps: Vec<Vec<u32>> = Vec::new();
    let mut next = 0u32;
    // Call frames: node and its successors still to visit.
    let mut frames: Vec<(u32, Vec<u32>)> = Vec::new();
    let succs = |v: u32| -> Vec<u32> {
        let mut s = Vec::new();
        if let Some(r) = adj.row(v) {
            r.for_each(|w| s.push(w));
        }
        s.reverse();
        s
    };
    for &root in adj.keys() {
        if index[root as usize] != NONE {
            continue;
        }
        index[root as usize] = next;
        low[root as usize] = next;
        next += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        frames.push((root, succs(root)));
        while let Some((v, pending)) = frames.last_mut() {
            let v = *v;
            if let Some(w) = pending.pop() {
                let wi = w as usize;
                if index[wi] == NONE {
                    index[wi] = next;
                    low[wi] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[wi] = true;
                    frames.push((w, succs(w)));
                } else if on_stack[wi] {
                    low[v as usize] = low[v as usize].min(index[wi]);
                }
                continue;
            }
            frames.pop();
            if let Some((parent, _)) = frames.last() {
                let p = *parent as usize;
                low[p] = low[p].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                let mut comp = Vec::new();
                loop {
                    let w = stack.pop().expect("v is on the stack");
                    on_stack[w as usize] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                comps.push(comp);
            }
        }
    }
    comps
}
