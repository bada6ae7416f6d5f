//! sysgate: an x86 CPU emulator that counts modeled cycles and hosts a
//! Linux-like kernel model, for stepping, tracing, auditing and comparing
//! system-call entry paths.
//!
//! This facade re-exports the workspace crates:
//! - [`mmu`]: guest physical memory, paging walks, TLB, page faults.
//! - [`cpu`]: the processor, its decode cache, run loop and cycle model.
//! - [`kernel`]: the Linux-like kernel model (boot, entry stubs, system
//!   calls, processes).
//! - [`guests`]: built-in guest programs.
//!
//! ```
//! use sysgate::cpu::{Exit, Limit, Vcpu, Vendor};
//! let mut vcpu = Vcpu::new(1 << 20, Vendor::Intel);
//! vcpu.cpu.set_flat_mode(64, 0);
//! vcpu.cpu.mmu.phys.write(0x1000, &[0x48, 0xC7, 0xC0, 0x2A, 0, 0, 0, 0xF4]); // mov rax, 42; hlt
//! vcpu.cpu.rip = 0x1000;
//! assert_eq!(vcpu.run(Limit::NONE), Exit::Hlt);
//! assert_eq!(vcpu.cpu.gpr[0], 42);
//! ```

pub use sysgate_cpu as cpu;
pub use sysgate_guest_bins as guests;
pub use sysgate_kernel_model as kernel;
pub use sysgate_mmu as mmu;

pub mod builder;
pub mod demo;

pub use builder::{BuildError, MachineBuilder};
pub use sysgate_kernel_model::machine::{
    Config, Flavor, Machine, Mechanism, Observer, PhaseCycles, Status, Step, SyscallEvent,
    Vsyscall32,
};
