//! The host driver: runs SX programs and answers their `perform` requests.
//!
//! Every piece of code (boot files, preludes, the main program, calls from Rust)
//! goes through [`Host::drive`], so IO is served the same way everywhere: code run
//! at start-up never silently gets nil because no handler was installed yet.

use std::cell::RefCell;
use std::rc::Rc;

use lang::tiering::JitMode;
use lang::{Interp, Outcome, SxError, Tier, Value};

use crate::kv::KvStore;
use crate::limits::{Limits, Watchdog};
use crate::request::{now_ms, Request};

/// The services behind `perform`: the store and counters.
#[derive(Default)]
pub struct Services {
    /// The key-value store behind `kv-*`.
    pub kv: KvStore,
    /// How many requests have been answered.
    pub performs: u64,
}

/// How a host runs code.
#[derive(Clone, Debug, Default)]
pub struct HostOptions {
    /// The evaluator tier (`Cek`: JIT off; `Vm`: eager), unless `jit` says otherwise.
    pub tier: Tier,
    /// The JIT mode, overriding `tier`.
    pub jit: Option<JitMode>,
    /// Functions whose bytecode is deliberately corrupted (fault injection, tests).
    pub inject_faults: Vec<String>,
    /// Every `perform` returns to the host loop and resumes from a fresh Rust call
    /// stack (otherwise requests are answered in place, without suspending).
    pub suspend_everywhere: bool,
    /// The limits on each evaluation.
    pub limits: Limits,
}

/// An interpreter together with the services its `perform`s reach.
pub struct Host {
    /// The interpreter.
    pub interp: Interp,
    /// The store and counters, shared with the in-place request handler.
    pub services: Rc<RefCell<Services>>,
    /// The limits on each evaluation.
    limits: Limits,
    /// The thread that enforces the timeout and the memory limit, once needed.
    watchdog: Option<Watchdog>,
}

impl Host {
    /// A host around `interp` with an empty store, answering requests in place.
    pub fn new(interp: Interp) -> Host {
        Host::with_options(interp, HostOptions::default())
    }

    /// A host around `interp` with `options`.
    pub fn with_options(mut interp: Interp, options: HostOptions) -> Host {
        let services = Rc::new(RefCell::new(Services::default()));
        interp.set_tier(options.tier);
        if let Some(mode) = options.jit {
            interp.policy.set_mode(mode);
        }
        interp
            .policy
            .inject_faults
            .extend(options.inject_faults.iter().cloned());
        interp.perform_handler = if options.suspend_everywhere {
            None
        } else {
            let s = services.clone();
            Some(Box::new(move |req: &Value| {
                Some(s.borrow_mut().handle(req))
            }))
        };
        if let Some(depth) = options.limits.max_depth {
            interp.max_depth = depth;
        }
        interp.limit_hints = options.limits.hints.lang_hints(&options.limits);
        // The dl-* library loads after the request handler is in place, like boot code.
        if let Err(e) = bridge::install(&mut interp) {
            tracing::error!(error = %format_error(&e), "the dl-* library failed to load");
        }
        Host {
            interp,
            services,
            limits: options.limits,
            watchdog: None,
        }
    }

    /// The limits on each evaluation.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs one evaluation (`start` begins it) under the limits: the fuel refilled
    /// when there is a limit, the interrupt flag cleared, the watchdog armed for the
    /// timeout and the memory limit. An interruption the watchdog caused is reported
    /// as the limit it enforced.
    fn limited(&mut self, start: impl FnOnce(&mut Interp) -> Outcome) -> Result<Value, SxError> {
        if let Some(fuel) = self.limits.fuel {
            self.interp.fuel = Some(fuel);
        }
        self.interp
            .interrupt
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let watched = self.limits.timeout.is_some() || self.limits.max_memory.is_some();
        if watched {
            let flag = self.interp.interrupt.clone();
            self.watchdog
                .get_or_insert_with(|| Watchdog::start(flag))
                .arm(self.limits.timeout, self.limits.max_memory);
        }
        let outcome = start(&mut self.interp);
        let result = self.drive(outcome);
        let tripped = match &mut self.watchdog {
            Some(w) if watched => w.disarm(),
            _ => None,
        };
        if matches!(tripped, Some(crate::limits::Tripped::Memory(_))) {
            crate::allocator::release_free_memory();
        }
        match (result, tripped) {
            (Err(e), Some(why)) if e.message() == lang::INTERRUPTED => {
                self.interp
                    .interrupt
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                Err(SxError {
                    value: Value::error(self.limits.message(why), e.span.clone()),
                    span: e.span,
                    note: None,
                })
            }
            (result, _) => result,
        }
    }

    /// The store (borrowed).
    pub fn kv(&self) -> std::cell::Ref<'_, KvStore> {
        std::cell::Ref::map(self.services.borrow(), |s| &s.kv)
    }

    /// Runs the program in `src` to completion, answering its requests, under the
    /// limits.
    pub fn run_source(&mut self, src: &str, file: &str) -> Result<Value, SxError> {
        self.limited(|interp| interp.run_source(src, file))
    }

    /// Runs `forms` (already read) to completion, answering their requests, under
    /// the limits.
    pub fn run_forms(&mut self, forms: Vec<lang::reader::Form>) -> Result<Value, SxError> {
        self.limited(|interp| interp.run_forms(forms))
    }

    /// Calls `f` with `args` to completion, answering its requests, under the
    /// limits.
    pub fn call(&mut self, f: &Value, args: Vec<Value>) -> Result<Value, SxError> {
        self.limited(|interp| interp.call(f, args))
    }

    /// Answers suspended requests until the program finishes.
    pub fn drive(&mut self, mut outcome: Outcome) -> Result<Value, SxError> {
        loop {
            match outcome {
                Outcome::Done(v) => return Ok(v),
                Outcome::Error(e) => return Err(e),
                Outcome::Perform(request, mut k) => {
                    let answer = self.services.borrow_mut().handle(&request);
                    outcome = match answer {
                        Ok(answer) => k.resume(&mut self.interp, answer),
                        Err(message) => {
                            k.resume_error(&mut self.interp, SxError::new(message, None))
                        }
                    };
                }
            }
        }
    }
}

impl Services {
    /// Answers one request, or says why it cannot.
    pub fn handle(&mut self, request: &Value) -> Result<Value, String> {
        self.performs += 1;
        let request = Request::parse(request)?;
        tracing::trace!(op = request.op(), "perform");
        Ok(match request {
            Request::Get(k) => self.kv.get(&k).cloned().unwrap_or(Value::Nil),
            Request::Put(k, v) => {
                self.kv.put(&k, v);
                Value::Bool(true)
            }
            Request::Delete(k) => {
                self.kv.delete(&k);
                Value::Bool(true)
            }
            Request::Scan(prefix) => Value::list(
                self.kv
                    .scan(&prefix)
                    .into_iter()
                    .map(|(k, v)| Value::list(vec![Value::str(&k), v]))
                    .collect(),
            ),
            Request::Now => Value::Int(now_ms()),
            Request::Tx(tx) => Value::Bool(self.kv.transact(tx)),
            Request::HostStats => {
                return Err(
                    "perform: no handler for op \"host-stats\" (only sx serve has one)".into(),
                )
            }
        })
    }
}

/// Formats an uncaught error the way `sx run` prints it.
pub fn format_error(e: &SxError) -> String {
    let mut out = match &e.span {
        Some(s) => format!("error: {}\n  at {s}", e.message()),
        None => format!("error: {}", e.message()),
    };
    if let Some(note) = &e.note {
        out.push_str("\n  note: ");
        out.push_str(note);
    }
    out
}

/// Runs `f` on a thread with a large stack (deeply nested data is printed, compared
/// and dropped recursively), returning its result.
pub fn with_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .name("sx-eval".into())
        .stack_size(1 << 30)
        .spawn(f)
        .expect("spawn the evaluation thread")
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}
