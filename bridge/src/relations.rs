//! The `relations-*` primitives: a [`Graph`] of typed edges for SX.
//!
//! `(relations-graph)` answers a handle, a native value holding the graph (freed
//! with its last reference). Nodes are strings, kinds keywords (`:parent`), and
//! `:any` asks a query of every kind at once. Every argument is checked before
//! anything changes, so a rejected call leaves the graph as it was; errors read
//! `relations-NAME: expected …, got …`.

use ::relations::{Graph, Kind};
use lang::prims::{Prim, PrimCtx, PrimError, PrimImpl};
use lang::value::{Dict, Native};
use lang::{Interp, Value};
use std::cell::{Ref, RefMut};

/// The kind name of the native value that holds a graph.
const NATIVE_KIND: &str = "relations-graph";

type R = Result<Value, PrimError>;

macro_rules! prim {
    ($name:expr, $arity:expr, $f:expr) => {
        Prim {
            name: $name,
            min: $arity,
            max: Some($arity),
            imp: PrimImpl::Plain($f),
            pure: false,
            int2: None,
        }
    };
}

static PRIMS: &[Prim] = &[
    prim!("relations-graph", 0, graph_new),
    prim!("relations-symmetric!", 2, symmetric),
    prim!("relations-relate!", 4, relate),
    prim!("relations-unrelate!", 4, unrelate),
    prim!("relations-relate-many!", 2, relate_many),
    prim!("relations-unrelate-node!", 2, unrelate_node),
    prim!("relations-children", 3, |a, _| nodes(
        "relations-children",
        a,
        Graph::children
    )),
    prim!("relations-parents", 3, |a, _| nodes(
        "relations-parents",
        a,
        Graph::parents
    )),
    prim!("relations-descendants", 3, |a, _| {
        nodes("relations-descendants", a, Graph::descendants)
    }),
    prim!("relations-ancestors", 3, |a, _| nodes(
        "relations-ancestors",
        a,
        Graph::ancestors
    )),
    prim!("relations-siblings", 3, |a, _| nodes(
        "relations-siblings",
        a,
        Graph::siblings
    )),
    prim!("relations-reachable?", 4, reachable),
    prim!("relations-path", 4, path),
    prim!("relations-distance", 4, distance),
    prim!("relations-why", 4, why),
    prim!("relations-roots", 2, |a, _| whole(
        "relations-roots",
        a,
        Graph::roots
    )),
    prim!("relations-leaves", 2, |a, _| whole(
        "relations-leaves",
        a,
        Graph::leaves
    )),
    prim!("relations-cycle?", 3, on_cycle),
    prim!("relations-acyclic?", 2, acyclic),
    prim!("relations-cycles", 2, |a, _| groups(
        "relations-cycles",
        a,
        Graph::cycles
    )),
    prim!("relations-components", 2, |a, _| {
        groups("relations-components", a, Graph::components)
    }),
    prim!("relations-topo-order", 2, topo_order),
    prim!("relations-lca", 4, lca),
    prim!("relations-degree", 3, degree),
];

/// Registers every `relations-*` primitive in `interp`.
pub fn install(interp: &mut Interp) {
    for p in PRIMS {
        interp.define(p.name, Value::Prim(p));
    }
}

fn describe(v: &Value) -> String {
    format!("{} {}", v.kind(), lang::printer::repr(v))
}

fn expected(name: &str, what: &str, got: &Value) -> PrimError {
    PrimError::Msg(format!("{name}: expected {what}, got {}", describe(got)))
}

fn native<'a>(name: &str, v: &'a Value) -> Result<&'a Native, PrimError> {
    match v {
        Value::Native(n) if n.kind == NATIVE_KIND => Ok(n),
        other => Err(expected(name, "a graph made by relations-graph", other)),
    }
}

fn graph<'a>(name: &str, v: &'a Value) -> Result<Ref<'a, Graph>, PrimError> {
    let busy = || PrimError::Msg(format!("{name}: the graph is in use"));
    let b = native(name, v)?.data.try_borrow().map_err(|_| busy())?;
    Ref::filter_map(b, |b| b.downcast_ref::<Graph>()).map_err(|_| busy())
}

fn graph_mut<'a>(name: &str, v: &'a Value) -> Result<RefMut<'a, Graph>, PrimError> {
    let busy = || PrimError::Msg(format!("{name}: the graph is in use"));
    let b = native(name, v)?.data.try_borrow_mut().map_err(|_| busy())?;
    RefMut::filter_map(b, |b| b.downcast_mut::<Graph>()).map_err(|_| busy())
}

fn node<'a>(name: &str, v: &'a Value) -> Result<&'a str, PrimError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(expected(name, "a string node", other)),
    }
}

/// A kind keyword's name; `:any` is [`Kind::Any`].
fn kind_name(name: &str, v: &Value) -> Result<std::rc::Rc<str>, PrimError> {
    match v {
        Value::Keyword(k) => Ok(k.name()),
        other => Err(expected(name, "a kind keyword", other)),
    }
}

fn kind_of(k: &str) -> Kind<'_> {
    if k == "any" {
        Kind::Any
    } else {
        Kind::Named(k)
    }
}

/// A kind to write: any keyword but `:any`.
fn write_kind(name: &str, v: &Value) -> Result<std::rc::Rc<str>, PrimError> {
    let k = kind_name(name, v)?;
    if &*k == "any" {
        return Err(expected(name, "a kind keyword other than :any", v));
    }
    Ok(k)
}

fn engine_error(name: &str, e: ::relations::GraphError) -> PrimError {
    PrimError::Msg(format!("{name}: {e}"))
}

fn strings(v: Vec<String>) -> Value {
    Value::list(v.iter().map(|s| Value::str(s)).collect())
}

fn graph_new(_: &[Value], _: &mut PrimCtx) -> R {
    let g = Graph::new().map_err(|e| engine_error("relations-graph", e))?;
    Ok(Native::value(NATIVE_KIND, Box::new(g)))
}

fn symmetric(args: &[Value], _: &mut PrimCtx) -> R {
    const NAME: &str = "relations-symmetric!";
    let k = write_kind(NAME, &args[1])?;
    let mut g = graph_mut(NAME, &args[0])?;
    g.declare_symmetric(&k)
        .map(Value::Bool)
        .map_err(|e| engine_error(NAME, e))
}

fn relate(args: &[Value], _: &mut PrimCtx) -> R {
    write_edge("relations-relate!", args, Graph::relate)
}

fn unrelate(args: &[Value], _: &mut PrimCtx) -> R {
    write_edge("relations-unrelate!", args, Graph::unrelate)
}

/// `(NAME graph src dst kind)`: one edge written by `f` (add or remove); true when
/// the graph changed.
fn write_edge(
    name: &str,
    args: &[Value],
    f: fn(&mut Graph, &str, &str, &str) -> Result<bool, ::relations::GraphError>,
) -> R {
    let (s, d, k) = (
        node(name, &args[1])?,
        node(name, &args[2])?,
        write_kind(name, &args[3])?,
    );
    let mut g = graph_mut(name, &args[0])?;
    f(&mut g, s, d, &k)
        .map(Value::Bool)
        .map_err(|e| engine_error(name, e))
}

fn relate_many(args: &[Value], _: &mut PrimCtx) -> R {
    const NAME: &str = "relations-relate-many!";
    let triple = "a list of (src dst kind) triples";
    let items = match &args[1] {
        Value::List(xs) => xs.as_slice(),
        Value::Nil => &[],
        other => return Err(expected(NAME, triple, other)),
    };
    let mut edges: Vec<(&str, &str, std::rc::Rc<str>)> = Vec::with_capacity(items.len());
    for t in items {
        match t {
            Value::List(xs) if xs.as_slice().len() == 3 => {
                let xs = xs.as_slice();
                edges.push((
                    node(NAME, &xs[0])?,
                    node(NAME, &xs[1])?,
                    write_kind(NAME, &xs[2])?,
                ));
            }
            other => return Err(expected(NAME, "a (src dst kind) triple", other)),
        }
    }
    let mut g = graph_mut(NAME, &args[0])?;
    let n = g
        .relate_many(edges.iter().map(|(s, d, k)| (*s, *d, &**k)))
        .map_err(|e| engine_error(NAME, e))?;
    Ok(Value::Int(n as i64))
}

fn unrelate_node(args: &[Value], _: &mut PrimCtx) -> R {
    const NAME: &str = "relations-unrelate-node!";
    let n = node(NAME, &args[1])?;
    let mut g = graph_mut(NAME, &args[0])?;
    let removed = g.unrelate_node(n).map_err(|e| engine_error(NAME, e))?;
    Ok(Value::Int(removed as i64))
}

/// `(NAME g node kind)` answering a sorted list of nodes.
fn nodes(name: &str, args: &[Value], f: fn(&Graph, &str, Kind<'_>) -> Vec<String>) -> R {
    let (n, k) = (node(name, &args[1])?, kind_name(name, &args[2])?);
    let g = graph(name, &args[0])?;
    Ok(strings(f(&g, n, kind_of(&k))))
}

/// `(NAME g kind)` answering a sorted list of nodes.
fn whole(name: &str, args: &[Value], f: fn(&Graph, Kind<'_>) -> Vec<String>) -> R {
    let k = kind_name(name, &args[1])?;
    let g = graph(name, &args[0])?;
    Ok(strings(f(&g, kind_of(&k))))
}

/// `(NAME g kind)` answering a list of sorted node lists.
fn groups(name: &str, args: &[Value], f: fn(&Graph, Kind<'_>) -> Vec<Vec<String>>) -> R {
    let k = kind_name(name, &args[1])?;
    let g = graph(name, &args[0])?;
    Ok(Value::list(
        f(&g, kind_of(&k)).into_iter().map(strings).collect(),
    ))
}

/// The graph, two nodes and a kind's name.
type PairArgs<'a> = (Ref<'a, Graph>, &'a str, &'a str, std::rc::Rc<str>);

/// The graph and the `a b kind` of a four-argument query.
fn pair<'a>(name: &str, args: &'a [Value]) -> Result<PairArgs<'a>, PrimError> {
    let (a, b, k) = (
        node(name, &args[1])?,
        node(name, &args[2])?,
        kind_name(name, &args[3])?,
    );
    Ok((graph(name, &args[0])?, a, b, k))
}

fn reachable(args: &[Value], _: &mut PrimCtx) -> R {
    let (g, a, b, k) = pair("relations-reachable?", args)?;
    Ok(Value::Bool(g.reachable(a, b, kind_of(&k))))
}

fn path(args: &[Value], _: &mut PrimCtx) -> R {
    let (g, a, b, k) = pair("relations-path", args)?;
    Ok(g.path(a, b, kind_of(&k)).map_or(Value::Nil, strings))
}

fn distance(args: &[Value], _: &mut PrimCtx) -> R {
    let (g, a, b, k) = pair("relations-distance", args)?;
    Ok(g.distance(a, b, kind_of(&k))
        .map_or(Value::Nil, |d| Value::Int(d as i64)))
}

fn why(args: &[Value], _: &mut PrimCtx) -> R {
    let (g, a, b, k) = pair("relations-why", args)?;
    Ok(g.why(a, b, kind_of(&k)).map_or(Value::Nil, |steps| {
        Value::list(
            steps
                .iter()
                .map(|(s, d, k)| Value::list(vec![Value::str(s), Value::str(d), Value::keyword(k)]))
                .collect(),
        )
    }))
}

fn lca(args: &[Value], _: &mut PrimCtx) -> R {
    let (g, a, b, k) = pair("relations-lca", args)?;
    Ok(strings(g.lowest_common_ancestors(a, b, kind_of(&k))))
}

fn on_cycle(args: &[Value], _: &mut PrimCtx) -> R {
    const NAME: &str = "relations-cycle?";
    let (n, k) = (node(NAME, &args[1])?, kind_name(NAME, &args[2])?);
    let g = graph(NAME, &args[0])?;
    Ok(Value::Bool(g.on_cycle(n, kind_of(&k))))
}

fn acyclic(args: &[Value], _: &mut PrimCtx) -> R {
    const NAME: &str = "relations-acyclic?";
    let k = kind_name(NAME, &args[1])?;
    let g = graph(NAME, &args[0])?;
    Ok(Value::Bool(g.is_acyclic(kind_of(&k))))
}

fn topo_order(args: &[Value], _: &mut PrimCtx) -> R {
    const NAME: &str = "relations-topo-order";
    let k = kind_name(NAME, &args[1])?;
    let g = graph(NAME, &args[0])?;
    g.topo_order(kind_of(&k))
        .map(strings)
        .map_err(|e| engine_error(NAME, e))
}

fn degree(args: &[Value], _: &mut PrimCtx) -> R {
    const NAME: &str = "relations-degree";
    let (n, k) = (node(NAME, &args[1])?, kind_name(NAME, &args[2])?);
    let g = graph(NAME, &args[0])?;
    let d = g.degree(n, kind_of(&k));
    let mut out = Dict::default();
    out.insert(Value::keyword("in"), Value::Int(d.incoming as i64));
    out.insert(Value::keyword("out"), Value::Int(d.outgoing as i64));
    Ok(Value::dict(out))
}
