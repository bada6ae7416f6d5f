//! The two system-call ABIs the personality layer serves, and the argument
//! conventions that differ between them.
//!
//! `X86_64` is the native 64-bit ABI (`syscall`, numbers from `unistd_64.h`,
//! `long` and pointers 64 bits). `I386` is the 32-bit ABI used by i386
//! kernels and by compat tasks on x86_64 kernels (`int 0x80`, `sysenter`,
//! compat `syscall`; numbers from `unistd_32.h`, `long` and pointers 32
//! bits). Linux zero-extends every i386 argument register
//! (`do_syscall_32_irqs_on` casts each to `unsigned int`), so arguments are
//! truncated to 32 bits before a handler sees them.

use serde::Serialize;

use crate::syscalls::{unistd_32, unistd_64};

/// A system-call ABI.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Abi {
    /// The x86_64 ABI (`syscall` from 64-bit code).
    #[serde(rename = "x86_64")]
    X86_64,
    /// The i386 ABI (native i386, or compat tasks on an x86_64 kernel).
    I386,
}

impl Abi {
    /// Size of a pointer and of `long` in bytes.
    pub const fn ptr_size(self) -> usize {
        match self {
            Abi::X86_64 => 8,
            Abi::I386 => 4,
        }
    }

    /// One past the highest system-call number of this ABI (`NR_syscalls`).
    pub const fn nr_syscalls(self) -> u32 {
        match self {
            Abi::X86_64 => unistd_64::NR_SYSCALLS,
            Abi::I386 => unistd_32::NR_SYSCALLS,
        }
    }

    /// The name of system call `nr` in this ABI's generated table.
    pub fn syscall_name(self, nr: u32) -> Option<&'static str> {
        let table: &[Option<&'static str>] = match self {
            Abi::X86_64 => &unistd_64::NAMES,
            Abi::I386 => &unistd_32::NAMES,
        };
        usize::try_from(nr)
            .ok()
            .and_then(|i| table.get(i).copied().flatten())
    }

    /// An argument register as an unsigned `long` (`unsigned long`, `size_t`):
    /// truncated to 32 bits on i386.
    pub const fn ulong(self, v: u64) -> u64 {
        match self {
            Abi::X86_64 => v,
            Abi::I386 => v & 0xffff_ffff,
        }
    }

    /// An argument register as a signed `long` (`off_t`, `ssize_t`):
    /// sign-extended from 32 bits on i386.
    pub const fn long(self, v: u64) -> i64 {
        match self {
            Abi::X86_64 => v as i64,
            Abi::I386 => v as u32 as i32 as i64,
        }
    }

    /// The largest value of `long` (`LONG_MAX`) in this ABI.
    pub const fn long_max(self) -> i64 {
        match self {
            Abi::X86_64 => i64::MAX,
            Abi::I386 => i32::MAX as i64,
        }
    }

    /// The ABI's name as used in reports (`"x86_64"`, `"i386"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Abi::X86_64 => "x86_64",
            Abi::I386 => "i386",
        }
    }
}

/// An `int` argument: the low 32 bits of the register, signed (what a
/// `SYSCALL_DEFINE` with an `int` parameter sees on both ABIs).
pub const fn arg_int(v: u64) -> i32 {
    v as u32 as i32
}

/// An `unsigned int` argument: the low 32 bits of the register.
pub const fn arg_uint(v: u64) -> u32 {
    v as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_truncation() {
        assert_eq!(Abi::X86_64.ptr_size(), 8);
        assert_eq!(Abi::I386.ptr_size(), 4);
        assert_eq!(Abi::I386.ulong(0x1_2345_6789), 0x2345_6789);
        assert_eq!(Abi::X86_64.ulong(0x1_2345_6789), 0x1_2345_6789);
        assert_eq!(Abi::I386.long(0xffff_ffff), -1);
        assert_eq!(Abi::I386.long(0x1_0000_0005), 5);
        assert_eq!(Abi::X86_64.long(u64::MAX), -1);
        assert_eq!(arg_int(0xffff_ffff_ffff_ff9c), -100);
        assert_eq!(arg_int(0x1_0000_0003), 3);
        assert_eq!(arg_uint(0x1_0000_0003), 3);
    }

    #[test]
    fn names_come_from_the_generated_tables() {
        assert_eq!(Abi::X86_64.syscall_name(2), Some("open"));
        assert_eq!(Abi::I386.syscall_name(5), Some("open"));
        assert_eq!(Abi::I386.syscall_name(102), Some("socketcall"));
        assert_eq!(Abi::X86_64.syscall_name(335), None);
        assert_eq!(Abi::X86_64.syscall_name(100_000), None);
    }
}
