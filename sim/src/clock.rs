//! Simulated time. The sim runs at real speed by default; tests speed it up.
//!
//! Simulated time starts at the wall clock when the clock is made and then advances
//! `speed` times faster than real time. Every timestamp the sim writes into an object
//! is simulated time, so durations read from the objects are simulated durations.

use std::time::{Duration, Instant};

use jiff::Timestamp;

#[derive(Clone, Debug)]
pub struct SimClock {
    start_wall: Timestamp,
    start: Instant,
    speed: f64,
}

impl SimClock {
    /// A clock running `speed` times faster than real time (`speed` >= 0.001).
    pub fn new(speed: f64) -> Self {
        Self { start_wall: Timestamp::now(), start: Instant::now(), speed: speed.max(0.001) }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Simulated time elapsed since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed().mul_f64(self.speed)
    }

    /// The simulated now.
    pub fn now(&self) -> Timestamp {
        let d = jiff::SignedDuration::try_from(self.elapsed()).unwrap_or(jiff::SignedDuration::ZERO);
        self.start_wall.checked_add(d).unwrap_or(self.start_wall)
    }

    /// The simulated now as Kubernetes writes `metav1.Time`: RFC 3339, second precision, `Z`.
    pub fn now_rfc3339(&self) -> String {
        format_time(self.now())
    }

    /// Real time that corresponds to a simulated duration.
    pub fn to_real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.speed)
    }

    /// Sleeps for a simulated duration.
    pub async fn sleep(&self, simulated: Duration) {
        tokio::time::sleep(self.to_real(simulated)).await
    }
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new(1.0)
    }
}

/// `metav1.Time` serialisation: RFC 3339 with second precision in UTC.
pub fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format_is_second_precision_utc() {
        let t: Timestamp = "2025-06-20T10:15:00.789Z".parse().unwrap();
        assert_eq!(format_time(t), "2025-06-20T10:15:00Z");
    }

    #[test]
    fn speed_scales_real_durations() {
        let c = SimClock::new(10.0);
        assert_eq!(c.to_real(Duration::from_secs(10)), Duration::from_secs(1));
    }
}
