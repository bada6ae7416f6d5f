//! The built-in guest programs: the registry and one builder per program.
//!
//! Each builder is a few lines of [`Builder`] calls plus the output the
//! program produces under a correct Linux kernel, written out in Rust so the
//! tests can compare.

use iced_x86::code_asm::ptr;
use iced_x86::code_asm::registers::cr::cr3;
use iced_x86::code_asm::registers::gpr32::eax;
use iced_x86::code_asm::registers::gpr64::{r11, rax, rcx};

use crate::asm::{self, Arg, Builder, R};
use crate::elf::Kind;
use crate::nr;
use crate::{
    AUDIT_RECORD_SIZE, AUDIT_ROUNDS, Arch, CpuNeed, DEFAULT_GETPID_LOOPS, Error, ExitStatus,
    Expected, Guest, GuestFile, GuestInfo, Mechanism, SIGSEGV,
};

use Arch::{I386, X86_64};
use ExitStatus::{Exited, Signaled};
use Mechanism::{Int80, Syscall, Sysenter, Vsyscall};

/// What `hello-*` prints.
pub(crate) const HELLO: &str = "Hello, world!\n";

/// A registry entry: the description and how to build it.
pub(crate) struct Entry {
    pub(crate) info: GuestInfo,
    build: fn(GuestInfo) -> Result<Guest, Error>,
}

/// Builds a registry entry.
pub(crate) fn build_entry(e: &Entry) -> Result<Guest, Error> {
    (e.build)(e.info)
}

const fn info(
    name: &'static str,
    arch: Arch,
    mechanism: Mechanism,
    description: &'static str,
) -> GuestInfo {
    GuestInfo {
        name,
        arch,
        mechanism,
        pie: false,
        cpu: match (arch, mechanism) {
            (I386, Sysenter) => CpuNeed::Sysenter32,
            (I386, Syscall) => CpuNeed::Syscall32,
            _ => CpuNeed::Any,
        },
        description,
    }
}

const fn pie(mut i: GuestInfo) -> GuestInfo {
    i.pie = true;
    i
}

const fn entry(info: GuestInfo, build: fn(GuestInfo) -> Result<Guest, Error>) -> Entry {
    Entry { info, build }
}

const HELLO_DOC: &str = "Writes \"Hello, world!\\n\" to stdout with write(2) and exits with 0.";
const LOOP_DOC: &str = "Calls getpid DEFAULT_GETPID_LOOPS (1000) times (see getpid_loop for \
     other counts); prints nothing; exits with 0, or 1 if getpid ever returns a negative value.";
const PRIV_DOC: &str = "Executes a privileged instruction at CPL 3; the #GP kills it with \
     SIGSEGV. Were the instruction allowed, it would print \"not reached\\n\" and exit with 1.";

/// Every built-in guest.
pub(crate) static REGISTRY: &[Entry] = &[
    entry(info("hello-syscall64", X86_64, Syscall, HELLO_DOC), hello),
    entry(
        info(
            "hello-int80-64",
            X86_64,
            Int80,
            "Hello through int 0x80 from 64-bit code, with the i386 numbers (write = 4, \
             exit_group = 252); pointers stay below 4 GiB because the kernel truncates them.",
        ),
        hello,
    ),
    entry(info("hello-int80-32", I386, Int80, HELLO_DOC), hello),
    entry(
        info(
            "hello-sysenter-32",
            I386,
            Sysenter,
            "Hello through sysenter from a local copy of Linux's __kernel_vsyscall sequence \
             (see the crate documentation for the return convention).",
        ),
        hello,
    ),
    entry(
        info(
            "hello-vsyscall-32",
            I386,
            Vsyscall,
            "Hello through `call *AT_SYSINFO` (the vDSO's __kernel_vsyscall), found by \
             scanning the auxiliary vector; exits with 2 if AT_SYSINFO is missing.",
        ),
        hello,
    ),
    entry(
        info(
            "hello-syscall-32",
            I386,
            Syscall,
            "Hello through SYSCALL from 32-bit code (`mov ebp, ecx; syscall` as in Linux's \
             vDSO); only AMD CPUs allow SYSCALL in compatibility mode.",
        ),
        hello,
    ),
    entry(
        pie(info(
            "hello-pie64",
            X86_64,
            Syscall,
            "Hello as an ET_DYN static-PIE image linked at 0 (RIP-relative data).",
        )),
        hello,
    ),
    entry(
        pie(info(
            "hello-pie-32",
            I386,
            Int80,
            "Hello as a 32-bit ET_DYN static-PIE image linked at 0 (call/pop addressing, \
             int 0x80).",
        )),
        hello,
    ),
    entry(
        info("getpid-loop-syscall64", X86_64, Syscall, LOOP_DOC),
        default_loop,
    ),
    entry(
        info("getpid-loop-int80-64", X86_64, Int80, LOOP_DOC),
        default_loop,
    ),
    entry(
        info("getpid-loop-int80-32", I386, Int80, LOOP_DOC),
        default_loop,
    ),
    entry(
        info("getpid-loop-sysenter-32", I386, Sysenter, LOOP_DOC),
        default_loop,
    ),
    entry(
        info("getpid-loop-vsyscall-32", I386, Vsyscall, LOOP_DOC),
        default_loop,
    ),
    entry(
        info("getpid-loop-syscall-32", I386, Syscall, LOOP_DOC),
        default_loop,
    ),
    entry(
        info(
            "seed-open-close",
            X86_64,
            Syscall,
            "The seed's strace example: open(\"tmp/test.txt\", O_RDONLY) (missing: -1 ENOENT), \
             close() of the libc-style result (close(-1): -1 EBADF), exit_group(0). Prints \
             nothing.",
        ),
        seed_open_close,
    ),
    entry(
        info(
            "seed-open-close-32",
            I386,
            Int80,
            "seed-open-close as 32-bit code through int 0x80.",
        ),
        seed_open_close,
    ),
    entry(
        info(
            "seed-int80-open-read",
            I386,
            Int80,
            "The seed's int 0x80 example: open(path, O_RDONLY, 0664) with path = argv[1] or \
             \"/tmp/test\", read(fd, buf, 80) on the raw result, then printf(\"%d\\n\", count) \
             and printf(\"%s\\n\", buf). With \"111\\n\" in /tmp/test it prints \
             \"4\\n111\\n\\n\".",
        ),
        seed_int80_open_read,
    ),
    entry(
        info(
            "audit-collector",
            X86_64,
            Syscall,
            "The seed's test_syscall.c collector: 27 rounds of getpid(), open(\"tmp/test.txt\", \
             O_RDONLY), close(-1), then myaudit(0, buf, 100 * 56, 1) (syscall 336). Prints a \
             header line, then one line \"[i] NAME = VALUE\" per record of its own pid for \
             getpid/open/close in buffer order (VALUE is \"self\" for a getpid that returned \
             the caller's pid, else the signed status), then \"matched N of 81\"; exits with 0 \
             iff all 81 were found. If myaudit fails it prints \"myaudit failed: ERR\" and \
             exits with 1.",
        ),
        audit_collector,
    ),
    entry(
        info(
            "fork-exec-wait",
            X86_64,
            Syscall,
            "fork(); the child execve's argv[1] or /bin/hello-syscall64 (exit 127 if execve \
             fails); the parent wait4's and prints \"child exit status: N\" or \"child killed \
             by signal: N\".",
        ),
        fork_exec_wait,
    ),
    entry(
        info(
            "fork-exec-wait-32",
            I386,
            Int80,
            "fork-exec-wait as 32-bit code through int 0x80; the child runs argv[1] or \
             /bin/hello-int80-32.",
        ),
        fork_exec_wait,
    ),
    entry(info("priv-hlt", X86_64, Syscall, PRIV_DOC), privileged),
    entry(info("priv-wrmsr", X86_64, Syscall, PRIV_DOC), privileged),
    entry(info("priv-swapgs", X86_64, Syscall, PRIV_DOC), privileged),
    entry(info("priv-sysret", X86_64, Syscall, PRIV_DOC), privileged),
    entry(info("priv-mov-cr3", X86_64, Syscall, PRIV_DOC), privileged),
    entry(info("priv-cli", X86_64, Syscall, PRIV_DOC), privileged),
    entry(info("priv-hlt-32", I386, Int80, PRIV_DOC), privileged),
    entry(info("priv-wrmsr-32", I386, Int80, PRIV_DOC), privileged),
    entry(info("priv-mov-cr3-32", I386, Int80, PRIV_DOC), privileged),
    entry(info("priv-cli-32", I386, Int80, PRIV_DOC), privileged),
];

/// The registry name of a `hello`/`getpid-loop` variant.
pub(crate) fn variant_name(prefix: &str, arch: Arch, mech: Mechanism) -> Option<&'static str> {
    let suffix = match (arch, mech) {
        (X86_64, Syscall) => "syscall64",
        (X86_64, Int80) => "int80-64",
        (I386, Int80) => "int80-32",
        (I386, Sysenter) => "sysenter-32",
        (I386, Vsyscall) => "vsyscall-32",
        (I386, Syscall) => "syscall-32",
        (X86_64, Sysenter | Vsyscall) => return None,
    };
    let name = format!("{prefix}-{suffix}");
    REGISTRY.iter().map(|e| e.info.name).find(|n| *n == name)
}

fn kind(info: &GuestInfo) -> Kind {
    if info.pie { Kind::Dyn } else { Kind::Exec }
}

fn assemble(
    info: &GuestInfo,
    body: &dyn Fn(&mut Builder) -> Result<(), Error>,
) -> Result<Vec<u8>, Error> {
    asm::assemble(info.arch, info.mechanism, kind(info), body)
}

/// `s` as a NUL-terminated C string.
fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn guest(info: GuestInfo, elf: Vec<u8>, expected: Expected) -> Guest {
    Guest {
        info,
        elf,
        expected,
        stock_linux: None,
        files: Vec::new(),
        absent_files: Vec::new(),
    }
}

// ----- hello ---------------------------------------------------------------------

fn hello(info: GuestInfo) -> Result<Guest, Error> {
    let elf = assemble(&info, &|b| {
        b.print(HELLO)?;
        b.exit(0)
    })?;
    Ok(guest(info, elf, Expected::new(HELLO, Exited(0))))
}

// ----- getpid loops ---------------------------------------------------------------

fn default_loop(info: GuestInfo) -> Result<Guest, Error> {
    getpid_loop(info, DEFAULT_GETPID_LOOPS)
}

/// `n` getpid calls with the counter in EBX/RBX, which no mechanism
/// clobbers for an argument-less call.
pub(crate) fn getpid_loop(info: GuestInfo, n: u32) -> Result<Guest, Error> {
    let elf = assemble(&info, &|b| {
        let mut fail = b.label();
        if n > 0 {
            let mut top = b.label();
            b.mov_imm(R::Bx, i64::from(n))?;
            b.bind(&mut top)?;
            b.sys(nr::GETPID, &[])?;
            b.test(R::Ax)?;
            b.a.js(fail)?;
            b.dec(R::Bx)?;
            b.a.jne(top)?;
        }
        b.exit(0)?;
        b.bind(&mut fail)?;
        b.exit(1)
    })?;
    Ok(guest(info, elf, Expected::new("", Exited(0))))
}

/// `n` calls of `write(1, buf, len)` with `buf` holding `len` zero bytes
/// (in .bss); exits with 0, or with 1 as soon as a write returns anything
/// but `len`. The counter lives in R12 (64-bit code) or ESI (32-bit code),
/// which no mechanism clobbers and `write` does not take.
pub(crate) fn write_loop(info: GuestInfo, n: u32, len: u32) -> Result<Vec<u8>, Error> {
    assemble(&info, &|b| {
        let buf = b.buffer(u64::from(len.max(1)));
        let counter = match info.arch {
            X86_64 => R::R12,
            I386 => R::Si,
        };
        let mut fail = b.label();
        if n > 0 {
            let mut top = b.label();
            b.mov_imm(counter, i64::from(n))?;
            b.bind(&mut top)?;
            b.sys(
                nr::WRITE,
                &[Arg::Imm(1), Arg::Addr(buf), Arg::Imm(i64::from(len))],
            )?;
            b.cmp32_imm(R::Ax, len as i32)?;
            b.a.jne(fail)?;
            b.dec(counter)?;
            b.a.jne(top)?;
        }
        b.exit(0)?;
        b.bind(&mut fail)?;
        b.exit(1)
    })
}

// ----- the seeds' programs --------------------------------------------------------------

/// The path the seeds' open/close example uses (relative to the cwd).
const SEED_PATH: &str = "tmp/test.txt";

fn seed_open_close(info: GuestInfo) -> Result<Guest, Error> {
    let elf = assemble(&info, &|b| {
        let path = b.bytes(&cstr(SEED_PATH));
        // handle = open("tmp/test.txt", O_RDONLY); close(handle); return 0;
        b.sys(nr::OPEN, &[Arg::Addr(path), Arg::Imm(0)])?;
        b.libc_result()?;
        b.sys(nr::CLOSE, &[Arg::Reg(R::Ax)])?;
        b.exit(0)
    })?;
    let mut g = guest(info, elf, Expected::new("", Exited(0)));
    g.absent_files.push(SEED_PATH);
    Ok(g)
}

/// The file `seed-int80-open-read` reads by default, and its contents in
/// the seed's session.
const SEED_READ_PATH: &str = "/tmp/test";
const SEED_READ_CONTENTS: &[u8] = b"111\n";

fn seed_int80_open_read(info: GuestInfo) -> Result<Guest, Error> {
    let elf = assemble(&info, &|b| {
        b.save_initial_sp()?;
        let default = b.bytes(&cstr(SEED_READ_PATH));
        let path = b.var();
        b.arg_or_default(path, 1, default)?;
        let buf = b.buffer(81); // malloc(80) + memset, and a NUL after it
        let count = b.var();
        let len = b.var();
        // As in the seed's inline assembly: no check of open's result.
        b.sys(nr::OPEN, &[Arg::Var(path), Arg::Imm(0), Arg::Imm(0o664)])?;
        b.sys(nr::READ, &[Arg::Reg(R::Ax), Arg::Addr(buf), Arg::Imm(80)])?;
        b.store(count, R::Ax)?;
        b.print_dec(Arg::Var(count))?;
        b.print("\n")?;
        // strlen(buf)
        let (mut scan, mut end) = (b.label(), b.label());
        b.load_addr(R::Si, buf)?;
        b.mov_imm(R::Cx, 0)?;
        b.bind(&mut scan)?;
        b.cmp8_indexed(R::Si, R::Cx, 0)?;
        b.a.je(end)?;
        b.inc(R::Cx)?;
        b.a.jmp(scan)?;
        b.bind(&mut end)?;
        b.store(len, R::Cx)?;
        b.sys(nr::WRITE, &[Arg::Imm(1), Arg::Addr(buf), Arg::Var(len)])?;
        b.print("\n")?;
        b.exit(0)
    })?;
    let mut g = guest(info, elf, Expected::new("4\n111\n\n", Exited(0)));
    g.files.push(GuestFile {
        path: SEED_READ_PATH.to_string(),
        contents: SEED_READ_CONTENTS.to_vec(),
        executable: false,
    });
    Ok(g)
}

// ----- audit collector ---------------------------------------------------------------------

/// Records the collector's buffer holds (the seed module's AUDIT_BUF_SIZE).
const AUDIT_CAPACITY: u64 = 100;

/// The collector's first line.
fn audit_header() -> String {
    format!(
        "audit-collector: {AUDIT_ROUNDS} rounds of getpid(), open(\"{SEED_PATH}\", O_RDONLY), \
         close(-1)\n"
    )
}

fn audit_collector(info: GuestInfo) -> Result<Guest, Error> {
    let header = audit_header();
    let expected_calls = i64::from(AUDIT_ROUNDS) * 3;
    let elf = assemble(&info, &|b| {
        let path = b.bytes(&cstr(SEED_PATH));
        let buf = b.buffer(AUDIT_CAPACITY * AUDIT_RECORD_SIZE);
        let names = [
            (nr::GETPID.x64()?, b.bytes(b"getpid")),
            (nr::OPEN.x64()?, b.bytes(b"open")),
            (nr::CLOSE.x64()?, b.bytes(b"close")),
        ];
        let (name_ptr, name_len) = (b.var(), b.var());
        let (mut rounds, mut failed, mut rec, mut next) =
            (b.label(), b.label(), b.label(), b.label());
        let (mut line, mut number, mut eol) = (b.label(), b.label(), b.label());
        let (mut end, mut bad) = (b.label(), b.label());

        // The audited calls. RBX, R12-R15 survive `syscall` and the helpers.
        b.mov_imm(R::Bx, i64::from(AUDIT_ROUNDS))?;
        b.bind(&mut rounds)?;
        b.sys(nr::GETPID, &[])?;
        b.mov(R::R15, R::Ax)?; // own pid (no extra, audited, getpid later)
        b.sys(nr::OPEN, &[Arg::Addr(path), Arg::Imm(0)])?;
        b.libc_result()?;
        b.sys(nr::CLOSE, &[Arg::Reg(R::Ax)])?;
        b.dec(R::Bx)?;
        b.a.jne(rounds)?;
        b.print(&header)?;

        // Drain: num = syscall(336, 0, buf, size, 1).
        let size = (AUDIT_CAPACITY * AUDIT_RECORD_SIZE) as i64;
        b.sys(
            nr::MYAUDIT,
            &[Arg::Imm(0), Arg::Addr(buf), Arg::Imm(size), Arg::Imm(1)],
        )?;
        b.test(R::Ax)?;
        b.a.js(failed)?;
        b.mov(R::R13, R::Ax)?; // records left
        b.load_addr(R::R12, buf)?; // current record
        b.mov_imm(R::R14, 0)?; // lines printed

        b.bind(&mut rec)?;
        b.test(R::R13)?;
        b.a.je(end)?;
        b.load32_at(R::Ax, R::R12, 32)?; // pid
        b.cmp32(R::Ax, R::R15)?;
        b.a.jne(next)?;
        b.load32_at(R::Ax, R::R12, 24)?; // syscall
        let mut picks = Vec::new();
        for (number, _) in &names {
            let l = b.label();
            b.cmp32_imm(R::Ax, *number as i32)?;
            b.a.je(l)?;
            picks.push(l);
        }
        b.a.jmp(next)?;
        for (mut l, (_, name)) in picks.into_iter().zip(names.iter()) {
            b.bind(&mut l)?;
            b.load_addr(R::Ax, *name)?;
            b.store(name_ptr, R::Ax)?;
            b.mov_imm(R::Ax, name.len as i64)?;
            b.store(name_len, R::Ax)?;
            b.a.jmp(line)?;
        }

        // "[i] NAME = VALUE\n"
        b.bind(&mut line)?;
        b.print("[")?;
        b.print_dec(Arg::Reg(R::R14))?;
        b.print("] ")?;
        b.sys(
            nr::WRITE,
            &[Arg::Imm(1), Arg::Var(name_ptr), Arg::Var(name_len)],
        )?;
        b.print(" = ")?;
        b.load32_at(R::Ax, R::R12, 24)?;
        b.cmp32_imm(R::Ax, names[0].0 as i32)?;
        b.a.jne(number)?;
        b.load32_at(R::Ax, R::R12, 28)?; // status
        b.cmp32(R::Ax, R::R15)?;
        b.a.jne(number)?;
        b.print("self")?;
        b.a.jmp(eol)?;
        b.bind(&mut number)?;
        b.load32_at(R::Ax, R::R12, 28)?;
        b.print_dec(Arg::Reg(R::Ax))?;
        b.bind(&mut eol)?;
        b.print("\n")?;
        b.inc(R::R14)?;
        b.bind(&mut next)?;
        b.add_imm(R::R12, AUDIT_RECORD_SIZE as i32)?;
        b.dec(R::R13)?;
        b.a.jmp(rec)?;

        b.bind(&mut end)?;
        b.print("matched ")?;
        b.print_dec(Arg::Reg(R::R14))?;
        b.print(&format!(" of {expected_calls}\n"))?;
        b.cmp32_imm(R::R14, expected_calls as i32)?;
        b.a.jne(bad)?;
        b.exit(0)?;
        b.bind(&mut bad)?;
        b.exit(1)?;

        b.bind(&mut failed)?;
        b.mov(R::R12, R::Ax)?;
        b.print("myaudit failed: ")?;
        b.print_dec(Arg::Reg(R::R12))?;
        b.print("\n")?;
        b.exit(1)
    })?;
    let mut out = header.clone();
    for i in 0..AUDIT_ROUNDS * 3 {
        let what = match i % 3 {
            0 => "getpid = self",
            1 => "open = -2",
            _ => "close = -9",
        };
        out.push_str(&format!("[{i}] {what}\n"));
    }
    out.push_str(&format!("matched {expected_calls} of {expected_calls}\n"));
    let mut g = guest(info, elf, Expected::new(out, Exited(0)));
    g.stock_linux = Some(Expected::new(
        format!("{header}myaudit failed: -38\n"),
        Exited(1),
    ));
    g.absent_files.push(SEED_PATH);
    Ok(g)
}

// ----- fork / exec / wait -------------------------------------------------------------------

fn fork_exec_wait(info: GuestInfo) -> Result<Guest, Error> {
    let target = match info.arch {
        X86_64 => "hello-syscall64",
        I386 => "hello-int80-32",
    };
    let target_path = format!("/bin/{target}");
    let target_z = cstr(&target_path);
    let elf = assemble(&info, &|b| {
        b.save_initial_sp()?;
        let default = b.bytes(&target_z);
        let path = b.var();
        b.arg_or_default(path, 1, default)?;
        let status = b.buffer(4);
        let (argv, envp, value) = (b.var(), b.var(), b.var());
        let (mut child, mut fork_failed, mut wait_failed, mut signaled) =
            (b.label(), b.label(), b.label(), b.label());

        b.sys(nr::FORK, &[])?;
        b.test(R::Ax)?;
        b.a.js(fork_failed)?;
        b.a.je(child)?;

        // Parent: wait4(-1, &status, 0, NULL).
        b.sys(
            nr::WAIT4,
            &[Arg::Imm(-1), Arg::Addr(status), Arg::Imm(0), Arg::Imm(0)],
        )?;
        b.test(R::Ax)?;
        b.a.js(wait_failed)?;
        b.load32(R::Ax, status, 0)?;
        b.load32(R::Cx, status, 0)?;
        b.and32_imm(R::Cx, 0x7f)?; // WTERMSIG
        b.a.jne(signaled)?;
        b.shr32_imm(R::Ax, 8)?; // WEXITSTATUS
        b.and32_imm(R::Ax, 0xff)?;
        b.store(value, R::Ax)?;
        b.print("child exit status: ")?;
        b.print_dec(Arg::Var(value))?;
        b.print("\n")?;
        b.exit(0)?;
        b.bind(&mut signaled)?;
        b.store(value, R::Cx)?;
        b.print("child killed by signal: ")?;
        b.print_dec(Arg::Var(value))?;
        b.print("\n")?;
        b.exit(0)?;

        // Child: execve(path, [path, NULL], [NULL]); envp shares argv's NULL.
        b.bind(&mut child)?;
        b.mov_imm(R::Ax, 0)?;
        b.push(R::Ax)?;
        b.load(R::Ax, path)?;
        b.push(R::Ax)?;
        b.store(argv, R::Sp)?;
        b.mov(R::Ax, R::Sp)?;
        b.add_imm(R::Ax, b.word() as i32)?;
        b.store(envp, R::Ax)?;
        b.sys(
            nr::EXECVE,
            &[Arg::Var(path), Arg::Var(argv), Arg::Var(envp)],
        )?;
        b.exit(127)?;

        b.bind(&mut fork_failed)?;
        b.print("fork failed\n")?;
        b.exit(1)?;
        b.bind(&mut wait_failed)?;
        b.print("wait4 failed\n")?;
        b.exit(1)
    })?;
    let child = crate::build(target)?;
    let mut g = guest(
        info,
        elf,
        Expected::new(format!("{HELLO}child exit status: 0\n"), Exited(0)),
    );
    g.files.push(GuestFile {
        path: target_path,
        contents: child.elf,
        executable: true,
    });
    Ok(g)
}

// ----- privilege violations -------------------------------------------------------------------

fn privileged(info: GuestInfo) -> Result<Guest, Error> {
    let which = info
        .name
        .trim_start_matches("priv-")
        .trim_end_matches("-32")
        .to_string();
    let elf = assemble(&info, &|b| {
        let mut after = b.label();
        match (which.as_str(), b.arch) {
            ("hlt", _) => b.a.hlt()?,
            ("wrmsr", _) => {
                // wrmsr(IA32_LSTAR, 0): would hijack the 64-bit syscall entry.
                b.mov_imm(R::Cx, 0xc000_0082)?;
                b.mov_imm(R::Ax, 0)?;
                b.mov_imm(R::Dx, 0)?;
                b.a.wrmsr()?;
            }
            ("swapgs", X86_64) => b.a.swapgs()?,
            ("sysret", X86_64) => {
                // A SYSRET that worked would "return" to the code below.
                b.a.lea(rcx, ptr(after))?;
                b.a.mov(r11, 0x202u64)?;
                b.a.sysretq()?;
            }
            ("mov-cr3", X86_64) => {
                b.a.xor(rax, rax)?;
                b.a.mov(cr3, rax)?;
            }
            ("mov-cr3", I386) => {
                b.a.xor(eax, eax)?;
                b.a.mov(cr3, eax)?;
            }
            ("cli", _) => b.a.cli()?,
            _ => return Err(Error::Unsupported("unknown privileged instruction")),
        }
        b.bind(&mut after)?;
        b.print("not reached\n")?;
        b.exit(1)
    })?;
    Ok(guest(info, elf, Expected::new("", Signaled(SIGSEGV))))
}
