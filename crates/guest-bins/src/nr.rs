//! System-call numbers used by the guest programs, per ABI.
//!
//! The numbers come from the kernel model's generated tables (included by
//! path, so this crate does not depend on the kernel model and the two can
//! never disagree). A program picks the x86_64 number when it enters with
//! `syscall` from 64-bit code and the i386 number otherwise: `int 0x80` from
//! 64-bit code is served by the i386 table, as on Linux.

#[allow(dead_code, unreachable_pub)]
#[path = "../../kernel-model/src/syscalls/unistd_64.rs"]
mod unistd_64;

#[allow(dead_code, unreachable_pub)]
#[path = "../../kernel-model/src/syscalls/unistd_32.rs"]
mod unistd_32;

use crate::{Error, NR_MYAUDIT};

/// Which table a system call is looked up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Abi {
    /// `unistd_64.h`: `syscall` from 64-bit code.
    X64,
    /// `unistd_32.h`: 32-bit code, and `int 0x80` from 64-bit code.
    I386,
}

/// One system call with its number in each table (`None`: not in that table).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Nr {
    /// The Linux name, for error messages.
    pub(crate) name: &'static str,
    x64: Option<u32>,
    i386: Option<u32>,
}

impl Nr {
    /// The number in `abi`'s table.
    pub(crate) fn number(self, abi: Abi) -> Option<u32> {
        match abi {
            Abi::X64 => self.x64,
            Abi::I386 => self.i386,
        }
    }

    /// The x86_64 number, for programs that only exist as 64-bit code.
    pub(crate) fn x64(self) -> Result<u32, Error> {
        self.x64.ok_or(Error::NoSuchCall(self.name))
    }
}

const fn both(name: &'static str, x64: u32, i386: u32) -> Nr {
    Nr {
        name,
        x64: Some(x64),
        i386: Some(i386),
    }
}

pub(crate) const READ: Nr = both("read", unistd_64::NR_READ, unistd_32::NR_READ);
pub(crate) const WRITE: Nr = both("write", unistd_64::NR_WRITE, unistd_32::NR_WRITE);
pub(crate) const OPEN: Nr = both("open", unistd_64::NR_OPEN, unistd_32::NR_OPEN);
pub(crate) const CLOSE: Nr = both("close", unistd_64::NR_CLOSE, unistd_32::NR_CLOSE);
pub(crate) const GETPID: Nr = both("getpid", unistd_64::NR_GETPID, unistd_32::NR_GETPID);
pub(crate) const FORK: Nr = both("fork", unistd_64::NR_FORK, unistd_32::NR_FORK);
pub(crate) const EXECVE: Nr = both("execve", unistd_64::NR_EXECVE, unistd_32::NR_EXECVE);
pub(crate) const WAIT4: Nr = both("wait4", unistd_64::NR_WAIT4, unistd_32::NR_WAIT4);
pub(crate) const EXIT_GROUP: Nr = both(
    "exit_group",
    unistd_64::NR_EXIT_GROUP,
    unistd_32::NR_EXIT_GROUP,
);
pub(crate) const MYAUDIT: Nr = Nr {
    name: "myaudit",
    x64: Some(NR_MYAUDIT),
    i386: None,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_linux_numbers() {
        assert_eq!(WRITE.number(Abi::X64), Some(1));
        assert_eq!(WRITE.number(Abi::I386), Some(4));
        assert_eq!(GETPID.number(Abi::X64), Some(39));
        assert_eq!(GETPID.number(Abi::I386), Some(20));
        assert_eq!(EXIT_GROUP.number(Abi::X64), Some(231));
        assert_eq!(EXIT_GROUP.number(Abi::I386), Some(252));
        assert_eq!(WAIT4.number(Abi::I386), Some(114));
        assert_eq!(MYAUDIT.number(Abi::I386), None);
        // The audit numbers are holes in the stock x86_64 table.
        assert_eq!(unistd_64::NAMES[crate::NR_SYSCALL_AUDIT as usize], None);
        assert_eq!(unistd_64::NAMES[NR_MYAUDIT as usize], None);
    }
}
