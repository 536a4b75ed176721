//! Bandwidth caps (`net_set_max_speed`, `net_options.max_speed`) and the
//! share of a cap each running transfer gets by its priority.
//!
//! netdl paces transfers itself rather than with libcurl's
//! `CURLOPT_MAX_RECV_SPEED_LARGE`: libcurl 8.22 hands out a whole second
//! of allowance at the start of each one-second step, so a download runs
//! ahead of its cap by up to a second's worth (50 MiB at 5 MiB/s ends in
//! about 9 s), beyond the 5 % netdl promises over 10 s.
//!
//! Each running transfer has a token bucket (`Gate`) filled at its rate,
//! holding at most `BURST` of it (at least `MIN_BURST`). The write callback
//! asks it before taking a chunk of body (libcurl hands at most 16 KiB at
//! a time): with tokens left it takes the whole chunk (the bucket may go
//! below zero by that chunk); with none it pauses the transfer
//! (`CURL_WRITEFUNC_PAUSE`: libcurl keeps the chunk, stops reading the
//! socket, and hands the chunk again once unpaused) until `QUANTUM` of its
//! rate has accrued. The network thread unpauses due transfers each turn
//! (`Pace::tick`) and wakes for the next one (`Pace::wait`). Over any
//! interval a transfer takes at most its rate times the interval, plus
//! one burst and one chunk; a transfer that always has data waiting takes
//! exactly its rate in the long run.
//!
//! Shares (`Pace::plan`), recomputed every `PLAN_EVERY` while a cap
//! applies, and at the next turn when a transfer starts or ends, the cap
//! or a priority changes:
//! - Without a global cap, a request with its own `max_speed` gets it; the
//!   others are not paced at all (the write callback costs one branch).
//! - With a global cap C, the running requests share C by weight:
//!   weight = 1 + priority − the lowest priority among running requests
//!   (equal priorities split evenly; priorities 0, 1, 2, 3 get 1/10, 2/10,
//!   3/10, 4/10). A request never gets more than its own `max_speed`, nor
//!   more than it can use: one that did not have to pause during the last
//!   `WINDOW` to `2 × WINDOW` (it is limited elsewhere: its server, its
//!   connection) is given what it took then plus `HEADROOM` (a quarter,
//!   and at least `MIN_HEADROOM`), and what it leaves is shared among the
//!   others by the same rule (water-filling). Once it has to pause again
//!   it gets its full share at the next plan.
//! - A segmented download (several connections of one request) splits its
//!   request's share among its connections the same way, with equal
//!   weights.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use curl::easy::Easy2;
use curl::multi::Easy2Handle;

use super::transfer::Transfer;

/// Shares are recomputed this often while a cap applies.
const PLAN_EVERY: Duration = Duration::from_millis(200);
/// A transfer's rate is measured over at least this (at most twice this).
const WINDOW: Duration = Duration::from_millis(250);
/// What a transfer may take at once after a quiet spell: this much of its
/// rate, and at least `MIN_BURST` bytes (one chunk of libcurl's).
const BURST: f64 = 0.1;
const MIN_BURST: f64 = 16_384.0;
/// A paused transfer goes on once this much of its rate accrued (fewer
/// wake-ups than going on at the first token), at least `MIN_BURST`.
const QUANTUM: f64 = 0.02;
/// Above its measured rate, what a transfer that did not use its share is
/// given: a quarter more, and at least this many bytes per second.
const HEADROOM: f64 = 0.25;
const MIN_HEADROOM: f64 = 32_768.0;

/// One transfer's token bucket (a field of `Transfer`).
#[derive(Debug)]
pub struct Gate {
    /// The request's priority (changed by `net_set_priority`). Only the
    /// request's own transfer's counts: its helpers follow it.
    pub priority: i32,
    /// Bytes per second; 0: not paced.
    rate: u64,
    /// Bytes it may take now; below zero after a chunk larger than them.
    tokens: f64,
    /// When `tokens` was counted.
    counted: Option<Instant>,
    /// Paused by pacing until then.
    resume_at: Option<Instant>,
    /// When it last had to pause.
    paused: Option<Instant>,
    /// Body bytes taken while paced.
    taken: u64,
    /// Two marks (time, `taken`), older first, that its rate is measured
    /// from; None until paced.
    marks: Option<[(Instant, u64); 2]>,
}

impl Gate {
    pub fn new(priority: i32) -> Gate {
        Gate {
            priority,
            rate: 0,
            tokens: 0.0,
            counted: None,
            resume_at: None,
            paused: None,
            taken: 0,
            marks: None,
        }
    }

    /// The write callback's question before it takes `len` bytes of body:
    /// true to take them, false to pause the transfer (its chunk is handed
    /// again once `Pace::tick` unpauses it).
    #[inline]
    pub fn admit(&mut self, len: usize) -> bool {
        if self.rate == 0 || len == 0 {
            return true;
        }
        self.admit_paced(Instant::now(), len)
    }

    fn admit_paced(&mut self, now: Instant, len: usize) -> bool {
        if self.resume_at.is_some() {
            return false; // still paused (libcurl does not call then)
        }
        self.count(now);
        if self.tokens <= 0.0 {
            self.paused = Some(now);
            self.resume_at = Some(now + self.refill_time());
            return false;
        }
        self.tokens -= len as f64;
        self.taken += len as u64;
        true
    }

    /// Adds the tokens accrued since they were last counted.
    fn count(&mut self, now: Instant) {
        let since = self
            .counted
            .map_or(Duration::ZERO, |c| now.duration_since(c));
        self.counted = Some(now);
        let rate = self.rate as f64;
        self.tokens = (self.tokens + since.as_secs_f64() * rate).min(self.burst());
    }

    /// The most tokens the bucket holds.
    fn burst(&self) -> f64 {
        (self.rate as f64 * BURST).max(MIN_BURST)
    }

    /// How long until `QUANTUM` of its rate (at least `MIN_BURST`) is in
    /// the bucket.
    fn refill_time(&self) -> Duration {
        let rate = self.rate as f64;
        let target = (rate * QUANTUM).max(MIN_BURST).min(self.burst());
        let secs = (target - self.tokens) / rate;
        Duration::try_from_secs_f64(secs.clamp(0.0, 3600.0)).unwrap_or(Duration::ZERO)
    }

    /// Sets the rate (0: not paced) from `now` on; a paused transfer's
    /// time to go on follows it.
    fn set_rate(&mut self, now: Instant, rate: u64) {
        if rate == self.rate {
            return;
        }
        if self.rate == 0 {
            // Paced from now: an empty bucket, a fresh measure.
            self.tokens = 0.0;
            self.marks = Some([(now, self.taken); 2]);
        } else {
            self.count(now);
        }
        self.counted = Some(now);
        self.rate = rate;
        // A lower rate does not inherit the higher one's burst.
        self.tokens = self.tokens.min(self.burst());
        if rate == 0 {
            self.marks = None;
        }
        if self.resume_at.is_some() {
            self.resume_at = Some(match rate {
                0 => now,
                _ => now + self.refill_time(),
            });
        }
    }

    /// What this transfer can use, in bytes per second, as of `now`
    /// (`f64::INFINITY`: more than it has); moves its measuring window.
    fn demand(&mut self, now: Instant) -> f64 {
        let Some([old, new]) = self.marks else {
            return f64::INFINITY; // not paced: not measured
        };
        if now.duration_since(new.0) >= WINDOW {
            self.marks = Some([new, (now, self.taken)]);
        }
        let span = now.duration_since(old.0);
        let limited = self.paused.is_some_and(|p| p >= old.0) || self.resume_at.is_some();
        if span < WINDOW || limited {
            return f64::INFINITY;
        }
        let rate = (self.taken - old.1) as f64 / span.as_secs_f64();
        rate + (rate * HEADROOM).max(MIN_HEADROOM)
    }
}

/// The caps the network thread applies.
#[derive(Debug, Default)]
pub struct Pace {
    /// Bytes per second for all transfers together; 0: none.
    max_speed: u64,
    /// Some transfer is paced (or may be): `tick` has work each turn.
    on: bool,
    /// Shares are recomputed at the next turn.
    dirty: bool,
    /// When they are recomputed next (while `on`).
    next_plan: Option<Instant>,
    /// How many transfers ran at the last plan (one ending changes it).
    planned: usize,
}

impl Pace {
    pub fn set_max_speed(&mut self, bytes_per_second: u64) {
        self.max_speed = bytes_per_second;
        self.dirty = true;
    }

    /// `net_set_priority` of a request that left the backlog (`gate`: its
    /// own transfer's).
    pub fn set_priority(&mut self, gate: &mut Gate, priority: i32) {
        gate.priority = priority;
        self.dirty = true;
    }

    /// An attempt of `t` is about to start: its bucket starts empty, and
    /// shares are recomputed before it receives a byte when a cap applies.
    pub fn starting(&mut self, t: &mut Transfer) {
        let g = &mut t.gate;
        g.resume_at = None;
        g.paused = None;
        g.tokens = g.tokens.min(0.0);
        g.marks = g.marks.map(|_| [(Instant::now(), g.taken); 2]);
        if self.max_speed > 0 || t.req.extra().fetch.max_speed > 0 {
            self.dirty = true;
        }
    }

    /// Once per turn of the network loop, before `perform`: recomputes
    /// the shares when due, unpauses the transfers whose time has come.
    /// A transfer paused by pacing is not idle: its inactivity timeout
    /// starts again.
    pub fn tick(
        &mut self,
        running: &mut HashMap<u64, Easy2Handle<Transfer>>,
        parked: &HashMap<u64, Easy2<Transfer>>,
    ) {
        if !self.on && !self.dirty {
            return;
        }
        let now = Instant::now();
        let due = self.next_plan.is_some_and(|t| t <= now);
        if self.dirty || due || running.len() != self.planned {
            self.plan(now, running, parked);
        }
        for h in running.values_mut() {
            let t = h.get_mut();
            let Some(at) = t.gate.resume_at else { continue };
            t.last_activity = now;
            if at <= now {
                t.gate.resume_at = None;
                // Fails only for a handle without a connection, which
                // has nothing to unpause.
                let _ = h.unpause_write();
            }
        }
    }

    /// How long the network thread may sleep before `tick` has work:
    /// until the next plan or the first paused transfer's time, rounded
    /// up to a millisecond (the sleep's unit); forever with nothing
    /// running (`tick` runs only with transfers, so a cap alone must not
    /// keep the thread awake).
    pub fn wait(&self, now: Instant, running: &HashMap<u64, Easy2Handle<Transfer>>) -> Duration {
        if !self.on || running.is_empty() {
            return Duration::MAX;
        }
        let resume = running.values().filter_map(|h| h.get_ref().gate.resume_at);
        let Some(first) = self.next_plan.into_iter().chain(resume).min() else {
            return Duration::MAX;
        };
        let wait = first.saturating_duration_since(now);
        Duration::from_millis(u64::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u64::MAX))
    }

    /// Recomputes every running transfer's rate (see the module doc).
    fn plan(
        &mut self,
        now: Instant,
        running: &mut HashMap<u64, Easy2Handle<Transfer>>,
        parked: &HashMap<u64, Easy2<Transfer>>,
    ) {
        // The requests running, with their connections (a segmented
        // download has several).
        let mut requests: Vec<Running> = Vec::new();
        let mut index: HashMap<u64, usize> = HashMap::new();
        for (&token, h) in running.iter_mut() {
            let t = h.get_mut();
            let demand = t.gate.demand(now);
            let i = *index.entry(t.id).or_insert_with(|| {
                requests.push(Running {
                    priority: t.gate.priority,
                    max_speed: t.req.extra().fetch.max_speed,
                    conns: Vec::new(),
                });
                requests.len() - 1
            });
            requests[i].conns.push((token, demand));
        }
        // The request's own transfer has its priority; it may be parked
        // while its helpers run.
        for (id, &i) in &index {
            let own = match running.get(id) {
                Some(h) => Some(h.get_ref().gate.priority),
                None => parked.get(id).map(|e| e.get_ref().gate.priority),
            };
            if let Some(p) = own {
                requests[i].priority = p;
            }
        }
        let shares: Vec<f64> = if self.max_speed > 0 {
            let lowest = requests.iter().map(|r| r.priority).min().unwrap_or(0);
            let parts: Vec<(f64, f64)> = (requests.iter())
                .map(|r| (r.weight(lowest), r.demand()))
                .collect();
            fill(self.max_speed as f64, &parts)
        } else {
            (requests.iter())
                .map(|r| match r.max_speed {
                    0 => 0.0,
                    m => m as f64,
                })
                .collect()
        };
        let mut paced = false;
        for (r, share) in requests.iter().zip(shares) {
            let parts: Vec<(f64, f64)> = r.conns.iter().map(|&(_, d)| (1.0, d)).collect();
            let rates = fill(share, &parts);
            for (&(token, _), rate) in r.conns.iter().zip(rates) {
                // At least 1 byte per second: 0 means not paced.
                let rate = if share > 0.0 { (rate as u64).max(1) } else { 0 };
                paced |= rate > 0;
                if let Some(h) = running.get_mut(&token) {
                    h.get_mut().gate.set_rate(now, rate);
                }
            }
        }
        self.on = paced || self.max_speed > 0;
        self.dirty = false;
        self.planned = running.len();
        self.next_plan = self.on.then(|| now + PLAN_EVERY);
    }
}

/// A running request, for `Pace::plan`.
struct Running {
    priority: i32,
    max_speed: u64,
    /// Its connections: token and what each can use (`Gate::demand`).
    conns: Vec<(u64, f64)>,
}

impl Running {
    /// 1 + priority − `lowest`.
    fn weight(&self, lowest: i32) -> f64 {
        1.0 + (i64::from(self.priority) - i64::from(lowest)) as f64
    }

    /// What it can use: its connections' together, within its own cap.
    fn demand(&self) -> f64 {
        let sum: f64 = self.conns.iter().map(|&(_, d)| d).sum();
        match self.max_speed {
            0 => sum,
            m => sum.min(m as f64),
        }
    }
}

/// Splits `total` among parts given as (weight, demand): each gets
/// `total × weight / Σ weights`, except that a part whose demand is below
/// that gets its demand and the rest is split again among the others
/// (water-filling). What nobody can use stays unused.
fn fill(total: f64, parts: &[(f64, f64)]) -> Vec<f64> {
    let mut shares = vec![0.0; parts.len()];
    let mut open: Vec<usize> = (0..parts.len()).collect();
    let mut left = total;
    while !open.is_empty() {
        let weights: f64 = open.iter().map(|&i| parts[i].0).sum();
        let level = left / weights;
        let (full, short): (Vec<usize>, Vec<usize>) = open
            .iter()
            .partition(|&&i| parts[i].1 <= level * parts[i].0);
        if full.is_empty() {
            for i in short {
                shares[i] = level * parts[i].0;
            }
            break;
        }
        for i in full {
            shares[i] = parts[i].1;
            left -= parts[i].1;
        }
        open = short;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
    }

    /// Rule: the cap is split by weight; a part that can use less gets
    /// what it can use, the rest goes to the others by weight; what nobody
    /// can use stays unused.
    #[test]
    fn water_filling() {
        assert!(close(
            &fill(100.0, &[(1.0, INF), (1.0, INF)]),
            &[50.0, 50.0]
        ));
        let by_priority = fill(100.0, &[(1.0, INF), (2.0, INF), (3.0, INF), (4.0, INF)]);
        assert!(close(&by_priority, &[10.0, 20.0, 30.0, 40.0]));
        // The first can use 5 of its 25: the others share 95 by weight.
        let short = fill(100.0, &[(1.0, 5.0), (1.0, INF), (2.0, INF), (1.0, INF)]);
        assert!(close(&short, &[5.0, 23.75, 47.5, 23.75]));
        // A second round: 40 fits the first level (50) but not the second.
        let two = fill(100.0, &[(1.0, 10.0), (1.0, 40.0), (1.0, INF)]);
        assert!(close(&two, &[10.0, 40.0, 50.0]));
        assert!(close(
            &fill(100.0, &[(1.0, 10.0), (3.0, 20.0)]),
            &[10.0, 20.0]
        ));
        assert!(fill(100.0, &[]).is_empty());
    }

    /// Rule: with nothing running, a cap never shortens the network
    /// thread's sleep (it would spin: `tick` only runs with transfers).
    #[test]
    fn nothing_running_nothing_to_wait_for() {
        let mut pace = Pace::default();
        pace.set_max_speed(1 << 20);
        let (mut running, parked) = (HashMap::new(), HashMap::new());
        pace.tick(&mut running, &parked);
        assert!(pace.on && pace.next_plan.is_some());
        let later = Instant::now() + Duration::from_secs(1);
        assert_eq!(pace.wait(later, &running), Duration::MAX);
    }

    /// Rule: a transfer offered bytes as fast as it takes them takes at
    /// most its rate times the time plus one burst and one chunk, at least
    /// its rate minus one quantum, and pauses until a quantum accrued.
    #[test]
    fn bucket_holds_the_rate() {
        const CHUNK: usize = 16_384;
        let mut g = Gate::new(0);
        assert!(g.admit(CHUNK), "not paced: always");
        let start = Instant::now();
        let rate = 1_000_000;
        g.set_rate(start, rate);
        // Simulated time: each chunk takes 10 µs to arrive.
        let (mut now, mut taken, mut pauses) = (start, 0u64, 0);
        while now < start + Duration::from_secs(3) {
            now += Duration::from_micros(10);
            match g.resume_at {
                Some(at) if at <= now => g.resume_at = None,
                Some(_) => continue,
                None => {}
            }
            if g.admit_paced(now, CHUNK) {
                taken += CHUNK as u64;
            } else {
                pauses += 1;
                // Until a quantum (20 ms of the rate) is back, after a
                // debt of at most one chunk.
                let wait = g.resume_at.unwrap() - now;
                let most = (0.02 * rate as f64 + CHUNK as f64) / rate as f64;
                assert!(wait.as_secs_f64() <= most + 1e-6, "{wait:?}");
            }
        }
        let ideal = rate as f64 * (now - start).as_secs_f64();
        let taken = taken as f64;
        assert!(
            taken <= ideal + MIN_BURST + CHUNK as f64,
            "{taken} > {ideal}"
        );
        assert!(taken >= ideal - MIN_BURST, "{taken} < {ideal}");
        assert!(pauses <= 3 * 1_000_000 / CHUNK, "{pauses} pauses");
        // Without a rate, it goes on at once.
        g.admit_paced(now, CHUNK);
        g.set_rate(now, 0);
        assert_eq!(g.resume_at, Some(now));
    }
}
