use std::time::{Duration, SystemTime};

/// The time attestation is checked at; injectable so tests can travel.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The system time shifted by a fixed amount (negative: the past).
pub struct FixedOffsetClock {
    pub offset_s: i64,
}

impl Clock for FixedOffsetClock {
    fn now(&self) -> SystemTime {
        let d = Duration::from_secs(self.offset_s.unsigned_abs());
        if self.offset_s >= 0 {
            SystemTime::now() + d
        } else {
            SystemTime::now() - d
        }
    }
}
