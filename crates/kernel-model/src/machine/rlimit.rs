//! Resource limits: prlimit64, getrlimit (x86_64), i386 getrlimit (the
//! old call, clamping to 0x7FFFFFFF), ugetrlimit and setrlimit, after
//! kernel/sys.c (`do_prlimit`, `compat_sys_getrlimit`,
//! `compat_sys_old_getrlimit`).
//!
//! The limits a process starts with are the ones `prlimit` shows natively
//! on the machine sysgate was checked against (a container): STACK 8 MiB
//! soft / unlimited hard, CORE 0 / unlimited, NOFILE 20000 / 20000, NPROC
//! and SIGPENDING 96365, MEMLOCK 8 MiB, MSGQUEUE 819200, NICE and RTPRIO 0,
//! everything else unlimited. Limits are inherited on fork and kept across
//! execve; STACK bounds the stack's growth (`stack.rs`), and nothing else
//! enforces them beyond what the model already bounds.

use super::process::Done;
use super::ret::{EFAULT, EINVAL, EPERM, ESRCH};
use super::{Call, Machine};
use crate::abi::Abi;
use crate::uaccess::{self, UserMemory};

/// `RLIM_INFINITY` (64-bit).
pub(crate) const INF: u64 = u64::MAX;
/// Number of resources (`RLIM_NLIMITS`).
pub(crate) const RLIM_NLIMITS: usize = 16;
/// `RLIMIT_NOFILE`.
const RLIMIT_NOFILE: usize = 7;
/// `sysctl_nr_open`: the highest NOFILE hard limit.
const NR_OPEN: u64 = 1 << 20;

/// One limit: (soft, hard).
pub(crate) type Rlimit = (u64, u64);

/// The limits of the first process.
pub(crate) const DEFAULT_RLIMITS: [Rlimit; RLIM_NLIMITS] = [
    (INF, INF),         // CPU
    (INF, INF),         // FSIZE
    (INF, INF),         // DATA
    (8 << 20, INF),     // STACK
    (0, INF),           // CORE
    (INF, INF),         // RSS
    (96365, 96365),     // NPROC
    (20000, 20000),     // NOFILE
    (8 << 20, 8 << 20), // MEMLOCK
    (INF, INF),         // AS
    (INF, INF),         // LOCKS
    (96365, 96365),     // SIGPENDING
    (819_200, 819_200), // MSGQUEUE
    (0, 0),             // NICE
    (0, 0),             // RTPRIO
    (INF, INF),         // RTTIME
];

/// A 32-bit `struct rlimit` value from a 64-bit one (compat: infinity and
/// anything beyond 32 bits read as `COMPAT_RLIM_INFINITY`).
fn to_compat(v: u64) -> u64 {
    v.min(0xFFFF_FFFF)
}

fn from_compat(v: u64) -> u64 {
    if v == 0xFFFF_FFFF { INF } else { v }
}

impl Machine {
    /// `do_prlimit` on task `pid`: sets `new` (if given), returns the old.
    fn do_prlimit(&mut self, pid: u32, res: u64, new: Option<Rlimit>) -> Result<Rlimit, i64> {
        if res >= RLIM_NLIMITS as u64 {
            return Err(EINVAL);
        }
        let res = res as usize;
        if let Some((cur, max)) = new {
            if cur > max {
                return Err(EINVAL);
            }
            if res == RLIMIT_NOFILE && max > NR_OPEN {
                return Err(EPERM);
            }
        }
        let t = self.tasks.get_mut(&pid).ok_or(ESRCH)?;
        let old = t.rlimits[res];
        if let Some(n) = new {
            t.rlimits[res] = n;
        }
        Ok(old)
    }

    /// The resource-limit calls.
    pub(crate) fn sys_rlimit(
        &mut self,
        call: &Call,
        op: crate::syscalls::table::MachineOp,
    ) -> Done {
        use crate::syscalls::table::MachineOp as M;
        let a = call.args;
        let me = self.current;
        let ia32 = call.abi == Abi::I386;
        let r = match op {
            M::Prlimit64 => {
                let pid = if a[0] as i32 == 0 { me } else { a[0] as u32 };
                if (a[0] as i32) < 0 {
                    return Done::Return(ESRCH);
                }
                let new = if a[2] != 0 {
                    let mut mem = self.user_memory();
                    match (
                        uaccess::read_u64(&mut mem, a[2]),
                        uaccess::read_u64(&mut mem, a[2] + 8),
                    ) {
                        (Ok(c), Ok(m)) => Some((c, m)),
                        _ => return Done::Return(EFAULT),
                    }
                } else {
                    None
                };
                match self.do_prlimit(pid, a[1] & 0xFFFF_FFFF, new) {
                    Ok((c, m)) => {
                        if a[3] != 0 {
                            let mut b = [0u8; 16];
                            b[..8].copy_from_slice(&c.to_le_bytes());
                            b[8..].copy_from_slice(&m.to_le_bytes());
                            if self.user_memory().write(a[3], &b).is_err() {
                                return Done::Return(EFAULT);
                            }
                        }
                        0
                    }
                    Err(e) => e,
                }
            }
            M::Getrlimit => match self.do_prlimit(me, a[0] & 0xFFFF_FFFF, None) {
                Ok((c, m)) => {
                    let mut mem = self.user_memory();
                    let w = if ia32 {
                        // Number 76 is the old getrlimit (values clamped to
                        // 0x7FFFFFFF); 191 is ugetrlimit.
                        let (c, m) = if call.nr == 76 {
                            (c.min(0x7FFF_FFFF), m.min(0x7FFF_FFFF))
                        } else {
                            (to_compat(c), to_compat(m))
                        };
                        let mut b = [0u8; 8];
                        b[..4].copy_from_slice(&(c as u32).to_le_bytes());
                        b[4..].copy_from_slice(&(m as u32).to_le_bytes());
                        mem.write(a[1], &b)
                    } else {
                        let mut b = [0u8; 16];
                        b[..8].copy_from_slice(&c.to_le_bytes());
                        b[8..].copy_from_slice(&m.to_le_bytes());
                        mem.write(a[1], &b)
                    };
                    if w.is_err() { EFAULT } else { 0 }
                }
                Err(e) => e,
            },
            M::Setrlimit => {
                let new = {
                    let mut mem = self.user_memory();
                    if ia32 {
                        match uaccess::read_u32_array(&mut mem, a[1], 2) {
                            Ok(v) => (from_compat(u64::from(v[0])), from_compat(u64::from(v[1]))),
                            Err(_) => return Done::Return(EFAULT),
                        }
                    } else {
                        match (
                            uaccess::read_u64(&mut mem, a[1]),
                            uaccess::read_u64(&mut mem, a[1] + 8),
                        ) {
                            (Ok(c), Ok(m)) => (c, m),
                            _ => return Done::Return(EFAULT),
                        }
                    }
                };
                match self.do_prlimit(me, a[0] & 0xFFFF_FFFF, Some(new)) {
                    Ok(_) => 0,
                    Err(e) => e,
                }
            }
            _ => -38,
        };
        Done::Return(r)
    }
}
