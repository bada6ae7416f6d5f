//! Machine-layer calls on the address space and the real-time interval
//! timer: `mlock`/`mlock2`/`munlock`/`mlockall`/`munlockall`, `msync`,
//! `mincore` (mm/mlock.c, mm/msync.c, mm/mincore.c argument and range
//! checks against the task's mapped pages; the model never swaps, so
//! locking changes nothing and every mapped page is resident), and
//! `getitimer`/`setitimer`.
//!
//! `ITIMER_REAL` is `alarm`'s timer (`Signals::alarm_at`) at microsecond
//! precision. Its interval is kept (so `getitimer` reports it) but the
//! timer is not re-armed when it fires: periodic timers fire once
//! (documented simplification). `ITIMER_VIRTUAL` and `ITIMER_PROF` are
//! accepted and read back as disarmed (no CPU-time timers are modeled).

use super::Machine;
use super::ret::{EFAULT, EINVAL, ENOMEM};
use crate::abi::Abi;
use crate::uaccess::{self, UserMemory};

const PAGE: u64 = 4096;

impl Machine {
    /// The current task's user-space limit (`TASK_SIZE`; compat tasks end
    /// below the top page pair as on an x86_64 kernel).
    fn task_limit(&self) -> u64 {
        match self.tasks.get(&self.current) {
            Some(t) if t.bits == 32 => 0xFFFF_E000.min(self.user_limit()),
            _ => self.user_limit(),
        }
    }

    /// True if every page of `[start, end)` is mapped in the current task.
    fn all_mapped(&self, start: u64, end: u64) -> bool {
        let Some(t) = self.tasks.get(&self.current) else {
            return false;
        };
        let mut va = start;
        while va < end {
            if t.mm.lookup(va).is_none() {
                return false;
            }
            va += PAGE;
        }
        true
    }

    /// `mlock`/`munlock`/`mlock2` range: page-rounded around `addr`;
    /// `ENOMEM` if any page is unmapped or the range wraps.
    fn lock_range(&self, addr: u64, len: u64) -> i64 {
        let start = addr & !(PAGE - 1);
        let Some(end) = len
            .checked_add(addr & (PAGE - 1))
            .and_then(|l| l.checked_add(PAGE - 1))
            .map(|l| l & !(PAGE - 1))
            .and_then(|l| start.checked_add(l))
        else {
            return ENOMEM;
        };
        if end > self.task_limit() || !self.all_mapped(start, end) {
            return ENOMEM;
        }
        0
    }

    /// `mlock(addr, len)` and `munlock(addr, len)`.
    pub(crate) fn sys_mlock(&mut self, addr: u64, len: u64) -> i64 {
        self.lock_range(addr, len)
    }

    /// `mlock2(addr, len, flags)`: only `MLOCK_ONFAULT` (1) is a flag.
    pub(crate) fn sys_mlock2(&mut self, addr: u64, len: u64, flags: u64) -> i64 {
        if flags & !1 & 0xFFFF_FFFF != 0 {
            return EINVAL;
        }
        self.lock_range(addr, len)
    }

    /// `mlockall(flags)`: `MCL_CURRENT` 1, `MCL_FUTURE` 2, `MCL_ONFAULT` 4
    /// (not alone).
    pub(crate) fn sys_mlockall(&mut self, flags: u64) -> i64 {
        let f = flags & 0xFFFF_FFFF;
        if f == 0 || f & !7 != 0 || f == 4 {
            return EINVAL;
        }
        0
    }

    /// `msync(addr, len, flags)`.
    pub(crate) fn sys_msync(&mut self, addr: u64, len: u64, flags: u64) -> i64 {
        const MS_ASYNC: u64 = 1;
        const MS_INVALIDATE: u64 = 2;
        const MS_SYNC: u64 = 4;
        let flags = flags & 0xFFFF_FFFF;
        if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
            || addr & (PAGE - 1) != 0
            || (flags & MS_ASYNC != 0 && flags & MS_SYNC != 0)
        {
            return EINVAL;
        }
        let Some(end) = len
            .checked_add(PAGE - 1)
            .map(|l| l & !(PAGE - 1))
            .and_then(|l| addr.checked_add(l))
        else {
            return ENOMEM;
        };
        if end == addr {
            return 0;
        }
        if !self.all_mapped(addr, end) {
            return ENOMEM;
        }
        0
    }

    /// `mincore(addr, len, vec)`: one byte per page, 1 (resident).
    pub(crate) fn sys_mincore(&mut self, addr: u64, len: u64, vec: u64) -> i64 {
        if addr & (PAGE - 1) != 0 {
            return EINVAL;
        }
        let pages = len.div_ceil(PAGE);
        let limit = self.task_limit();
        if pages > limit / PAGE || addr > limit - pages * PAGE {
            return ENOMEM;
        }
        if pages == 0 {
            return 0;
        }
        if !self.all_mapped(addr, addr + pages * PAGE) {
            return ENOMEM;
        }
        let mut mem = self.user_memory();
        let mut done = 0u64;
        let ones = [1u8; 4096];
        while done < pages {
            let n = (pages - done).min(4096);
            if mem
                .write(vec + done, ones.get(..n as usize).unwrap_or_default())
                .is_err()
            {
                return EFAULT;
            }
            done += n;
        }
        0
    }

    /// Cycles per microsecond-precision `timeval` of `sec`, `usec`.
    /// `ITIMER_REAL` (or `alarm`) of task `pid` expired at cycle `at`:
    /// SIGALRM, and a timer with an interval is armed again for its next
    /// expiry after now (`it_real_fn` + `hrtimer_forward`).
    pub(crate) fn fire_alarm(&mut self, pid: u32, at: u64) {
        let now = self.vcpu.cpu.cycles;
        let interval = match self.tasks.get(&pid) {
            Some(t) => t.files.ids.itimer_interval,
            None => return,
        };
        let step = self.tv_cycles(interval.0, interval.1);
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.sig.alarm_at = (step != 0).then(|| {
                let behind = now.saturating_sub(at) / step + 1;
                at.saturating_add(behind.saturating_mul(step))
            });
        }
        self.post_signal(
            pid,
            super::signal::SigInfo::kernel(super::signal::sig::SIGALRM),
        );
    }

    fn tv_cycles(&self, sec: u64, usec: u64) -> u64 {
        let hz = self.personality.clock.freq_hz.max(1);
        sec.saturating_mul(hz)
            .saturating_add(usec.saturating_mul(hz) / 1_000_000)
    }

    /// Reads an `itimerval` (two ABI `timeval`s); `None` on a fault,
    /// `Some(Err)` when a field is out of range.
    fn read_itimerval(&mut self, abi: Abi, addr: u64) -> Option<Result<[u64; 4], ()>> {
        let mut mem = self.user_memory();
        let mut v = [0i64; 4];
        for (k, slot) in v.iter_mut().enumerate() {
            *slot = match abi {
                Abi::X86_64 => uaccess::read_u64(&mut mem, addr + k as u64 * 8).ok()? as i64,
                Abi::I386 => {
                    i64::from(uaccess::read_u32(&mut mem, addr + k as u64 * 4).ok()? as i32)
                }
            };
        }
        for p in [0, 2] {
            if v[p] < 0 || !(0..1_000_000).contains(&v[p + 1]) {
                return Some(Err(()));
            }
        }
        Some(Ok(v.map(|x| x as u64)))
    }

    fn write_itimerval(&mut self, abi: Abi, addr: u64, v: [u64; 4]) -> bool {
        let mut b = Vec::with_capacity(32);
        for x in v {
            match abi {
                Abi::X86_64 => b.extend_from_slice(&x.to_le_bytes()),
                Abi::I386 => b.extend_from_slice(&(x as u32).to_le_bytes()),
            }
        }
        self.user_memory().write(addr, &b).is_ok()
    }

    /// The current `ITIMER_REAL` as `[interval sec, usec, value sec, usec]`.
    fn itimer_real(&self) -> [u64; 4] {
        let hz = self.personality.clock.freq_hz.max(1);
        let now = self.vcpu.cpu.cycles;
        let Some(t) = self.tasks.get(&self.current) else {
            return [0; 4];
        };
        let (isec, iusec) = t.files.ids.itimer_interval;
        match t.sig.alarm_at {
            None => [isec, iusec, 0, 0],
            Some(at) => {
                let left = at.saturating_sub(now);
                let (s, rem) = (left / hz, left % hz);
                // A pending timer never reads as zero (it_value 1 us).
                let us = (rem.saturating_mul(1_000_000) / hz).max(u64::from(s == 0));
                [isec, iusec, s, us]
            }
        }
    }

    /// `getitimer(which, value)`.
    pub(crate) fn sys_getitimer(&mut self, abi: Abi, which: u64, addr: u64) -> i64 {
        let v = match which & 0xFFFF_FFFF {
            0 => self.itimer_real(),
            1 | 2 => [0; 4],
            _ => return EINVAL,
        };
        if !self.write_itimerval(abi, addr, v) {
            return EFAULT;
        }
        0
    }

    /// `setitimer(which, new, old)`: a NULL `new` disarms (as Linux 6.1).
    pub(crate) fn sys_setitimer(&mut self, abi: Abi, which: u64, new: u64, old: u64) -> i64 {
        let new_v = if new == 0 {
            [0; 4]
        } else {
            match self.read_itimerval(abi, new) {
                None => return EFAULT,
                Some(Err(())) => return EINVAL,
                Some(Ok(v)) => v,
            }
        };
        let which = which & 0xFFFF_FFFF;
        let prev = match which {
            0 => self.itimer_real(),
            1 | 2 => [0; 4],
            _ => return EINVAL,
        };
        if which == 0 {
            let now = self.vcpu.cpu.cycles;
            let d = self.tv_cycles(new_v[2], new_v[3]);
            if let Some(t) = self.tasks.get_mut(&self.current) {
                t.sig.alarm_at = (d != 0).then(|| now.saturating_add(d));
                t.files.ids.itimer_interval = if d != 0 { (new_v[0], new_v[1]) } else { (0, 0) };
            }
        }
        if old != 0 && !self.write_itimerval(abi, old, prev) {
            return EFAULT;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::super::paging::Prot;
    use super::super::tests::elf;
    use super::super::{Config, Flavor};
    use super::*;

    fn machine() -> Machine {
        let mut m = Machine::new(Config {
            flavor: Flavor::X86_64,
            ..Config::default()
        })
        .unwrap();
        m.spawn(&elf(64, 0x40_0000, &[0xf4]), &["t"], &[]).unwrap();
        m
    }

    const A: u64 = 0x1000_0000;

    fn map(m: &mut Machine, va: u64, pages: u64) {
        let pid = m.current;
        let t = m.tasks.get_mut(&pid).unwrap();
        for k in 0..pages {
            t.mm.map_new(
                &mut m.vcpu.cpu.mmu.phys,
                &mut m.frames,
                va + k * PAGE,
                Prot::RW,
            )
            .unwrap();
        }
    }

    #[test]
    fn mlock_msync_mincore_ranges() {
        let mut m = machine();
        map(&mut m, A, 2);
        assert_eq!(m.sys_mlock(A, 2 * PAGE), 0);
        // Rounded around an unaligned start: A+0x800 for 0x1000 bytes
        // covers both pages.
        assert_eq!(m.sys_mlock(A + 0x800, 0x1000), 0);
        assert_eq!(m.sys_mlock(A + 0x800, 0x2000), ENOMEM);
        assert_eq!(m.sys_mlock(A, 0), 0);
        assert_eq!(m.sys_mlock2(A, PAGE, 2), EINVAL);
        assert_eq!(m.sys_mlock2(A, PAGE, 1), 0);
        assert_eq!(m.sys_mlockall(0), EINVAL);
        assert_eq!(m.sys_mlockall(4), EINVAL);
        assert_eq!(m.sys_mlockall(3), 0);
        assert_eq!(m.sys_msync(A + 1, PAGE, 4), EINVAL);
        assert_eq!(m.sys_msync(A, PAGE, 5), EINVAL);
        assert_eq!(m.sys_msync(A, PAGE, 8), EINVAL);
        assert_eq!(m.sys_msync(A, 2 * PAGE, 4), 0);
        assert_eq!(m.sys_msync(A, 3 * PAGE, 1), ENOMEM);
        assert_eq!(m.sys_msync(A + 3 * PAGE, 0, 4), 0);
        // mincore: one resident byte per page, written into mapped memory.
        assert_eq!(m.sys_mincore(A, PAGE + 1, A + 0x100), 0);
        let mut b = [9u8; 3];
        m.user_memory().read(A + 0x100, &mut b).unwrap();
        assert_eq!(b, [1, 1, 0]);
        assert_eq!(m.sys_mincore(A + 1, PAGE, A), EINVAL);
        assert_eq!(m.sys_mincore(A, 3 * PAGE, A), ENOMEM);
        assert_eq!(m.sys_mincore(A, PAGE, 0xdead_0000), EFAULT);
    }

    #[test]
    fn itimer_real_is_the_alarm() {
        let mut m = machine();
        let hz = m.personality.clock.freq_hz;
        // it_interval 0.25 s, it_value 1.5 s.
        let mut b = Vec::new();
        for v in [0u64, 250_000, 1, 500_000] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        map(&mut m, A, 1);
        m.user_memory().write(A, &b).unwrap();
        let now = m.vcpu.cpu.cycles;
        assert_eq!(m.sys_setitimer(Abi::X86_64, 0, A, A + 0x100), 0);
        let at = m.tasks[&m.current].sig.alarm_at.unwrap();
        assert_eq!(at - now, hz + hz / 2);
        // The old value was disarmed.
        let mut o = [0xffu8; 32];
        m.user_memory().read(A + 0x100, &mut o).unwrap();
        assert_eq!(o, [0; 32]);
        assert_eq!(m.sys_getitimer(Abi::X86_64, 0, A + 0x200), 0);
        let mut g = [0u8; 32];
        m.user_memory().read(A + 0x200, &mut g).unwrap();
        let f = |k: usize| u64::from_le_bytes(g[k * 8..k * 8 + 8].try_into().unwrap());
        assert_eq!((f(0), f(1), f(2), f(3)), (0, 250_000, 1, 500_000));
        // alarm() sees the same timer (1.5 s rounds to 2).
        assert_eq!(m.sys_alarm(0), 2);
        assert_eq!(m.sys_getitimer(Abi::X86_64, 3, A), EINVAL);
        assert_eq!(m.sys_getitimer(Abi::X86_64, 0, 0xdead_0000), EFAULT);
        // Bad microseconds.
        b[24..32].copy_from_slice(&1_000_000u64.to_le_bytes());
        m.user_memory().write(A, &b).unwrap();
        assert_eq!(m.sys_setitimer(Abi::X86_64, 0, A, 0), EINVAL);
        // NULL new value disarms.
        assert_eq!(m.sys_setitimer(Abi::X86_64, 0, 0, 0), 0);
        assert!(m.tasks[&m.current].sig.alarm_at.is_none());
        // i386 layout: four 32-bit fields.
        let b32: Vec<u8> = [0u32, 0, 2, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        m.user_memory().write(A, &b32).unwrap();
        assert_eq!(m.sys_setitimer(Abi::I386, 0, A, 0), 0);
        assert_eq!(
            m.tasks[&m.current].sig.alarm_at.unwrap() - m.vcpu.cpu.cycles,
            2 * hz
        );
    }
}
