//! Group commit: one thread (`wal-writer`) owns the [`Wal`]; appenders hand it records
//! through a [`WalWriter`] and wait on a channel, never on the disk themselves.
//!
//! The writer takes *everything* queued, writes it with one [`Wal::log`] call (records
//! of one commit stay contiguous and in order; commits in arrival order) and, per the
//! [`SyncPolicy`], fsyncs once for the whole group before answering every caller.
//! While it writes and syncs, new commits queue up and form the next group, so under
//! contention one fsync serves many commits.
//!
//! # Sync policies and what an acknowledgement means
//!
//! * [`SyncPolicy::Always`] (the default): a commit returns `Ok` only after its records
//!   were written *and fsynced*. An acknowledged sample survives a power loss or kernel
//!   crash, so "2xx = durable" holds.
//! * [`SyncPolicy::Interval`]: a commit returns after `write(2)`; the segment is fsynced
//!   when a group finds the last fsync older than the interval, and by the idle thread
//!   at most one interval after the last write. Survives a killed process; a machine
//!   crash can lose up to one interval of acknowledged data. This is close to
//!   Prometheus, which only fsyncs when it closes a segment.
//! * [`SyncPolicy::Never`]: a commit returns after `write(2)`; fsync happens only at
//!   segment rollover and close. Survives a killed process only.
//!
//! # Failures
//!
//! If a write or an fsync fails, every commit of that group fails, and so does every
//! later one: the [`Wal`] refuses writes after a failure (see [`crate::wal::writer`])
//! until it is replaced, for instance by `with_wal(|w| *w = fresh_wal)` after a replay
//! repaired the tail, or by restarting. Nothing is ever acknowledged after a failed fsync.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::wal::{Wal, WalMetrics};

/// When the writer thread fsyncs, and so what an acknowledged commit guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// Fsync every group before acknowledging it.
    #[default]
    Always,
    /// Acknowledge after `write(2)`; fsync at most once per interval.
    Interval(Duration),
    /// Acknowledge after `write(2)`; fsync only on rollover and close.
    Never,
}

/// A request to the writer thread.
enum Request {
    Commit {
        records: Vec<Vec<u8>>,
        reply: SyncSender<Result<()>>,
    },
    /// Lend the WAL to the caller: send it on `give`, wait for it on `back`.
    Lend {
        give: SyncSender<Wal>,
        back: Receiver<Wal>,
    },
}

#[derive(Default)]
struct Queue {
    requests: VecDeque<Request>,
    closing: bool,
    /// Sequence number of the next commit; assigned under this lock, so it is the
    /// order in which commits reach the WAL.
    next_seq: u64,
}

/// A commit handed to the writer thread, not yet known to be durable.
#[derive(Debug)]
pub struct PendingCommit {
    seq: u64,
    rx: Receiver<Result<()>>,
}

impl PendingCommit {
    /// The commit's position in the WAL: commits with smaller numbers were written first.
    /// Numbers start at 0 and have no gaps.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Waits until the records are written and, per the policy, fsynced.
    pub fn wait(self) -> Result<()> {
        self.rx.recv().unwrap_or(Err(Error::Closed))
    }
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

struct Inner {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<Result<()>>>>,
    close_result: Mutex<Option<Result<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.queue.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// A cloneable, `Send + Sync` handle to the WAL writer thread.
#[derive(Clone)]
pub struct WalWriter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWriter").finish_non_exhaustive()
    }
}

impl WalWriter {
    /// Starts the writer thread (named `wal-writer`) owning `wal`.
    pub fn spawn(wal: Wal, policy: SyncPolicy) -> WalWriter {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("wal-writer".into())
            .spawn(move || run(thread_shared, wal, policy))
            .expect("spawning the WAL writer thread");
        WalWriter {
            inner: Arc::new(Inner {
                shared,
                thread: Mutex::new(Some(thread)),
                close_result: Mutex::new(None),
            }),
        }
    }

    /// Writes `records` (contiguously, in order) and returns once they are written and,
    /// per the policy, fsynced. Concurrent calls are grouped into one write and fsync and
    /// served in arrival order. After [`WalWriter::close`], returns [`Error::Closed`].
    pub fn commit(&self, records: Vec<Vec<u8>>) -> Result<()> {
        self.submit(records)?.wait()
    }

    /// Queues `records` like [`WalWriter::commit`] without waiting; the returned
    /// [`PendingCommit`] tells the commit's position in the WAL, so callers can apply
    /// commits to memory in exactly the order a replay will.
    pub fn submit(&self, records: Vec<Vec<u8>>) -> Result<PendingCommit> {
        let (reply, rx) = sync_channel(1);
        let seq = self.enqueue(Request::Commit { records, reply })?;
        Ok(PendingCommit { seq, rx })
    }

    /// Runs `f` on the WAL between groups (for `next_segment`, `truncate`, ...), on the
    /// calling thread; commits wait meanwhile. The writer thread lends the WAL out and
    /// gets it back when `f` returns (or panics), so `f` need not be `'static`; it must
    /// not call [`WalWriter::commit`] or `with_wal` itself (that would wait forever).
    pub fn with_wal<R>(&self, f: impl FnOnce(&mut Wal) -> R) -> Result<R> {
        let (give, got) = sync_channel(1);
        let (back_tx, back) = sync_channel(1);
        self.enqueue(Request::Lend { give, back })?;
        let wal = got.recv().map_err(|_| Error::Closed)?;
        // Hand the WAL back even if `f` panics.
        struct Return(Option<Wal>, SyncSender<Wal>);
        impl Drop for Return {
            fn drop(&mut self) {
                if let Some(w) = self.0.take() {
                    let _ = self.1.send(w);
                }
            }
        }
        let mut guard = Return(Some(wal), back_tx);
        let wal = guard
            .0
            .as_mut()
            .expect("the WAL is held until the guard drops");
        Ok(f(wal))
    }

    /// Writes what is queued, closes the WAL (pads and fsyncs the last page) and stops
    /// the thread. Later commits return [`Error::Closed`]; closing again returns the
    /// first close's result.
    pub fn close(&self) -> Result<()> {
        self.inner.shared.queue.lock().closing = true;
        self.inner.shared.wake.notify_one();
        let mut result = self.inner.close_result.lock();
        if let Some(t) = self.inner.thread.lock().take() {
            *result = Some(t.join().unwrap_or_else(|_| {
                Err(Error::io(
                    "close",
                    "wal",
                    std::io::Error::other("WAL writer thread panicked"),
                ))
            }));
        }
        match &*result {
            Some(r) => r.as_ref().map(|_| ()).map_err(replicate),
            None => Err(Error::Closed),
        }
    }

    /// Queues a request; returns the commit sequence number it was given (commits only).
    fn enqueue(&self, req: Request) -> Result<u64> {
        let mut q = self.inner.shared.queue.lock();
        if q.closing {
            return Err(Error::Closed);
        }
        let seq = q.next_seq;
        if matches!(req, Request::Commit { .. }) {
            q.next_seq += 1;
        }
        q.requests.push_back(req);
        drop(q);
        self.inner.shared.wake.notify_one();
        Ok(seq)
    }
}

/// A copy of an error for each caller of a failed group (errors are not `Clone`).
fn replicate(e: &Error) -> Error {
    match e {
        Error::Io { op, path, source } => Error::Io {
            op,
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        Error::Closed => Error::Closed,
        Error::WalCorruption(c) => Error::WalCorruption(c.clone()),
        other => Error::io(
            "wal commit",
            "wal",
            std::io::Error::other(other.to_string()),
        ),
    }
}

/// A commit waiting in a group: its records and where to send the outcome.
type Pending = (Vec<Vec<u8>>, SyncSender<Result<()>>);

/// The writer thread's state.
struct Writer {
    wal: Option<Wal>,
    policy: SyncPolicy,
    metrics: WalMetrics,
    last_sync: Instant,
    /// Acknowledged bytes not yet fsynced (Interval and Never).
    unsynced: bool,
}

fn run(shared: Arc<Shared>, wal: Wal, policy: SyncPolicy) -> Result<()> {
    let metrics = wal.metrics().clone();
    let mut w = Writer {
        wal: Some(wal),
        policy,
        metrics,
        last_sync: Instant::now(),
        unsynced: false,
    };
    loop {
        let (batch, closing) = {
            let mut q = shared.queue.lock();
            while q.requests.is_empty() && !q.closing {
                match (policy, w.unsynced) {
                    (SyncPolicy::Interval(d), true) => {
                        let due = w.last_sync + d;
                        if Instant::now() >= due {
                            break;
                        }
                        shared.wake.wait_until(&mut q, due);
                    }
                    _ => shared.wake.wait(&mut q),
                }
            }
            (std::mem::take(&mut q.requests), q.closing)
        };
        if batch.is_empty() && !closing {
            w.periodic_sync();
        }
        w.process(batch);
        if closing {
            // Requests that raced with `close` were rejected by `enqueue`; the queue is
            // empty once `closing` is seen with the lock held.
            return match w.wal.take() {
                Some(wal) => wal.close(),
                None => Err(Error::Closed),
            };
        }
    }
}

impl Writer {
    fn process(&mut self, batch: VecDeque<Request>) {
        let mut group = Vec::new();
        for req in batch {
            match req {
                Request::Commit { records, reply } => group.push((records, reply)),
                Request::Lend { give, back } => {
                    self.write_group(std::mem::take(&mut group));
                    self.lend(give, back);
                }
            }
        }
        self.write_group(group);
    }

    fn lend(&mut self, give: SyncSender<Wal>, back: Receiver<Wal>) {
        let Some(wal) = self.wal.take() else { return };
        match give.send(wal) {
            // The caller went away before taking it.
            Err(e) => self.wal = Some(e.0),
            Ok(()) => match back.recv() {
                Ok(wal) => {
                    self.metrics = wal.metrics().clone();
                    self.wal = Some(wal);
                }
                Err(_) => tracing::error!("the WAL lent to with_wal was not returned"),
            },
        }
    }

    fn write_group(&mut self, group: Vec<Pending>) {
        if group.is_empty() {
            return;
        }
        let result = self.write_and_sync(&group);
        self.metrics.group_commits_total.inc();
        self.metrics
            .group_commit_requests_total
            .inc_by(group.len() as u64);
        self.metrics.group_commit_size.observe(group.len() as f64);
        for (_, reply) in group {
            let r = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(replicate(e)),
            };
            let _ = reply.send(r);
        }
    }

    fn write_and_sync(&mut self, group: &[Pending]) -> Result<()> {
        let Some(wal) = self.wal.as_mut() else {
            return Err(Error::Closed);
        };
        let records: Vec<&[u8]> = group
            .iter()
            .flat_map(|(recs, _)| recs.iter().map(Vec::as_slice))
            .collect();
        wal.log(&records)?;
        self.metrics
            .group_commit_records_total
            .inc_by(records.len() as u64);
        let sync_now = match self.policy {
            SyncPolicy::Always => true,
            SyncPolicy::Interval(d) => self.last_sync.elapsed() >= d,
            SyncPolicy::Never => false,
        };
        if sync_now {
            wal.sync()?;
            self.last_sync = Instant::now();
            self.unsynced = false;
        } else {
            self.unsynced = true;
        }
        Ok(())
    }

    /// The Interval policy's fsync of acknowledged data when no commit came.
    fn periodic_sync(&mut self) {
        if !self.unsynced {
            return;
        }
        if let Some(wal) = self.wal.as_mut() {
            // A failure makes the WAL refuse later writes, so later commits see it.
            let _ = wal.sync();
        }
        self.last_sync = Instant::now();
        self.unsynced = false;
    }
}

#[cfg(test)]
mod tests;
