//! A webhook receiver for tests: records every request (headers and raw body) and answers
//! 500 to the first `failures` requests, then 200. Two misbehaving kinds: one answers 500
//! with a body that never ends, one never answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One received request.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method and path.
    pub request_line: String,
    /// Headers, names lowercased.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
    /// The status it was answered with.
    pub answered: u16,
}

/// How a receiver answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Mode {
    /// 500 to the first `failures`, then 200.
    #[default]
    Normal,
    /// 500 with a chunked body that goes on (64 KiB a millisecond) until [`ENDLESS_CAP`]
    /// bytes, then silence.
    EndlessError,
    /// Reads the request and never answers.
    Silent,
}

/// Where an "endless" body stops (so a client that reads everything still ends): 64 MiB.
pub const ENDLESS_CAP: u64 = 64 << 20;

const CHUNK: usize = 64 << 10;

#[derive(Debug, Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    failures: AtomicUsize,
    mode: Mode,
    /// Body bytes written to clients.
    sent: AtomicU64,
    /// Connections holding a request that is not answered, whose client has not left.
    open: AtomicUsize,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts a receiver that fails the first `failures` requests with 500.
    pub async fn start(failures: usize) -> anyhow::Result<Self> {
        Self::with(Shared {
            failures: AtomicUsize::new(failures),
            ..Shared::default()
        })
        .await
    }

    /// Starts a receiver that answers 500 with a body that does not end (a chunked stream
    /// of up to [`ENDLESS_CAP`] bytes, 64 KiB a millisecond, then nothing until the client
    /// leaves).
    pub async fn endless_error() -> anyhow::Result<Self> {
        Self::with(Shared {
            mode: Mode::EndlessError,
            ..Shared::default()
        })
        .await
    }

    /// Starts a receiver that reads each request and never answers.
    pub async fn silent() -> anyhow::Result<Self> {
        Self::with(Shared {
            mode: Mode::Silent,
            ..Shared::default()
        })
        .await
    }

    async fn with(shared: Shared) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(shared);
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, s).await;
                });
            }
        });
        Ok(Self { port, shared, task })
    }

    /// `http://127.0.0.1:<port>/hook`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Body bytes written to clients so far (what a client that reads everything holds).
    pub fn body_bytes_sent(&self) -> u64 {
        self.shared.sent.load(Ordering::SeqCst)
    }

    /// Requests not answered whose client is still connected (a silent receiver's waiting
    /// callers).
    pub fn open(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut sock: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
        if let Some(end) = head_end {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap_or_default().to_owned();
            let headers: HashMap<String, String> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = sock.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            let fail = shared.mode == Mode::EndlessError
                || shared
                    .failures
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
            let status = if fail { 500 } else { 200 };
            shared
                .received
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(Received {
                    request_line,
                    headers,
                    body,
                    at: Instant::now(),
                    answered: status,
                });
            match shared.mode {
                Mode::Normal => {}
                Mode::EndlessError => return endless(sock, &shared).await,
                Mode::Silent => {
                    shared.open.fetch_add(1, Ordering::SeqCst);
                    let left = until_closed(&mut sock).await;
                    shared.open.fetch_sub(1, Ordering::SeqCst);
                    return left;
                }
            }
            let reason = if fail { "boom" } else { "ok" };
            let res = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{reason}",
                reason.len()
            );
            sock.write_all(res.as_bytes()).await?;
            continue;
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Waits until the client closes the connection, discarding what it sends.
async fn until_closed(sock: &mut TcpStream) -> std::io::Result<()> {
    let mut chunk = [0u8; 4096];
    while sock.read(&mut chunk).await? > 0 {}
    Ok(())
}

/// Answers 500 with a chunked body of [`ENDLESS_CAP`] bytes, a chunk a millisecond (what a
/// client that reads on receives well within a timeout, while one that stops reading leaves
/// little to the socket buffers), then waits for the client to leave; counts what it wrote.
async fn endless(mut sock: TcpStream, shared: &Shared) -> std::io::Result<()> {
    sock.write_all(
        b"HTTP/1.1 500 X\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n",
    )
    .await?;
    let mut chunk = format!("{CHUNK:x}\r\n").into_bytes();
    chunk.extend(std::iter::repeat_n(b'x', CHUNK));
    chunk.extend_from_slice(b"\r\n");
    let mut written = 0u64;
    while written < ENDLESS_CAP {
        sock.write_all(&chunk).await?;
        written += CHUNK as u64;
        shared.sent.fetch_add(CHUNK as u64, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    until_closed(&mut sock).await
}
