//! `futex(2)` after kernel/futex (`futex_wait`, `futex_wake`,
//! `futex_wake_op`, `futex_requeue`) for tasks that are processes: every
//! task has its own address space, so a waiter can only be woken by
//! another process through memory both map (a shared key, by physical
//! address), by a signal, or by its timeout.
//!
//! A waiter is queued on its key (`FUTEX_PRIVATE_FLAG`: the address in its
//! own address space; otherwise the physical address, as Linux's
//! `get_futex_key` keys shared mappings) and blocks. The scheduler
//! re-issues a blocked call; a re-issued `FUTEX_WAIT` does not look at the
//! word again (the waiter is already queued, as in Linux), it returns 0
//! once a wake reached it, `ETIMEDOUT` once its deadline passed, or blocks
//! on. A signal ends the wait as for any blocked call (`EINTR` or a
//! restart) and dequeues the waiter. When every task waits and none has a
//! deadline, the machine stops with a deadlock error where Linux would hang.
//!
//! The priority-inheritance lock operations work on the word's owner TID
//! (`FUTEX_LOCK_PI`, `FUTEX_LOCK_PI2`, `FUTEX_TRYLOCK_PI`,
//! `FUTEX_UNLOCK_PI`): a free word is taken, the owner taking it again is
//! `EDEADLK`, a word owned by another live task blocks (re-checked at each
//! re-issue, until its absolute timeout) or, for the trylock, is `EAGAIN`;
//! an owner that does not exist is `ESRCH`. Priorities do not exist here,
//! so nothing is inherited. The requeue-to-PI operations are `ENOSYS`.

use super::Machine;
use super::process::{Done, State};
use super::ret::{EAGAIN, EDEADLK, EFAULT, EINVAL, ENOSYS, EPERM, ESRCH, ETIMEDOUT};
use crate::abi::Abi;
use crate::time::Timespec;
use crate::uaccess::UserMemory;

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAKE_OP: u64 = 5;
const FUTEX_LOCK_PI: u64 = 6;
const FUTEX_UNLOCK_PI: u64 = 7;
const FUTEX_TRYLOCK_PI: u64 = 8;
const FUTEX_LOCK_PI2: u64 = 13;
/// The owner-TID bits of a PI futex word.
const FUTEX_TID_MASK: u32 = 0x3FFF_FFFF;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_PRIVATE_FLAG: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;
/// `FUTEX_BITSET_MATCH_ANY`.
const MATCH_ANY: u32 = u32::MAX;

/// What a futex word is known by: the waiter's address space and the
/// address in it for a private futex, the physical address otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// `FUTEX_PRIVATE_FLAG`: (pid, user address).
    Private(u32, u64),
    /// Shared: the physical address of the word.
    Shared(u64),
}

/// A task queued on a futex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waiter {
    /// The word it waits on.
    pub key: Key,
    /// `FUTEX_WAIT_BITSET`'s bitset (all ones for `FUTEX_WAIT`).
    pub bitset: u32,
    /// A wake reached it: the re-issued wait returns 0.
    pub woken: bool,
    /// The modeled cycle its timeout expires at.
    pub deadline: Option<u64>,
}

impl Machine {
    /// `futex(uaddr, op, val, timeout/val2, uaddr2, val3)`; `time64` for
    /// i386 `futex_time64` (a 64-bit `struct timespec`).
    pub(crate) fn sys_futex(&mut self, abi: Abi, a: &[u64; 6], time64: bool) -> Done {
        // `op` is an int: the upper half of the register is not part of it.
        let op = u64::from(a[1] as u32);
        let private = op & FUTEX_PRIVATE_FLAG != 0;
        let realtime = op & FUTEX_CLOCK_REALTIME != 0;
        let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
        if realtime && !matches!(cmd, FUTEX_WAIT_BITSET | FUTEX_WAIT | FUTEX_LOCK_PI2) {
            return Done::Return(ENOSYS);
        }
        let uaddr = abi.ulong(a[0]);
        let val = a[2] as u32;
        match cmd {
            FUTEX_WAIT | FUTEX_WAIT_BITSET => {
                let bitset = if cmd == FUTEX_WAIT {
                    MATCH_ANY
                } else {
                    a[5] as u32
                };
                // FUTEX_WAIT's timeout is relative (CLOCK_MONOTONIC);
                // FUTEX_WAIT_BITSET's absolute, on the clock the flag says.
                self.futex_wait(
                    uaddr,
                    val,
                    bitset,
                    private,
                    a[3],
                    cmd == FUTEX_WAIT,
                    realtime,
                    time64,
                )
            }
            FUTEX_WAKE | FUTEX_WAKE_BITSET => {
                let bitset = if cmd == FUTEX_WAKE {
                    MATCH_ANY
                } else {
                    a[5] as u32
                };
                if bitset == 0 {
                    return Done::Return(EINVAL);
                }
                match self.futex_key(uaddr, private) {
                    Ok(k) => Done::Return(self.futex_wake(k, bitset, val as i32, None)),
                    Err(e) => Done::Return(e),
                }
            }
            FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
                let uaddr2 = abi.ulong(a[4]);
                let (k1, k2) = match (
                    self.futex_key(uaddr, private),
                    self.futex_key(uaddr2, private),
                ) {
                    (Ok(k1), Ok(k2)) => (k1, k2),
                    (Err(e), _) | (_, Err(e)) => return Done::Return(e),
                };
                if (val as i32) < 0 || (a[3] as u32 as i32) < 0 {
                    return Done::Return(EINVAL);
                }
                if cmd == FUTEX_CMP_REQUEUE {
                    match self.futex_read(uaddr) {
                        Ok(cur) if cur == a[5] as u32 => {}
                        Ok(_) => return Done::Return(EAGAIN),
                        Err(e) => return Done::Return(e),
                    }
                }
                let requeue = (a[3] as u32 as i32, k2);
                Done::Return(self.futex_wake(k1, MATCH_ANY, val as i32, Some(requeue)))
            }
            FUTEX_WAKE_OP => {
                let uaddr2 = abi.ulong(a[4]);
                Done::Return(self.futex_wake_op(
                    uaddr,
                    uaddr2,
                    private,
                    val,
                    a[3] as u32,
                    a[5] as u32,
                ))
            }
            FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
                // LOCK_PI's timeout is on CLOCK_REALTIME, LOCK_PI2's on the
                // clock the flag names; both absolute.
                let realtime = realtime || cmd == FUTEX_LOCK_PI;
                self.futex_lock_pi(uaddr, a[3], cmd == FUTEX_TRYLOCK_PI, realtime, time64)
            }
            FUTEX_UNLOCK_PI => {
                if !uaddr.is_multiple_of(4) {
                    return Done::Return(EINVAL);
                }
                match self.futex_read(uaddr) {
                    Ok(v) if v & FUTEX_TID_MASK != self.current => Done::Return(EPERM),
                    Ok(_) => match self.user_memory().write(uaddr, &0u32.to_le_bytes()) {
                        Ok(()) => Done::Return(0),
                        Err(_) => Done::Return(EFAULT),
                    },
                    Err(e) => Done::Return(e),
                }
            }
            _ => Done::Return(ENOSYS),
        }
    }

    /// `futex_lock_pi`: takes the PI futex word at `uaddr` for the caller.
    fn futex_lock_pi(
        &mut self,
        uaddr: u64,
        timeout: u64,
        try_only: bool,
        realtime: bool,
        time64: bool,
    ) -> Done {
        if !uaddr.is_multiple_of(4) {
            return Done::Return(EINVAL);
        }
        let me = self.current;
        let word = match self.futex_read(uaddr) {
            Ok(v) => v,
            Err(e) => return Done::Return(e),
        };
        let owner = word & FUTEX_TID_MASK;
        if owner == 0 {
            // Free: take it, keeping the other bits (FUTEX_WAITERS).
            let v = (word & !FUTEX_TID_MASK) | me;
            if let Some(t) = self.tasks.get_mut(&me) {
                t.sleep_until = None;
            }
            return match self.user_memory().write(uaddr, &v.to_le_bytes()) {
                Ok(()) => Done::Return(0),
                Err(_) => Done::Return(EFAULT),
            };
        }
        if owner == me {
            return Done::Return(EDEADLK);
        }
        if !self.tasks.contains_key(&owner) {
            return Done::Return(ESRCH);
        }
        if try_only {
            return Done::Return(EAGAIN);
        }
        if timeout != 0 {
            let ts = match self.futex_timespec(timeout, time64) {
                Ok(ts) => ts,
                Err(e) => return Done::Return(e),
            };
            let clock = &self.personality.clock;
            let deadline = if realtime {
                clock.cycle_at_realtime(ts)
            } else {
                clock.cycle_at_monotonic(ts)
            };
            if self.vcpu.cpu.cycles >= deadline {
                if let Some(t) = self.tasks.get_mut(&me) {
                    t.sleep_until = None;
                }
                return Done::Return(ETIMEDOUT);
            }
            if let Some(t) = self.tasks.get_mut(&me) {
                t.sleep_until = Some(deadline);
            }
        }
        // Re-issued (and the word checked again) until the owner lets go.
        Done::Block
    }

    /// The key of the word at `uaddr` (which must be 4-byte aligned).
    fn futex_key(&mut self, uaddr: u64, private: bool) -> Result<Key, i64> {
        if !uaddr.is_multiple_of(4) {
            return Err(EINVAL);
        }
        if private {
            return Ok(Key::Private(self.current, uaddr));
        }
        let t = self.tasks.get(&self.current).ok_or(EFAULT)?;
        match t.mm.lookup(uaddr) {
            Some((pa, _)) => Ok(Key::Shared(pa)),
            None => Err(EFAULT),
        }
    }

    /// The futex word at `uaddr`.
    fn futex_read(&mut self, uaddr: u64) -> Result<u32, i64> {
        let mut b = [0u8; 4];
        self.user_memory().read(uaddr, &mut b).map_err(|_| EFAULT)?;
        Ok(u32::from_le_bytes(b))
    }

    /// `futex_wait`: queues the caller on the word at `uaddr` if it still
    /// holds `val`, or answers the re-issue of a queued wait.
    #[allow(clippy::too_many_arguments)]
    fn futex_wait(
        &mut self,
        uaddr: u64,
        val: u32,
        bitset: u32,
        private: bool,
        timeout: u64,
        relative: bool,
        realtime: bool,
        time64: bool,
    ) -> Done {
        let pid = self.current;
        let now = self.vcpu.cpu.cycles;
        if let Some(w) = self.tasks.get(&pid).and_then(|t| t.futex) {
            // Re-issued while queued.
            let (woken, expired) = (w.woken, w.deadline.is_some_and(|d| now >= d));
            if woken || expired {
                if let Some(t) = self.tasks.get_mut(&pid) {
                    t.futex = None;
                    t.sleep_until = None;
                }
                return Done::Return(if woken { 0 } else { ETIMEDOUT });
            }
            return Done::Block;
        }
        if bitset == 0 {
            return Done::Return(EINVAL);
        }
        let key = match self.futex_key(uaddr, private) {
            Ok(k) => k,
            Err(e) => return Done::Return(e),
        };
        let deadline = if timeout == 0 {
            None
        } else {
            let ts = match self.futex_timespec(timeout, time64) {
                Ok(ts) => ts,
                Err(e) => return Done::Return(e),
            };
            let clock = &self.personality.clock;
            Some(if relative {
                now.saturating_add(clock.cycles_for(ts))
            } else if realtime {
                clock.cycle_at_realtime(ts)
            } else {
                clock.cycle_at_monotonic(ts)
            })
        };
        match self.futex_read(uaddr) {
            Ok(cur) if cur == val => {}
            Ok(_) => return Done::Return(EAGAIN),
            Err(e) => return Done::Return(e),
        }
        if deadline.is_some_and(|d| now >= d) {
            return Done::Return(ETIMEDOUT);
        }
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.futex = Some(Waiter {
                key,
                bitset,
                woken: false,
                deadline,
            });
            // The scheduler moves the modeled clock to the earliest
            // deadline when every task is blocked.
            t.sleep_until = deadline;
        }
        Done::Block
    }

    /// A user `struct timespec` (64-bit fields for the x86_64 ABI and
    /// `futex_time64`, 32-bit otherwise); `EINVAL` when not normalized.
    fn futex_timespec(&mut self, addr: u64, time64: bool) -> Result<Timespec, i64> {
        let wide = time64 || self.tasks.get(&self.current).is_some_and(|t| t.bits == 64);
        let (sec, nsec) = if wide {
            let mut b = [0u8; 16];
            self.user_memory().read(addr, &mut b).map_err(|_| EFAULT)?;
            let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or_default());
            let nsec = i64::from_le_bytes(b[8..].try_into().unwrap_or_default());
            (sec, nsec)
        } else {
            let mut b = [0u8; 8];
            self.user_memory().read(addr, &mut b).map_err(|_| EFAULT)?;
            let sec = i32::from_le_bytes(b[..4].try_into().unwrap_or_default());
            let nsec = i32::from_le_bytes(b[4..].try_into().unwrap_or_default());
            (i64::from(sec), i64::from(nsec))
        };
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(EINVAL);
        }
        Ok(Timespec {
            sec,
            nsec: nsec as u32,
        })
    }

    /// Wakes up to `n` waiters on `key` whose bitset meets `bitset`
    /// (`futex_wake` wakes at least one, if any waits, whatever `n`); with
    /// `requeue`, wakes up to `n` (possibly none) and moves up to that many
    /// of the rest to the other key. Returns how many were woken (plus, for
    /// a requeue, moved, as `futex_requeue` counts). Only tasks still
    /// blocked in their wait count (not one that has ended).
    fn futex_wake(&mut self, key: Key, bitset: u32, n: i32, requeue: Option<(i32, Key)>) -> i64 {
        let at_least_one = requeue.is_none();
        let mut woken = 0i64;
        let mut moved = 0i64;
        for t in self.tasks.values_mut() {
            if t.state != State::Blocked {
                continue;
            }
            let Some(w) = t.futex.as_mut() else { continue };
            if w.key != key || w.woken || w.bitset & bitset == 0 {
                continue;
            }
            if (at_least_one && woken == 0) || woken < i64::from(n) {
                w.woken = true;
                woken += 1;
            } else if let Some((max, to)) = requeue
                && moved < i64::from(max)
            {
                w.key = to;
                moved += 1;
            }
        }
        woken + moved
    }

    /// `futex_wake_op`: applies the operation encoded in `val3` to the word
    /// at `uaddr2`, wakes up to `n` waiters on `uaddr` and, when the
    /// comparison of the old value holds, up to `n2` on `uaddr2`.
    fn futex_wake_op(
        &mut self,
        uaddr: u64,
        uaddr2: u64,
        private: bool,
        n: u32,
        n2: u32,
        val3: u32,
    ) -> i64 {
        let (k1, k2) = match (
            self.futex_key(uaddr, private),
            self.futex_key(uaddr2, private),
        ) {
            (Ok(k1), Ok(k2)) => (k1, k2),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let op = (val3 >> 28) & 0xF;
        let cmp = (val3 >> 24) & 0xF;
        // 12-bit signed arguments.
        let mut oparg = (((val3 >> 12) & 0xFFF) as i32) << 20 >> 20;
        let cmparg = ((val3 & 0xFFF) as i32) << 20 >> 20;
        if op & 8 != 0 {
            // FUTEX_OP_OPARG_SHIFT (an out-of-range shift is masked, as
            // Linux does after warning).
            oparg = 1 << (oparg & 31);
        }
        let old = match self.futex_read(uaddr2) {
            Ok(v) => v as i32,
            Err(e) => return e,
        };
        let new = match op & 7 {
            0 => oparg,
            1 => old.wrapping_add(oparg),
            2 => old | oparg,
            3 => old & !oparg,
            4 => old ^ oparg,
            _ => return ENOSYS,
        };
        let holds = match cmp {
            0 => old == cmparg,
            1 => old != cmparg,
            2 => old < cmparg,
            3 => old <= cmparg,
            4 => old > cmparg,
            5 => old >= cmparg,
            _ => return ENOSYS,
        };
        if self
            .user_memory()
            .write(uaddr2, &(new as u32).to_le_bytes())
            .is_err()
        {
            return EFAULT;
        }
        let mut woken = self.futex_wake(k1, MATCH_ANY, n as i32, None);
        if holds {
            woken += self.futex_wake(k2, MATCH_ANY, n2 as i32, None);
        }
        woken
    }
}
