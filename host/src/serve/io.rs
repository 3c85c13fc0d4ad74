//! The store's threads: one writer and a few readers, each with its own SQLite
//! connection, serving the jobs the interpreter thread sends and posting the
//! answers back to it as events.
//!
//! The writer takes every write waiting in its queue and commits them together
//! (one fsync for the lot, each transaction still all or nothing); an answer is
//! sent only after that commit, so whatever a request was told is written is
//! durable. Readers run concurrently with the writer (WAL). With an in-memory
//! store there is one connection, so the writer serves the reads too, in order.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::store::{Entry, Store, StoreError, StoredTx};

/// What a job asks of the store.
#[derive(Debug)]
pub enum StoreOp {
    /// The printed value under a key.
    Get(String),
    /// The entries under a prefix.
    Scan(String),
    /// One atomic write.
    Tx(StoredTx),
}

/// The store's answer to a job.
#[derive(Debug)]
pub enum StoreAnswer {
    /// The value of a [`StoreOp::Get`].
    Value(Option<String>),
    /// The entries of a [`StoreOp::Scan`].
    Entries(Vec<Entry>),
    /// Whether a [`StoreOp::Tx`] was made.
    Made(bool),
}

/// A finished job: its id and its answer, or the store's error.
pub type Done = (u64, Result<StoreAnswer, String>);

/// The running store threads.
pub struct IoPool {
    writes: Option<Sender<(u64, StoreOp)>>,
    reads: Option<Sender<(u64, StoreOp)>>,
    threads: Vec<JoinHandle<()>>,
}

impl IoPool {
    /// Opens the store at `path` on `readers` reader threads and a writer (one
    /// thread in all for `:memory:`); each answer goes to `done`.
    pub fn start<E>(path: &str, readers: usize, done: Sender<E>) -> Result<IoPool, StoreError>
    where
        E: From<Done> + Send + 'static,
    {
        let writer = Store::open(path)?;
        let (wtx, wrx) = channel();
        let mut threads = Vec::new();
        let reads = if path == ":memory:" || readers == 0 {
            None
        } else {
            let (rtx, rrx) = channel::<(u64, StoreOp)>();
            let rrx = Arc::new(Mutex::new(rrx));
            for i in 0..readers {
                let store = Store::open(path)?;
                let (rrx, done) = (rrx.clone(), done.clone());
                threads.push(spawn(&format!("sx-store-read-{i}"), move || {
                    read_loop(store, &rrx, &done)
                }));
            }
            Some(rtx)
        };
        threads.push(spawn("sx-store-write", move || {
            write_loop(writer, wrx, &done)
        }));
        Ok(IoPool {
            writes: Some(wtx.clone()),
            reads: reads.or(Some(wtx)),
            threads,
        })
    }

    /// Queues job `id`.
    pub fn submit(&self, id: u64, op: StoreOp) {
        let queue = match op {
            StoreOp::Tx(_) => &self.writes,
            _ => &self.reads,
        };
        if let Some(q) = queue {
            // The threads outlive the pool's senders; a send fails only after a
            // store thread panicked, which its join reports.
            let _ = q.send((id, op));
        }
    }

    /// Lets the threads finish every queued job, then waits for them.
    pub fn finish(mut self) {
        self.writes = None;
        self.reads = None;
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::error!("a store thread panicked");
            }
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("spawn a store thread")
}

fn read_loop<E: From<Done>>(
    store: Store,
    jobs: &Mutex<Receiver<(u64, StoreOp)>>,
    done: &Sender<E>,
) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((id, op)) = job else { return };
        let answer = read(&store, op);
        if done.send(E::from((id, answer))).is_err() {
            return;
        }
    }
}

fn read(store: &Store, op: StoreOp) -> Result<StoreAnswer, String> {
    let r = match op {
        StoreOp::Get(k) => store.get(&k).map(StoreAnswer::Value),
        StoreOp::Scan(p) => store.scan(&p).map(StoreAnswer::Entries),
        StoreOp::Tx(_) => unreachable!("writes go to the writer"),
    };
    r.map_err(|e| e.to_string())
}

fn write_loop<E: From<Done>>(mut store: Store, jobs: Receiver<(u64, StoreOp)>, done: &Sender<E>) {
    let mut batch: Vec<(u64, StoreOp)> = Vec::new();
    while let Ok(first) = jobs.recv() {
        batch.push(first);
        batch.extend(jobs.try_iter());
        let mut txs: Vec<(u64, StoredTx)> = Vec::new();
        for (id, op) in batch.drain(..) {
            match op {
                StoreOp::Tx(t) => txs.push((id, t)),
                read_op => {
                    // A read waits for the writes queued before it.
                    commit(&mut store, &mut txs, done);
                    let _ = done.send(E::from((id, read(&store, read_op))));
                }
            }
        }
        commit(&mut store, &mut txs, done);
    }
}

/// Commits `txs` as one group and answers each.
fn commit<E: From<Done>>(store: &mut Store, txs: &mut Vec<(u64, StoredTx)>, done: &Sender<E>) {
    if txs.is_empty() {
        return;
    }
    let (ids, group): (Vec<u64>, Vec<StoredTx>) = txs.drain(..).unzip();
    match store.commit(&group) {
        Ok(made) => {
            tracing::debug!(transactions = group.len(), "store commit");
            for (id, m) in ids.into_iter().zip(made) {
                let _ = done.send(E::from((id, Ok(StoreAnswer::Made(m)))));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, transactions = group.len(), "store commit failed");
            for id in ids {
                let _ = done.send(E::from((id, Err(e.to_string()))));
            }
        }
    }
}
