//! The vendor profile: where Intel and AMD processors really differ, sysgate
//! follows the vendor chosen for the machine.
//!
//! Differences modeled (SDM Vol. 2 and AMD APM Vol. 3):
//! - SYSENTER/SYSEXIT in 64-bit mode are #UD on AMD.
//! - SYSCALL in compatibility mode is #UD on Intel.
//! - SYSRET with a non-canonical RCX: Intel raises #GP(0) at CPL 0; AMD
//!   loads RIP and the fault happens in ring 3.
//! - Flags the SDM leaves undefined (see [`crate::flags`]).
//! - The CPUID vendor string.

/// Which vendor's documented behaviour to follow where vendors differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Vendor {
    /// Intel (GenuineIntel), following the Intel SDM.
    #[default]
    Intel,
    /// AMD (AuthenticAMD), following the AMD APM.
    Amd,
}

impl Vendor {
    /// The 12-byte CPUID vendor identification string.
    pub const fn id_string(self) -> &'static [u8; 12] {
        match self {
            Vendor::Intel => b"GenuineIntel",
            Vendor::Amd => b"AuthenticAMD",
        }
    }
}
