//! Capped exponential backoff with jitter for reconnects.

use std::time::Duration;

/// Delays of 100 ms doubling to a 5 s cap, each ±20 %.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    rng: u64,
}

const FIRST: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_secs(5);

impl Default for Backoff {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Backoff {
            next: FIRST,
            rng: seed,
        }
    }
}

impl Backoff {
    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        // xorshift64: cheap, good enough for jitter.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let jitter = 0.8 + 0.4 * ((self.rng % 10_000) as f64 / 10_000.0);
        let delay = self.next.mul_f64(jitter);
        self.next = (self.next * 2).min(CAP);
        delay
    }

    /// After a successful connection.
    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::default();
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(80) && first <= Duration::from_millis(120));
        for _ in 0..20 {
            assert!(b.next_delay() <= CAP.mul_f64(1.2));
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(120));
    }
}
