//! sysgate-cpu: an x86 processor emulated at the architectural level.
//!
//! The processor decodes real machine code with iced-x86 once into cached
//! basic blocks ([`decode`]), executes it through per-family instruction
//! handlers ([`insn`]), applies segmentation and paging to every memory
//! access ([`memory`], [`sysgate_mmu`]), and charges each retired
//! instruction the cycles of a [`CycleModel`]. Faults are [`Exception`]
//! values; an instruction that faults commits no state.
//!
//! ```
//! use sysgate_cpu::{Exit, Limit, Vcpu, Vendor};
//! let mut vcpu = Vcpu::new(1 << 20, Vendor::Intel);
//! vcpu.cpu.set_flat_mode(64, 0);
//! // mov eax, 5; add eax, 7; hlt
//! vcpu.cpu.mmu.phys.write(0x1000, &[0xB8, 5, 0, 0, 0, 0x83, 0xC0, 7, 0xF4]);
//! vcpu.cpu.rip = 0x1000;
//! assert_eq!(vcpu.run(Limit::NONE), Exit::Hlt);
//! assert_eq!(vcpu.cpu.gpr[0], 12);
//! ```

pub mod cpuid;
pub mod cycles;
pub mod decode;
pub mod exception;
pub mod flags;
pub mod fpu;
pub mod fuzzing;
pub(crate) mod hostcache;
pub(crate) mod insn;
pub mod interrupt;
pub mod memory;
pub mod run;
pub(crate) mod segmentation;
pub mod softfloat80;
pub mod state;
pub mod transition;
pub mod vendor;

pub use cycles::CycleModel;
pub use decode::{DecodeStats, Insn};
pub use exception::{Exception, ExceptionClass};
pub use fpu::{F80, FpuState};
pub use run::{Exit, Limit, NoTracer, PortIo, StepEvent, Tracer, Vcpu};
pub use state::{Cpu, Cr0, Cr4, DescriptorTable, Efer, Mode, Msrs, Rflags, SegReg, Segment};
pub use transition::{FarPtr, Transition, TransitionKind};
pub use vendor::Vendor;

#[cfg(test)]
mod tests_reports;

#[cfg(test)]
mod tests_ports;
#[cfg(test)]
pub(crate) mod testutil;
