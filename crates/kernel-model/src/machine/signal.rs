//! Signals: per-process dispositions, the blocked mask, pending signals
//! and the alternate stack; the calls that manage them (rt_sigaction and
//! i386 sigaction, rt_sigprocmask and i386 sigprocmask, sigaltstack,
//! rt_sigpending, rt_sigsuspend, pause, kill/tkill/tgkill, alarm); delivery
//! on the way back to user mode with Linux's signal frames; rt_sigreturn
//! and i386 sigreturn; and user-mode exceptions turned into signals
//! (arch/x86/kernel/signal.c, signal_32.c, signal_64.c, traps.c,
//! fpu/signal.c, kernel/signal.c).
//!
//! Delivery happens where Linux's `exit_to_user_mode_loop` calls
//! `arch_do_signal_or_restart`: after a system call's result is in
//! `pt_regs`, after an exception, and when a suspended task resumes. A
//! frame is built on the user stack (or the alternate stack with
//! SA_ONSTACK) and `pt_regs` is rewritten so the entry stub's IRET enters
//! the handler.
//!
//! Frames, exactly as Linux lays them out:
//! - x86_64 `rt_sigframe`: pretcode (= sa_restorer; SA_RESTORER is
//!   required), `ucontext` {uc_flags = UC_SIGCONTEXT_SS|
//!   UC_STRICT_RESTORE_SS, uc_link, uc_stack, sigcontext, uc_sigmask},
//!   siginfo (written only with SA_SIGINFO), below a 64-byte aligned
//!   512-byte FXSAVE image, after the 128-byte red zone.
//! - i386 `sigframe` (no SA_SIGINFO): pretcode, sig, sigcontext_32, the
//!   unused `_fpstate_32`, extramask, retcode; and `rt_sigframe`: pretcode,
//!   sig, pinfo, puc, compat siginfo, ucontext_ia32, retcode. The FPU area
//!   is the legacy FSAVE header (`user_i387_ia32_struct`, status, magic
//!   0) followed by the FXSAVE image. The return address is sa_restorer
//!   with SA_RESTORER, else the vDSO's `__kernel_sigreturn` /
//!   `__kernel_rt_sigreturn`. Which frame a handler gets follows the ABI
//!   of the sigaction call that installed it (Linux's SA_IA32_ABI).
//!
//! Without XSAVE (the modeled CPU does not report it) the FPU area is a
//! plain FXSAVE image; the 48 software-reserved bytes at its end are
//! written as zeros (no FP_XSTATE_MAGIC1), as kernels without XSAVE do.
//!
//! Simplifications (documented): real-time signals do not queue (a second
//! instance while one is pending is merged, as for standard signals); stop
//! signals (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) and SIGCONT are treated as
//! ignored; no core dumps are written (RLIMIT_CORE is 0), so the wait
//! status never has the 0x80 core bit; process groups are the whole
//! machine (every task is in the first process's group); alarm()'s
//! SIGALRM is raised at the first return to user mode after its time (a
//! system call or an exception), or at once when every task sleeps (the
//! modeled clock jumps to it): a loop that makes no system call does not
//! see it; a blocked system call interrupted by a handled signal returns
//! -EINTR, or restarts (`ax = orig_ax`, `ip -= 2`, through the vDSO's
//! `int $0x80` for SYSENTER/SYSCALL entries) with SA_RESTART, except
//! pause/sigsuspend (always -EINTR) and a vfork parent's wait (not
//! interruptible); strace shows such a call with its final result, not
//! Linux's `? ERESTARTSYS` line.

use sysgate_cpu::fpu::{FpuState, MXCSR_MASK};
use sysgate_cpu::{SegReg, Segment};

use super::process::{Done, State};
use super::ret::{EFAULT, EINTR, EINVAL, ENOMEM, EPERM, ESRCH};
use super::{Call, Machine, Status, boot, layout};
use crate::abi::Abi;
use crate::strace::signal_name;
use crate::uaccess::{self, UserMemory};

/// Signal numbers used by the kernel itself.
pub(crate) mod sig {
    pub const SIGILL: u32 = 4;
    pub const SIGTRAP: u32 = 5;
    pub const SIGBUS: u32 = 7;
    pub const SIGFPE: u32 = 8;
    pub const SIGKILL: u32 = 9;
    pub const SIGSEGV: u32 = 11;
    pub const SIGALRM: u32 = 14;
    pub const SIGCHLD: u32 = 17;
    pub const SIGSTOP: u32 = 19;
}

/// `sa_handler` values.
pub(crate) const SIG_DFL: u64 = 0;
/// Ignore the signal.
pub(crate) const SIG_IGN: u64 = 1;

/// `sa_flags` bits (include/uapi/asm-generic/signal-defs.h, x86 signal.h).
pub(crate) mod sa {
    pub const NOCLDSTOP: u64 = 1;
    pub const NOCLDWAIT: u64 = 2;
    pub const SIGINFO: u64 = 4;
    pub const UNSUPPORTED: u64 = 0x400;
    pub const EXPOSE_TAGBITS: u64 = 0x800;
    pub const RESTORER: u64 = 0x0400_0000;
    pub const ONSTACK: u64 = 0x0800_0000;
    pub const RESTART: u64 = 0x1000_0000;
    pub const NODEFER: u64 = 0x4000_0000;
    pub const RESETHAND: u64 = 0x8000_0000;
    /// `UAPI_SA_FLAGS`: the bits sigaction keeps (do_sigaction clears the
    /// rest).
    pub const UAPI: u64 = NOCLDSTOP
        | NOCLDWAIT
        | SIGINFO
        | ONSTACK
        | RESTART
        | NODEFER
        | RESETHAND
        | EXPOSE_TAGBITS
        | RESTORER
        | UNSUPPORTED;
}

/// `si_code` values.
pub(crate) mod si {
    pub const USER: i32 = 0;
    pub const KERNEL: i32 = 0x80;
    pub const TKILL: i32 = -6;
    pub const SEGV_MAPERR: i32 = 1;
    pub const SEGV_ACCERR: i32 = 2;
    pub const ILL_ILLOPN: i32 = 2;
    pub const FPE_INTDIV: i32 = 1;
    pub const FPE_FLTDIV: i32 = 3;
    pub const FPE_FLTOVF: i32 = 4;
    pub const FPE_FLTUND: i32 = 5;
    pub const FPE_FLTRES: i32 = 6;
    pub const FPE_FLTINV: i32 = 7;
    pub const BUS_ADRALN: i32 = 1;
    pub const TRAP_TRACE: i32 = 2;
    pub const CLD_EXITED: i32 = 1;
    pub const CLD_KILLED: i32 = 2;
}

const SS_ONSTACK: u32 = 1;
const SS_DISABLE: u32 = 2;
const SS_AUTODISARM: u32 = 1 << 31;
/// MINSIGSTKSZ on x86 (both ABIs).
const MINSIGSTKSZ: u64 = 2048;

/// The bit of signal `s` (1-64) in a mask.
pub(crate) const fn bit(s: u32) -> u64 {
    1u64 << (s - 1)
}

/// Signals that cannot be caught, blocked or ignored.
const UNBLOCKABLE: u64 = bit(sig::SIGKILL) | bit(sig::SIGSTOP);
/// Synchronous (fault) signals, dequeued first (kernel/signal.c
/// `SYNCHRONOUS_MASK`).
const SYNCHRONOUS: u64 = bit(4) | bit(5) | bit(7) | bit(8) | bit(11) | bit(31);

/// What a signal does under SIG_DFL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DefaultAction {
    /// Ends the process.
    Terminate,
    /// Ends the process with a core dump (none is written: RLIMIT_CORE 0).
    Core,
    /// Nothing (SIGCHLD, SIGURG, SIGWINCH; stop signals and SIGCONT are
    /// treated as ignored here).
    Ignore,
}

/// Linux's default action of signal `s` (signal(7)).
pub(crate) fn default_action(s: u32) -> DefaultAction {
    match s {
        3 | 4 | 5 | 6 | 7 | 8 | 11 | 24 | 25 | 31 => DefaultAction::Core,
        17 | 18 | 19 | 20 | 21 | 22 | 23 | 28 => DefaultAction::Ignore,
        _ => DefaultAction::Terminate,
    }
}

/// One disposition (`struct k_sigaction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
    /// Installed through the i386 ABI (Linux's SA_IA32_ABI): the handler
    /// gets an i386 frame.
    pub ia32: bool,
}

/// The union part of a siginfo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum InfoKind {
    /// si_pid, si_uid (kill, tkill, SI_KERNEL).
    #[default]
    Kill,
    /// si_addr (faults).
    Fault,
    /// si_pid, si_uid, si_status, si_utime, si_stime.
    Chld,
    /// si_pid, si_uid, si_value (`rt_sigqueueinfo`: the caller's own).
    Queue,
}

/// A `siginfo_t`'s contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct SigInfo {
    pub signo: u32,
    pub code: i32,
    pub kind: InfoKind,
    pub pid: u32,
    pub uid: u32,
    pub addr: u64,
    pub status: i32,
    /// si_value ([`InfoKind::Queue`]).
    pub value: u64,
}

impl SigInfo {
    /// From kill() (SI_USER) or tkill()/tgkill() (SI_TKILL).
    pub(crate) fn sent(signo: u32, code: i32, pid: u32) -> SigInfo {
        SigInfo {
            signo,
            code,
            pid,
            ..SigInfo::default()
        }
    }

    /// `force_sig`: SI_KERNEL, no sender.
    pub(crate) fn kernel(signo: u32) -> SigInfo {
        SigInfo::sent(signo, si::KERNEL, 0)
    }

    /// `force_sig_fault`.
    pub(crate) fn fault(signo: u32, code: i32, addr: u64) -> SigInfo {
        SigInfo {
            signo,
            code,
            kind: InfoKind::Fault,
            addr,
            ..SigInfo::default()
        }
    }

    /// strace's rendering (`{si_signo=SIGCHLD, si_code=CLD_EXITED, ...}`,
    /// after strace's `print_si_info`).
    pub(crate) fn strace(&self, abi: Abi) -> String {
        let signo = self.signo;
        let code = match (self.code, signo) {
            (si::USER, _) => "SI_USER".to_string(),
            (si::KERNEL, _) => "SI_KERNEL".to_string(),
            (si::TKILL, _) => "SI_TKILL".to_string(),
            (-1, _) => "SI_QUEUE".to_string(),
            (1, sig::SIGSEGV) => "SEGV_MAPERR".into(),
            (2, sig::SIGSEGV) => "SEGV_ACCERR".into(),
            (c, sig::SIGILL) if (1..=8).contains(&c) => [
                "ILL_ILLOPC",
                "ILL_ILLOPN",
                "ILL_ILLADR",
                "ILL_ILLTRP",
                "ILL_PRVOPC",
                "ILL_PRVREG",
                "ILL_COPROC",
                "ILL_BADSTK",
            ][(c - 1) as usize]
                .into(),
            (c, sig::SIGFPE) if (1..=8).contains(&c) => [
                "FPE_INTDIV",
                "FPE_INTOVF",
                "FPE_FLTDIV",
                "FPE_FLTOVF",
                "FPE_FLTUND",
                "FPE_FLTRES",
                "FPE_FLTINV",
                "FPE_FLTSUB",
            ][(c - 1) as usize]
                .into(),
            (c, sig::SIGBUS) if (1..=3).contains(&c) => {
                ["BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR"][(c - 1) as usize].into()
            }
            (c, sig::SIGTRAP) if (1..=2).contains(&c) => {
                ["TRAP_BRKPT", "TRAP_TRACE"][(c - 1) as usize].into()
            }
            (c, sig::SIGCHLD) if (1..=6).contains(&c) => [
                "CLD_EXITED",
                "CLD_KILLED",
                "CLD_DUMPED",
                "CLD_TRAPPED",
                "CLD_STOPPED",
                "CLD_CONTINUED",
            ][(c - 1) as usize]
                .into(),
            (c, _) => c.to_string(),
        };
        let mut s = format!(
            "{{si_signo={}, si_code={code}",
            signal_name(u64::from(signo))
        );
        let addr = |a: u64| {
            let a = if abi == Abi::X86_64 {
                a
            } else {
                a & 0xFFFF_FFFF
            };
            if a == 0 {
                "NULL".to_string()
            } else {
                format!("{a:#x}")
            }
        };
        if self.code <= 0 {
            s += &format!(", si_pid={}, si_uid={}", self.pid, self.uid);
            if self.kind == InfoKind::Queue && self.value != 0 {
                s += &format!(
                    ", si_int={}, si_ptr={}",
                    self.value as i32,
                    addr(self.value)
                );
            }
        } else {
            match signo {
                sig::SIGCHLD => {
                    let st = if self.code == si::CLD_EXITED {
                        self.status.to_string()
                    } else {
                        signal_name(self.status as u64)
                    };
                    s += &format!(
                        ", si_pid={}, si_uid={}, si_status={st}, si_utime=0, si_stime=0",
                        self.pid, self.uid
                    );
                }
                sig::SIGILL | sig::SIGFPE | sig::SIGSEGV | sig::SIGBUS | sig::SIGTRAP => {
                    s += &format!(", si_addr={}", addr(self.addr));
                }
                _ if self.pid != 0 || self.uid != 0 => {
                    s += &format!(", si_pid={}, si_uid={}", self.pid, self.uid);
                }
                _ => {}
            }
        }
        s.push('}');
        s
    }

    /// The 128-byte `siginfo_t` of `abi` (compat layout for i386: the union
    /// starts at 12, not 16).
    pub(crate) fn bytes(&self, abi: Abi) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        let wide = abi == Abi::X86_64;
        let u = if wide { 16 } else { 12 };
        match self.kind {
            InfoKind::Kill => {
                b[u..u + 4].copy_from_slice(&self.pid.to_le_bytes());
                b[u + 4..u + 8].copy_from_slice(&self.uid.to_le_bytes());
            }
            InfoKind::Fault => {
                if wide {
                    b[u..u + 8].copy_from_slice(&self.addr.to_le_bytes());
                } else {
                    b[u..u + 4].copy_from_slice(&(self.addr as u32).to_le_bytes());
                }
            }
            InfoKind::Chld => {
                b[u..u + 4].copy_from_slice(&self.pid.to_le_bytes());
                b[u + 4..u + 8].copy_from_slice(&self.uid.to_le_bytes());
                b[u + 8..u + 12].copy_from_slice(&self.status.to_le_bytes());
                // si_utime and si_stime stay 0.
            }
            InfoKind::Queue => {
                b[u..u + 4].copy_from_slice(&self.pid.to_le_bytes());
                b[u + 4..u + 8].copy_from_slice(&self.uid.to_le_bytes());
                if wide {
                    b[u + 8..u + 16].copy_from_slice(&self.value.to_le_bytes());
                } else {
                    b[u + 8..u + 12].copy_from_slice(&(self.value as u32).to_le_bytes());
                }
            }
        }
        b
    }
}

/// The alternate signal stack (`sas_ss_sp`, `sas_ss_size`, `sas_ss_flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct AltStack {
    pub sp: u64,
    pub size: u64,
    pub flags: u32,
}

impl AltStack {
    /// `__on_sig_stack`.
    fn contains(&self, sp: u64) -> bool {
        sp > self.sp && sp - self.sp <= self.size
    }

    /// `on_sig_stack`.
    fn on(&self, sp: u64) -> bool {
        self.flags & SS_AUTODISARM == 0 && self.contains(sp)
    }

    /// `sas_ss_flags`.
    fn ss_flags(&self, sp: u64) -> u32 {
        if self.size == 0 {
            SS_DISABLE
        } else if self.on(sp) {
            SS_ONSTACK
        } else {
            0
        }
    }
}

/// A process's signal state.
#[derive(Clone, Debug)]
pub(crate) struct Signals {
    pub actions: [SigAction; 64],
    pub blocked: u64,
    pub pending: u64,
    pub info: [SigInfo; 64],
    pub altstack: AltStack,
    /// The mask rt_sigsuspend replaced (restored after the handler).
    pub saved_mask: Option<u64>,
    /// `thread.trap_nr`, `thread.error_code`, `thread.cr2` of the last
    /// fault (shown in sigcontext).
    pub trap_nr: u64,
    pub error_code: u64,
    pub cr2: u64,
    /// alarm(): the modeled cycle at which SIGALRM is due.
    pub alarm_at: Option<u64>,
}

impl Default for Signals {
    fn default() -> Signals {
        Signals {
            actions: [SigAction::default(); 64],
            blocked: 0,
            pending: 0,
            info: [SigInfo::default(); 64],
            altstack: AltStack::default(),
            saved_mask: None,
            trap_nr: 0,
            error_code: 0,
            cr2: 0,
            alarm_at: None,
        }
    }
}

impl Signals {
    /// The child's copy at fork: dispositions, mask and alternate stack are
    /// inherited; pending signals and alarms are not.
    pub(crate) fn fork(&self) -> Signals {
        Signals {
            pending: 0,
            info: [SigInfo::default(); 64],
            saved_mask: None,
            alarm_at: None,
            ..self.clone()
        }
    }

    /// execve: caught signals revert to SIG_DFL (ignored ones stay
    /// ignored: flush_signal_handlers), the alternate stack is disabled;
    /// the mask, pending signals and alarm survive.
    pub(crate) fn exec(&mut self) {
        for a in self.actions.iter_mut() {
            let handler = if a.handler == SIG_IGN {
                SIG_IGN
            } else {
                SIG_DFL
            };
            *a = SigAction {
                handler,
                ..SigAction::default()
            };
        }
        self.altstack = AltStack::default();
    }

    fn action(&self, s: u32) -> SigAction {
        self.actions[(s - 1) as usize]
    }

    /// `sig_ignored`: an unblocked signal whose disposition ignores it is
    /// discarded when sent.
    fn ignored(&self, s: u32) -> bool {
        if self.blocked & bit(s) != 0 {
            return false;
        }
        let a = self.action(s);
        a.handler == SIG_IGN || (a.handler == SIG_DFL && default_action(s) == DefaultAction::Ignore)
    }

    /// The next signal to dequeue: synchronous ones first, then the lowest.
    fn next(&self) -> Option<u32> {
        let ready = self.pending & !self.blocked;
        if ready == 0 {
            return None;
        }
        let sync = ready & SYNCHRONOUS;
        let pick = if sync != 0 { sync } else { ready };
        Some(pick.trailing_zeros() + 1)
    }

    /// Whether a pending signal would wake a sleeping task (it is
    /// unblocked and not ignored).
    pub(crate) fn wakes(&self) -> Option<u32> {
        let ready = self.pending & !self.blocked;
        (1..=64u32).find(|&s| ready & bit(s) != 0 && !self.ignored(s))
    }
}

/// Reads a 32- or 64-bit `pt_regs` as bytes, field by field.
struct Regs {
    b: [u8; 168],
    wide: bool,
}

/// The fields a frame needs, by name, for both layouts.
#[derive(Clone, Copy)]
enum R {
    Ax,
    Bx,
    Cx,
    Dx,
    Si,
    Di,
    Bp,
    Sp,
    Ip,
    Flags,
    Cs,
    Ss,
    OrigAx,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
    Ds,
    Es,
    Fs,
    Gs,
}

impl Regs {
    fn off(&self, r: R) -> Option<usize> {
        use crate::syscalls::regs::{off32 as o32, off64 as o64};
        Some(if self.wide {
            match r {
                R::Ax => o64::AX,
                R::Bx => o64::BX,
                R::Cx => o64::CX,
                R::Dx => o64::DX,
                R::Si => o64::SI,
                R::Di => o64::DI,
                R::Bp => o64::BP,
                R::Sp => o64::SP,
                R::Ip => o64::IP,
                R::Flags => o64::FLAGS,
                R::Cs => o64::CS,
                R::Ss => o64::SS,
                R::OrigAx => o64::ORIG_AX,
                R::R8 => o64::R8,
                R::R9 => o64::R9,
                R::R10 => o64::R10,
                R::R11 => o64::R11,
                R::R12 => o64::R12,
                R::R13 => o64::R13,
                R::R14 => o64::R14,
                R::R15 => o64::R15,
                R::Ds | R::Es | R::Fs | R::Gs => return None,
            }
        } else {
            match r {
                R::Ax => o32::AX,
                R::Bx => o32::BX,
                R::Cx => o32::CX,
                R::Dx => o32::DX,
                R::Si => o32::SI,
                R::Di => o32::DI,
                R::Bp => o32::BP,
                R::Sp => o32::SP,
                R::Ip => o32::IP,
                R::Flags => o32::FLAGS,
                R::Cs => o32::CS,
                R::Ss => o32::SS,
                R::OrigAx => o32::ORIG_AX,
                R::Ds => o32::DS,
                R::Es => o32::ES,
                R::Fs => o32::FS,
                R::Gs => o32::GS,
                _ => return None,
            }
        })
    }

    fn get(&self, r: R) -> u64 {
        let Some(o) = self.off(r) else { return 0 };
        if self.wide {
            u64::from_le_bytes(self.b[o..o + 8].try_into().unwrap_or([0; 8]))
        } else {
            u64::from(u32::from_le_bytes(
                self.b[o..o + 4].try_into().unwrap_or([0; 4]),
            ))
        }
    }

    fn set(&mut self, r: R, v: u64) {
        let Some(o) = self.off(r) else { return };
        if self.wide {
            self.b[o..o + 8].copy_from_slice(&v.to_le_bytes());
        } else {
            self.b[o..o + 4].copy_from_slice(&(v as u32).to_le_bytes());
        }
    }
}

/// Little-endian field writer for frames built in a byte buffer.
fn put(b: &mut [u8], at: usize, v: u64, n: usize) {
    b[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
}

fn get(b: &[u8], at: usize, n: usize) -> u64 {
    let mut v = [0u8; 8];
    v[..n].copy_from_slice(&b[at..at + n]);
    u64::from_le_bytes(v)
}

/// RFLAGS bits sigreturn takes from the frame (`FIX_EFLAGS`): AC OF DF TF
/// SF ZF AF PF CF RF.
const FIX_EFLAGS: u64 =
    0x4_0000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 | 0x1_0000;

/// What returning to user mode did about signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivered {
    /// Nothing to deliver.
    Nothing,
    /// A handler frame was built: leave by IRET.
    Frame,
    /// The task was killed by a default action.
    Killed,
}

/// Offsets inside the x86_64 `rt_sigframe`.
mod f64 {
    pub const UC: usize = 8;
    pub const UC_STACK: usize = UC + 16;
    pub const SC: usize = UC + 40;
    pub const SIGMASK: usize = SC + 256;
    pub const INFO: usize = SIGMASK + 8;
    pub const SIZE: usize = INFO + 128;
}

/// Offsets inside the i386 frames.
mod f32 {
    /// `sigframe`: pretcode, sig, sigcontext_32, _fpstate_32 (unused),
    /// extramask, retcode.
    pub const SF_SC: usize = 8;
    pub const SF_EXTRAMASK: usize = SF_SC + 88 + 624;
    pub const SF_RETCODE: usize = SF_EXTRAMASK + 4;
    pub const SF_SIZE: usize = SF_RETCODE + 8;
    /// `rt_sigframe`: pretcode, sig, pinfo, puc, info, uc, retcode.
    pub const RT_INFO: usize = 16;
    pub const RT_UC: usize = RT_INFO + 128;
    pub const RT_UC_STACK: usize = RT_UC + 8;
    pub const RT_SC: usize = RT_UC + 20;
    pub const RT_SIGMASK: usize = RT_SC + 88;
    pub const RT_RETCODE: usize = RT_SIGMASK + 8;
    pub const RT_SIZE: usize = RT_RETCODE + 8;
}

/// FSAVE-format header size in i386 FPU frames (`struct fregs_state`).
const FREGS_SIZE: u64 = 112;

impl Machine {
    fn read_regs(&self, va: u64) -> Regs {
        let wide = self.flavor == boot::Flavor::X86_64;
        let mut r = Regs { b: [0; 168], wide };
        let n = if wide { 168 } else { 68 };
        let pa = va.wrapping_sub(self.kernel_base());
        self.vcpu.cpu.mmu.phys.read(pa, &mut r.b[..n]);
        r
    }

    fn write_regs(&mut self, va: u64, r: &Regs) {
        let n = if r.wide { 168 } else { 68 };
        let pa = va.wrapping_sub(self.kernel_base());
        self.vcpu.cpu.mmu.phys.write(pa, &r.b[..n]);
    }

    pub(crate) fn signals(&mut self) -> Option<&mut Signals> {
        let pid = self.current;
        self.tasks.get_mut(&pid).map(|t| &mut t.sig)
    }

    /// Sends `info.signo` to `pid` (`send_signal`): discarded when ignored,
    /// merged when already pending.
    pub(crate) fn post_signal(&mut self, pid: u32, info: SigInfo) {
        let s = info.signo;
        if !(1..=64).contains(&s) {
            return;
        }
        let Some(t) = self.tasks.get_mut(&pid) else {
            return;
        };
        if matches!(t.state, State::Zombie(_)) {
            return;
        }
        if s == sig::SIGKILL && pid != self.current {
            self.terminate(pid, Status::Signaled(s as i32));
            return;
        }
        // Linux discards an ignored signal when it is sent; a traced
        // task's are queued and discarded at dequeue (strace shows them).
        // sysgate queues them always: the difference is not observable
        // (ignored signals neither wake sleepers nor show in sigpending).
        if t.sig.pending & bit(s) != 0 {
            return;
        }
        t.sig.pending |= bit(s);
        t.sig.info[(s - 1) as usize] = info;
    }

    /// `force_sig_info`: a blocked or ignored signal reverts to SIG_DFL and
    /// is unblocked, so it cannot be lost.
    pub(crate) fn force_signal(&mut self, pid: u32, info: SigInfo, fatal: bool) {
        let s = info.signo;
        let Some(t) = self.tasks.get_mut(&pid) else {
            return;
        };
        let a = &mut t.sig.actions[(s - 1) as usize];
        let blocked = t.sig.blocked & bit(s) != 0;
        if blocked || a.handler == SIG_IGN || fatal {
            a.handler = SIG_DFL;
            t.sig.blocked &= !bit(s);
        }
        t.sig.pending |= bit(s);
        t.sig.info[(s - 1) as usize] = info;
    }

    /// The current task is about to return to user mode with its
    /// registers in `pt_regs` at `regs`: delivers its pending signals
    /// (building frames for handlers, nested when several are ready) or
    /// ends it by a default action. Also fires a due alarm.
    pub(crate) fn deliver_signals(&mut self, regs: u64) -> Delivered {
        let pid = self.current;
        let now = self.vcpu.cpu.cycles;
        match self.tasks.get_mut(&pid) {
            // The common case, on every system call: nothing to do.
            Some(t)
                if t.sig.pending == 0 && t.sig.alarm_at.is_none() && t.sig.saved_mask.is_none() =>
            {
                return Delivered::Nothing;
            }
            Some(t) if t.sig.alarm_at.is_some_and(|at| at <= now) => {
                let at = t.sig.alarm_at.unwrap_or(now);
                self.fire_alarm(pid, at);
            }
            _ => {}
        }
        let mut out = Delivered::Nothing;
        for _ in 0..65 {
            let Some(t) = self.tasks.get_mut(&pid) else {
                return Delivered::Killed;
            };
            let Some(s) = t.sig.next() else { break };
            t.sig.pending &= !bit(s);
            let info = t.sig.info[(s - 1) as usize];
            let act = t.sig.action(s);
            if self.personality.strace_on() {
                let abi = if self.tasks.get(&pid).is_some_and(|t| t.bits == 64) {
                    Abi::X86_64
                } else {
                    Abi::I386
                };
                let line = format!("--- {} {} ---", signal_name(u64::from(s)), info.strace(abi));
                self.personality.strace_note(pid, &line);
            }
            let Some(t) = self.tasks.get_mut(&pid) else {
                return Delivered::Killed;
            };
            if act.handler == SIG_IGN {
                continue;
            }
            if act.handler == SIG_DFL {
                match default_action(s) {
                    DefaultAction::Ignore => continue,
                    DefaultAction::Terminate | DefaultAction::Core => {
                        self.terminate(pid, Status::Signaled(s as i32));
                        return Delivered::Killed;
                    }
                }
            }
            if act.flags & sa::RESETHAND != 0 {
                t.sig.actions[(s - 1) as usize].handler = SIG_DFL;
            }
            // Old mask to save in the frame: rt_sigsuspend's, if any.
            let saved = t.sig.saved_mask.take().unwrap_or(t.sig.blocked);
            if self.setup_frame(regs, s, &act, &info, saved).is_ok() {
                let t = match self.tasks.get_mut(&pid) {
                    Some(t) => t,
                    None => return Delivered::Killed,
                };
                // signal_delivered.
                let mut blocked = t.sig.blocked | act.mask;
                if act.flags & sa::NODEFER == 0 {
                    blocked |= bit(s);
                }
                t.sig.blocked = blocked & !UNBLOCKABLE;
                if t.sig.altstack.flags & SS_AUTODISARM != 0 {
                    t.sig.altstack = AltStack::default();
                }
                // Handlers start with the FPU in its initial state.
                self.vcpu.cpu.fpu = FpuState::default();
                out = Delivered::Frame;
            } else {
                // force_sigsegv.
                let fatal = s == sig::SIGSEGV;
                self.force_signal(pid, SigInfo::kernel(sig::SIGSEGV), fatal);
            }
        }
        // restore_saved_sigmask: an rt_sigsuspend that delivered no frame
        // gets its mask back.
        if let Some(t) = self.tasks.get_mut(&pid)
            && let Some(m) = t.sig.saved_mask.take()
        {
            t.sig.blocked = m;
        }
        if out == Delivered::Frame {
            // The entry stubs leave by IRET when EAX is 0.
            self.vcpu.cpu.gpr[0] = 0;
        }
        out
    }

    /// `get_sigframe`: where the frame and the FPU area go, or None when
    /// the alternate stack would overflow.
    fn frame_place(
        &self,
        r: &Regs,
        act: &SigAction,
        alt: AltStack,
        size: u64,
    ) -> Option<(u64, u64)> {
        let ia32 = act.ia32;
        let orig = r.get(R::Sp);
        let nested = alt.on(orig);
        let mut entering = false;
        let mut sp = orig;
        if !ia32 {
            sp = sp.wrapping_sub(128);
        }
        if act.flags & sa::ONSTACK != 0 && alt.ss_flags(sp) == 0 {
            sp = alt.sp.wrapping_add(alt.size);
            entering = true;
        }
        // fpu__alloc_mathframe.
        let buf_fx = sp.wrapping_sub(512) & !63;
        let fpstate = if ia32 {
            buf_fx.wrapping_sub(FREGS_SIZE)
        } else {
            buf_fx
        };
        let top = fpstate.wrapping_sub(size);
        let frame = match self.flavor {
            boot::Flavor::I386 => (top.wrapping_add(4) & !15).wrapping_sub(4),
            boot::Flavor::X86_64 => (top & !15).wrapping_sub(8),
        };
        if (nested || entering) && !alt.contains(frame) {
            return None;
        }
        let frame = if ia32 { frame & 0xFFFF_FFFF } else { frame };
        Some((frame, fpstate))
    }

    /// The FPU area of a frame at `fpstate`: the FXSAVE image (and, for
    /// i386 frames, the FSAVE-format header before it).
    fn write_fpstate(&mut self, fpstate: u64, ia32: bool, cs: u64) -> Result<(), ()> {
        let x64 = self.flavor == boot::Flavor::X86_64;
        let fpu = self.vcpu.cpu.fpu.clone();
        let ds = self.vcpu.cpu.seg[SegReg::Ds as usize].selector;
        // 64-bit kernels save with FXSAVE64 (16 XMM registers, 64-bit
        // FIP/FDP); i386 kernels with the 32-bit FXSAVE (8 XMM).
        let (img, xmm) = if x64 {
            (fpu.fxsave_image(true, 16), 16)
        } else {
            (fpu.fxsave_image(false, 8), 8)
        };
        let buf_fx = if ia32 { fpstate + FREGS_SIZE } else { fpstate };
        let mut mem = self.user_memory();
        // What FXSAVE writes (bytes 0-159 and the XMM registers), then the
        // software-reserved bytes.
        mem.write(buf_fx, &img[..160 + 16 * xmm]).map_err(|_| ())?;
        mem.write(buf_fx + 464, &[0u8; 48]).map_err(|_| ())?;
        if ia32 {
            // convert_from_fxsr: user_i387_ia32_struct, then status, magic.
            let mut h = [0u8; 112];
            put(&mut h, 0, u64::from(fpu.fcw) | 0xFFFF_0000, 4);
            put(&mut h, 4, u64::from(fpu.fsw) | 0xFFFF_0000, 4);
            put(&mut h, 8, u64::from(twd_fxsr_to_i387(&img)), 4);
            if x64 {
                put(&mut h, 12, fpu.fip, 4);
                put(&mut h, 16, cs, 4);
                put(&mut h, 20, fpu.fdp, 4);
                put(&mut h, 24, u64::from(ds) | 0xFFFF_0000, 4);
            } else {
                put(&mut h, 12, fpu.fip, 4);
                put(
                    &mut h,
                    16,
                    u64::from(fpu.fcs) | (u64::from(fpu.fop) << 16),
                    4,
                );
                put(&mut h, 20, fpu.fdp, 4);
                put(&mut h, 24, u64::from(fpu.fds), 4);
            }
            for i in 0..8 {
                h[28 + 10 * i..38 + 10 * i].copy_from_slice(&img[32 + 16 * i..42 + 16 * i]);
            }
            put(&mut h, 108, u64::from(fpu.fsw), 2);
            put(&mut h, 110, 0, 2); // X86_FXSR_MAGIC
            mem.write(fpstate, &h).map_err(|_| ())?;
        }
        Ok(())
    }

    /// Builds the handler's frame and points `pt_regs` at the handler.
    fn setup_frame(
        &mut self,
        regs: u64,
        s: u32,
        act: &SigAction,
        info: &SigInfo,
        mask: u64,
    ) -> Result<(), ()> {
        let mut r = self.read_regs(regs);
        let Some(t) = self.tasks.get(&self.current) else {
            return Err(());
        };
        let alt = t.sig.altstack;
        let (trap_nr, err, cr2) = (t.sig.trap_nr, t.sig.error_code, t.sig.cr2);
        if !act.ia32 {
            // x86-64 requires SA_RESTORER.
            if act.flags & sa::RESTORER == 0 {
                return Err(());
            }
            let (frame, fpstate) = self.frame_place(&r, act, alt, f64::SIZE as u64).ok_or(())?;
            let mut b = vec![0u8; f64::SIZE];
            put(&mut b, 0, act.restorer, 8);
            put(&mut b, f64::UC, 0x6, 8); // UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
            put(&mut b, f64::UC_STACK, alt.sp, 8);
            put(
                &mut b,
                f64::UC_STACK + 8,
                u64::from(alt.ss_flags(r.get(R::Sp)) | (alt.flags & SS_AUTODISARM)),
                4,
            );
            put(&mut b, f64::UC_STACK + 16, alt.size, 8);
            let sc = f64::SC;
            let gprs = [
                R::R8,
                R::R9,
                R::R10,
                R::R11,
                R::R12,
                R::R13,
                R::R14,
                R::R15,
                R::Di,
                R::Si,
                R::Bp,
                R::Bx,
                R::Dx,
                R::Ax,
                R::Cx,
                R::Sp,
                R::Ip,
                R::Flags,
            ];
            for (k, g) in gprs.iter().enumerate() {
                put(&mut b, sc + 8 * k, r.get(*g), 8);
            }
            put(&mut b, sc + 144, r.get(R::Cs), 2);
            put(&mut b, sc + 146, 0, 2); // gs
            put(&mut b, sc + 148, 0, 2); // fs
            put(&mut b, sc + 150, r.get(R::Ss), 2);
            put(&mut b, sc + 152, err, 8);
            put(&mut b, sc + 160, trap_nr, 8);
            put(&mut b, sc + 168, mask & 0xFFFF_FFFF, 8); // oldmask
            put(&mut b, sc + 176, cr2, 8);
            put(&mut b, sc + 184, fpstate, 8);
            put(&mut b, f64::SIGMASK, mask, 8);
            self.write_fpstate(fpstate, false, 0)?;
            let mut mem = self.user_memory();
            // sigcontext's reserved1[8] is not written.
            mem.write(frame, &b[..sc + 192]).map_err(|_| ())?;
            mem.write(frame + f64::SIGMASK as u64, &b[f64::SIGMASK..f64::INFO])
                .map_err(|_| ())?;
            if act.flags & sa::SIGINFO != 0 {
                mem.write(frame + f64::INFO as u64, &info.bytes(Abi::X86_64))
                    .map_err(|_| ())?;
            }
            r.set(R::Di, u64::from(s));
            r.set(R::Ax, 0);
            r.set(R::Si, frame + f64::INFO as u64);
            r.set(R::Dx, frame + f64::UC as u64);
            r.set(R::Ip, act.handler);
            r.set(R::Sp, frame);
            r.set(R::Cs, u64::from(layout::gdt64::USER_CS));
            r.set(R::Ss, u64::from(layout::gdt64::USER_DS));
        } else {
            let rt = act.flags & sa::SIGINFO != 0;
            let size = if rt { f32::RT_SIZE } else { f32::SF_SIZE };
            let (frame, fpstate) = self.frame_place(&r, act, alt, size as u64).ok_or(())?;
            let cs = r.get(R::Cs);
            let mut b = vec![0u8; size];
            let sc = if rt { f32::RT_SC } else { f32::SF_SC };
            // Segment selectors: from pt_regs on i386, the live registers
            // on x86_64 (get_user_seg).
            let segs = if r.wide {
                let c = &self.vcpu.cpu;
                [SegReg::Gs, SegReg::Fs, SegReg::Es, SegReg::Ds]
                    .map(|x| u64::from(c.seg[x as usize].selector))
            } else {
                [r.get(R::Gs), r.get(R::Fs), r.get(R::Es), r.get(R::Ds)].map(|v| v & 0xFFFF)
            };
            for (k, v) in segs.iter().enumerate() {
                put(&mut b, sc + 4 * k, *v, 4);
            }
            let gprs = [R::Di, R::Si, R::Bp, R::Sp, R::Bx, R::Dx, R::Cx, R::Ax];
            for (k, g) in gprs.iter().enumerate() {
                put(&mut b, sc + 16 + 4 * k, r.get(*g), 4);
            }
            put(&mut b, sc + 48, trap_nr, 4);
            put(&mut b, sc + 52, err, 4);
            put(&mut b, sc + 56, r.get(R::Ip), 4);
            put(&mut b, sc + 60, cs & 0xFFFF, 4);
            put(&mut b, sc + 64, r.get(R::Flags), 4);
            put(&mut b, sc + 68, r.get(R::Sp), 4);
            put(&mut b, sc + 72, r.get(R::Ss) & 0xFFFF, 4);
            put(&mut b, sc + 76, fpstate, 4);
            put(&mut b, sc + 80, mask & 0xFFFF_FFFF, 4);
            put(&mut b, sc + 84, cr2, 4);
            put(&mut b, 4, u64::from(s), 4);
            let restorer = if act.flags & sa::RESTORER != 0 {
                act.restorer
            } else if rt {
                self.vdso.rt_sigreturn
            } else {
                self.vdso.sigreturn
            };
            put(&mut b, 0, restorer, 4);
            if rt {
                put(&mut b, 8, frame + f32::RT_INFO as u64, 4);
                put(&mut b, 12, frame + f32::RT_UC as u64, 4);
                b[f32::RT_INFO..f32::RT_UC].copy_from_slice(&info.bytes(Abi::I386));
                put(&mut b, f32::RT_UC, 0, 4); // uc_flags: no UC_FP_XSTATE
                put(&mut b, f32::RT_UC_STACK, alt.sp, 4);
                put(
                    &mut b,
                    f32::RT_UC_STACK + 4,
                    u64::from(alt.ss_flags(r.get(R::Sp)) | (alt.flags & SS_AUTODISARM)),
                    4,
                );
                put(&mut b, f32::RT_UC_STACK + 8, alt.size, 4);
                put(&mut b, f32::RT_SIGMASK, mask, 8);
                // movl $__NR_rt_sigreturn, %eax; int $0x80; pad.
                b[f32::RT_RETCODE..f32::RT_RETCODE + 8]
                    .copy_from_slice(&[0xB8, 173, 0, 0, 0, 0xCD, 0x80, 0]);
            } else {
                put(&mut b, f32::SF_EXTRAMASK, mask >> 32, 4);
                // popl %eax; movl $__NR_sigreturn, %eax; int $0x80.
                b[f32::SF_RETCODE..f32::SF_RETCODE + 8]
                    .copy_from_slice(&[0x58, 0xB8, 119, 0, 0, 0, 0xCD, 0x80]);
            }
            self.write_fpstate(fpstate, true, cs)?;
            let mut mem = self.user_memory();
            if rt {
                mem.write(frame, &b).map_err(|_| ())?;
            } else {
                // The unused _fpstate_32 is not written.
                mem.write(frame, &b[..sc + 88]).map_err(|_| ())?;
                mem.write(frame + f32::SF_EXTRAMASK as u64, &b[f32::SF_EXTRAMASK..])
                    .map_err(|_| ())?;
            }
            r.set(R::Sp, frame);
            r.set(R::Ip, act.handler);
            // -mregparm=3: eax = sig, edx = &info, ecx = &uc.
            r.set(R::Ax, u64::from(s));
            if rt {
                r.set(R::Dx, frame + f32::RT_INFO as u64);
                r.set(R::Cx, frame + f32::RT_UC as u64);
            } else {
                r.set(R::Dx, 0);
                r.set(R::Cx, 0);
            }
            let (ucs, uds) = match self.flavor {
                boot::Flavor::X86_64 => (layout::gdt64::USER32_CS, layout::gdt64::USER_DS),
                boot::Flavor::I386 => (layout::gdt32::USER_CS, layout::gdt32::USER_DS),
            };
            r.set(R::Cs, u64::from(ucs));
            r.set(R::Ss, u64::from(uds));
            if r.wide {
                let seg = flat_data(uds);
                self.vcpu.cpu.seg[SegReg::Ds as usize] = seg;
                self.vcpu.cpu.seg[SegReg::Es as usize] = seg;
            } else {
                r.set(R::Ds, u64::from(uds));
                r.set(R::Es, u64::from(uds));
            }
        }
        // handle_signal: DF, RF and TF cleared for the handler.
        let fl = r.get(R::Flags) & !(0x400 | 0x1_0000 | 0x100);
        r.set(R::Flags, fl);
        self.write_regs(regs, &r);
        Ok(())
    }

    /// rt_sigreturn (`rt = true`) or i386 sigreturn: restores the
    /// registers, flags, FPU state, mask (and alternate stack) saved in the
    /// frame; returns the restored AX. A bad frame forces SIGSEGV.
    pub(crate) fn sys_sigreturn(&mut self, call: &Call, rt: bool) -> Done {
        match self.sigreturn(call, rt) {
            Ok(ax) => Done::Return(ax as i64),
            Err(()) => {
                let pid = self.current;
                self.force_signal(pid, SigInfo::kernel(sig::SIGSEGV), false);
                Done::Return(0)
            }
        }
    }

    fn sigreturn(&mut self, call: &Call, rt: bool) -> Result<u64, ()> {
        let mut r = self.read_regs(call.regs);
        let sp = r.get(R::Sp);
        let ia32 = call.abi == Abi::I386;
        let (mask, sc_at, stack_at) = if !ia32 {
            let frame = sp.wrapping_sub(8);
            let mut mem = self.user_memory();
            let mask = uaccess::read_u64(&mut mem, frame + f64::SIGMASK as u64).map_err(|_| ())?;
            (
                mask,
                frame + f64::SC as u64,
                Some(frame + f64::UC_STACK as u64),
            )
        } else if rt {
            let frame = sp.wrapping_sub(4) & 0xFFFF_FFFF;
            let mut mem = self.user_memory();
            let mask =
                uaccess::read_u64(&mut mem, frame + f32::RT_SIGMASK as u64).map_err(|_| ())?;
            (
                mask,
                frame + f32::RT_SC as u64,
                Some(frame + f32::RT_UC_STACK as u64),
            )
        } else {
            let frame = sp.wrapping_sub(8) & 0xFFFF_FFFF;
            let mut mem = self.user_memory();
            let lo = uaccess::read_u32(&mut mem, frame + f32::SF_SC as u64 + 80).map_err(|_| ())?;
            let hi =
                uaccess::read_u32(&mut mem, frame + f32::SF_EXTRAMASK as u64).map_err(|_| ())?;
            (
                u64::from(lo) | (u64::from(hi) << 32),
                frame + f32::SF_SC as u64,
                None,
            )
        };
        if let Some(s) = self.signals() {
            s.blocked = mask & !UNBLOCKABLE;
        }
        let n = if ia32 { 88 } else { 256 };
        let mut sc = vec![0u8; n];
        self.user_memory().read(sc_at, &mut sc).map_err(|_| ())?;
        let fpstate;
        if !ia32 {
            let gprs = [
                R::R8,
                R::R9,
                R::R10,
                R::R11,
                R::R12,
                R::R13,
                R::R14,
                R::R15,
                R::Di,
                R::Si,
                R::Bp,
                R::Bx,
                R::Dx,
                R::Ax,
                R::Cx,
                R::Sp,
                R::Ip,
            ];
            for (k, g) in gprs.iter().enumerate() {
                r.set(*g, get(&sc, 8 * k, 8));
            }
            let flags = get(&sc, 136, 8);
            r.set(R::Cs, get(&sc, 144, 2) | 3);
            r.set(R::Ss, get(&sc, 150, 2) | 3);
            r.set(
                R::Flags,
                (r.get(R::Flags) & !FIX_EFLAGS) | (flags & FIX_EFLAGS),
            );
            fpstate = get(&sc, 184, 8);
        } else {
            let gprs = [R::Di, R::Si, R::Bp, R::Sp, R::Bx, R::Dx, R::Cx, R::Ax];
            for (k, g) in gprs.iter().enumerate() {
                r.set(*g, get(&sc, 16 + 4 * k, 4));
            }
            let flags = get(&sc, 64, 4);
            r.set(R::Ip, get(&sc, 56, 4));
            r.set(R::Cs, get(&sc, 60, 2) | 3);
            r.set(R::Ss, get(&sc, 72, 2) | 3);
            r.set(
                R::Flags,
                (r.get(R::Flags) & !FIX_EFLAGS) | (flags & FIX_EFLAGS),
            );
            let segs = [
                get(&sc, 0, 2),
                get(&sc, 4, 2),
                get(&sc, 8, 2),
                get(&sc, 12, 2),
            ];
            if r.wide {
                // reload_segments: each loaded with RPL 3 if it changed; a
                // bad one loads as null (the loadsegment fixup).
                for (k, reg) in [SegReg::Gs, SegReg::Fs, SegReg::Es, SegReg::Ds]
                    .iter()
                    .enumerate()
                {
                    let sel = (segs[k] | 3) as u16;
                    if self.vcpu.cpu.seg[*reg as usize].selector != sel {
                        self.vcpu.cpu.seg[*reg as usize] = self.load_data_segment(sel);
                    }
                }
            } else {
                // i386: the exit path pops them; a bad one becomes 0 (the
                // RESTORE_REGS fixup).
                for (k, reg) in [R::Gs, R::Fs, R::Es, R::Ds].iter().enumerate() {
                    let sel = segs[k] as u16;
                    let ok = self.data_selector_ok(sel);
                    r.set(*reg, if ok { u64::from(sel) } else { 0 });
                }
            }
            fpstate = get(&sc, 76, 4);
        }
        r.set(R::OrigAx, u64::MAX);
        let ax = r.get(R::Ax);
        // An IRET to a bad CS or SS faults in the kernel; Linux turns it
        // into SIGSEGV for the task.
        let cs_ok = self.code_selector_ok(r.get(R::Cs) as u16);
        let ss_ok = self.stack_selector_ok(r.get(R::Ss) as u16);
        self.write_regs(call.regs, &r);
        let fp_ok = self.restore_fpstate(fpstate, ia32);
        if let Some(at) = stack_at {
            self.restore_altstack(at, ia32, r.get(R::Sp));
        }
        if !(cs_ok && ss_ok && fp_ok) {
            return Err(());
        }
        Ok(ax)
    }

    /// `fpu__restore_sig`: NULL resets the FPU; a readable area loads it
    /// (MXCSR reserved bits cleared); an unreadable one resets it and
    /// fails.
    fn restore_fpstate(&mut self, fpstate: u64, ia32: bool) -> bool {
        if fpstate == 0 {
            self.vcpu.cpu.fpu = FpuState::default();
            return true;
        }
        let x64 = self.flavor == boot::Flavor::X86_64;
        let buf_fx = if ia32 { fpstate + FREGS_SIZE } else { fpstate };
        let mut img = [0u8; 512];
        let mut hdr = [0u8; 112];
        {
            let mut mem = self.user_memory();
            if mem.read(buf_fx, &mut img).is_err() || (ia32 && mem.read(fpstate, &mut hdr).is_err())
            {
                self.vcpu.cpu.fpu = FpuState::default();
                return false;
            }
        }
        let mx = u32::from_le_bytes([img[24], img[25], img[26], img[27]]) & MXCSR_MASK;
        img[24..28].copy_from_slice(&mx.to_le_bytes());
        if ia32 && x64 {
            // __fpu_restore_sig with ia32_fxstate: the FSAVE header's x87
            // state (convert_to_fxsr) replaces the image's.
            img[0..2].copy_from_slice(&hdr[0..2]);
            img[2..4].copy_from_slice(&hdr[4..6]);
            let twd = u16::from_le_bytes([hdr[8], hdr[9]]);
            img[4] = twd_i387_to_fxsr(twd);
            img[6..8].copy_from_slice(&hdr[18..20]); // fop = fcs >> 16
            let fip = u64::from(u32::from_le_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]));
            let fdp = u64::from(u32::from_le_bytes([hdr[20], hdr[21], hdr[22], hdr[23]]));
            img[8..16].copy_from_slice(&fip.to_le_bytes());
            img[16..24].copy_from_slice(&fdp.to_le_bytes());
            for i in 0..8 {
                img[32 + 16 * i..42 + 16 * i].copy_from_slice(&hdr[28 + 10 * i..38 + 10 * i]);
            }
        }
        let (wide, xmm) = if x64 { (true, 16) } else { (false, 8) };
        let mut fpu = self.vcpu.cpu.fpu.clone();
        let ok = fpu.fxrstor_image(&img, wide, xmm);
        self.vcpu.cpu.fpu = if ok { fpu } else { FpuState::default() };
        ok
    }

    /// `restore_altstack`: errors other than EFAULT are ignored.
    fn restore_altstack(&mut self, at: u64, ia32: bool, sp: u64) {
        let mut mem = self.user_memory();
        let parsed = if ia32 {
            uaccess::read_u32_array(&mut mem, at, 3)
                .ok()
                .map(|v| (u64::from(v[0]), v[1], u64::from(v[2])))
        } else {
            let a = uaccess::read_u64(&mut mem, at).ok();
            let f = uaccess::read_u32(&mut mem, at + 8).ok();
            let z = uaccess::read_u64(&mut mem, at + 16).ok();
            a.zip(f).zip(z).map(|((a, f), z)| (a, f, z))
        };
        if let Some((ssp, flags, size)) = parsed {
            let _ = self.do_sigaltstack(Some((ssp, flags, size)), sp);
        }
    }

    /// `do_sigaltstack` (the new stack part).
    fn do_sigaltstack(&mut self, new: Option<(u64, u32, u64)>, sp: u64) -> i64 {
        let Some((ssp, flags, size)) = new else {
            return 0;
        };
        let Some(s) = self.signals() else { return 0 };
        if s.altstack.on(sp) {
            return EPERM;
        }
        let mode = flags & !SS_AUTODISARM;
        if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
            return EINVAL;
        }
        if s.altstack.sp == ssp && s.altstack.size == size && s.altstack.flags == flags {
            return 0;
        }
        if mode == SS_DISABLE {
            s.altstack = AltStack {
                sp: 0,
                size: 0,
                flags,
            };
            return 0;
        }
        if size < MINSIGSTKSZ {
            return ENOMEM;
        }
        s.altstack = AltStack {
            sp: ssp,
            size,
            flags,
        };
        0
    }

    /// sigaltstack(uss, uoss).
    pub(crate) fn sys_sigaltstack(&mut self, call: &Call) -> i64 {
        let (uss, uoss) = (call.args[0], call.args[1]);
        let ia32 = call.abi == Abi::I386;
        let sp = self.read_regs(call.regs).get(R::Sp);
        let new = if uss != 0 {
            let mut mem = self.user_memory();
            if ia32 {
                match uaccess::read_u32_array(&mut mem, uss, 3) {
                    Ok(v) => Some((u64::from(v[0]), v[1], u64::from(v[2]))),
                    Err(_) => return EFAULT,
                }
            } else {
                let a = uaccess::read_u64(&mut mem, uss);
                let f = uaccess::read_u32(&mut mem, uss + 8);
                let z = uaccess::read_u64(&mut mem, uss + 16);
                match (a, f, z) {
                    (Ok(a), Ok(f), Ok(z)) => Some((a, f, z)),
                    _ => return EFAULT,
                }
            }
        } else {
            None
        };
        let Some(s) = self.signals() else {
            return ESRCH;
        };
        let old = s.altstack;
        let ret = self.do_sigaltstack(new, sp);
        if ret == 0 && uoss != 0 {
            let flags = old.ss_flags(sp) | (old.flags & SS_AUTODISARM);
            let mut mem = self.user_memory();
            let w = if ia32 {
                let mut b = [0u8; 12];
                put(&mut b, 0, old.sp, 4);
                put(&mut b, 4, u64::from(flags), 4);
                put(&mut b, 8, old.size, 4);
                mem.write(uoss, &b)
            } else {
                let mut b = [0u8; 24];
                put(&mut b, 0, old.sp, 8);
                put(&mut b, 8, u64::from(flags), 4);
                put(&mut b, 16, old.size, 8);
                mem.write(uoss, &b)
            };
            if w.is_err() {
                return EFAULT;
            }
        }
        ret
    }

    /// rt_sigaction(sig, act, oact, sigsetsize), or i386 sigaction(sig,
    /// act, oact) with `struct old_sigaction` when `old`.
    pub(crate) fn sys_sigaction(&mut self, call: &Call, old: bool) -> i64 {
        let a = call.args;
        let s = a[0] as u32;
        let ia32 = call.abi == Abi::I386;
        if !old && a[3] != 8 {
            return EINVAL;
        }
        let new = if a[1] != 0 {
            let mut mem = self.user_memory();
            let parsed = if ia32 {
                let n = if old { 4 } else { 5 };
                uaccess::read_u32_array(&mut mem, a[1], n).map(|v| {
                    let v: Vec<u64> = v.into_iter().map(u64::from).collect();
                    if old {
                        // handler, mask, flags, restorer.
                        (v[0], v[2], v[3], v[1])
                    } else {
                        (v[0], v[1], v[2], v[3] | (v[4] << 32))
                    }
                })
            } else {
                uaccess::read_u64(&mut mem, a[1]).and_then(|h| {
                    Ok((
                        h,
                        uaccess::read_u64(&mut mem, a[1] + 8)?,
                        uaccess::read_u64(&mut mem, a[1] + 16)?,
                        uaccess::read_u64(&mut mem, a[1] + 24)?,
                    ))
                })
            };
            match parsed {
                Ok((handler, flags, restorer, mask)) => Some(SigAction {
                    handler,
                    flags: flags & sa::UAPI,
                    restorer,
                    mask: mask & !UNBLOCKABLE,
                    ia32,
                }),
                Err(_) => return EFAULT,
            }
        } else {
            None
        };
        if !(1..=64).contains(&s) || (new.is_some() && bit(s) & UNBLOCKABLE != 0) {
            return EINVAL;
        }
        let Some(sg) = self.signals() else {
            return ESRCH;
        };
        let prev = sg.action(s);
        if let Some(n) = new {
            sg.actions[(s - 1) as usize] = n;
            // Setting an ignoring disposition discards a pending instance.
            if n.handler == SIG_IGN
                || (n.handler == SIG_DFL && default_action(s) == DefaultAction::Ignore)
            {
                sg.pending &= !bit(s);
            }
        }
        if a[2] != 0 {
            let mut mem = self.user_memory();
            let flags = prev.flags & sa::UAPI;
            let w = if ia32 {
                let mut b = vec![0u8; if old { 16 } else { 20 }];
                put(&mut b, 0, prev.handler, 4);
                if old {
                    put(&mut b, 4, prev.mask, 4);
                    put(&mut b, 8, flags, 4);
                    put(&mut b, 12, prev.restorer, 4);
                } else {
                    put(&mut b, 4, flags, 4);
                    put(&mut b, 8, prev.restorer, 4);
                    put(&mut b, 12, prev.mask, 8);
                }
                mem.write(a[2], &b)
            } else {
                let mut b = [0u8; 32];
                put(&mut b, 0, prev.handler, 8);
                put(&mut b, 8, flags, 8);
                put(&mut b, 16, prev.restorer, 8);
                put(&mut b, 24, prev.mask, 8);
                mem.write(a[2], &b)
            };
            if w.is_err() {
                return EFAULT;
            }
        }
        0
    }

    /// rt_sigprocmask(how, set, oset, sigsetsize), or i386
    /// sigprocmask(how, set, oset) with 32-bit sets when `old`.
    pub(crate) fn sys_sigprocmask(&mut self, call: &Call, old: bool) -> i64 {
        let a = call.args;
        if !old && a[3] != 8 {
            return EINVAL;
        }
        let new = if a[1] != 0 {
            let mut mem = self.user_memory();
            let v = if old {
                uaccess::read_u32(&mut mem, a[1]).map(u64::from)
            } else {
                uaccess::read_u64(&mut mem, a[1])
            };
            match v {
                Ok(v) => Some(v),
                Err(_) => return EFAULT,
            }
        } else {
            None
        };
        let Some(sg) = self.signals() else {
            return ESRCH;
        };
        let prev = sg.blocked;
        if let Some(set) = new {
            let set = set & !UNBLOCKABLE;
            sg.blocked = match a[0] {
                0 => prev | set,
                1 => prev & !set,
                2 if old => (prev & !0xFFFF_FFFF) | set,
                2 => set,
                _ => return EINVAL,
            };
        }
        if a[2] != 0 {
            let mut mem = self.user_memory();
            let w = if old {
                uaccess::write_u32(&mut mem, a[2], prev as u32)
            } else {
                uaccess::write_u64(&mut mem, a[2], prev)
            };
            if w.is_err() {
                return EFAULT;
            }
        }
        0
    }

    /// rt_sigpending(set, sigsetsize) / i386 sigpending(set).
    pub(crate) fn sys_sigpending(&mut self, call: &Call, old: bool) -> i64 {
        let a = call.args;
        if !old && a[1] > 8 {
            return EINVAL;
        }
        let Some(sg) = self.signals() else {
            return ESRCH;
        };
        let v = sg.pending & sg.blocked;
        let n = if old { 4 } else { a[1] as usize };
        let mut mem = self.user_memory();
        if mem.write(a[0], &v.to_le_bytes()[..n]).is_err() {
            return EFAULT;
        }
        0
    }

    /// rt_sigsuspend(mask, sigsetsize): replaces the mask and sleeps until
    /// a signal that is not ignored arrives; returns -EINTR (after the
    /// handler ran with the old mask saved in its frame).
    pub(crate) fn sys_sigsuspend(&mut self, call: &Call, old: bool) -> Done {
        let a = call.args;
        let Some(t) = self.tasks.get(&self.current) else {
            return Done::Return(ESRCH);
        };
        if t.sig.saved_mask.is_some() {
            // Re-issued while sleeping.
            return if t.sig.wakes().is_some() {
                Done::Return(EINTR)
            } else {
                Done::Block
            };
        }
        if !old && a[1] != 8 {
            return Done::Return(EINVAL);
        }
        // i386 sigsuspend(int, int, old_sigset_t mask) takes the mask by
        // value.
        let mask = if old {
            a[2]
        } else {
            let mut mem = self.user_memory();
            match uaccess::read_u64(&mut mem, a[0]) {
                Ok(v) => v,
                Err(_) => return Done::Return(EFAULT),
            }
        };
        let Some(sg) = self.signals() else {
            return Done::Return(ESRCH);
        };
        sg.saved_mask = Some(sg.blocked);
        sg.blocked = mask & !UNBLOCKABLE;
        if sg.wakes().is_some() {
            Done::Return(EINTR)
        } else {
            Done::Block
        }
    }

    /// pause(): sleeps until a signal that is not ignored arrives.
    pub(crate) fn sys_pause(&mut self) -> Done {
        match self.tasks.get(&self.current) {
            Some(t) if t.sig.wakes().is_some() => Done::Return(EINTR),
            Some(_) => Done::Block,
            None => Done::Return(ESRCH),
        }
    }

    /// alarm(seconds): the previous alarm's remaining seconds (rounded to
    /// nearest, at least 1 while one is pending).
    pub(crate) fn sys_alarm(&mut self, secs: u64) -> i64 {
        let now = self.vcpu.cpu.cycles;
        let hz = self.personality.clock.freq_hz.max(1);
        let Some(sg) = self.signals() else { return 0 };
        let prev = sg.alarm_at.map_or(0, |at| {
            let left = at.saturating_sub(now);
            let (s, rem) = (left / hz, left % hz);
            let s = if rem >= hz / 2 { s + 1 } else { s };
            s.max(1)
        });
        let secs = secs & 0xFFFF_FFFF;
        sg.alarm_at = (secs != 0).then(|| now.saturating_add(secs.saturating_mul(hz)));
        // alarm is setitimer(ITIMER_REAL) with no interval.
        if let Some(t) = self.tasks.get_mut(&self.current) {
            t.files.ids.itimer_interval = (0, 0);
        }
        prev as i64
    }

    /// kill(pid, sig): `pid` > 0 one process; 0 every process (one
    /// process group here); -1 every process but the caller; other
    /// groups do not exist (ESRCH).
    pub(crate) fn sys_kill(&mut self, target: i32, s: i32) -> Done {
        if !(0..=64).contains(&s) {
            return Done::Return(EINVAL);
        }
        let me = self.current;
        let live = |m: &Machine, p: u32| {
            m.tasks
                .get(&p)
                .is_some_and(|t| !matches!(t.state, State::Zombie(_)))
        };
        let targets: Vec<u32> = if target > 0 {
            vec![target as u32]
        } else if target == 0 || target == -1 {
            self.tasks
                .keys()
                .copied()
                .filter(|&p| !(target == -1 && p == me))
                .collect()
        } else {
            Vec::new()
        };
        let targets: Vec<u32> = targets.into_iter().filter(|&p| live(self, p)).collect();
        if targets.is_empty() {
            return Done::Return(ESRCH);
        }
        if s == 0 {
            return Done::Return(0);
        }
        for p in targets {
            self.post_signal(p, SigInfo::sent(s as u32, si::USER, me));
        }
        self.after_kill()
    }

    /// tkill(tid, sig) and tgkill(tgid, tid, sig) (one thread per process).
    pub(crate) fn sys_tkill(&mut self, tgid: Option<i32>, tid: i32, s: i32) -> Done {
        if tid <= 0 || tgid.is_some_and(|g| g <= 0) || !(0..=64).contains(&s) {
            return Done::Return(EINVAL);
        }
        if tgid.is_some_and(|g| g != tid) {
            return Done::Return(ESRCH);
        }
        let p = tid as u32;
        match self.tasks.get(&p).map(|t| t.state) {
            None | Some(State::Zombie(_)) => return Done::Return(ESRCH),
            _ => {}
        }
        if s == 0 {
            return Done::Return(0);
        }
        let me = self.current;
        self.post_signal(p, SigInfo::sent(s as u32, si::TKILL, me));
        self.after_kill()
    }

    /// `rt_sigqueueinfo(tgid, sig, info)` and (with `tid`)
    /// `rt_tgsigqueueinfo`: sends `sig` with the caller's `siginfo_t`
    /// (`do_rt_sigqueueinfo`, `do_rt_tgsigqueueinfo`): its si_code must be
    /// negative and not SI_TKILL unless the caller signals itself (EPERM),
    /// which keeps a process from posing as the kernel or kill().
    pub(crate) fn sys_sigqueueinfo(
        &mut self,
        abi: Abi,
        tgid: i32,
        tid: Option<i32>,
        s: i32,
        uinfo: u64,
    ) -> Done {
        let mut b = [0u8; 128];
        if self.user_memory().read(uinfo, &mut b).is_err() {
            return Done::Return(EFAULT);
        }
        // The order of Linux's checks: the thread-directed form wants
        // positive ids (EINVAL); no posing as the kernel or kill() but to
        // oneself (EPERM); the target must exist (ESRCH); then the signal
        // must be valid (EINVAL), and 0 only checks.
        if tid.is_some_and(|t| t <= 0) || (tid.is_some() && tgid <= 0) {
            return Done::Return(EINVAL);
        }
        let target = tid.unwrap_or(tgid);
        let code = i32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        let me = self.current;
        if (code >= 0 || code == si::TKILL) && target != me as i32 {
            return Done::Return(EPERM);
        }
        let p = target as u32;
        let alive = target > 0
            && matches!(self.tasks.get(&p).map(|t| t.state), Some(st) if !matches!(st, State::Zombie(_)));
        if !alive || tid.is_some_and(|t| t != tgid) {
            return Done::Return(ESRCH);
        }
        if !(0..=64).contains(&s) {
            return Done::Return(EINVAL);
        }
        if s == 0 {
            return Done::Return(0);
        }
        let u = if abi == Abi::X86_64 { 16 } else { 12 };
        let word = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let value = if abi == Abi::X86_64 {
            u64::from(word(u + 8)) | u64::from(word(u + 12)) << 32
        } else {
            u64::from(word(u + 8))
        };
        self.post_signal(
            p,
            SigInfo {
                signo: s as u32,
                code,
                kind: InfoKind::Queue,
                pid: word(u),
                uid: word(u + 4),
                value,
                ..SigInfo::default()
            },
        );
        self.after_kill()
    }

    /// After a kill that may have reached the caller: SIGKILL ends it
    /// before the call returns (strace shows `= ?`); anything else returns
    /// 0 and is delivered on the way out.
    fn after_kill(&mut self) -> Done {
        let me = self.current;
        match self.tasks.get(&me) {
            Some(t) if matches!(t.state, State::Zombie(_)) => Done::Ended,
            Some(t) if t.sig.pending & bit(sig::SIGKILL) != 0 => Done::Ended,
            None => Done::Ended,
            Some(_) => Done::Return(0),
        }
    }

    /// A user-mode exception with `pt_regs` at `regs`: the signal Linux's
    /// trap handlers send (traps.c, fault.c), forced, then delivered.
    pub(crate) fn user_fault(&mut self, regs: u64, vector: u8) -> Delivered {
        let r = self.read_regs(regs);
        let ip = r.get(R::Ip);
        let err = if super::entry::has_error_code(vector) {
            r.get(R::OrigAx) & 0xFFFF_FFFF
        } else {
            0
        };
        let cr2 = self.vcpu.cpu.cr2;
        let limit = self.user_limit();
        let fpu = &self.vcpu.cpu.fpu;
        let info = match vector {
            0 => SigInfo::fault(sig::SIGFPE, si::FPE_INTDIV, ip),
            1 => SigInfo::fault(sig::SIGTRAP, si::TRAP_TRACE, ip),
            6 => SigInfo::fault(sig::SIGILL, si::ILL_ILLOPN, ip),
            14 => {
                let code = if err & 1 != 0 && cr2 < limit {
                    si::SEGV_ACCERR
                } else {
                    si::SEGV_MAPERR
                };
                SigInfo::fault(sig::SIGSEGV, code, cr2)
            }
            16 | 19 => {
                let e = if vector == 16 {
                    fpu.fsw & !fpu.fcw
                } else {
                    let m = fpu.mxcsr as u16;
                    !(m >> 7) & m
                };
                let code = if e & 1 != 0 {
                    si::FPE_FLTINV
                } else if e & 4 != 0 {
                    si::FPE_FLTDIV
                } else if e & 8 != 0 {
                    si::FPE_FLTOVF
                } else if e & 0x12 != 0 {
                    si::FPE_FLTUND
                } else if e & 0x20 != 0 {
                    si::FPE_FLTRES
                } else {
                    0
                };
                SigInfo::fault(sig::SIGFPE, code, ip)
            }
            17 => SigInfo::fault(sig::SIGBUS, si::BUS_ADRALN, 0),
            11 | 12 => SigInfo::kernel(sig::SIGBUS),
            3 => SigInfo::kernel(sig::SIGTRAP),
            _ => SigInfo::kernel(sig::SIGSEGV),
        };
        let pid = self.current;
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.sig.trap_nr = u64::from(vector);
            t.sig.error_code = if vector == 14 { err | 4 } else { err };
            if vector == 14 {
                t.sig.cr2 = cr2;
            }
        }
        self.force_signal(pid, info, false);
        self.deliver_signals(regs)
    }

    /// Whether `sel` (RPL 3) names a DPL-3 code segment IRET can return to.
    fn code_selector_ok(&self, sel: u16) -> bool {
        self.descriptor(sel)
            .is_some_and(|d| d & 0x80 != 0 && d & 0x18 == 0x18 && (d >> 5) & 3 == 3)
    }

    /// Whether `sel` names a writable DPL-3 data segment (a stack).
    fn stack_selector_ok(&self, sel: u16) -> bool {
        self.descriptor(sel)
            .is_some_and(|d| d & 0x80 != 0 && d & 0x1A == 0x12 && (d >> 5) & 3 == 3)
    }

    /// Whether a data segment register may hold `sel` at CPL 3 (null, or a
    /// present DPL-3 data or readable code segment).
    fn data_selector_ok(&self, sel: u16) -> bool {
        if sel & !3 == 0 {
            return true;
        }
        self.descriptor(sel).is_some_and(|d| {
            let data = d & 0x18 == 0x10;
            let readable_code = d & 0x1A == 0x1A;
            d & 0x80 != 0 && (data || readable_code) && (d >> 5) & 3 == 3 && sel & 3 == 3
        })
    }

    /// The access byte (and flags nibble in bits 12-15) of GDT entry
    /// `sel`, with its base and limit, or None (LDT, out of the table).
    fn descriptor_raw(&self, sel: u16) -> Option<u64> {
        if sel & 4 != 0 || sel & !7 == 0 {
            return None;
        }
        let g = self.vcpu.cpu.gdtr;
        let idx = u64::from(sel & !7);
        if idx + 7 > u64::from(g.limit) {
            return None;
        }
        let pa = g.base.wrapping_add(idx).wrapping_sub(self.kernel_base());
        Some(self.vcpu.cpu.mmu.phys.read_u64(pa))
    }

    fn descriptor(&self, sel: u16) -> Option<u16> {
        self.descriptor_raw(sel)
            .map(|d| (((d >> 40) & 0xFF) | (((d >> 52) & 0xF) << 12)) as u16)
    }

    /// The segment cache a data-segment load of `sel` gives (null when the
    /// selector is not loadable).
    fn load_data_segment(&self, sel: u16) -> Segment {
        let null = Segment {
            selector: 0,
            base: 0,
            limit: 0,
            attr: sysgate_cpu::state::attr::UNUSABLE,
        };
        if sel & !3 == 0 || !self.data_selector_ok(sel) {
            return null;
        }
        let Some(d) = self.descriptor_raw(sel) else {
            return null;
        };
        let base = ((d >> 16) & 0xFF_FFFF) | (((d >> 56) & 0xFF) << 24);
        let mut limit = ((d & 0xFFFF) | (((d >> 48) & 0xF) << 16)) as u32;
        let flags = ((d >> 52) & 0xF) as u16;
        if flags & 0x8 != 0 {
            limit = (limit << 12) | 0xFFF;
        }
        Segment {
            selector: sel,
            base,
            limit,
            attr: (((d >> 40) & 0xFF) as u16 | 1) | (flags << 12),
        }
    }

    /// Interrupts the blocked call of the current task for a signal about
    /// to be delivered: -EINTR, or a restart (`ax = orig_ax`, `ip -= 2`)
    /// when the handler has SA_RESTART and the call is restartable.
    pub(crate) fn interrupt_call(&mut self, call: &Call, restartable: bool) {
        // A pipe write that wrote part of its data returns that count.
        if let Some(t) = self.tasks.get_mut(&self.current) {
            let written = std::mem::take(&mut t.files.ids.pipe_written);
            if written > 0 {
                let mut r = self.read_regs(call.regs);
                r.set(R::Ax, written);
                self.write_regs(call.regs, &r);
                return;
            }
        }
        let Some(t) = self.tasks.get(&self.current) else {
            return;
        };
        let Some(s) = t.sig.wakes() else { return };
        let a = t.sig.action(s);
        let restart = restartable && a.handler > SIG_IGN && a.flags & sa::RESTART != 0;
        let mut r = self.read_regs(call.regs);
        if restart {
            r.set(R::Ax, r.get(R::OrigAx));
            r.set(R::Ip, r.get(R::Ip).wrapping_sub(2));
        } else {
            r.set(R::Ax, EINTR as u64);
        }
        self.write_regs(call.regs, &r);
    }
}

/// `twd_fxsr_to_i387`: the full tag word rebuilt from the abridged tag and
/// the registers' contents (image order: ST(i) at 32 + 16 i).
fn twd_fxsr_to_i387(img: &[u8; 512]) -> u32 {
    let tos = (u16::from_le_bytes([img[2], img[3]]) >> 11) & 7;
    let abridged = img[4];
    let mut ret = 0xFFFF_0000u32;
    for i in 0..8u16 {
        let tag = if abridged & (1 << i) != 0 {
            let st = usize::from((i.wrapping_sub(tos)) & 7);
            let o = 32 + 16 * st;
            let exp = u16::from_le_bytes([img[o + 8], img[o + 9]]) & 0x7FFF;
            let signif = get(img, o, 8);
            match exp {
                0x7FFF => 2,
                0 if signif == 0 => 1,
                0 => 2,
                _ if signif >> 63 != 0 => 0,
                _ => 2,
            }
        } else {
            3
        };
        ret |= tag << (2 * i);
    }
    ret
}

/// `twd_i387_to_fxsr`: the abridged tag (bit set unless the tag is empty).
fn twd_i387_to_fxsr(twd: u16) -> u8 {
    let mut out = 0u8;
    for i in 0..8 {
        if (twd >> (2 * i)) & 3 != 3 {
            out |= 1 << i;
        }
    }
    out
}

/// A flat DPL-3 data segment cache for `sel`.
fn flat_data(sel: u16) -> Segment {
    Segment {
        selector: sel,
        base: 0,
        limit: 0xFFFF_FFFF,
        attr: 0xF3 | (0xC << 12),
    }
}
