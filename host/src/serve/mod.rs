//! `sx serve`: an HTTP server whose request handlers are SX, reading and writing
//! a durable SQLite store through `perform` on every request.
//!
//! Threads and what crosses between them:
//! ```text
//!   tokio (HTTP, 1 thread) ──Event::Http──▶ interpreter thread ──StoreOp──▶ store threads
//!          ▲                                 (Interp, parked          (1 writer, N readers,
//!          └──────── HttpResponse ─────────   continuations) ◀─Event::Store─ SQLite)
//! ```
//! Only plain data crosses threads (SX values are `Rc` and stay on the interpreter
//! thread; stored values travel as their printed text).

pub mod app;
pub mod codec;
pub mod http;
pub mod io;
pub mod store;
pub mod worker;

use std::path::PathBuf;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use lang::tiering::JitMode;

use io::IoPool;
use worker::{Event, Worker, WorkerOptions};

/// How `sx serve` runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The SQLite file (`:memory:` for a private in-memory store).
    pub db: String,
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: String,
    /// Demo posts to write into an empty store.
    pub seed: Option<u64>,
    /// The app's directory; `None`: the blog built into the binary.
    pub app: Option<PathBuf>,
    /// When functions move to the VM.
    pub jit: JitMode,
    /// Every `perform` suspends, even those the host could answer in place.
    pub suspend_everywhere: bool,
    /// Functions whose bytecode is corrupted on purpose (fault-injection tests).
    pub inject_faults: Vec<String>,
    /// Store reader threads.
    pub readers: usize,
    /// The longest a request may run on the interpreter thread between two of its
    /// performs (`--handler-timeout`); `None`: no limit.
    pub handler_timeout: Option<Duration>,
}

/// Runs the server until Ctrl-C or SIGTERM. Prints `listening on http://ADDR`
/// once it accepts connections.
pub fn run(options: ServeOptions) -> Result<(), String> {
    let started = Instant::now();
    let app = app::load(options.app.as_deref())?;
    let (events, inbox) = channel::<Event>();
    let io =
        IoPool::start(&options.db, options.readers, events.clone()).map_err(|e| e.to_string())?;
    let worker_options = WorkerOptions {
        app,
        jit: options.jit,
        suspend_everywhere: options.suspend_everywhere,
        inject_faults: options.inject_faults.clone(),
        seed: options.seed,
        handler_timeout: options.handler_timeout,
    };
    let (ready, booted) = channel();
    let interp_thread = std::thread::Builder::new()
        .name("sx-interp".into())
        .stack_size(1 << 30)
        .spawn(move || match Worker::start(&worker_options, io, inbox) {
            Ok((w, report)) => {
                let _ = ready.send(Ok(report));
                w.run();
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        })
        .map_err(|e| format!("cannot start the interpreter thread: {e}"))?;
    let report = booted
        .recv()
        .map_err(|_| "the interpreter thread stopped during start-up".to_string())??;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sx-http")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&options.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?;
        tracing::info!(addr = %local, seeded = report.seeded, millis = started.elapsed().as_millis() as u64, "serving");
        println!(
            "sx serve: listening on http://{local} (store {}, {} posts seeded, ready in {} ms)",
            options.db,
            report.seeded,
            started.elapsed().as_millis()
        );
        http::serve(listener, events.clone()).await;
        Ok::<(), String>(())
    });
    worker::stop(&events);
    drop(events);
    if interp_thread.join().is_err() {
        return Err("the interpreter thread panicked".into());
    }
    result
}
