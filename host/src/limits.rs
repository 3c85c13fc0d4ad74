//! The limits a host puts on each evaluation (a program, a boot file, a REPL entry,
//! a call from Rust): continuation depth and fuel, which the interpreter checks at
//! every call, and a timeout and a memory cap, which a watchdog thread enforces by
//! setting the interpreter's interrupt flag ([`lang::Interp::interrupt`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often the watchdog looks at the process's memory while an evaluation runs.
pub const MEMORY_POLL: Duration = Duration::from_millis(10);

/// The limits on each evaluation. `None` is no limit (for `max_depth`: the
/// interpreter's own, [`lang::DEFAULT_MAX_DEPTH`] unless the host set another).
#[derive(Clone, Debug, Default)]
pub struct Limits {
    /// Most continuation frames ([`lang::Interp::max_depth`]).
    pub max_depth: Option<usize>,
    /// Most memory the process may hold, in bytes (its resident set, looked at every
    /// [`MEMORY_POLL`]; Linux only).
    pub max_memory: Option<u64>,
    /// Longest an evaluation may run.
    pub timeout: Option<Duration>,
    /// Most function calls per evaluation ([`lang::Interp::fuel`], refilled at the
    /// start of each).
    pub fuel: Option<u64>,
    /// What the errors say about raising each limit.
    pub hints: LimitHints,
}

/// How to raise each limit, in the host's terms (the `sx` command names its flags);
/// `None`: the error names the limit only.
#[derive(Clone, Debug, Default)]
pub struct LimitHints {
    /// For the depth limit, e.g. `raise it with --max-depth N`.
    pub max_depth: Option<String>,
    /// For the memory limit.
    pub max_memory: Option<String>,
    /// For the timeout.
    pub timeout: Option<String>,
    /// For the fuel.
    pub fuel: Option<String>,
}

impl LimitHints {
    /// The hints the interpreter itself shows (depth and fuel, which it checks).
    pub(crate) fn lang_hints(&self, limits: &Limits) -> lang::LimitHints {
        lang::LimitHints {
            max_depth: self.max_depth.clone(),
            fuel: limits.fuel.map(|n| match &self.fuel {
                Some(hint) => format!("limit {n} calls; {hint}"),
                None => format!("limit {n} calls"),
            }),
        }
    }
}

/// Which limit the watchdog enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tripped {
    /// The evaluation ran past its timeout.
    Timeout,
    /// The process held more memory than allowed (the resident bytes seen).
    Memory(u64),
}

impl Limits {
    /// The error message for a limit the watchdog enforced.
    pub fn message(&self, why: Tripped) -> String {
        let with = |hint: &Option<String>| match hint {
            Some(h) => format!("; {h}"),
            None => String::new(),
        };
        match why {
            Tripped::Timeout => format!(
                "time limit exceeded (limit {} s{})",
                self.timeout.unwrap_or_default().as_secs_f64(),
                with(&self.hints.timeout)
            ),
            Tripped::Memory(seen) => format!(
                "memory limit exceeded (limit {} MB, {} MB in use{})",
                self.max_memory.unwrap_or_default() >> 20,
                seen >> 20,
                with(&self.hints.max_memory)
            ),
        }
    }
}

/// What one evaluation asked the watchdog to enforce.
#[derive(Clone, Copy)]
struct Armed {
    deadline: Option<Instant>,
    max_memory: Option<u64>,
}

#[derive(Default)]
struct State {
    armed: Option<Armed>,
    tripped: Option<Tripped>,
    shutdown: bool,
    /// When the watchdog thread will look again by itself (`None`: only when woken).
    next_look: Option<Instant>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    flag: Arc<AtomicBool>,
}

/// A thread that, while an evaluation is armed, sets the interrupt flag when its
/// deadline passes or the process's memory goes over the limit. It sleeps on a
/// condition variable otherwise, and ends when dropped.
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
}

impl Watchdog {
    /// Starts the thread; it sets `flag` when it trips.
    pub(crate) fn start(flag: Arc<AtomicBool>) -> Watchdog {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            flag,
        });
        let s = shared.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("sx-watchdog".into())
            .spawn(move || watch(&s))
        {
            tracing::error!(error = %e, "cannot start the watchdog: no timeout or memory limit");
        }
        Watchdog { shared }
    }

    /// Starts watching an evaluation. The thread is woken only when it would not look
    /// again by itself before this evaluation's deadline: a server arming the same
    /// timeout for every slice of every request costs a lock, not a thread switch.
    pub(crate) fn arm(&mut self, timeout: Option<Duration>, max_memory: Option<u64>) {
        let mut st = lock(&self.shared.state);
        let deadline = timeout.map(|t| Instant::now() + t);
        st.armed = Some(Armed {
            deadline,
            max_memory,
        });
        st.tripped = None;
        let in_time = match (st.next_look, deadline) {
            (Some(look), Some(d)) => look <= d && max_memory.is_none(),
            _ => false,
        };
        if !in_time {
            self.shared.wake.notify_all();
        }
    }

    /// Stops watching; what it enforced, if anything.
    pub(crate) fn disarm(&mut self) -> Option<Tripped> {
        let mut st = lock(&self.shared.state);
        st.armed = None;
        st.tripped.take()
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        lock(&self.shared.state).shutdown = true;
        self.shared.wake.notify_all();
    }
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The watchdog thread's loop.
fn watch(shared: &Shared) {
    let mut st = lock(&shared.state);
    loop {
        if st.shutdown {
            return;
        }
        let Some(armed) = st.armed else {
            st.next_look = None;
            st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
            continue;
        };
        let now = Instant::now();
        let tripped = if armed.deadline.is_some_and(|d| now >= d) {
            Some(Tripped::Timeout)
        } else {
            armed
                .max_memory
                .and_then(|max| resident_bytes().filter(|&rss| rss > max))
                .map(Tripped::Memory)
        };
        if let Some(why) = tripped {
            tracing::debug!(?why, "a limit tripped: interrupting the evaluation");
            st.tripped = Some(why);
            st.armed = None;
            shared.flag.store(true, Ordering::Relaxed);
            continue;
        }
        let until_deadline = armed.deadline.map(|d| d - now);
        let wait = match (until_deadline, armed.max_memory) {
            (Some(d), Some(_)) => d.min(MEMORY_POLL),
            (Some(d), None) => d,
            (None, _) => MEMORY_POLL,
        };
        st.next_look = Some(now + wait);
        st = shared
            .wake
            .wait_timeout(st, wait)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// The process's resident memory in bytes (`/proc/self/statm`); `None` where that
/// cannot be read.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok().filter(|&p| p > 0).unwrap_or(4096))
}
