//! The modeled clock: guest time derived from the modeled cycle counter.
//!
//! Guest time never comes from the host. The machine layer passes the
//! current modeled cycle count with every system call; [`Clock`] converts it
//! at a configured frequency (default [`DEFAULT_FREQ_HZ`], 3 GHz) into time
//! since boot (`CLOCK_MONOTONIC`, `CLOCK_BOOTTIME`) and, from a fixed boot
//! epoch (default [`DEFAULT_BOOT_EPOCH`], 2024-01-01T00:00:00Z), into wall
//! time (`CLOCK_REALTIME`). The same guest and inputs therefore see the
//! same times on every host and every run.

use serde::Serialize;

/// Default modeled CPU frequency: 3 GHz (a round figure near the base clock
/// of the Skylake-client parts the default cycle profile describes).
pub const DEFAULT_FREQ_HZ: u64 = 3_000_000_000;
/// Default wall-clock time at boot, in seconds since the Unix epoch:
/// 2024-01-01T00:00:00Z.
pub const DEFAULT_BOOT_EPOCH: i64 = 1_704_067_200;
/// Nanoseconds per second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;

/// A time value (`struct timespec`): seconds and nanoseconds (`< 1e9`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize)]
pub struct Timespec {
    /// Whole seconds.
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nsec: u32,
}

impl Timespec {
    /// Builds a timespec from a count of nanoseconds.
    pub const fn from_nanos(ns: u64) -> Timespec {
        Timespec {
            sec: (ns / NSEC_PER_SEC) as i64,
            nsec: (ns % NSEC_PER_SEC) as u32,
        }
    }

    /// Total nanoseconds, saturating; negative times give 0.
    pub fn as_nanos(self) -> u64 {
        if self.sec < 0 {
            return 0;
        }
        (self.sec as u64)
            .saturating_mul(NSEC_PER_SEC)
            .saturating_add(u64::from(self.nsec))
    }

    /// Microseconds within the second (`tv_usec` of a `struct timeval`).
    pub const fn usec(self) -> u32 {
        self.nsec / 1000
    }
}

/// Converts modeled cycles into guest time.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct Clock {
    /// Modeled CPU frequency in Hz (cycles per second); at least 1.
    pub freq_hz: u64,
    /// Wall-clock seconds since the Unix epoch at cycle 0 (boot).
    pub boot_epoch: i64,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            freq_hz: DEFAULT_FREQ_HZ,
            boot_epoch: DEFAULT_BOOT_EPOCH,
        }
    }
}

impl Clock {
    /// A clock at `freq_hz` (0 is treated as 1) starting at `boot_epoch`.
    pub fn new(freq_hz: u64, boot_epoch: i64) -> Clock {
        Clock {
            freq_hz: freq_hz.max(1),
            boot_epoch,
        }
    }

    fn freq(&self) -> u64 {
        self.freq_hz.max(1)
    }

    /// Time since boot after `cycles` modeled cycles (`CLOCK_MONOTONIC`).
    pub fn monotonic(&self, cycles: u64) -> Timespec {
        let f = self.freq();
        let sec = cycles / f;
        let rem = cycles % f;
        // rem < f, so rem * 1e9 fits in u128 and the quotient is < 1e9;
        // below 2^34 Hz it fits in u64 (2^34 * 1e9 < 2^64), which spares
        // every system call a 128-bit division.
        let nsec = if f < 1 << 34 {
            (rem * NSEC_PER_SEC / f) as u32
        } else {
            (u128::from(rem) * u128::from(NSEC_PER_SEC) / u128::from(f)) as u32
        };
        Timespec {
            sec: i64::try_from(sec).unwrap_or(i64::MAX),
            nsec,
        }
    }

    /// Wall-clock time after `cycles` modeled cycles (`CLOCK_REALTIME`).
    pub fn realtime(&self, cycles: u64) -> Timespec {
        let m = self.monotonic(cycles);
        Timespec {
            sec: m.sec.saturating_add(self.boot_epoch),
            nsec: m.nsec,
        }
    }

    /// The number of cycles that lasts at least `d` (rounded up), saturating.
    pub fn cycles_for(&self, d: Timespec) -> u64 {
        let ns = u128::from(d.as_nanos());
        let c = (ns * u128::from(self.freq())).div_ceil(u128::from(NSEC_PER_SEC));
        u64::try_from(c).unwrap_or(u64::MAX)
    }

    /// The cycle count at which monotonic time reaches `t` (rounded up).
    pub fn cycle_at_monotonic(&self, t: Timespec) -> u64 {
        self.cycles_for(t)
    }

    /// The cycle count at which wall-clock time reaches `t` (0 if `t` is
    /// before boot).
    pub fn cycle_at_realtime(&self, t: Timespec) -> u64 {
        let since = t.sec.checked_sub(self.boot_epoch).unwrap_or(i64::MIN);
        if since < 0 {
            return 0;
        }
        self.cycles_for(Timespec {
            sec: since,
            nsec: t.nsec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_gigahertz_conversions() {
        let c = Clock::default();
        assert_eq!(c.monotonic(0), Timespec { sec: 0, nsec: 0 });
        assert_eq!(c.monotonic(3), Timespec { sec: 0, nsec: 1 });
        assert_eq!(c.monotonic(3_000_000_000), Timespec { sec: 1, nsec: 0 });
        assert_eq!(
            c.monotonic(4_500_000_000),
            Timespec {
                sec: 1,
                nsec: 500_000_000
            }
        );
        assert_eq!(c.realtime(0).sec, DEFAULT_BOOT_EPOCH);
        assert_eq!(
            c.realtime(3_000_003_000),
            Timespec {
                sec: DEFAULT_BOOT_EPOCH + 1,
                nsec: 1000
            }
        );
        assert_eq!(c.realtime(3_000_003_000).usec(), 1);
        // No overflow at the end of the counter.
        let t = c.monotonic(u64::MAX);
        assert!(t.nsec < 1_000_000_000);
        assert_eq!(t.sec, (u64::MAX / 3_000_000_000) as i64);
    }

    #[test]
    fn durations_to_cycles_round_up() {
        let c = Clock::default();
        assert_eq!(c.cycles_for(Timespec { sec: 1, nsec: 0 }), 3_000_000_000);
        assert_eq!(c.cycles_for(Timespec { sec: 0, nsec: 1 }), 3);
        let odd = Clock::new(7, 0);
        assert_eq!(odd.cycles_for(Timespec { sec: 0, nsec: 1 }), 1);
        assert_eq!(
            c.cycles_for(Timespec {
                sec: i64::MAX,
                nsec: 999_999_999
            }),
            u64::MAX
        );
        assert_eq!(c.cycle_at_realtime(Timespec { sec: 0, nsec: 0 }), 0);
        assert_eq!(
            c.cycle_at_realtime(Timespec {
                sec: DEFAULT_BOOT_EPOCH + 2,
                nsec: 0
            }),
            6_000_000_000
        );
        assert_eq!(Clock::new(0, 0).monotonic(5).sec, 5);
    }

    #[test]
    fn timespec_helpers() {
        assert_eq!(
            Timespec::from_nanos(1_500_000_000),
            Timespec {
                sec: 1,
                nsec: 500_000_000
            }
        );
        assert_eq!(Timespec { sec: -1, nsec: 0 }.as_nanos(), 0);
        assert_eq!(
            Timespec {
                sec: i64::MAX,
                nsec: 0
            }
            .as_nanos(),
            u64::MAX
        );
    }
}
