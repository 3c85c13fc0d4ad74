//! The tiering policy: which tier runs each function, and the record of what it
//! decided (`jit-stats`).
//!
//! Modes: `off` (everything on the CEK), `hot` (a function moves to the VM after N
//! calls), `eager` (compiled on its first call: the serving mode). `jit-exclude!`
//! and `jit-include!` rules name functions exactly or by prefix (`host/*`); the last
//! matching rule decides. Anonymous functions take the name of the nearest named
//! function around them, so excluding `host/*` also keeps their callbacks on the CEK.
//! A function whose compile fails, or that faulted on the VM and was recovered on
//! the CEK, is demoted for good: never retried in a storm.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};

/// When functions move to the VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JitMode {
    /// Everything runs on the CEK.
    Off,
    /// A function moves to the VM after this many calls.
    Hot(u32),
    /// Every function is compiled on its first call.
    Eager,
}

impl JitMode {
    /// Parses `off`, `hot`, `hot:N` or `eager`.
    pub fn parse(s: &str) -> Result<JitMode, String> {
        match s {
            "off" => Ok(JitMode::Off),
            "eager" => Ok(JitMode::Eager),
            "hot" => Ok(JitMode::Hot(DEFAULT_HOT_THRESHOLD)),
            other => match other.strip_prefix("hot:").map(str::parse::<u32>) {
                Some(Ok(n)) => Ok(JitMode::Hot(n)),
                _ => Err(format!(
                    "unknown JIT mode {other:?} (expected off, hot, hot:N or eager)"
                )),
            },
        }
    }
}

/// Calls before a function is compiled in `hot` mode, unless configured.
pub const DEFAULT_HOT_THRESHOLD: u32 = 2;

/// Per-function tiering state, kept in the function's code.
#[derive(Debug, Default)]
pub struct JitState {
    /// Calls seen while deciding (hot mode).
    pub calls: Cell<u32>,
    /// The policy epoch `excluded` was computed in (0: never).
    pub epoch: Cell<u32>,
    /// Whether a rule keeps this function on the CEK.
    pub excluded: Cell<bool>,
    /// Demoted for good (compile error or recovered fault): set by
    /// [`JitState::fail`].
    failed: Cell<bool>,
    /// The policy epoch in which this function was last found ready for the VM
    /// (a fast path for the common case; 0: not known).
    pub ready: Cell<u32>,
    /// The key ([`TierPolicy::vm_entry_key`]) under which a call from VM code may
    /// enter this function's bytecode with no other check of the function: set by
    /// the VM once it has checked that the function is ready in that epoch, has
    /// bytecode, takes exactly that many arguments and keeps its slots on the
    /// stack. 0: none.
    pub vm_entry: Cell<u64>,
}

impl JitState {
    /// Demotes the function for good: it runs on the CEK from now on.
    pub fn fail(&self) {
        self.failed.set(true);
        self.ready.set(0);
        self.vm_entry.set(0);
    }

    /// Whether the function has been demoted for good.
    pub fn is_failed(&self) -> bool {
        self.failed.get()
    }
}

/// Counters and per-function detail.
#[derive(Debug, Default, Clone)]
pub struct JitStats {
    /// Functions compiled to bytecode.
    pub compiled: u64,
    /// Functions whose compile failed.
    pub failed: u64,
    /// Functions a rule kept on the CEK (counted once each).
    pub excluded: u64,
    /// Calls that ran on the CEK because of a failure (compile error or fault).
    pub fallbacks: u64,
    /// Faulting calls re-run on the CEK that returned a value.
    pub recovered: u64,
    /// Per function: what happened to it.
    pub functions: BTreeMap<String, FunctionStats>,
}

/// What happened to one function.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FunctionStats {
    /// Compiled to bytecode.
    pub compiled: bool,
    /// Kept on the CEK by a rule.
    pub excluded: bool,
    /// Demoted: why.
    pub demoted: Option<String>,
    /// Calls that fell back to the CEK.
    pub fallbacks: u64,
    /// Calls recovered on the CEK after a fault.
    pub recovered: u64,
}

/// The policy: mode, rules, fault injection, statistics.
#[derive(Debug)]
pub struct TierPolicy {
    /// When functions move to the VM (changed only by [`TierPolicy::set_mode`], which
    /// starts a new epoch).
    mode: JitMode,
    rules: Vec<(String, bool)>,
    /// Bumped when the rules change, so cached decisions are recomputed.
    epoch: u32,
    /// Fault injection (tests): `NAME` corrupts that function's bytecode when it is
    /// compiled (a primitive call gets one argument too many); `NAME:compile` makes
    /// its compile fail.
    pub inject_faults: HashSet<String>,
    /// What the policy has done.
    pub stats: JitStats,
}

impl Default for TierPolicy {
    fn default() -> Self {
        TierPolicy {
            mode: JitMode::Off,
            rules: Vec::new(),
            epoch: 1,
            inject_faults: HashSet::new(),
            stats: JitStats::default(),
        }
    }
}

/// Whether `pattern` (exact, or a prefix ending in `*`) matches `name`.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl TierPolicy {
    /// When functions move to the VM.
    pub fn mode(&self) -> JitMode {
        self.mode
    }

    /// Sets when functions move to the VM; decisions cached under the old mode no
    /// longer hold.
    pub fn set_mode(&mut self, mode: JitMode) {
        self.mode = mode;
        self.epoch += 1;
    }

    /// The key a VM call compares with the callee's [`JitState::vm_entry`] for a
    /// call with `n` arguments in the current epoch.
    #[inline(always)]
    pub fn vm_entry_key(&self, n: u32) -> u64 {
        (self.epoch as u64) << 32 | n as u64
    }

    /// Keeps functions matching `pattern` on the CEK.
    pub fn exclude(&mut self, pattern: &str) {
        self.rules.push((pattern.to_string(), false));
        self.epoch += 1;
    }

    /// Lets functions matching `pattern` run on the VM again.
    pub fn include(&mut self, pattern: &str) {
        self.rules.push((pattern.to_string(), true));
        self.epoch += 1;
    }

    /// Whether the rules keep `name` on the CEK.
    pub fn is_excluded(&self, name: &str) -> bool {
        self.rules
            .iter()
            .rev()
            .find(|(p, _)| pattern_matches(p, name))
            .is_some_and(|(_, include)| !include)
    }

    /// Decides whether this call of the function (`name`, `state`) runs on the VM.
    #[inline(always)]
    pub fn runs_on_vm(&mut self, name: &str, state: &JitState) -> bool {
        if self.mode == JitMode::Off || state.failed.get() {
            return false;
        }
        if state.ready.get() == self.epoch {
            return true;
        }
        self.decide(name, state)
    }

    /// Whether [`TierPolicy::runs_on_vm`] would answer yes from its fast path, without
    /// deciding anything (no counts, no side effects): `false` only means "ask".
    #[inline(always)]
    pub fn ready_for_vm(&self, state: &JitState) -> bool {
        // A function is made ready only while the mode is not `Off`, and a change
        // of mode starts a new epoch; a failure clears `ready`.
        debug_assert!(
            state.ready.get() != self.epoch || (self.mode != JitMode::Off && !state.is_failed())
        );
        state.ready.get() == self.epoch
    }

    /// The slow path of [`TierPolicy::runs_on_vm`]: rules and hot counts.
    fn decide(&mut self, name: &str, state: &JitState) -> bool {
        if state.epoch.get() != self.epoch {
            let excluded = self.is_excluded(name);
            if excluded && !state.excluded.get() {
                self.stats.excluded += 1;
                self.stats
                    .functions
                    .entry(name.to_string())
                    .or_default()
                    .excluded = true;
            }
            state.excluded.set(excluded);
            state.epoch.set(self.epoch);
        }
        if state.excluded.get() {
            return false;
        }
        if let JitMode::Hot(n) = self.mode {
            let calls = state.calls.get();
            if calls < n {
                state.calls.set(calls + 1);
                return false;
            }
        }
        state.ready.set(self.epoch);
        true
    }

    /// Records that `name` compiled.
    pub fn record_compiled(&mut self, name: &str) {
        self.stats.compiled += 1;
        self.stats
            .functions
            .entry(name.to_string())
            .or_default()
            .compiled = true;
    }

    /// Records that `name` could not be compiled and is demoted.
    pub fn record_compile_failure(&mut self, name: &str, why: &str) {
        self.stats.failed += 1;
        let f = self.stats.functions.entry(name.to_string()).or_default();
        f.demoted = Some(format!("compile error: {why}"));
    }

    /// Records a call of a demoted function that ran on the CEK.
    pub fn record_fallback(&mut self, name: &str) {
        self.stats.fallbacks += 1;
        self.stats
            .functions
            .entry(name.to_string())
            .or_default()
            .fallbacks += 1;
    }

    /// Records a faulting call recovered on the CEK; the function is demoted.
    pub fn record_recovered(&mut self, name: &str, fault: &str) {
        self.stats.recovered += 1;
        self.stats.fallbacks += 1;
        let f = self.stats.functions.entry(name.to_string()).or_default();
        f.recovered += 1;
        f.fallbacks += 1;
        f.demoted = Some(format!("fault on the VM, recovered on the CEK: {fault}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_names_and_prefixes() {
        assert!(pattern_matches("host/*", "host/blog--edges-block"));
        assert!(pattern_matches("dream-*", "dream-x"));
        assert!(!pattern_matches("host/*", "hostile"));
        assert!(pattern_matches("exact-name", "exact-name"));
        assert!(!pattern_matches("exact-name", "exact-name2"));
    }

    #[test]
    fn the_last_matching_rule_decides() {
        let mut p = TierPolicy::default();
        p.exclude("host/*");
        assert!(p.is_excluded("host/a"));
        p.include("host/a");
        assert!(!p.is_excluded("host/a"));
        assert!(p.is_excluded("host/b"));
    }

    #[test]
    fn hot_mode_compiles_after_the_threshold_and_failures_stick() {
        let mut p = TierPolicy {
            mode: JitMode::Hot(2),
            ..TierPolicy::default()
        };
        let s = JitState::default();
        assert!(!p.runs_on_vm("f", &s));
        assert!(!p.runs_on_vm("f", &s));
        assert!(p.runs_on_vm("f", &s));
        s.fail();
        assert!(!p.runs_on_vm("f", &s));
        assert_eq!(JitMode::parse("hot:7"), Ok(JitMode::Hot(7)));
        assert!(JitMode::parse("warm").is_err());
    }
}
