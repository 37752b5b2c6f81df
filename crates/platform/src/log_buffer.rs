//! A bounded in-memory buffer between the log formatter and stdout.
//!
//! Serving threads append formatted lines to a buffer; one background thread writes it to
//! stdout every 50 ms, or as soon as 64 KiB accumulate. At ten thousand requests a second a
//! `write` per line would cost the serving threads a syscall per request. If stdout stalls
//! (a blocked pipe) the buffer stops growing at 8 MiB: further lines are dropped and counted,
//! and the count is reported in the next line written, so a stalled log reader can slow
//! logging down but never the service or its memory.

use std::io::Write as _;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Bytes that wake the flusher early.
const FLUSH_BYTES: usize = 64 * 1024;
/// Most bytes held; lines beyond are dropped.
const MAX_BYTES: usize = 8 * 1024 * 1024;
/// How often the flusher writes when the buffer stays small.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    dropped: u64,
}

/// The buffer; clones share it. A `MakeWriter` for `tracing_subscriber`.
#[derive(Clone, Debug, Default)]
pub struct LogBuffer {
    inner: Arc<(Mutex<Pending>, Condvar)>,
}

impl LogBuffer {
    /// An empty buffer; nothing is written until [`LogBuffer::spawn_flusher`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the thread that writes the buffer to stdout.
    pub fn spawn_flusher(&self) {
        let flusher = self.clone();
        let spawned = std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || {
                loop {
                    flusher.wait();
                    flusher.flush_now();
                }
            });
        if spawned.is_err() {
            eprintln!("could not start the log flusher; logs will be written at shutdown only");
        }
    }

    fn wait(&self) {
        let (lock, cv) = &*self.inner;
        let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let _unused = cv
            .wait_timeout_while(guard, FLUSH_EVERY, |p| p.bytes.len() < FLUSH_BYTES)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// Writes everything buffered to stdout now.
    pub fn flush_now(&self) {
        let (bytes, dropped) = {
            let mut g = self.inner.0.lock().unwrap_or_else(PoisonError::into_inner);
            let bytes = std::mem::take(&mut g.bytes);
            (bytes, std::mem::take(&mut g.dropped))
        };
        if bytes.is_empty() && dropped == 0 {
            return;
        }
        let mut out = std::io::stdout().lock();
        if dropped > 0 {
            let _ = writeln!(
                out,
                r#"{{"level":"WARN","target":"platform::log_buffer","message":"log lines dropped while stdout was blocked","dropped":{dropped}}}"#
            );
        }
        let _ = out.write_all(&bytes);
        let _ = out.flush();
    }

    fn append(&self, data: &[u8]) {
        let (lock, cv) = &*self.inner;
        let mut g = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if g.bytes.len() + data.len() > MAX_BYTES {
            g.dropped += 1;
            return;
        }
        g.bytes.extend_from_slice(data);
        if g.bytes.len() >= FLUSH_BYTES {
            cv.notify_one();
        }
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.append(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_lines_beyond_the_bound_and_counts_them() {
        let b = LogBuffer::new();
        let line = vec![b'x'; 1024 * 1024];
        for _ in 0..10 {
            b.append(&line);
        }
        let g = b.inner.0.lock().unwrap();
        assert_eq!(g.bytes.len(), MAX_BYTES);
        assert_eq!(g.dropped, 2);
    }
}
