//! A fixed set of threads for password hashing. Argon2 needs ~19 MiB per hash: on tokio's
//! elastic blocking pool a burst of logins spreads those buffers over dozens of threads
//! (measured: 420 MB RSS after 20 concurrent registrations; 206 MB with this pool). A
//! fixed number of threads (`PASSWORD_HASH_THREADS`) bounds the CPU and memory spent on
//! hashing, and keeps it off the async workers all the same. Its queue is bounded too
//! (`PASSWORD_HASH_QUEUE`): past it a job is refused at once (503 with `Retry-After`)
//! rather than waiting behind a flood of logins for longer than any client would.
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

pub struct HashPool {
    jobs: mpsc::SyncSender<Job>,
}

/// How long a client refused for a full queue should wait: a queue drains in about a
/// hash time per job per thread, well under a second at the default costs.
const QUEUE_FULL_RETRY_AFTER_SECS: u64 = 1;

impl HashPool {
    /// Starts `threads` worker threads (at least one) taking jobs from a queue of at most
    /// `queue` waiting jobs (at least one).
    pub fn new(threads: usize, queue: usize) -> Result<Self> {
        let (sender, receiver) = mpsc::sync_channel::<Job>(queue.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{index}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the pool was dropped
                        }
                    }
                })
                .map_err(|e| Error::internal("starting a password hashing thread", e))?;
        }
        Ok(Self { jobs: sender })
    }

    /// Queues a job, or refuses it when the queue is full.
    fn submit(&self, job: impl FnOnce() + Send + 'static) -> Result<()> {
        match self.jobs.try_send(Box::new(job)) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Full(_)) => {
                metrics::counter!(crate::metrics::PASSWORD_HASH_QUEUE_FULL).increment(1);
                Err(Error::Overloaded {
                    cause: "the password hashing queue is full".into(),
                    retry_after_secs: QUEUE_FULL_RETRY_AFTER_SECS,
                })
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                Err(Error::Internal("password hashing pool stopped".into()))
            }
        }
    }

    /// Runs `work` on a pool thread and blocks the calling thread until it is done; for
    /// start-up, outside the async runtime's workers.
    pub fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (done, result) = mpsc::channel();
        // Start-up waits for room rather than failing.
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| Error::Internal("password hashing pool stopped".into()))?;
        result
            .recv()
            .map_err(|_| Error::Internal("password hashing job was dropped".into()))
    }

    /// Runs `work` on a pool thread and waits for it without blocking the caller's thread.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.submit(move || {
            let _ = done.send(work());
        })?;
        result
            .await
            .map_err(|_| Error::Internal("password hashing job was dropped".into()))
    }
}

/// Hashing gets the CPU that request handling leaves: on a small machine a login burst
/// would otherwise take whole cores from the threads answering everything else.
/// `SCHED_IDLE` rather than only nice 19: the scheduler then preempts a hashing thread at
/// once when a request thread wakes, instead of letting it finish its slice first, which
/// showed as GET p99 spikes of several milliseconds during login bursts. Hashing still
/// runs on every idle moment, and with a small share even on a saturated machine. Best
/// effort: if refused, the thread falls back to nice 19, then to the default priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: `gettid` has no preconditions. `sched_setscheduler` and `setpriority` on
    // this thread's own id only change its scheduling and report failure through their
    // return values; `param` outlives the call.
    unsafe {
        let tid = libc::gettid();
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(tid, libc::SCHED_IDLE, &param) != 0 {
            let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_on_its_own_threads_with_bounded_parallelism() {
        let pool = Arc::new(HashPool::new(2, 8).unwrap());
        let names = futures_join(&pool).await;
        assert_eq!(names.len(), 8);
        assert!(
            names.iter().all(|n| n.starts_with("password-hash-")),
            "{names:?}"
        );
        let distinct: std::collections::HashSet<_> = names.into_iter().collect();
        assert!(distinct.len() <= 2);
    }

    /// Request threads keep the default policy; only the pool's threads step aside.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_under_sched_idle() {
        // SAFETY: `sched_getscheduler(0)` only reads the calling thread's policy.
        let policy = || unsafe { libc::sched_getscheduler(0) };
        let pool = HashPool::new(1, 1).unwrap();
        assert_eq!(pool.run(policy).await.unwrap(), libc::SCHED_IDLE);
        assert_eq!(policy(), libc::SCHED_OTHER);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = Arc::new(HashPool::new(1, 1).unwrap());
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel();
        // One job runs (and waits), one waits in the queue: the third finds no room.
        let busy = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move || {
                    let _ = started.send(());
                    let _ = hold.recv();
                })
                .await
            }
        });
        running.await.unwrap();
        let queued = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| ()).await }
        });
        // The test runtime has one thread: this lets the task above queue its job.
        tokio::task::yield_now().await;
        let refused = pool.run(|| ()).await;
        assert!(
            matches!(refused, Err(Error::Overloaded { .. })),
            "{refused:?}"
        );
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        queued.await.unwrap().unwrap();
        assert!(pool.run(|| 7).await.is_ok());
    }

    async fn futures_join(pool: &Arc<HashPool>) -> Vec<String> {
        let mut handles = Vec::new();
        for _ in 0..8 {
            let pool = pool.clone();
            handles.push(tokio::spawn(async move {
                pool.run(|| std::thread::current().name().unwrap_or_default().to_owned())
                    .await
                    .unwrap()
            }));
        }
        let mut names = Vec::new();
        for handle in handles {
            names.push(handle.await.unwrap());
        }
        names
    }
}
