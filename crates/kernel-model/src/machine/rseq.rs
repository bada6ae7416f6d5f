//! Restartable sequences: `rseq(2)` registration, after kernel/rseq.c
//! (`sys_rseq`, `rseq_reset_rseq_cpu_id`, `rseq_update_cpu_id`,
//! `rseq_fork`, `rseq_execve`).
//!
//! A task registers one `struct rseq` (at least the original 32 bytes,
//! 32-byte aligned). At registration the kernel writes the current CPU
//! into `cpu_id_start` and `cpu_id` — always 0 here: the machine has one
//! CPU. Unregistering (`RSEQ_FLAG_UNREGISTER`, same address, length and
//! signature) writes `cpu_id_start = 0`, `cpu_id = -1`
//! (`RSEQ_CPU_ID_UNINITIALIZED`). The registration survives fork (the
//! child's copy of the area already holds CPU 0) and is dropped by execve.
//!
//! No critical section ever needs an abort: Linux aborts one (jumps to
//! its abort handler) when the task is preempted, migrated or given a
//! signal inside it. sysgate has one CPU (no migration) and switches tasks
//! only at system calls, which the rseq ABI forbids inside a critical
//! section, so neither preemption nor migration can happen there. The one
//! case left is a signal delivered for a fault raised inside a critical
//! section; sysgate does not follow `rseq_cs` then (Linux would restart at
//! the abort handler). That is the only known difference.

use super::Machine;
use super::ret::{EBUSY, EFAULT, EINVAL, EPERM};
use crate::uaccess::UserMemory;

/// A task's registered `struct rseq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rseq {
    /// User address of the area.
    pub addr: u64,
    /// Registered length.
    pub len: u32,
    /// Signature expected before abort handlers.
    pub sig: u32,
}

/// `RSEQ_FLAG_UNREGISTER`.
pub(crate) const RSEQ_FLAG_UNREGISTER: u32 = 1;
/// `ORIG_RSEQ_SIZE`: the first `struct rseq`.
pub(crate) const ORIG_RSEQ_SIZE: u32 = 32;
/// `__alignof__(struct rseq)`.
const RSEQ_ALIGN: u64 = 32;
/// `RSEQ_CPU_ID_UNINITIALIZED`.
const CPU_ID_UNINITIALIZED: u32 = u32::MAX;

impl Machine {
    /// `rseq(rseq, rseq_len, flags, sig)` for the current task.
    pub(crate) fn sys_rseq(&mut self, a: &[u64; 6]) -> i64 {
        let (addr, len, flags, sig) = (a[0], a[1] as u32, a[2] as u32, a[3] as u32);
        let limit = self.user_limit();
        let pid = self.current;
        let Some(cur) = self.tasks.get(&pid).map(|t| t.rseq) else {
            return EINVAL;
        };
        if flags & RSEQ_FLAG_UNREGISTER != 0 {
            if flags & !RSEQ_FLAG_UNREGISTER != 0 {
                return EINVAL;
            }
            let Some(r) = cur.filter(|r| r.addr == addr) else {
                return EINVAL;
            };
            if len != r.len {
                return EINVAL;
            }
            if sig != r.sig {
                return EPERM;
            }
            if self.write_cpu_ids(addr, 0, CPU_ID_UNINITIALIZED).is_err() {
                return EFAULT;
            }
            if let Some(t) = self.tasks.get_mut(&pid) {
                t.rseq = None;
            }
            return 0;
        }
        if flags != 0 {
            return EINVAL;
        }
        if let Some(r) = cur {
            if r.addr != addr || r.len != len {
                return EINVAL;
            }
            if r.sig != sig {
                return EPERM;
            }
            return EBUSY;
        }
        if len < ORIG_RSEQ_SIZE || !addr.is_multiple_of(RSEQ_ALIGN) {
            return EINVAL;
        }
        // access_ok.
        if addr.checked_add(u64::from(len)).is_none_or(|e| e > limit) {
            return EFAULT;
        }
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.rseq = Some(Rseq { addr, len, sig });
        }
        // rseq_set_notify_resume: the CPU ids are written on the way back
        // to user mode; a fault there is a SIGSEGV, not an error return.
        if self.write_cpu_ids(addr, 0, 0).is_err() {
            self.force_signal(
                pid,
                super::signal::SigInfo::kernel(super::signal::sig::SIGSEGV),
                true,
            );
        }
        0
    }

    /// Writes `cpu_id_start` and `cpu_id` of the area at `addr`.
    fn write_cpu_ids(&mut self, addr: u64, start: u32, id: u32) -> Result<(), ()> {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&start.to_le_bytes());
        b[4..].copy_from_slice(&id.to_le_bytes());
        self.user_memory().write(addr, &b).map_err(|_| ())
    }
}
