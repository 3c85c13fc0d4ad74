//! Tarjan's strongly connected components over part of a layer, iteratively (a
//! 100,000-node chain must not recurse 100,000 deep).

use crate::names::NodeId;
use hashbrown::HashMap;

/// The strongly connected components of the graph on `nodes` whose arcs are
/// `succ(x)` (only those ending in `nodes` count). Linear in the nodes and arcs.
pub(crate) fn tarjan(nodes: &[NodeId], succ: impl Fn(NodeId) -> Vec<NodeId>) -> Vec<Vec<NodeId>> {
    struct Visit {
        index: u32,
        low: u32,
        on_stack: bool,
    }
    let mut visit: HashMap<NodeId, Visit> = HashMap::with_capacity(nodes.len());
    let member: hashbrown::HashSet<NodeId> = nodes.iter().copied().collect();
    let mut stack: Vec<NodeId> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0u32;
    // The DFS path: a node, its successors, and how many of them were looked at.
    let mut path: Vec<(NodeId, Vec<NodeId>, usize)> = Vec::new();
    for &root in nodes {
        if visit.contains_key(&root) {
            continue;
        }
        let mut enter = |x: NodeId, visit: &mut HashMap<NodeId, Visit>, stack: &mut Vec<NodeId>| {
            visit.insert(
                x,
                Visit {
                    index: next,
                    low: next,
                    on_stack: true,
                },
            );
            next += 1;
            stack.push(x);
            let s: Vec<NodeId> = succ(x).into_iter().filter(|y| member.contains(y)).collect();
            (x, s, 0)
        };
        path.push(enter(root, &mut visit, &mut stack));
        while let Some((x, succs, pos)) = path.last_mut() {
            let x = *x;
            if let Some(&y) = succs.get(*pos) {
                *pos += 1;
                match visit.get(&y) {
                    None => path.push(enter(y, &mut visit, &mut stack)),
                    Some(v) if v.on_stack => {
                        let yi = v.index;
                        let vx = visit.get_mut(&x).expect("on the path");
                        vx.low = vx.low.min(yi);
                    }
                    Some(_) => {}
                }
                continue;
            }
            path.pop();
            let (xi, xl) = {
                let v = &visit[&x];
                (v.index, v.low)
            };
            if let Some((p, _, _)) = path.last() {
                let vp = visit.get_mut(p).expect("on the path");
                vp.low = vp.low.min(xl);
            }
            if xi == xl {
                let mut comp = Vec::new();
                while let Some(y) = stack.pop() {
                    visit.get_mut(&y).expect("visited").on_stack = false;
                    comp.push(y);
                    if y == x {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}
