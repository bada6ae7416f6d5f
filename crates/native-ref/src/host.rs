//! The real executor for x86-64 Linux hosts: memory mappings, the single-runner
//! claim, and the call into the trampoline.

use std::io;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::asm::{self, Ctx};
use crate::{
    ARENA_BASE, ARENA_SIZE, FLAGS_MASK, MAX_INSN_LEN, NativeError, NativeState, SimdState,
};

/// Size of the executable code page.
const CODE_SIZE: usize = 4096;
/// Size of the scratch page that holds the [`Ctx`].
const DATA_SIZE: usize = 4096;

/// Set while a [`NativeRunner`] exists in this process.
static RUNNER_ALIVE: AtomicBool = AtomicBool::new(false);

/// Ownership of the process-wide "a runner exists" flag; released on drop.
struct Claim;

impl Claim {
    fn acquire() -> Result<Self, NativeError> {
        RUNNER_ALIVE
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| Claim)
            .map_err(|_| NativeError::AlreadyInUse)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        RUNNER_ALIVE.store(false, Ordering::Release);
    }
}

/// An owned anonymous mapping, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// `mmap(hint, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags)`.
    fn anonymous(
        hint: usize,
        len: usize,
        prot: libc::c_int,
        extra_flags: libc::c_int,
    ) -> io::Result<Self> {
        // SAFETY: an anonymous private mapping aliases no existing Rust object;
        // with MAP_FIXED_NOREPLACE (or no fixed flag) the kernel never replaces
        // an existing mapping.
        let raw = unsafe {
            libc::mmap(
                hint as *mut libc::c_void,
                len,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra_flags,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(raw.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { ptr, len })
    }

    fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe a mapping this value created and owns
        // exclusively; no borrow of it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// Blocks all (blockable) signals on the current thread until dropped.
///
/// While the instruction under test runs, RSP holds a guest value. A signal
/// handler without `SA_ONSTACK` would have its frame pushed there — into the
/// arena, or onto an unmapped address, killing the process. Blocking signals for
/// the few dozen instructions of the trampoline defers delivery until the host
/// stack is back.
struct SignalsBlocked {
    old: libc::sigset_t,
}

impl SignalsBlocked {
    fn new() -> Result<Self, NativeError> {
        // SAFETY: `sigset_t` is plain data; all-zero is a valid (if unspecified)
        // value that sigfillset/pthread_sigmask fully overwrite.
        let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers refer to live, writable `sigset_t`s.
        let rc = unsafe {
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old)
        };
        if rc != 0 {
            return Err(NativeError::SignalMask(io::Error::from_raw_os_error(rc)));
        }
        Ok(SignalsBlocked { old })
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new`; the guard is only ever a
        // local in `run`, so this runs on the same thread. The pointer refers
        // to a live `sigset_t`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, ptr::null_mut());
        }
    }
}

/// Executes single x86-64 instructions on the host processor with a chosen
/// register state, against a data arena mapped at [`ARENA_BASE`].
///
/// At most one `NativeRunner` exists per process (the arena address is fixed);
/// use [`crate::with_runner`] to share one between test threads.
pub struct NativeRunner {
    // Field order is drop order: unmap everything before releasing the claim.
    arena: Mapping,
    code: Mapping,
    data: Mapping,
    /// Length of the fixed prologue, i.e. where the instruction bytes start.
    insn_off: usize,
    /// The epilogue for this runner's `Ctx` address, rewritten after each new instruction.
    epilogue: Vec<u8>,
    /// The instruction currently written into the code page.
    cached_insn: [u8; MAX_INSN_LEN],
    cached_len: usize,
    _claim: Claim,
}

// SAFETY: the runner exclusively owns its mappings, which are process-wide
// memory valid from any thread; nothing in it is tied to the creating thread.
unsafe impl Send for NativeRunner {}

impl std::fmt::Debug for NativeRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeRunner")
            .field("arena", &format_args!("{:#x}", self.arena.addr()))
            .field("code", &format_args!("{:#x}", self.code.addr()))
            .field("ctx", &format_args!("{:#x}", self.data.addr()))
            .finish_non_exhaustive()
    }
}

impl NativeRunner {
    /// Maps the zero-filled arena at [`ARENA_BASE`], an RWX code page and a
    /// scratch data page, and writes the trampoline.
    ///
    /// Returns [`NativeError::AlreadyInUse`] if another runner is alive in this
    /// process, or a mapping error if the arena address is already taken.
    pub fn new() -> Result<Self, NativeError> {
        let claim = Claim::acquire()?;
        let rw = libc::PROT_READ | libc::PROT_WRITE;

        let arena = Mapping::anonymous(
            ARENA_BASE as usize,
            ARENA_SIZE,
            rw,
            libc::MAP_FIXED_NOREPLACE,
        )
        .map_err(NativeError::ArenaMap)?;
        if arena.addr() != ARENA_BASE {
            // Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat the
            // address as a hint; `arena` is unmapped when dropped here.
            return Err(NativeError::ArenaMisplaced { got: arena.addr() });
        }
        let code = Mapping::anonymous(0, CODE_SIZE, rw | libc::PROT_EXEC, 0)
            .map_err(NativeError::CodeMap)?;
        let data = Mapping::anonymous(0, DATA_SIZE, rw, 0).map_err(NativeError::CodeMap)?;

        let prologue = asm::prologue();
        let epilogue = asm::epilogue(data.addr());
        let total = prologue.len() + MAX_INSN_LEN + epilogue.len();
        if total > CODE_SIZE {
            return Err(NativeError::CodeTooLong {
                len: total,
                max: CODE_SIZE,
            });
        }
        // SAFETY: `total <= CODE_SIZE`, so the write stays inside the code
        // mapping, which is writable and not aliased by any Rust reference.
        unsafe {
            ptr::copy_nonoverlapping(prologue.as_ptr(), code.ptr.as_ptr(), prologue.len());
        }
        let mut runner = NativeRunner {
            arena,
            code,
            data,
            insn_off: prologue.len(),
            epilogue,
            cached_insn: [0; MAX_INSN_LEN],
            cached_len: 0,
            _claim: claim,
        };
        // Start with an empty instruction so the code page is always a complete function.
        runner.write_insn(&[]);
        Ok(runner)
    }

    /// The arena: [`ARENA_SIZE`] bytes at linear address [`ARENA_BASE`],
    /// zero-filled at creation. Read and write it between runs.
    pub fn arena(&mut self) -> &mut [u8] {
        // SAFETY: the arena mapping is readable and writable for ARENA_SIZE
        // bytes and lives as long as `self`; the `&mut self` borrow guarantees
        // no other Rust reference to it exists for the returned lifetime.
        unsafe { std::slice::from_raw_parts_mut(self.arena.ptr.as_ptr(), ARENA_SIZE) }
    }

    /// Runs `insn` natively with all 16 GPRs and the arithmetic flags of
    /// `state` loaded, then stores the resulting GPRs and flags back into
    /// `state`.
    ///
    /// Only the flags in [`FLAGS_MASK`] are taken from `state.rflags`; the
    /// returned `rflags` is masked to [`FLAGS_MASK`] with the reserved bit 1
    /// set. The harness itself never writes the arena: the instruction sees
    /// exactly the memory the caller left there.
    ///
    /// # Caller contract
    ///
    /// The instruction bytes are executed for real. The caller must ensure they
    /// form complete instructions that do not transfer control, do not fault,
    /// and only access memory in the arena (e.g. with RSP inside the arena for
    /// PUSH/POP). Violations crash or corrupt the process; they cannot be
    /// detected here.
    ///
    /// # Errors
    ///
    /// [`NativeError::InsnTooLong`] if `insn` is longer than [`MAX_INSN_LEN`];
    /// [`NativeError::SignalMask`] if signals could not be blocked.
    pub fn run(&mut self, insn: &[u8], state: &mut NativeState) -> Result<(), NativeError> {
        let mut simd = SimdState::default();
        self.run_simd(insn, state, &mut simd)
    }

    /// Like [`NativeRunner::run`], and also loads XMM0-XMM15, MM0-MM7 and MXCSR from
    /// `simd` before the instruction and stores them back afterwards. The
    /// host's MXCSR is saved and restored around the instruction.
    ///
    /// # Caller contract
    ///
    /// As for [`NativeRunner::run`]; in addition `simd.mxcsr` must mask every
    /// SIMD exception (bits 7-12 set) and set no reserved bit, or the
    /// instruction may trap (or LDMXCSR fault) with guest values in the
    /// registers.
    ///
    /// # Errors
    ///
    /// As for [`NativeRunner::run`].
    pub fn run_simd(
        &mut self,
        insn: &[u8],
        state: &mut NativeState,
        simd: &mut SimdState,
    ) -> Result<(), NativeError> {
        if insn.len() > MAX_INSN_LEN {
            return Err(NativeError::InsnTooLong {
                len: insn.len(),
                max: MAX_INSN_LEN,
            });
        }
        if insn != &self.cached_insn[..self.cached_len] {
            self.write_insn(insn);
        }

        let ctx = self.data.ptr.as_ptr().cast::<Ctx>();
        // SAFETY: the data page is writable, page-aligned (so aligned for Ctx)
        // and larger than Ctx; nothing else references it.
        unsafe {
            ctx.write(Ctx {
                gpr: state.gpr,
                flags_in: state.rflags & FLAGS_MASK,
                xmm: simd.xmm,
                mm: simd.mm,
                mxcsr_in: simd.mxcsr,
                ..Ctx::default()
            });
        }

        // SAFETY: the code page holds a complete prologue, the instruction and
        // an epilogue built for this `ctx` address; together they form a
        // function following the SysV calling convention that takes `*mut Ctx`
        // in RDI: it preserves the callee-saved registers, RSP and DF=0, uses
        // only the host stack above its entry RSP, and returns. Data pointers
        // and function pointers have the same representation on x86-64.
        let trampoline = unsafe {
            std::mem::transmute::<*mut u8, unsafe extern "sysv64" fn(*mut Ctx)>(
                self.code.ptr.as_ptr(),
            )
        };
        {
            let _blocked = SignalsBlocked::new()?;
            // SAFETY: see above; the instruction's own behaviour is covered by
            // the caller contract documented on this method.
            unsafe { trampoline(ctx) };
        }

        // SAFETY: the trampoline has returned; `ctx` is valid and initialised.
        let out = unsafe { ctx.read() };
        state.gpr = out.gpr;
        state.rflags = (out.flags_out & FLAGS_MASK) | crate::FLAGS_RESERVED;
        simd.xmm = out.xmm;
        simd.mm = out.mm;
        simd.mxcsr = out.mxcsr_out;
        Ok(())
    }

    /// Writes `insn` followed by the epilogue at the instruction slot.
    fn write_insn(&mut self, insn: &[u8]) {
        let epilogue = &self.epilogue;
        // SAFETY: `new` checked that prologue + MAX_INSN_LEN + epilogue fits in
        // the code page and `insn.len() <= MAX_INSN_LEN`; the page is writable
        // and no code runs from it concurrently (`&mut self`). x86 keeps
        // instruction fetch coherent with these stores.
        unsafe {
            let slot = self.code.ptr.as_ptr().add(self.insn_off);
            ptr::copy_nonoverlapping(insn.as_ptr(), slot, insn.len());
            ptr::copy_nonoverlapping(epilogue.as_ptr(), slot.add(insn.len()), epilogue.len());
        }
        self.cached_insn[..insn.len()].copy_from_slice(insn);
        self.cached_len = insn.len();
    }
}
