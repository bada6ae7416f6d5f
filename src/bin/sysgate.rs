//! The `sysgate` command-line tool.
//!
//! - `sysgate run [options] -- PROGRAM [ARGS...]` boots a kernel model and
//!   runs a guest ELF (a path, or the name of a built-in guest), passing its
//!   output through and exiting with its status (128 + signal when killed).
//! - `sysgate trace [options] -- PROGRAM` runs a guest and writes one JSON
//!   event per transition and system call (and instruction, on request).
//! - `sysgate compare [--mech LIST] [PROGRAM]` runs one guest under each
//!   mechanism and prints a table of system calls, instructions, modeled
//!   cycles, the average modeled cycles per returning system call by phase
//!   (user stub, hardware entry, entry stub, handler, exit stub, hardware
//!   exit) and host time per system call.
//! - `sysgate guests` lists the built-in guests.
//! - `sysgate demo` runs the built-in CPU compute loop (no kernel) and
//!   reports interpreter speed.
//!
//! sysgate's own reports go to stderr, never into the guest's stdout. Bad
//! input gives a one-line error and exit status 2.

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use sysgate::cpu::{Exit, Limit, Tracer, Vcpu, Vendor};
use sysgate::demo;
use sysgate::kernel::audit::AuditFilter;
use sysgate::kernel::console::Console;
use sysgate::kernel::machine::trace::Recorder;
use sysgate::kernel::machine::{
    Config, Flavor, Machine, Observer, PhaseCycles, Status, SyscallEvent, Vsyscall32,
};

#[derive(Parser)]
#[command(
    name = "sysgate",
    version,
    about = "x86 emulator with a cycle model and a Linux-like kernel model for studying system-call paths"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum KernelArg {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "i386")]
    I386,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum MechArg {
    Syscall,
    Sysenter,
    Int80,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum VendorArg {
    Intel,
    Amd,
}

#[derive(clap::Args, Clone, Debug)]
struct RunOpts {
    /// Kernel flavor.
    #[arg(long, value_enum, default_value = "x86_64")]
    kernel: KernelArg,
    /// Entry mechanism of 32-bit `__kernel_vsyscall` (and the variant of a
    /// built-in guest named without one).
    #[arg(long, value_enum)]
    mech: Option<MechArg>,
    /// CPU vendor (default: the one on which the mechanism exists).
    #[arg(long, value_enum)]
    vendor: Option<VendorArg>,
    /// Cycle-model profile.
    #[arg(long, default_value = "skylake")]
    profile: String,
    /// Print each system call, strace style, to stderr.
    #[arg(long)]
    strace: bool,
    /// With --strace: write the lines to FILE instead of stderr (strace's
    /// `-o`), so they do not mix with the guest's own stderr.
    #[arg(long, value_name = "FILE")]
    strace_output: Option<std::path::PathBuf>,
    /// With --strace: prefix each line with `[pid N] ` (strace -f's form).
    #[arg(long)]
    strace_pids: bool,
    /// Write the audit log (every system call) as JSON Lines to FILE.
    #[arg(long, value_name = "FILE")]
    audit: Option<std::path::PathBuf>,
    /// Mount this host directory read-write at /mnt (never escaping it) and
    /// start the guest there. Without it the guest starts in an empty
    /// in-memory directory at the host's working-directory path.
    #[arg(long, value_name = "DIR")]
    root: Option<std::path::PathBuf>,
    /// Set the guest's environment variable (repeatable); when given, the
    /// guest's environment is exactly these (default: PATH=/bin HOME=/).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// Write one JSON event per transition and system call to FILE.
    #[arg(long, value_name = "FILE")]
    trace: Option<std::path::PathBuf>,
    /// With --trace (or `sysgate trace`): one event per instruction too.
    #[arg(long)]
    trace_instructions: bool,
    /// Print instructions, cycles and system calls to stderr at the end.
    #[arg(long)]
    stats: bool,
    /// Stop after this many guest instructions.
    #[arg(long, default_value_t = 10_000_000_000)]
    limit: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Run a guest program under the kernel model.
    Run {
        #[command(flatten)]
        opts: RunOpts,
        /// The program (a path or a built-in guest name) and its arguments.
        #[arg(required = true, trailing_var_arg = true)]
        program: Vec<String>,
    },
    /// Run a guest and write one JSON event per transition, system call (and
    /// with --trace-instructions, instruction) to stderr or --trace FILE.
    Trace {
        #[command(flatten)]
        opts: RunOpts,
        /// The program (a path or a built-in guest name) and its arguments.
        #[arg(required = true, trailing_var_arg = true)]
        program: Vec<String>,
    },
    /// Run one guest under each mechanism and compare the costs.
    Compare {
        /// Mechanisms to compare (comma separated).
        #[arg(long, value_delimiter = ',', default_values = ["syscall", "int80", "sysenter"])]
        mech: Vec<MechArg>,
        /// Iterations of the built-in getpid loop when no program is given.
        #[arg(long, default_value_t = 1000)]
        iterations: u32,
        /// A program to run instead of the getpid loop (a path or a guest name).
        program: Option<String>,
    },
    /// List the built-in guest programs.
    Guests,
    /// Run the built-in CPU compute loop (no kernel) and report speed.
    Demo {
        /// Loop iterations (9 instructions each).
        #[arg(long, default_value_t = 10_000_000)]
        iterations: u32,
    },
}

/// A one-line error for the user.
struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

fn vendor_for(opts: &RunOpts, flavor: Flavor) -> Vendor {
    match (opts.vendor, opts.mech, flavor) {
        (Some(VendorArg::Intel), _, _) => Vendor::Intel,
        (Some(VendorArg::Amd), _, _) => Vendor::Amd,
        // SYSCALL from compatibility mode exists only on AMD.
        (None, Some(MechArg::Syscall), Flavor::X86_64) => Vendor::Amd,
        _ => Vendor::Intel,
    }
}

fn vsyscall_for(mech: Option<MechArg>) -> Option<Vsyscall32> {
    mech.map(|m| match m {
        MechArg::Syscall => Vsyscall32::Syscall,
        MechArg::Sysenter => Vsyscall32::Sysenter,
        MechArg::Int80 => Vsyscall32::Int80,
    })
}

/// The ELF bytes of `name`: a file, or a built-in guest.
fn load_program(name: &str) -> Result<Vec<u8>, Fail> {
    if std::path::Path::new(name).exists() {
        return std::fs::read(name).map_err(|e| Fail(format!("cannot read {name}: {e}")));
    }
    match sysgate::guests::program(name) {
        Some(g) => Ok(g.elf),
        None => Err(Fail(format!(
            "{name}: no such file or built-in guest (see `sysgate guests`)"
        ))),
    }
}

/// Puts a program read from the host into the guest's file system at its
/// absolute host path (and at its canonical path, if that differs), so the
/// guest can exec it again and `/proc/self/exe` names it as on the host.
/// Returns the path `/proc/self/exe` should show. A built-in guest is
/// already at /bin/NAME.
fn place_program(m: &mut Machine, name: &str, elf: &[u8]) -> Result<String, Fail> {
    let path = std::path::Path::new(name);
    if !path.exists() {
        return Ok(format!("/bin/{name}"));
    }
    let utf8 = |p: &std::path::Path| {
        p.to_str()
            .map(str::to_string)
            .ok_or_else(|| Fail(format!("{}: path is not UTF-8", p.display())))
    };
    let absolute =
        std::path::absolute(path).map_err(|e| Fail(format!("cannot resolve {name}: {e}")))?;
    let canonical =
        std::fs::canonicalize(path).map_err(|e| Fail(format!("cannot resolve {name}: {e}")))?;
    let canonical = utf8(&canonical)?;
    m.add_file(&canonical, elf, 0o755)?;
    let absolute = utf8(&absolute)?;
    if absolute != canonical {
        m.add_file(&absolute, elf, 0o755)?;
    }
    Ok(canonical)
}

/// Creates the host's working-directory path as an (empty, in-memory)
/// guest directory and returns it, so relative paths and `getcwd` mean the
/// same in the guest as on the host. Falls back to `/`.
fn host_cwd_in_guest(m: &mut Machine) -> Result<String, Fail> {
    let Some(cwd) = std::env::current_dir()
        .ok()
        .and_then(|d| d.to_str().map(str::to_string))
    else {
        return Ok("/".into());
    };
    m.personality
        .vfs
        .mkdir_all(cwd.as_bytes(), 0o755)
        .map_err(|e| Fail(format!("cannot create {cwd} in the guest: {e:?}")))?;
    Ok(cwd)
}

/// Puts every built-in guest at /bin/NAME, as the guests that exec others
/// expect.
fn install_guests(m: &mut Machine) -> Result<(), Fail> {
    for info in sysgate::guests::all() {
        if let Some(g) = sysgate::guests::program(info.name) {
            m.add_file(&format!("/bin/{}", info.name), &g.elf, 0o755)?;
        }
    }
    Ok(())
}

/// Copies the host's user and group databases (`/etc/passwd`,
/// `/etc/group`) into the guest when they exist, so programs that map ids
/// to names (`ls -l`, `stat -c %U`, `id`) print what they print natively.
fn install_host_identity(m: &mut Machine) -> Result<(), Fail> {
    for path in ["/etc/passwd", "/etc/group"] {
        if let Ok(data) = std::fs::read(path) {
            m.add_file(path, &data, 0o644)?;
        }
    }
    Ok(())
}

fn run(opts: &RunOpts, program: &[String], tracing: bool) -> Result<ExitCode, Fail> {
    let tracing = tracing || opts.trace.is_some();
    let flavor = match opts.kernel {
        KernelArg::X86_64 => Flavor::X86_64,
        KernelArg::I386 => Flavor::I386,
    };
    let model = sysgate::cpu::CycleModel::by_name(&opts.profile).ok_or_else(|| {
        Fail(format!(
            "unknown profile {:?} (known: {})",
            opts.profile,
            sysgate::cpu::CycleModel::NAMES.join(", ")
        ))
    })?;
    if flavor == Flavor::I386 && opts.mech == Some(MechArg::Syscall) {
        return Err(Fail(
            "the i386 kernel has no SYSCALL entry (Linux uses SYSCALL for 32-bit tasks only \
             on 64-bit kernels): use --mech sysenter or --mech int80, or --kernel x86_64"
                .into(),
        ));
    }
    let name = program
        .first()
        .ok_or_else(|| Fail("no program given".into()))?;
    let elf = load_program(name)?;
    let mut m = Machine::with_console(
        Config {
            flavor,
            vendor: vendor_for(opts, flavor),
            vsyscall32: vsyscall_for(opts.mech),
            ..Config::default()
        },
        Console::host(),
    )?;
    m.vcpu.set_model(model);
    install_guests(&mut m)?;
    install_host_identity(&mut m)?;
    if let Some(dir) = &opts.root {
        m.personality
            .vfs
            .mount_host("/mnt", dir, true)
            .map_err(|e| Fail(format!("cannot mount {}: {e}", dir.display())))?;
    }
    if opts.strace || opts.strace_output.is_some() {
        m.personality.strace_pids = opts.strace_pids;
        match &opts.strace_output {
            Some(path) => {
                use std::io::Write;
                let mut f = std::fs::File::create(path)
                    .map_err(|e| Fail(format!("cannot create {}: {e}", path.display())))?;
                m.personality.set_strace(Some(Box::new(move |line| {
                    let _ = writeln!(f, "{line}");
                })));
            }
            None => m
                .personality
                .set_strace(Some(Box::new(|line| eprintln!("{line}")))),
        }
    }
    if opts.audit.is_some() {
        m.personality.audit.set_filter(AuditFilter::All);
    }
    let args: Vec<&str> = program.iter().map(String::as_str).collect();
    let env: Vec<&str> = if opts.env.is_empty() {
        vec!["PATH=/bin", "HOME=/"]
    } else {
        opts.env.iter().map(String::as_str).collect()
    };
    let exe = place_program(&mut m, name, &elf)?;
    let pid = m.spawn_exe(&exe, &elf, &args, &env)?;
    let cwd = match &opts.root {
        Some(_) => "/mnt".to_string(),
        None => host_cwd_in_guest(&mut m)?,
    };
    m.set_cwd(pid, &cwd)?;
    let t = Instant::now();
    let result = if tracing {
        let mut rec = Recorder::new(opts.trace_instructions);
        let r = m.run_with(opts.limit, &mut rec);
        let text: String = rec.events.iter().map(|e| e.to_json() + "\n").collect();
        match &opts.trace {
            Some(path) => std::fs::write(path, text)
                .map_err(|e| Fail(format!("cannot write {}: {e}", path.display())))?,
            None => eprint!("{text}"),
        }
        r
    } else {
        m.run(opts.limit)
    };
    let secs = t.elapsed().as_secs_f64();
    if let Some(path) = &opts.audit {
        std::fs::write(path, m.personality.audit.to_jsonl())
            .map_err(|e| Fail(format!("cannot write {}: {e}", path.display())))?;
    }
    if opts.stats {
        let c = &m.vcpu.cpu;
        eprintln!(
            "sysgate: {} instructions, {} cycles ({}), {} system calls, {:.3} s host",
            c.instructions,
            c.cycles,
            m.vcpu.model().name(),
            m.events.len(),
            secs
        );
    }
    let status = result?;
    Ok(ExitCode::from(status.code().clamp(0, 255) as u8))
}

/// One row of `sysgate compare`: a kernel flavor, a vendor and how the
/// guest enters the kernel.
struct Row {
    label: &'static str,
    flavor: Flavor,
    vendor: Vendor,
    arch: sysgate::guests::Arch,
    mech: sysgate::guests::Mechanism,
    vsyscall: Option<Vsyscall32>,
}

fn rows_for(mech: MechArg) -> Vec<Row> {
    use sysgate::guests::{Arch, Mechanism};
    match mech {
        MechArg::Syscall => vec![
            Row {
                label: "syscall",
                flavor: Flavor::X86_64,
                vendor: Vendor::Intel,
                arch: Arch::X86_64,
                mech: Mechanism::Syscall,
                vsyscall: None,
            },
            Row {
                label: "syscall32",
                flavor: Flavor::X86_64,
                vendor: Vendor::Amd,
                arch: Arch::I386,
                mech: Mechanism::Vsyscall,
                vsyscall: Some(Vsyscall32::Syscall),
            },
        ],
        MechArg::Int80 => vec![
            Row {
                label: "int80",
                flavor: Flavor::X86_64,
                vendor: Vendor::Intel,
                arch: Arch::I386,
                mech: Mechanism::Int80,
                vsyscall: Some(Vsyscall32::Int80),
            },
            Row {
                label: "int80",
                flavor: Flavor::I386,
                vendor: Vendor::Intel,
                arch: Arch::I386,
                mech: Mechanism::Int80,
                vsyscall: Some(Vsyscall32::Int80),
            },
        ],
        MechArg::Sysenter => vec![
            Row {
                label: "sysenter",
                flavor: Flavor::X86_64,
                vendor: Vendor::Intel,
                arch: Arch::I386,
                mech: Mechanism::Vsyscall,
                vsyscall: Some(Vsyscall32::Sysenter),
            },
            Row {
                label: "sysenter",
                flavor: Flavor::I386,
                vendor: Vendor::Intel,
                arch: Arch::I386,
                mech: Mechanism::Vsyscall,
                vsyscall: Some(Vsyscall32::Sysenter),
            },
        ],
    }
}

/// Counts the system calls of a run and sums the phases of those that
/// returned to user mode (without keeping an event per call).
#[derive(Default)]
struct Tally {
    calls: u64,
    returned: u64,
    sum: PhaseCycles,
}

impl Tracer for Tally {
    const PER_INSTRUCTION: bool = false;
}

impl Observer for Tally {
    fn syscall(&mut self, _cycle: u64, _e: &SyscallEvent) {
        self.calls += 1;
    }

    fn syscall_returned(&mut self, _cycle: u64, e: &SyscallEvent) {
        let (s, c) = (&mut self.sum, &e.cycles);
        s.user_stub += c.user_stub;
        s.hw_entry += c.hw_entry;
        s.entry_stub += c.entry_stub;
        s.handler += c.handler;
        s.exit_stub += c.exit_stub;
        s.hw_exit += c.hw_exit;
        self.returned += 1;
    }
}

impl Tally {
    /// Average modeled cycles by phase over the calls that returned.
    fn averages(&self) -> PhaseCycles {
        let n = self.returned;
        let avg = |v: u64| (v + n / 2) / n.max(1);
        let s = &self.sum;
        PhaseCycles {
            user_stub: avg(s.user_stub),
            hw_entry: avg(s.hw_entry),
            entry_stub: avg(s.entry_stub),
            handler: avg(s.handler),
            exit_stub: avg(s.exit_stub),
            hw_exit: avg(s.hw_exit),
        }
    }
}

fn compare(mechs: &[MechArg], iterations: u32, program: Option<&str>) -> Result<ExitCode, Fail> {
    println!(
        "{:<10} {:<7} {:<6} {:>9} {:>13} {:>13} {:>15} {:>10} {:>10} {:>9} {:>11} {:>8} {:>10} {:>8} {:>11}",
        "mechanism",
        "kernel",
        "vendor",
        "syscalls",
        "instructions",
        "cycles",
        "cycles/syscall",
        "host-ms",
        "user-stub",
        "hw-entry",
        "entry-stub",
        "handler",
        "exit-stub",
        "hw-exit",
        "ns/syscall"
    );
    for &mech in mechs {
        for row in rows_for(mech) {
            let elf = match program {
                Some(p) => load_program(p)?,
                None => {
                    sysgate::guests::getpid_loop(row.arch, row.mech, iterations)
                        .ok_or_else(|| Fail(format!("no getpid loop for {}", row.label)))?
                        .elf
                }
            };
            let mut m = Machine::new(Config {
                flavor: row.flavor,
                vendor: row.vendor,
                vsyscall32: row.vsyscall,
                ..Config::default()
            })?;
            m.spawn(&elf, &["bench"], &[])?;
            m.keep_events = false;
            let mut tally = Tally::default();
            let t = Instant::now();
            let status = m.run_with(u64::MAX / 2, &mut tally)?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if status != Status::Exited(0) {
                return Err(Fail(format!(
                    "{}: the guest ended with {status:?}",
                    row.label
                )));
            }
            let n = tally.calls;
            let p = tally.averages();
            let c = &m.vcpu.cpu;
            println!(
                "{:<10} {:<7} {:<6} {:>9} {:>13} {:>13} {:>15} {:>10.2} {:>10} {:>9} {:>11} {:>8} {:>10} {:>8} {:>11.1}",
                row.label,
                match row.flavor {
                    Flavor::X86_64 => "x86_64",
                    Flavor::I386 => "i386",
                },
                format!("{:?}", row.vendor).to_lowercase(),
                n,
                c.instructions,
                c.cycles,
                c.cycles / n.max(1),
                ms,
                p.user_stub,
                p.hw_entry,
                p.entry_stub,
                p.handler,
                p.exit_stub,
                p.hw_exit,
                ms * 1e6 / n.max(1) as f64
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn demo_cmd(iterations: u32) -> Result<ExitCode, Fail> {
    let code = demo::compute_loop(iterations)?;
    let mut vcpu: Vcpu = demo::machine(&code);
    let t = Instant::now();
    let exit = vcpu.run(Limit::NONE);
    let secs = t.elapsed().as_secs_f64();
    let c = &vcpu.cpu;
    let d = vcpu.decode_stats();
    println!("exit:          {exit:?}");
    println!("instructions:  {}", c.instructions);
    println!(
        "cycles:        {} (profile {})",
        c.cycles,
        vcpu.model().name()
    );
    println!(
        "host time:     {:.3} s ({:.1} million instructions/s)",
        secs,
        c.instructions as f64 / secs.max(1e-9) / 1e6
    );
    println!(
        "decode cache:  {} hits, {} blocks decoded",
        d.hits, d.misses
    );
    Ok(if exit == Exit::Hlt {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Run { opts, program } => run(opts, program, false),
        Command::Trace { opts, program } => run(opts, program, true),
        Command::Compare {
            mech,
            iterations,
            program,
        } => compare(mech, *iterations, program.as_deref()),
        Command::Guests => {
            for g in sysgate::guests::all() {
                println!(
                    "{:<24} {}",
                    g.name,
                    g.description.lines().next().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { iterations } => demo_cmd(*iterations),
    };
    match r {
        Ok(code) => code,
        Err(Fail(msg)) => {
            eprintln!("sysgate: {msg}");
            ExitCode::from(2)
        }
    }
}
