//! Turns of searches in the database, shared fairly between client addresses.
//!
//! A search the response cache cannot answer is first admitted for its client
//! ([`Turns::admit`]): an address may have at most `per_client` such searches in flight
//! (`MARKETPLACE_SEARCH_IP_CONCURRENCY`), waiting or running; one more is refused at once.
//! An admitted search then waits for one of the instance's turns
//! (`MARKETPLACE_SEARCH_CONCURRENCY`). A freed turn goes to the waiting search whose address
//! runs the fewest searches, then has the fewest in flight, then came first: a client that
//! keeps many searches going waits behind one that asks now and then, so a few addresses
//! flooding the instance with never-seen queries delay another client's search by about one
//! search, not by their whole queue. Addresses are counted as the per-IP limits count them
//! (`platform::net::limit_subject`: IPv6 per /64).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use metrics::Gauge;
use tokio::sync::Notify;

/// Whom searches are counted for: the client address, IPv6 cut to its /64.
type Client = String;

/// An address's searches.
#[derive(Debug, Default)]
struct Counts {
    /// Admitted: waiting for a turn or running.
    in_flight: usize,
    /// Holding a turn.
    running: usize,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    client: Client,
    woken: Arc<Notify>,
}

#[derive(Debug)]
struct State {
    free: usize,
    clients: HashMap<Client, Counts>,
    /// In arrival order.
    waiting: Vec<Waiter>,
    next_id: u64,
    /// Admitted searches of every address.
    in_flight: usize,
}

/// The instance's turns and its per-address bound.
#[derive(Debug)]
pub struct Turns {
    state: Mutex<State>,
    per_client: usize,
    /// `agentidp_marketplace_searches_in_flight`.
    gauge: Gauge,
}

/// The client's address already has as many searches in flight as it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientBusy {
    /// `MARKETPLACE_SEARCH_IP_CONCURRENCY`.
    pub limit: usize,
}

/// No turn came free in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoTurn;

impl Turns {
    /// `turns` searches at once, at most `per_client` of them (running or waiting) per
    /// address; `gauge` shows how many are admitted.
    pub fn new(turns: usize, per_client: usize, gauge: Gauge) -> Arc<Self> {
        let state = State {
            free: turns,
            clients: HashMap::new(),
            waiting: Vec::new(),
            next_id: 0,
            in_flight: 0,
        };
        Arc::new(Self {
            state: Mutex::new(state),
            per_client,
            gauge,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits one more search of the client at `ip`, or refuses it when that address has
    /// `per_client` in flight already.
    pub fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Ticket, ClientBusy> {
        let client = platform::net::limit_subject(ip);
        let mut s = self.lock();
        let counts = s.clients.entry(client.clone()).or_default();
        if counts.in_flight >= self.per_client {
            return Err(ClientBusy {
                limit: self.per_client,
            });
        }
        counts.in_flight += 1;
        s.in_flight += 1;
        self.gauge.set(s.in_flight as f64);
        s.next_id += 1;
        Ok(Ticket {
            turns: self.clone(),
            id: s.next_id,
            client,
            stage: Stage::Admitted,
        })
    }

    /// Searches admitted now, waiting or running.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }
}

impl State {
    /// Hands free turns to the waiting searches that come first.
    fn hand_over(&mut self) {
        while self.free > 0 {
            let clients = &self.clients;
            let rank = |w: &Waiter| {
                let c = clients.get(&w.client);
                (
                    c.map_or(0, |c| c.running),
                    c.map_or(0, |c| c.in_flight),
                    w.id,
                )
            };
            let Some(next) = (0..self.waiting.len()).min_by_key(|&i| rank(&self.waiting[i])) else {
                return;
            };
            let w = self.waiting.remove(next);
            self.free -= 1;
            if let Some(c) = self.clients.get_mut(&w.client) {
                c.running += 1;
            }
            w.woken.notify_one();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Admitted,
    Waiting,
    Running,
}

/// An admitted search; holds its turn once [`Ticket::turn`] returned, until dropped.
#[derive(Debug)]
pub struct Ticket {
    turns: Arc<Turns>,
    id: u64,
    client: Client,
    stage: Stage,
}

impl Ticket {
    /// Waits at most `timeout` for a turn.
    pub async fn turn(&mut self, timeout: Duration) -> Result<(), NoTurn> {
        let woken = Arc::new(Notify::new());
        {
            let mut s = self.turns.lock();
            if s.free > 0 && s.waiting.is_empty() {
                s.free -= 1;
                if let Some(c) = s.clients.get_mut(&self.client) {
                    c.running += 1;
                }
                self.stage = Stage::Running;
                return Ok(());
            }
            s.waiting.push(Waiter {
                id: self.id,
                client: self.client.clone(),
                woken: woken.clone(),
            });
            self.stage = Stage::Waiting;
        }
        let _ = tokio::time::timeout(timeout, woken.notified()).await;
        let mut s = self.turns.lock();
        match s.waiting.iter().position(|w| w.id == self.id) {
            Some(i) => {
                s.waiting.remove(i);
                self.stage = Stage::Admitted;
                Err(NoTurn)
            }
            // Handed over, possibly just as the wait timed out.
            None => {
                self.stage = Stage::Running;
                Ok(())
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut s = self.turns.lock();
        let mut running = self.stage == Stage::Running;
        if self.stage == Stage::Waiting {
            // Gone while waiting (the client went away): out of the queue, or, if a turn
            // was handed over meanwhile, the turn goes back.
            match s.waiting.iter().position(|w| w.id == self.id) {
                Some(i) => {
                    s.waiting.remove(i);
                }
                None => running = true,
            }
        }
        if let Some(c) = s.clients.get_mut(&self.client) {
            c.in_flight -= 1;
            if running {
                c.running -= 1;
            }
            if c.in_flight == 0 {
                s.clients.remove(&self.client);
            }
        }
        s.in_flight -= 1;
        self.turns.gauge.set(s.in_flight as f64);
        if running {
            s.free += 1;
            s.hand_over();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn an_address_has_at_most_its_bound_in_flight_and_ipv6_counts_per_64() {
        let turns = Turns::new(1, 2, Gauge::noop());
        let a = [turns.admit(ip("192.0.2.1")), turns.admit(ip("192.0.2.1"))];
        assert!(a.iter().all(Result::is_ok));
        assert_eq!(
            turns.admit(ip("192.0.2.1")).unwrap_err(),
            ClientBusy { limit: 2 }
        );
        assert!(turns.admit(ip("192.0.2.2")).is_ok());
        let v6 = turns.admit(ip("2001:db8::1")).unwrap();
        let v6b = turns.admit(ip("2001:db8::ffff:1")).unwrap();
        assert!(turns.admit(ip("2001:db8::2:0:0:1")).is_err());
        assert!(turns.admit(ip("2001:db8:0:1::1")).is_ok());
        drop(v6);
        assert!(turns.admit(ip("2001:db8::3")).is_ok());
        drop((a, v6b));
        assert_eq!(turns.in_flight(), 0);
        assert!(turns.lock().clients.is_empty());
    }

    #[tokio::test]
    async fn a_freed_turn_goes_to_the_address_with_the_fewest_searches() {
        let turns = Turns::new(1, 10, Gauge::noop());
        let mut running = turns.admit(ip("192.0.2.1")).unwrap();
        running.turn(WAIT).await.unwrap();
        // A flooding address queues three; another address asks once, later.
        let mut flood = Vec::new();
        for _ in 0..3 {
            let mut t = turns.admit(ip("192.0.2.1")).unwrap();
            flood.push(tokio::spawn(async move { t.turn(WAIT).await.map(|()| t) }));
        }
        tokio::task::yield_now().await;
        while turns.lock().waiting.len() < 3 {
            tokio::task::yield_now().await;
        }
        let mut other = turns.admit(ip("198.51.100.7")).unwrap();
        let other_turn = tokio::spawn(async move { other.turn(WAIT).await.map(|()| other) });
        while turns.lock().waiting.len() < 4 {
            tokio::task::yield_now().await;
        }
        drop(running);
        let other = other_turn.await.unwrap().unwrap();
        assert_eq!(turns.lock().free, 0);
        assert_eq!(turns.lock().waiting.len(), 3);
        drop(other);
        for t in flood {
            drop(t.await.unwrap().unwrap());
        }
        assert_eq!(turns.lock().free, 1);
        assert_eq!(turns.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_wait_that_times_out_or_is_dropped_leaves_no_trace() {
        let turns = Turns::new(1, 10, Gauge::noop());
        let mut held = turns.admit(ip("192.0.2.1")).unwrap();
        held.turn(WAIT).await.unwrap();
        let mut late = turns.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(late.turn(Duration::from_millis(10)).await, Err(NoTurn));
        assert!(turns.lock().waiting.is_empty());
        drop(late);
        let mut gone = turns.admit(ip("192.0.2.3")).unwrap();
        let waiting = tokio::spawn(async move { gone.turn(WAIT).await });
        while turns.lock().waiting.is_empty() {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        let _ = waiting.await;
        assert!(turns.lock().waiting.is_empty());
        drop(held);
        let s = turns.lock();
        assert_eq!((s.free, s.clients.len()), (1, 0));
    }
}
