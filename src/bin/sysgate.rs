//! The `sysgate` command-line tool.
//!
//! - `sysgate demo [--iterations N]`: runs the built-in integer compute loop
//!   and reports instructions, modeled cycles and host speed.
//! - `sysgate exec [--bits 16|32|64] [--limit N] FILE`: loads a raw binary
//!   of machine code at 0x100000 in a flat machine at CPL 0, runs it until
//!   HLT, a fault or the limit, and prints the final registers.

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use sysgate::cpu::{Exit, Limit, Vcpu};
use sysgate::demo;

#[derive(Parser)]
#[command(
    name = "sysgate",
    version,
    about = "x86 emulator with a cycle model for studying system-call paths"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the built-in compute loop and report speed and modeled cycles.
    Demo {
        /// Loop iterations (9 instructions each).
        #[arg(long, default_value_t = 10_000_000)]
        iterations: u32,
    },
    /// Run a raw machine-code file in a flat machine until HLT or a fault.
    Exec {
        /// Code size: 16, 32 or 64.
        #[arg(long, default_value_t = 64)]
        bits: u32,
        /// Maximum instructions to execute.
        #[arg(long, default_value_t = 100_000_000)]
        limit: u64,
        /// The raw code file.
        file: std::path::PathBuf,
    },
}

fn report(vcpu: &Vcpu, exit: Exit, secs: f64) {
    let c = &vcpu.cpu;
    let d = vcpu.decode_stats();
    eprintln!("exit:          {exit:?}");
    eprintln!("instructions:  {}", c.instructions);
    eprintln!(
        "cycles:        {} (profile {})",
        c.cycles,
        vcpu.model().name()
    );
    eprintln!(
        "host time:     {:.3} s ({:.1} million instructions/s)",
        secs,
        c.instructions as f64 / secs.max(1e-9) / 1e6
    );
    eprintln!(
        "decode cache:  {} hits, {} blocks decoded",
        d.hits, d.misses
    );
    let t = c.mmu.stats();
    eprintln!(
        "tlb:           {} hits, {} misses, {} walks",
        t.hits, t.misses, t.walks
    );
    let names = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"];
    for (k, n) in names.iter().enumerate() {
        eprint!("{n}={:#x} ", c.gpr[k]);
    }
    eprintln!("rip={:#x} rflags={:#x}", c.rip, c.rflags);
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo { iterations } => {
            let code = match demo::compute_loop(iterations) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("sysgate: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut vcpu = demo::machine(&code);
            let t = Instant::now();
            let exit = vcpu.run(Limit::NONE);
            report(&vcpu, exit, t.elapsed().as_secs_f64());
            if exit == Exit::Hlt {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Exec { bits, limit, file } => {
            if ![16, 32, 64].contains(&bits) {
                eprintln!("sysgate: --bits must be 16, 32 or 64");
                return ExitCode::from(2);
            }
            let code = match std::fs::read(&file) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("sysgate: cannot read {}: {e}", file.display());
                    return ExitCode::from(2);
                }
            };
            if code.len() as u64 > demo::MEM_SIZE - demo::CODE_BASE {
                eprintln!(
                    "sysgate: {} is too large for the demo machine",
                    file.display()
                );
                return ExitCode::from(2);
            }
            let mut vcpu = demo::machine(&code);
            vcpu.cpu.set_flat_mode(bits, 0);
            if bits != 64 {
                vcpu.cpu.ctrl.efer = 0;
            }
            let t = Instant::now();
            let exit = vcpu.run(Limit::instructions(limit));
            report(&vcpu, exit, t.elapsed().as_secs_f64());
            if exit == Exit::Hlt {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
