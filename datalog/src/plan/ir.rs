//! The plan IR, in the spirit of Soufflé's RAM: per stratum, per rule, one version per
//! delta position, each either a flat typed loop nest over registers holding interned
//! i64 values, or a set-at-a-time chain of row unions. Back ends interpret (and later
//! compile) exactly this; `--explain` prints it.

use crate::ast::{AggFunc, ArithOp, CmpOp, ColumnType};
use crate::storage::relation::Repr;
use crate::storage::rows::RowKind;
use crate::storage::tuples::ColMask;
use std::fmt;

/// Index of a relation in [`Plan::relations`].
pub type RelId = usize;
/// A register of a loop nest.
pub type Reg = u16;

/// Which version of a relation an access reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Everything known so far.
    Full,
    /// What the previous iteration added (or, incrementally, what was just added).
    Delta,
}

/// A register or a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// Read a register.
    Reg(Reg),
    /// An interned constant.
    Const(i64),
}

/// A typed arithmetic expression over operands (numbers only).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// An operand.
    Operand(Operand),
    /// `lhs op rhs`; fails (no tuple) on overflow or division by zero.
    Arith(ArithOp, Box<Expr>, Box<Expr>),
}

/// One level of a loop nest. Each op runs once per binding produced by the ones before.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// For each tuple of `rel` whose `mask` columns equal `key`: check `same` column
    /// pairs, bind `bind` columns to registers, continue.
    Search {
        /// The relation.
        rel: RelId,
        /// Which version.
        source: Source,
        /// Bound columns (the access pattern; an index exists for it).
        mask: ColMask,
        /// Values of the bound columns, ascending column order.
        key: Vec<Operand>,
        /// Columns read into registers.
        bind: Vec<(usize, Reg)>,
        /// Column pairs that must be equal (a variable repeated in one atom).
        same: Vec<(usize, usize)>,
    },
    /// Continue only if the ordering comparison of two symbol-typed values (interned
    /// ids) holds: strings by their bytes, numbers (SX programs mixing numbers and
    /// text) numerically; fails for anything else (an SX symbol, a number and a string).
    TextFilter {
        /// The comparison (`<`, `<=`, `>`, `>=`).
        op: CmpOp,
        /// Left.
        lhs: Expr,
        /// Right.
        rhs: Expr,
    },
    /// Continue only if the comparison holds.
    Filter {
        /// The comparison.
        op: CmpOp,
        /// Left.
        lhs: Expr,
        /// Right.
        rhs: Expr,
    },
    /// Evaluate `expr` into `reg`; stop this binding on arithmetic failure.
    Let {
        /// Target.
        reg: Reg,
        /// Value.
        expr: Expr,
    },
    /// Continue only if no tuple of `rel` matches.
    NotExists {
        /// The relation (always full: it is in a lower stratum).
        rel: RelId,
        /// Bound columns.
        mask: ColMask,
        /// Their values.
        key: Vec<Operand>,
        /// Column pairs that must be equal (a local variable repeated).
        same: Vec<(usize, usize)>,
    },
    /// Run `body` to completion collecting distinct `locals` (plus target), then bind
    /// `result` to the aggregate and continue (min/max of nothing: stop).
    Aggregate {
        /// The function.
        func: AggFunc,
        /// Receives the value.
        result: Reg,
        /// The summed / compared value (evaluated at the end of `body`).
        target: Option<Expr>,
        /// Registers local to the goal; distinct combinations are counted.
        locals: Vec<Reg>,
        /// Whether `body` yields no combination twice, so none need be remembered
        /// (see [`yields_distinct`]); always so for `min` and `max`, which a repeat
        /// cannot change.
        distinct: bool,
        /// The goal's loop nest.
        body: Vec<Op>,
    },
    /// `count` over a goal of one or two atoms of binary row relations that share the
    /// one local variable, each with its other column bound (`(count N P (and (tagged
    /// P T) (tagged P U)))`): the size of a row, or of the intersection of two, set at
    /// a time. Binds `result` (0 when a row is missing) and continues.
    CountRows {
        /// Receives the count.
        result: Reg,
        /// The rows (one or two).
        rows: Vec<RowOf>,
    },
    /// Add a tuple to the head's new version (unless already known).
    Insert {
        /// The head relation.
        rel: RelId,
        /// Its columns.
        args: Vec<Operand>,
    },
}

/// Whether an aggregate's goal `body` yields each combination of its `locals` at most
/// once, so that `count` and `sum` need no set of the combinations seen.
///
/// It does when every search binds each column it does not look up by into a local
/// (directly, or through a column it must equal), and nothing else in the body
/// multiplies bindings. Relations are sets, so two different rows found by one key
/// differ in a column that is then bound; two different runs of the loop nest first
/// differ at some search, so they leave different locals. `arity` gives a relation's
/// column count.
pub fn yields_distinct(body: &[Op], locals: &[Reg], arity: impl Fn(RelId) -> usize) -> bool {
    body.iter().all(|op| match op {
        Op::Search {
            rel,
            mask,
            bind,
            same,
            ..
        } => {
            let fixed = |c: usize| {
                mask & (1 << c) != 0 || bind.iter().any(|&(b, r)| b == c && locals.contains(&r))
            };
            (0..arity(*rel)).all(|c| {
                fixed(c)
                    || same
                        .iter()
                        .any(|&(a, b)| (a == c && fixed(b)) || (b == c && fixed(a)))
            })
        }
        Op::Filter { .. } | Op::TextFilter { .. } | Op::Let { .. } | Op::NotExists { .. } => true,
        Op::Aggregate { .. } | Op::CountRows { .. } | Op::Insert { .. } => false,
    })
}

/// One row of a binary row relation (full version), by its key.
#[derive(Clone, Debug, PartialEq)]
pub struct RowOf {
    /// The relation.
    pub rel: RelId,
    /// Keyed by column 0 (the values are column 1's) when true, by column 1 when false.
    pub forward: bool,
    /// The key.
    pub key: Operand,
}

/// The rows whose intersection a `count` aggregate's goal counts, when the goal has
/// that shape ([`Op::CountRows`]). `body` is the planned goal: a search of a binary
/// relation binding the single local by its other column, then perhaps a second one
/// looking the local up by both columns; `rows(rel)` says whether a relation is stored
/// as rows.
pub fn count_rows(body: &[Op], locals: &[Reg], rows: impl Fn(RelId) -> bool) -> Option<Vec<RowOf>> {
    let [local] = locals else {
        return None;
    };
    let local = Operand::Reg(*local);
    let (first, rest) = body.split_first()?;
    let Op::Search {
        rel,
        source: Source::Full,
        mask,
        key,
        bind,
        same,
    } = first
    else {
        return None;
    };
    // One column bound, the local read from the other: bound column 0 gives the row
    // of column 1's values (forward), bound column 1 the reverse.
    let (&[k], &[(col, r)]) = (key.as_slice(), bind.as_slice()) else {
        return None;
    };
    let forward = match (*mask, col) {
        (0b01, 1) => true,
        (0b10, 0) => false,
        _ => return None,
    };
    if !rows(*rel) || !same.is_empty() || Operand::Reg(r) != local {
        return None;
    }
    let mut out = vec![RowOf {
        rel: *rel,
        forward,
        key: k,
    }];
    match rest {
        [] => {}
        [Op::Search {
            rel,
            source: Source::Full,
            mask: 0b11,
            key,
            bind,
            same,
        }] if rows(*rel) && bind.is_empty() && same.is_empty() => {
            // Both columns looked up (the key in column order): the local in one.
            let &[k0, k1] = key.as_slice() else {
                return None;
            };
            let (forward, k) = match (k0 == local, k1 == local) {
                (true, false) => (false, k1),
                (false, true) => (true, k0),
                _ => return None,
            };
            out.push(RowOf {
                rel: *rel,
                forward,
                key: k,
            });
        }
        _ => return None,
    }
    Some(out)
}

/// A tuple-at-a-time rule version.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopNest {
    /// The ops, outermost first; the last is an `Insert`.
    pub ops: Vec<Op>,
    /// Type of each register.
    pub reg_types: Vec<ColumnType>,
    /// Variable name of each register (for `--explain`).
    pub reg_names: Vec<String>,
}

/// One binary atom of a chain: connects chain variable i to i+1.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainStep {
    /// The relation.
    pub rel: RelId,
    /// `rel(v_i, v_i+1)` when true, `rel(v_i+1, v_i)` when false.
    pub forward: bool,
}

/// A set-at-a-time rule version: `head(v0, vk) :- s0(v0,v1), …, s(k-1)(v(k-1), vk)`,
/// evaluated by starting from step `start` (read from `start_source`), unioning whole
/// rows rightwards to `vk` and leftwards to `v0`, then adding `rows − known` to the head.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainPlan {
    /// The head relation.
    pub head: RelId,
    /// `head(v0, vk)` when true, `head(vk, v0)` when false.
    pub head_forward: bool,
    /// The atoms in chain order.
    pub steps: Vec<ChainStep>,
    /// The step read first.
    pub start: usize,
    /// Which version the start step reads; every other step reads full.
    pub start_source: Source,
    /// The rule also requires `v0 != vk` (`sg(x, y) :- par(x, p), par(y, p), x != y`):
    /// the head never gets a tuple whose two values are equal.
    pub distinct_ends: bool,
}

/// How a rule version runs.
#[derive(Clone, Debug, PartialEq)]
pub enum VersionBody {
    /// Tuple at a time.
    Nest(LoopNest),
    /// Set at a time.
    Chain(ChainPlan),
}

/// One semi-naive version of a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleVersion {
    /// The relation read as delta (None: the all-full version run first).
    pub delta_rel: Option<RelId>,
    /// The body.
    pub body: VersionBody,
    /// (relation, source, mask) accesses whose index must exist before running.
    pub accesses: Vec<(RelId, Source, ColMask)>,
}

/// A rule's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct RulePlan {
    /// Index into the program's rules.
    pub rule: usize,
    /// The rule as written.
    pub text: String,
    /// The head relation.
    pub head: RelId,
    /// All-full version first, then one per positive body atom.
    pub versions: Vec<RuleVersion>,
    /// For retraction (delete and rederive): the rule with its head read first, from
    /// the head relation's delta (the tuples overdeleted), so that the body is
    /// searched only for those. `None` when a head argument is an expression (or
    /// before [`Plan::maintenance`]).
    pub rederive: Option<RuleVersion>,
    /// For changes to a relation the rule reads through negation or aggregation: per
    /// occurrence of such a relation in a negated atom or an aggregate's goal, the rule
    /// with that occurrence read first from the relation's delta (the changed tuples),
    /// binding only the variables it shares with the rest of the rule, so that the
    /// rule is evaluated again for just the groups (negations) the change touches.
    pub keyed: Vec<KeyedVersion>,
    /// Relations read through negation or aggregation.
    pub nonmonotone_reads: Vec<RelId>,
}

/// See [`RulePlan::keyed`].
#[derive(Clone, Debug, PartialEq)]
pub struct KeyedVersion {
    /// The relation read through negation or aggregation.
    pub rel: RelId,
    /// The rule keyed by the changed tuples; `None` when the occurrence shares no
    /// variable with the rest of the rule (a change re-evaluates the whole rule: its
    /// all-full version, once).
    pub version: Option<RuleVersion>,
}

/// A stratum that computes only `head = edge⁺` over row relations: a full saturation
/// runs [`closure`](crate::exec::transitive) (SCC condensation) instead of iterating its rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosurePlan {
    /// The closure relation.
    pub head: RelId,
    /// The relation closed over (a lower stratum).
    pub edge: RelId,
}

/// One stratum's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct StratumPlan {
    /// Relations computed here.
    pub relations: Vec<RelId>,
    /// Whether it loops to a fixpoint.
    pub recursive: bool,
    /// Its rules.
    pub rules: Vec<RulePlan>,
    /// Set when a full saturation of this stratum is a transitive closure.
    pub closure: Option<ClosurePlan>,
}

/// A relation as planned.
#[derive(Clone, Debug, PartialEq)]
pub struct RelInfo {
    /// The name.
    pub name: String,
    /// Column types.
    pub types: Vec<ColumnType>,
    /// Chosen representation.
    pub repr: Repr,
    /// Why (statistics behind the choice).
    pub reason: String,
}

/// A whole program's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Every declared relation.
    pub relations: Vec<RelInfo>,
    /// Strata in evaluation order.
    pub strata: Vec<StratumPlan>,
    /// Estimated size of each relation, which ordered the joins.
    pub estimate: Vec<usize>,
    /// Whether the rules' rederivation and keyed versions are planned (see
    /// [`plan_maintenance`](crate::plan::planner::plan_maintenance)); until then they are
    /// empty.
    pub maintenance: bool,
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Reg(r) => write!(f, "r{r}"),
            Operand::Const(c) => write!(f, "#{c}"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Operand(o) => write!(f, "{o}"),
            Expr::Arith(op, a, b) if op.is_functor() => write!(f, "{}({a}, {b})", op.symbol()),
            Expr::Arith(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
        }
    }
}

fn write_ops(
    f: &mut fmt::Formatter<'_>,
    ops: &[Op],
    rels: &[RelInfo],
    names: &[String],
    indent: usize,
) -> fmt::Result {
    for (depth, op) in ops.iter().enumerate() {
        let pad = "  ".repeat(indent + depth);
        match op {
            Op::Search {
                rel,
                source,
                mask,
                key,
                bind,
                same,
            } => {
                let src = if *source == Source::Delta { "Δ" } else { "" };
                let kind = if *mask == 0 { "SCAN" } else { "INDEX" };
                write!(f, "{pad}{kind} {src}{}", rels[*rel].name)?;
                if *mask != 0 {
                    let cols: Vec<usize> = (0..32).filter(|c| mask & (1 << c) != 0).collect();
                    write!(f, " ON")?;
                    for (c, k) in cols.iter().zip(key) {
                        write!(f, " c{c}={k}")?;
                    }
                }
                for (c, r) in bind {
                    write!(f, " BIND r{r}:{}=c{c}", names[*r as usize])?;
                }
                for (a, b) in same {
                    write!(f, " WHERE c{a}=c{b}")?;
                }
                writeln!(f)?;
            }
            Op::Filter { op, lhs, rhs } => writeln!(f, "{pad}FILTER {lhs} {} {rhs}", op.symbol())?,
            Op::TextFilter { op, lhs, rhs } => {
                writeln!(f, "{pad}FILTER TEXT {lhs} {} {rhs}", op.symbol())?
            }
            Op::Let { reg, expr } => {
                writeln!(f, "{pad}LET r{reg}:{} = {expr}", names[*reg as usize])?
            }
            Op::NotExists {
                rel,
                mask,
                key,
                same,
            } => {
                write!(f, "{pad}IF NOT EXISTS {}", rels[*rel].name)?;
                let cols: Vec<usize> = (0..32).filter(|c| mask & (1 << c) != 0).collect();
                for (c, k) in cols.iter().zip(key) {
                    write!(f, " c{c}={k}")?;
                }
                for (a, b) in same {
                    write!(f, " WHERE c{a}=c{b}")?;
                }
                writeln!(f)?;
            }
            Op::Aggregate {
                func,
                result,
                target,
                locals,
                distinct,
                body,
            } => {
                write!(f, "{pad}AGGREGATE r{result} = {}", func.name())?;
                if let Some(t) = target {
                    write!(f, " {t}")?;
                }
                let how = if *distinct {
                    "DISTINCT BY PLAN"
                } else {
                    "DISTINCT"
                };
                write!(f, " {how} OVER")?;
                for l in locals {
                    write!(f, " r{l}")?;
                }
                writeln!(f, " OF")?;
                write_ops(f, body, rels, names, indent + depth + 1)?;
            }
            Op::CountRows { result, rows } => {
                let shown: Vec<String> = rows
                    .iter()
                    .map(|r| {
                        let dir = if r.forward { "fwd" } else { "rev" };
                        format!("{}.{dir}[{}]", rels[r.rel].name, r.key)
                    })
                    .collect();
                writeln!(f, "{pad}COUNT r{result} = |{}|", shown.join(" ∩ "))?;
            }
            Op::Insert { rel, args } => {
                write!(f, "{pad}INSERT {}(", rels[*rel].name)?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                writeln!(f, ")")?;
            }
        }
    }
    Ok(())
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "RELATIONS")?;
        for r in &self.relations {
            let types: Vec<String> = r.types.iter().map(|t| t.to_string()).collect();
            let repr = match r.repr {
                Repr::Tuples => "hash tuples".to_string(),
                Repr::Rows(RowKind::Dense { words }) => {
                    format!("dense bitset rows ({} bits)", words * 64)
                }
                Repr::Rows(RowKind::Sparse) => "roaring rows".to_string(),
            };
            writeln!(
                f,
                "  {}({}): {repr} -- {}",
                r.name,
                types.join(", "),
                r.reason
            )?;
        }
        for (si, s) in self.strata.iter().enumerate() {
            let names: Vec<&str> = s
                .relations
                .iter()
                .map(|&r| self.relations[r].name.as_str())
                .collect();
            writeln!(
                f,
                "STRATUM {si} [{}]{}",
                names.join(", "),
                if s.recursive {
                    " LOOP UNTIL NO DELTA"
                } else {
                    ""
                }
            )?;
            if let Some(c) = &s.closure {
                writeln!(
                    f,
                    "  FULL: TRANSITIVE CLOSURE {} = {}⁺ BY SCC CONDENSATION (rules below: incremental)",
                    self.relations[c.head].name, self.relations[c.edge].name
                )?;
            }
            for rp in &s.rules {
                writeln!(f, "  RULE {}", rp.text)?;
                let keyed = rp.keyed.iter().filter_map(|k| k.version.as_ref());
                for v in rp.versions.iter().chain(&rp.rederive).chain(keyed) {
                    match &v.delta_rel {
                        _ if rp.rederive.as_ref() == Some(v) => writeln!(
                            f,
                            "    REDERIVE (on retraction) from overdeleted Δ{}",
                            self.relations[rp.head].name
                        )?,
                        Some(d) if rp.keyed.iter().any(|k| k.version.as_ref() == Some(v)) => {
                            writeln!(
                                f,
                                "    KEYED (negation, aggregation) by Δ{}",
                                self.relations[*d].name
                            )?
                        }
                        None => writeln!(f, "    VERSION full")?,
                        Some(d) => writeln!(f, "    VERSION Δ{}", self.relations[*d].name)?,
                    }
                    match &v.body {
                        VersionBody::Nest(n) => {
                            write_ops(f, &n.ops, &self.relations, &n.reg_names, 3)?;
                        }
                        VersionBody::Chain(c) => {
                            let head = &self.relations[c.head].name;
                            let k = c.steps.len();
                            let (a, b) = if c.head_forward { (0, k) } else { (k, 0) };
                            let except = if c.distinct_ends {
                                format!(" − {{v{a}}}")
                            } else {
                                String::new()
                            };
                            writeln!(
                                f,
                                "      SET-AT-A-TIME {head}[v{a}] |= rows(v{b}){except} − known:"
                            )?;
                            for (i, st) in c.steps.iter().enumerate() {
                                let (x, y) = if st.forward { (i, i + 1) } else { (i + 1, i) };
                                let src = if i == c.start && c.start_source == Source::Delta {
                                    "Δ"
                                } else {
                                    ""
                                };
                                let how = if i == c.start {
                                    "START".to_string()
                                } else if i > c.start {
                                    format!(
                                        "UNION ROWS {} keyed c{}",
                                        if st.forward { "fwd" } else { "rev" },
                                        if st.forward { 0 } else { 1 }
                                    )
                                } else {
                                    format!(
                                        "FAN OUT ROWS {} keyed c{}",
                                        if st.forward { "rev" } else { "fwd" },
                                        if st.forward { 1 } else { 0 }
                                    )
                                };
                                writeln!(
                                    f,
                                    "        {how} {src}{}(v{x}, v{y})",
                                    self.relations[st.rel].name
                                )?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(mask: ColMask, bind: Vec<(usize, Reg)>, same: Vec<(usize, usize)>) -> Op {
        Op::Search {
            rel: 0,
            source: Source::Full,
            mask,
            key: Vec::new(),
            bind,
            same,
        }
    }

    const BINARY: fn(RelId) -> usize = |_| 2;

    #[test]
    fn a_goal_binding_every_free_column_into_locals_yields_distinct_tuples() {
        // count : { tagged(p, t), tagged(p, u) } with t and u bound outside.
        let body = [
            search(0b10, vec![(0, 2)], vec![]),
            search(0b11, vec![], vec![]),
        ];
        assert!(yields_distinct(&body, &[2], BINARY));
        // A column equal to a bound one (tagged(p, p)) is as good as bound.
        assert!(yields_distinct(
            &[search(0, vec![(0, 2)], vec![(0, 1)])],
            &[2],
            BINARY
        ));
    }

    fn keyed(mask: ColMask, key: Vec<Operand>, bind: Vec<(usize, Reg)>) -> Op {
        Op::Search {
            rel: 0,
            source: Source::Full,
            mask,
            key,
            bind,
            same: vec![],
        }
    }

    #[test]
    fn a_count_over_two_atoms_sharing_the_local_is_an_intersection_of_rows() {
        use Operand::Reg as R;
        // count : { tagged(p, t), tagged(p, u) }: t in r0, u in r1, p in r2.
        let body = [
            keyed(0b10, vec![R(0)], vec![(0, 2)]),
            keyed(0b11, vec![R(2), R(1)], vec![]),
        ];
        let rows = count_rows(&body, &[2], |_| true).expect("the shape");
        assert_eq!(
            rows,
            [
                RowOf {
                    rel: 0,
                    forward: false,
                    key: R(0)
                },
                RowOf {
                    rel: 0,
                    forward: false,
                    key: R(1)
                },
            ]
        );
        // count : { n(x, p), m(p, y) }: the first row forward, the second reverse.
        let body = [
            keyed(0b01, vec![R(0)], vec![(1, 2)]),
            keyed(0b11, vec![R(2), R(1)], vec![]),
        ];
        let rows = count_rows(&body, &[2], |_| true).expect("the shape");
        assert!(rows[0].forward && !rows[1].forward);
        // Not rows, a second local, or a third atom: the general aggregate.
        assert!(count_rows(&body, &[2], |_| false).is_none());
        assert!(count_rows(&body, &[2, 3], |_| true).is_none());
        let three = [body[0].clone(), body[1].clone(), body[1].clone()];
        assert!(count_rows(&three, &[2], |_| true).is_none());
    }

    #[test]
    fn a_free_column_left_unbound_or_bound_outside_the_locals_may_repeat() {
        // Column 0 is neither looked up by nor bound: two rows can leave the same locals.
        assert!(!yields_distinct(
            &[search(0b10, vec![], vec![])],
            &[],
            BINARY
        ));
        // Bound, but into a register the aggregate does not count over.
        assert!(!yields_distinct(
            &[search(0b10, vec![(0, 5)], vec![])],
            &[2],
            BINARY
        ));
    }
}
