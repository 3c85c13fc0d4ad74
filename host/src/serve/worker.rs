//! The interpreter thread: runs the app's SX, one request at a time between
//! `perform`s, many requests in flight.
//!
//! A request starts as a call of `host/handle`. When it performs IO, its
//! [`Suspended`] continuation is parked in a table under a job id and the job goes
//! to the store threads; the thread takes the next event meanwhile (another
//! request, another answer). When the answer comes back the continuation is
//! resumed where it stopped. A request waiting for IO costs its parked
//! continuation, never a thread. Requests the host answers itself (`now`,
//! `host-stats`) are answered in place, without suspending, unless
//! `--suspend-everywhere` is given.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use lang::tiering::JitMode;
use lang::value::Dict;
use lang::{Interp, Outcome, Suspended, SxError, Tier, Value};
use tokio::sync::oneshot;

use super::codec::{decode, encode};
use super::io::{Done, IoPool, StoreAnswer, StoreOp};
use super::store::StoredTx;
use crate::driver::format_error;
use crate::limits::Watchdog;
use crate::request::{now_ms, Request};

/// An HTTP request, as the server hands it over.
#[derive(Debug)]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The raw query string (after `?`, possibly empty).
    pub query: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

/// An HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl HttpResponse {
    /// A short page with `status` and `text`.
    pub fn page(status: u16, text: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
            body: format!(
                "<!doctype html><title>{status}</title><h1>{status}</h1><p>{}</p>\n",
                lang::prims::web::escape(text)
            ),
        }
    }
}

/// What the interpreter thread is told.
pub enum Event {
    /// A request to answer on `reply`.
    Http(HttpRequest, oneshot::Sender<HttpResponse>),
    /// A store job finished.
    Store(Done),
    /// Stop once nothing is in flight.
    Stop,
}

impl From<Done> for Event {
    fn from(d: Done) -> Event {
        Event::Store(d)
    }
}

/// How the interpreter thread runs the app.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// The app's `.sx` files (name and source), loaded in this order.
    pub app: Vec<(String, String)>,
    /// When functions move to the VM.
    pub jit: JitMode,
    /// Every `perform` suspends, even those the host could answer in place.
    pub suspend_everywhere: bool,
    /// Functions whose bytecode is corrupted on purpose (fault-injection tests).
    pub inject_faults: Vec<String>,
    /// `--seed N`: demo posts to write into an empty store.
    pub seed: Option<u64>,
    /// The longest a request runs between two performs; `None`: no limit.
    pub handler_timeout: Option<Duration>,
}

/// The server's counters (`host-stats`).
#[derive(Default, Debug)]
struct Stats {
    requests: u64,
    errors: u64,
    in_flight: u64,
}

impl Stats {
    fn to_value(&self) -> Value {
        let mut d = Dict::default();
        d.insert(Value::keyword("requests"), Value::Int(self.requests as i64));
        d.insert(Value::keyword("errors"), Value::Int(self.errors as i64));
        d.insert(
            Value::keyword("in-flight"),
            Value::Int(self.in_flight as i64),
        );
        Value::dict(d)
    }
}

/// Who waits for a run to finish.
enum Waiter {
    /// An HTTP client.
    Http {
        reply: oneshot::Sender<HttpResponse>,
        what: String,
        started: Instant,
        /// The run has sent a write to the store.
        wrote: bool,
    },
    /// Start-up code, which runs to completion before the server listens.
    Boot(Rc<RefCell<Option<Result<Value, SxError>>>>),
    /// `host/recover`, run after a request failed past a write; nobody waits.
    Recover,
}

/// How a store answer becomes the value `perform` returns.
enum Expect {
    /// `kv-get`: the decoded value under this key, or nil.
    Value(String),
    /// `kv-scan`: `(key value)` pairs.
    Entries,
    /// `kv-put`, `kv-delete`: true.
    True,
    /// `kv-tx`: whether it was made.
    Made,
}

/// A run parked at a `perform` until its store job answers.
struct Parked {
    k: Suspended,
    expect: Expect,
    waiter: Waiter,
}

/// The interpreter thread's state.
pub struct Worker {
    interp: Interp,
    io: IoPool,
    parked: HashMap<u64, Parked>,
    next_job: u64,
    stats: Rc<RefCell<Stats>>,
    events: Receiver<Event>,
    handle: Value,
    /// The app's `host/recover`, if it has one.
    recover: Option<Value>,
    /// Stops a request's run that goes on too long without a perform.
    limit: Option<(Duration, Watchdog)>,
}

/// What start-up did.
#[derive(Debug)]
pub struct BootReport {
    /// Posts `--seed` wrote (0 when the store was not empty or no seed was asked).
    pub seeded: i64,
}

impl Worker {
    /// Builds the interpreter, loads the app and runs its start-up (`host/seed!`
    /// when asked, then `host/boot`), its IO served by `io`.
    pub fn start(
        options: &WorkerOptions,
        io: IoPool,
        events: Receiver<Event>,
    ) -> Result<(Worker, BootReport), String> {
        let mut interp = Interp::new();
        interp.set_tier(Tier::Vm);
        interp.policy.set_mode(options.jit);
        interp
            .policy
            .inject_faults
            .extend(options.inject_faults.iter().cloned());
        let stats = Rc::new(RefCell::new(Stats::default()));
        if !options.suspend_everywhere {
            let s = stats.clone();
            interp.perform_handler = Some(Box::new(move |req: &Value| local_answer(req, &s)));
        }
        bridge::install(&mut interp).map_err(|e| format_error(&e))?;
        let mut w = Worker {
            interp,
            io,
            parked: HashMap::new(),
            next_job: 0,
            stats,
            events,
            handle: Value::Nil,
            recover: None,
            limit: None,
        };
        for (name, src) in &options.app {
            let outcome = w.interp.run_source(src, name);
            w.finish_boot(outcome)
                .map_err(|e| format!("loading {name}: {}", format_error(&e)))?;
        }
        let global = |w: &Worker, name: &str| {
            w.interp
                .global(name)
                .ok_or_else(|| format!("the app defines no {name}"))
        };
        w.handle = global(&w, "host/handle")?;
        w.recover = w.interp.global("host/recover");
        let mut seeded = 0;
        if let Some(n) = options.seed {
            let seed = global(&w, "host/seed!")?;
            let outcome = w.interp.call(&seed, vec![Value::Int(n as i64)]);
            seeded = match w.finish_boot(outcome) {
                Ok(Value::Int(n)) => n,
                Ok(other) => {
                    return Err(format!(
                        "host/seed! returned {}, expected how many posts it wrote",
                        lang::printer::repr(&other)
                    ))
                }
                Err(e) => return Err(format!("host/seed!: {}", format_error(&e))),
            };
        }
        let boot = global(&w, "host/boot")?;
        let outcome = w.interp.call(&boot, vec![]);
        w.finish_boot(outcome)
            .map_err(|e| format!("host/boot: {}", format_error(&e)))?;
        // Start-up ran without a time limit; requests run with one.
        w.limit = options
            .handler_timeout
            .map(|t| (t, Watchdog::start(w.interp.interrupt.clone())));
        Ok((w, BootReport { seeded }))
    }

    /// Serves events until [`Event::Stop`] and nothing in flight; then lets the
    /// store threads finish.
    pub fn run(mut self) {
        let mut stopping = false;
        while !(stopping && self.parked.is_empty()) {
            let Ok(event) = self.events.recv() else { break };
            match event {
                Event::Http(req, reply) => self.request(req, reply),
                Event::Store((id, answer)) => self.answered(id, answer),
                Event::Stop => stopping = true,
            }
        }
        self.io.finish();
    }

    /// Runs start-up code to completion, serving its IO.
    fn finish_boot(&mut self, outcome: Outcome) -> Result<Value, SxError> {
        let slot = Rc::new(RefCell::new(None));
        self.advance(outcome, Waiter::Boot(slot.clone()));
        loop {
            if let Some(result) = slot.borrow_mut().take() {
                return result;
            }
            match self.events.recv() {
                Ok(Event::Store((id, answer))) => self.answered(id, answer),
                Ok(Event::Http(_, reply)) => {
                    let _ = reply.send(HttpResponse::page(503, "starting"));
                }
                Ok(Event::Stop) | Err(_) => {
                    return Err(SxError::new("stopped during start-up", None));
                }
            }
        }
    }

    fn request(&mut self, req: HttpRequest, reply: oneshot::Sender<HttpResponse>) {
        let what = format!("{} {}", req.method, req.path);
        {
            let mut s = self.stats.borrow_mut();
            s.requests += 1;
            s.in_flight += 1;
        }
        let waiter = Waiter::Http {
            reply,
            what,
            started: Instant::now(),
            wrote: false,
        };
        match request_value(&req) {
            Ok(v) => {
                let handle = self.handle.clone();
                let outcome = self.slice(|interp| interp.call(&handle, vec![v]));
                self.advance(outcome, waiter);
            }
            Err(message) => self.respond(waiter, HttpResponse::page(400, &message)),
        }
    }

    /// Runs one slice of a run (up to its next perform or its end) under the
    /// handler time limit: a slice that goes on longer is interrupted, and its
    /// error names the limit.
    fn slice(&mut self, run: impl FnOnce(&mut Interp) -> Outcome) -> Outcome {
        let Some((timeout, watchdog)) = &mut self.limit else {
            return run(&mut self.interp);
        };
        let timeout = *timeout;
        watchdog.arm(Some(timeout), None);
        let outcome = run(&mut self.interp);
        let tripped = watchdog.disarm();
        self.interp.interrupt.store(false, Ordering::Relaxed);
        match outcome {
            Outcome::Error(e) if tripped.is_some() && e.message() == lang::INTERRUPTED => {
                Outcome::Error(SxError::new(
                    format!(
                        "time limit exceeded: the handler ran {} ms without a perform (sx serve --handler-timeout MS)",
                        timeout.as_millis()
                    ),
                    e.span,
                ))
            }
            other => other,
        }
    }

    /// Takes a run forward until it finishes or parks on a store job.
    fn advance(&mut self, mut outcome: Outcome, mut waiter: Waiter) {
        loop {
            match outcome {
                Outcome::Done(v) => return self.finish(waiter, Ok(v)),
                Outcome::Error(e) => return self.finish(waiter, Err(e)),
                Outcome::Perform(req, mut k) => match self.dispatch(&req) {
                    Dispatch::Answer(Ok(v)) => outcome = self.slice(|interp| k.resume(interp, v)),
                    Dispatch::Answer(Err(m)) => {
                        outcome = self.slice(|interp| k.resume_error(interp, SxError::new(m, None)))
                    }
                    Dispatch::Job(op, expect) => {
                        if let (StoreOp::Tx(_), Waiter::Http { wrote, .. }) = (&op, &mut waiter) {
                            *wrote = true;
                        }
                        let id = self.next_job;
                        self.next_job += 1;
                        self.io.submit(id, op);
                        self.parked.insert(id, Parked { k, expect, waiter });
                        return;
                    }
                },
            }
        }
    }

    /// A store job answered: resumes the run parked on it.
    fn answered(&mut self, id: u64, answer: Result<StoreAnswer, String>) {
        let Some(mut p) = self.parked.remove(&id) else {
            tracing::error!(job = id, "a store answer for no parked run");
            return;
        };
        let outcome = match answer.and_then(|a| answer_value(a, &p.expect)) {
            Ok(v) => self.slice(|interp| p.k.resume(interp, v)),
            Err(m) => self.slice(|interp| p.k.resume_error(interp, SxError::new(m, None))),
        };
        self.advance(outcome, p.waiter);
    }

    /// Where a request goes: answered here (a bad request, `now`, `host-stats`), or
    /// a store job.
    fn dispatch(&mut self, req: &Value) -> Dispatch {
        let request = match Request::parse(req) {
            Ok(r) => r,
            Err(m) => return Dispatch::Answer(Err(m)),
        };
        let put = |entries: Vec<(String, Value)>| -> Result<Vec<(String, String)>, String> {
            entries
                .into_iter()
                .map(|(k, v)| {
                    encode(&v)
                        .map(|t| (k.clone(), t))
                        .map_err(|m| format!("perform: cannot store under {k:?}: {m}"))
                })
                .collect()
        };
        let job = |op, expect| Dispatch::Job(op, expect);
        match request {
            Request::Get(k) => job(StoreOp::Get(k.clone()), Expect::Value(k)),
            Request::Scan(p) => job(StoreOp::Scan(p), Expect::Entries),
            Request::Put(k, v) => match put(vec![(k, v)]) {
                Ok(put) => job(
                    StoreOp::Tx(StoredTx {
                        put,
                        ..StoredTx::default()
                    }),
                    Expect::True,
                ),
                Err(m) => Dispatch::Answer(Err(m)),
            },
            Request::Delete(k) => job(
                StoreOp::Tx(StoredTx {
                    delete: vec![k],
                    ..StoredTx::default()
                }),
                Expect::True,
            ),
            Request::Tx(tx) => match put(tx.put) {
                Ok(put) => job(
                    StoreOp::Tx(StoredTx {
                        put,
                        delete: tx.delete,
                        absent: tx.absent,
                        present: tx.present,
                    }),
                    Expect::Made,
                ),
                Err(m) => Dispatch::Answer(Err(m)),
            },
            Request::Now => Dispatch::Answer(Ok(Value::Int(now_ms()))),
            Request::HostStats => Dispatch::Answer(Ok(self.stats.borrow().to_value())),
        }
    }

    /// A run finished: answers whoever waits for it. A request that failed after
    /// it wrote may have left the app's derived state behind its store: the app's
    /// `host/recover` (when it defines one) then runs, once the 500 is sent.
    fn finish(&mut self, waiter: Waiter, result: Result<Value, SxError>) {
        match waiter {
            Waiter::Boot(slot) => *slot.borrow_mut() = Some(result),
            Waiter::Recover => match result {
                Ok(_) => tracing::info!("host/recover finished"),
                Err(e) => tracing::error!(error = %format_error(&e), "host/recover failed"),
            },
            Waiter::Http {
                ref what, wrote, ..
            } => {
                let response = match result {
                    Ok(v) => response_of(&v).unwrap_or_else(|m| {
                        tracing::error!(request = %what, error = %m, "host/handle returned a bad response");
                        HttpResponse::page(500, "internal error")
                    }),
                    Err(e) => {
                        tracing::error!(request = %what, handler = "host/handle", error = %format_error(&e), "handler error");
                        HttpResponse::page(500, "internal error")
                    }
                };
                let failed = response.status >= 500;
                self.respond(waiter, response);
                if let (true, true, Some(recover)) = (failed, wrote, self.recover.clone()) {
                    tracing::warn!("a request failed after it wrote: running host/recover");
                    let outcome = self.interp.call(&recover, vec![]);
                    self.advance(outcome, Waiter::Recover);
                }
            }
        }
    }

    fn respond(&mut self, waiter: Waiter, response: HttpResponse) {
        let Waiter::Http {
            reply,
            what,
            started,
            ..
        } = waiter
        else {
            return;
        };
        {
            let mut s = self.stats.borrow_mut();
            s.in_flight -= 1;
            if response.status >= 500 {
                s.errors += 1;
            }
        }
        tracing::debug!(request = %what, status = response.status, micros = started.elapsed().as_micros() as u64, "answered");
        // The client may have gone away; nothing to do then.
        let _ = reply.send(response);
    }
}

enum Dispatch {
    Answer(Result<Value, String>),
    Job(StoreOp, Expect),
}

/// What the in-place handler answers without suspending (`now`, `host-stats`),
/// peeking at `:op` only; `None` for the others, which suspend to `dispatch`.
fn local_answer(req: &Value, stats: &RefCell<Stats>) -> Option<Result<Value, String>> {
    let Value::Dict(d) = req else { return None };
    match d.get(&Value::keyword("op")) {
        Some(Value::Str(op)) if &**op == "now" => Some(Ok(Value::Int(now_ms()))),
        Some(Value::Str(op)) if &**op == "host-stats" => Some(Ok(stats.borrow().to_value())),
        _ => None,
    }
}

fn answer_value(answer: StoreAnswer, expect: &Expect) -> Result<Value, String> {
    Ok(match (answer, expect) {
        (StoreAnswer::Value(None), _) => Value::Nil,
        (StoreAnswer::Value(Some(text)), Expect::Value(key)) => decode(key, &text)?,
        (StoreAnswer::Entries(entries), _) => Value::list(
            entries
                .into_iter()
                .map(|(k, text)| Ok(Value::list(vec![Value::str(&k), decode(&k, &text)?])))
                .collect::<Result<_, String>>()?,
        ),
        (StoreAnswer::Made(_), Expect::True) => Value::Bool(true),
        (StoreAnswer::Made(m), _) => Value::Bool(m),
        (StoreAnswer::Value(Some(_)), _) => unreachable!("a value answers a kv-get"),
    })
}

/// The request dict `host/handle` gets.
fn request_value(req: &HttpRequest) -> Result<Value, String> {
    let query = lang::prims::web::parse_query(&req.query).map_err(|e| match e {
        lang::prims::PrimError::Msg(m) => format!("bad query string: {m}"),
        lang::prims::PrimError::Raise(v) => lang::printer::display(&v),
    })?;
    let mut headers = Dict::default();
    for (k, v) in &req.headers {
        headers.insert(Value::str(k), Value::str(v));
    }
    let mut d = Dict::default();
    d.insert(Value::keyword("method"), Value::str(&req.method));
    d.insert(Value::keyword("path"), Value::str(&req.path));
    d.insert(Value::keyword("query"), Value::dict(query));
    d.insert(Value::keyword("headers"), Value::dict(headers));
    d.insert(Value::keyword("body"), Value::str(&req.body));
    d.insert(Value::keyword("params"), Value::dict(Dict::default()));
    Ok(Value::dict(d))
}

/// The HTTP response a handler's result dict describes.
fn response_of(v: &Value) -> Result<HttpResponse, String> {
    let Value::Dict(d) = v else {
        return Err(format!("expected a response dict, got {}", v.kind()));
    };
    let status = match d.get(&Value::keyword("status")) {
        Some(Value::Int(n)) if (100..=599).contains(n) => *n as u16,
        Some(other) => {
            return Err(format!(
                ":status must be an int from 100 to 599, got {}",
                lang::printer::repr(other)
            ))
        }
        None => 200,
    };
    let mut headers = Vec::new();
    match d.get(&Value::keyword("headers")) {
        None | Some(Value::Nil) => {}
        Some(Value::Dict(h)) => {
            for (k, v) in h.iter() {
                let name = match k {
                    Value::Str(s) => s.to_string(),
                    Value::Keyword(s) => s.name().to_string(),
                    other => {
                        return Err(format!(
                            "a header name must be a string, got {}",
                            other.kind()
                        ))
                    }
                };
                headers.push((name, lang::printer::display(v)));
            }
        }
        Some(other) => return Err(format!(":headers must be a dict, got {}", other.kind())),
    }
    let body = match d.get(&Value::keyword("body")) {
        None | Some(Value::Nil) => String::new(),
        Some(Value::Str(s)) => s.to_string(),
        Some(other) => return Err(format!(":body must be a string, got {}", other.kind())),
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Sends `Stop` (used by the server when it shuts down).
pub fn stop(events: &Sender<Event>) {
    let _ = events.send(Event::Stop);
}
