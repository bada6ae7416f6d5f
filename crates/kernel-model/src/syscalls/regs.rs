//! `struct pt_regs` in Linux's two x86 layouts, with little-endian
//! serialization so the machine layer can read and write them on the
//! emulated kernel stack, and the argument-register conventions.
//!
//! - x86_64 (`arch/x86/include/asm/ptrace.h`, `!__i386__`): 21 quadwords,
//!   r15 first (lowest address) to ss last, 168 bytes. The compat entries
//!   of an x86_64 kernel (`entry_INT80_compat`, `entry_SYSENTER_compat`,
//!   `entry_SYSCALL_compat`) build this same layout.
//! - i386 (`__i386__`): 17 dwords, bx first to ss last, 68 bytes.
//!
//! Arguments: the x86_64 ABI passes rdi, rsi, rdx, r10, r8, r9; the i386
//! ABI passes ebx, ecx, edx, esi, edi, ebp, each zero-extended
//! (`do_syscall_32_irqs_on`). The number is `orig_ax`; the result goes to
//! `ax`.

use crate::abi::Abi;

/// x86_64 `struct pt_regs`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[allow(missing_docs)]
pub struct PtRegs64 {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub bp: u64,
    pub bx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub ax: u64,
    pub cx: u64,
    pub dx: u64,
    pub si: u64,
    pub di: u64,
    pub orig_ax: u64,
    pub ip: u64,
    pub cs: u64,
    pub flags: u64,
    pub sp: u64,
    pub ss: u64,
}

/// Byte offsets of the fields of [`PtRegs64`] (`asm-offsets`' `PTREGS_*`).
#[allow(missing_docs)]
pub mod off64 {
    pub const R15: usize = 0;
    pub const R14: usize = 8;
    pub const R13: usize = 16;
    pub const R12: usize = 24;
    pub const BP: usize = 32;
    pub const BX: usize = 40;
    pub const R11: usize = 48;
    pub const R10: usize = 56;
    pub const R9: usize = 64;
    pub const R8: usize = 72;
    pub const AX: usize = 80;
    pub const CX: usize = 88;
    pub const DX: usize = 96;
    pub const SI: usize = 104;
    pub const DI: usize = 112;
    pub const ORIG_AX: usize = 120;
    pub const IP: usize = 128;
    pub const CS: usize = 136;
    pub const FLAGS: usize = 144;
    pub const SP: usize = 152;
    pub const SS: usize = 160;
}

impl PtRegs64 {
    /// Size in bytes (`sizeof(struct pt_regs)`).
    pub const SIZE: usize = 168;

    fn fields(&self) -> [u64; 21] {
        [
            self.r15,
            self.r14,
            self.r13,
            self.r12,
            self.bp,
            self.bx,
            self.r11,
            self.r10,
            self.r9,
            self.r8,
            self.ax,
            self.cx,
            self.dx,
            self.si,
            self.di,
            self.orig_ax,
            self.ip,
            self.cs,
            self.flags,
            self.sp,
            self.ss,
        ]
    }

    fn from_fields(f: [u64; 21]) -> PtRegs64 {
        let [
            r15,
            r14,
            r13,
            r12,
            bp,
            bx,
            r11,
            r10,
            r9,
            r8,
            ax,
            cx,
            dx,
            si,
            di,
            orig_ax,
            ip,
            cs,
            flags,
            sp,
            ss,
        ] = f;
        PtRegs64 {
            r15,
            r14,
            r13,
            r12,
            bp,
            bx,
            r11,
            r10,
            r9,
            r8,
            ax,
            cx,
            dx,
            si,
            di,
            orig_ax,
            ip,
            cs,
            flags,
            sp,
            ss,
        }
    }

    /// Serializes as it lies in memory.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        for (chunk, v) in out.chunks_exact_mut(8).zip(self.fields()) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Deserializes from memory; `None` if `b` is shorter than [`Self::SIZE`].
    pub fn from_bytes(b: &[u8]) -> Option<PtRegs64> {
        let b = b.get(..Self::SIZE)?;
        let mut f = [0u64; 21];
        for (v, chunk) in f.iter_mut().zip(b.chunks_exact(8)) {
            let mut q = [0u8; 8];
            q.copy_from_slice(chunk);
            *v = u64::from_le_bytes(q);
        }
        Some(PtRegs64::from_fields(f))
    }

    /// The system-call number (`orig_ax`).
    pub fn syscall_nr(&self) -> u64 {
        self.orig_ax
    }

    /// Arguments of a native 64-bit call: rdi, rsi, rdx, r10, r8, r9.
    pub fn syscall_args(&self) -> [u64; 6] {
        [self.di, self.si, self.dx, self.r10, self.r8, self.r9]
    }

    /// Arguments of a compat (i386-ABI) call on an x86_64 kernel: ebx, ecx,
    /// edx, esi, edi, ebp, zero-extended.
    pub fn compat_syscall_args(&self) -> [u64; 6] {
        [self.bx, self.cx, self.dx, self.si, self.di, self.bp].map(|v| v & 0xffff_ffff)
    }

    /// The arguments for `abi` (native or compat).
    pub fn args_for(&self, abi: Abi) -> [u64; 6] {
        match abi {
            Abi::X86_64 => self.syscall_args(),
            Abi::I386 => self.compat_syscall_args(),
        }
    }

    /// Stores a result in `ax` (compat results are sign-extended 32-bit
    /// values, as `regs->ax = (long)(int)ret` leaves them).
    pub fn set_return(&mut self, abi: Abi, ret: i64) {
        self.ax = match abi {
            Abi::X86_64 => ret as u64,
            Abi::I386 => i64::from(ret as i32) as u64,
        };
    }
}

/// i386 `struct pt_regs`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[allow(missing_docs)]
pub struct PtRegs32 {
    pub bx: u32,
    pub cx: u32,
    pub dx: u32,
    pub si: u32,
    pub di: u32,
    pub bp: u32,
    pub ax: u32,
    pub ds: u32,
    pub es: u32,
    pub fs: u32,
    pub gs: u32,
    pub orig_ax: u32,
    pub ip: u32,
    pub cs: u32,
    pub flags: u32,
    pub sp: u32,
    pub ss: u32,
}

/// Byte offsets of the fields of [`PtRegs32`] (`PT_EBX`...).
#[allow(missing_docs)]
pub mod off32 {
    pub const BX: usize = 0;
    pub const CX: usize = 4;
    pub const DX: usize = 8;
    pub const SI: usize = 12;
    pub const DI: usize = 16;
    pub const BP: usize = 20;
    pub const AX: usize = 24;
    pub const DS: usize = 28;
    pub const ES: usize = 32;
    pub const FS: usize = 36;
    pub const GS: usize = 40;
    pub const ORIG_AX: usize = 44;
    pub const IP: usize = 48;
    pub const CS: usize = 52;
    pub const FLAGS: usize = 56;
    pub const SP: usize = 60;
    pub const SS: usize = 64;
}

impl PtRegs32 {
    /// Size in bytes.
    pub const SIZE: usize = 68;

    fn fields(&self) -> [u32; 17] {
        [
            self.bx,
            self.cx,
            self.dx,
            self.si,
            self.di,
            self.bp,
            self.ax,
            self.ds,
            self.es,
            self.fs,
            self.gs,
            self.orig_ax,
            self.ip,
            self.cs,
            self.flags,
            self.sp,
            self.ss,
        ]
    }

    fn from_fields(f: [u32; 17]) -> PtRegs32 {
        let [
            bx,
            cx,
            dx,
            si,
            di,
            bp,
            ax,
            ds,
            es,
            fs,
            gs,
            orig_ax,
            ip,
            cs,
            flags,
            sp,
            ss,
        ] = f;
        PtRegs32 {
            bx,
            cx,
            dx,
            si,
            di,
            bp,
            ax,
            ds,
            es,
            fs,
            gs,
            orig_ax,
            ip,
            cs,
            flags,
            sp,
            ss,
        }
    }

    /// Serializes as it lies in memory.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        for (chunk, v) in out.chunks_exact_mut(4).zip(self.fields()) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Deserializes from memory; `None` if `b` is shorter than [`Self::SIZE`].
    pub fn from_bytes(b: &[u8]) -> Option<PtRegs32> {
        let b = b.get(..Self::SIZE)?;
        let mut f = [0u32; 17];
        for (v, chunk) in f.iter_mut().zip(b.chunks_exact(4)) {
            let mut d = [0u8; 4];
            d.copy_from_slice(chunk);
            *v = u32::from_le_bytes(d);
        }
        Some(PtRegs32::from_fields(f))
    }

    /// The system-call number (`orig_ax`, unsigned as `do_syscall_32` reads it).
    pub fn syscall_nr(&self) -> u64 {
        u64::from(self.orig_ax)
    }

    /// Arguments: ebx, ecx, edx, esi, edi, ebp.
    pub fn syscall_args(&self) -> [u64; 6] {
        [self.bx, self.cx, self.dx, self.si, self.di, self.bp].map(u64::from)
    }

    /// Stores a result in `ax`.
    pub fn set_return(&mut self, ret: i64) {
        self.ax = ret as u32;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn offsets_match_the_serialization() {
        let r = PtRegs64 {
            orig_ax: 39,
            di: 1,
            r10: 4,
            ss: 0x2b,
            ..Default::default()
        };
        let b = r.to_bytes();
        assert_eq!(b.len(), 168);
        assert_eq!(b[off64::ORIG_AX], 39);
        assert_eq!(b[off64::DI], 1);
        assert_eq!(b[off64::R10], 4);
        assert_eq!(b[off64::SS], 0x2b);
        assert_eq!(r.syscall_args(), [1, 0, 0, 4, 0, 0]);
        let r = PtRegs32 {
            orig_ax: 20,
            bx: 7,
            bp: 9,
            ss: 0x7b,
            ..Default::default()
        };
        let b = r.to_bytes();
        assert_eq!(b.len(), 68);
        assert_eq!(b[off32::ORIG_AX], 20);
        assert_eq!(b[off32::BX], 7);
        assert_eq!(b[off32::BP], 9);
        assert_eq!(b[off32::SS], 0x7b);
        assert_eq!(r.syscall_args(), [7, 0, 0, 0, 0, 9]);
        assert_eq!(PtRegs64::from_bytes(&[0; 167]), None);
        assert_eq!(PtRegs32::from_bytes(&[0; 67]), None);
    }

    #[test]
    fn compat_args_and_returns() {
        let mut r = PtRegs64 {
            bx: 0xffff_ffff_0000_0001,
            cx: 2,
            dx: 3,
            si: 4,
            di: 5,
            bp: 6,
            ..Default::default()
        };
        assert_eq!(r.compat_syscall_args(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(r.args_for(Abi::I386), [1, 2, 3, 4, 5, 6]);
        r.set_return(Abi::I386, -2);
        assert_eq!(r.ax, (-2i64) as u64);
        r.set_return(Abi::X86_64, 0x1_0000_0000);
        assert_eq!(r.ax, 0x1_0000_0000);
        let mut r32 = PtRegs32::default();
        r32.set_return(-38);
        assert_eq!(r32.ax, 0xffff_ffda);
    }

    proptest! {
        #[test]
        fn pt_regs64_round_trip(f in prop::array::uniform21(any::<u64>())) {
            let r = PtRegs64::from_fields(f);
            prop_assert_eq!(PtRegs64::from_bytes(&r.to_bytes()), Some(r));
            prop_assert_eq!(r.fields(), f);
        }

        #[test]
        fn pt_regs32_round_trip(f in prop::array::uniform17(any::<u32>())) {
            let r = PtRegs32::from_fields(f);
            prop_assert_eq!(PtRegs32::from_bytes(&r.to_bytes()), Some(r));
            prop_assert_eq!(r.fields(), f);
        }
    }
}
