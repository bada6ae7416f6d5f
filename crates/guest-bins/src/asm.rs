//! The program builder: iced-x86's `code_asm` plus data, zeroed memory and
//! the helpers every guest shares (a system call through a given mechanism,
//! `write`, `exit_group`, decimal printing, argv and auxv access).
//!
//! A program is a Rust function that drives a [`Builder`]. [`assemble`] runs
//! it repeatedly: each pass assembles the code at the addresses the previous
//! pass's sizes produced (see [`crate::elf::Layout`]) until code size, data
//! size and tracked label addresses stop changing, which for these programs
//! takes two or three passes. Data references are therefore plain addresses:
//! RIP-relative in 64-bit code, absolute in 32-bit `ET_EXEC` code, and
//! `call`/`pop` relative in 32-bit static-PIE code.
//!
//! Register conventions of the helpers (documented per helper): [`Builder::sys`]
//! clobbers the accumulator, the argument registers it loads and what the
//! mechanism clobbers (RCX/R11 for `syscall`, R8–R11 for `int 0x80` from
//! 64-bit code on newer kernels); the shared subroutines preserve every
//! register but the accumulator.

use iced_x86::code_asm::{CodeAssembler, CodeLabel};
use iced_x86::{BlockEncoderOptions, Code, IcedError, Instruction, MemoryOperand, Register};

use crate::elf::{Class, Image, Kind, Layout};
use crate::nr::{self, Abi, Nr};
use crate::{Arch, Error, Mechanism};

/// Linux's `AT_SYSINFO` auxv tag: the address of `__kernel_vsyscall`.
pub(crate) const AT_SYSINFO: u32 = 32;

/// Passes before giving up on a stable layout (two suffice in practice).
const MAX_PASSES: usize = 6;

/// A general register, named without its width: the builder uses the
/// native width (RAX or EAX) unless a helper says "32-bit".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum R {
    Ax,
    Bx,
    Cx,
    Dx,
    Si,
    Di,
    Bp,
    Sp,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
}

/// Where a symbol lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Space {
    Data,
    Bss,
}

/// A named piece of data or zeroed memory (an offset in its space).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sym {
    space: Space,
    off: u64,
    /// Length in bytes.
    pub(crate) len: u64,
}

/// A system-call argument.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arg {
    /// A constant.
    Imm(i64),
    /// The address of a symbol.
    Addr(Sym),
    /// The native-width value stored in a symbol (a variable).
    Var(Sym),
    /// The value of a register before the call's argument set-up.
    Reg(R),
}

/// Subroutines emitted once, after the program body, if used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sub {
    PrintDec,
    SysenterStub,
    Syscall32Stub,
}

/// Builds one program; see the module documentation.
pub(crate) struct Builder {
    pub(crate) arch: Arch,
    pub(crate) mech: Mechanism,
    kind: Kind,
    /// The underlying assembler, for branches, labels and plain instructions.
    pub(crate) a: CodeAssembler,
    layout: Layout,
    data: Vec<u8>,
    bss_len: u64,
    tracked: Vec<CodeLabel>,
    prev_ips: Vec<u64>,
    subs: Vec<(Sub, CodeLabel, bool)>,
    sysinfo: Option<Sym>,
    sp0: Option<Sym>,
    num_buf: Option<(Sym, Sym, Sym)>,
}

impl From<IcedError> for Error {
    fn from(e: IcedError) -> Error {
        Error::Asm(e.to_string())
    }
}

/// Assembles the program `body` describes and writes it as an ELF file.
pub(crate) fn assemble(
    arch: Arch,
    mech: Mechanism,
    kind: Kind,
    body: &dyn Fn(&mut Builder) -> Result<(), Error>,
) -> Result<Vec<u8>, Error> {
    let class = match arch {
        Arch::X86_64 => Class::Elf64,
        Arch::I386 => Class::Elf32,
    };
    if kind == Kind::Dyn && arch == Arch::X86_64 && mech == Mechanism::Int80 {
        return Err(Error::Unsupported(
            "int 0x80 truncates pointers to 32 bits: no 64-bit PIE with int 0x80",
        ));
    }
    let mut layout = Layout::new(class, kind, 0, 0, 0);
    let mut prev_ips = Vec::new();
    for _ in 0..MAX_PASSES {
        let mut b = Builder {
            arch,
            mech,
            kind,
            a: CodeAssembler::new(arch.bitness())?,
            layout,
            data: Vec::new(),
            bss_len: 0,
            tracked: Vec::new(),
            prev_ips: prev_ips.clone(),
            subs: Vec::new(),
            sysinfo: None,
            sp0: None,
            num_buf: None,
        };
        b.prologue()?;
        body(&mut b)?;
        b.emit_subroutines()?;
        let result = b.a.assemble_options(
            layout.code_vaddr,
            BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
        )?;
        let ips = b
            .tracked
            .iter()
            .map(|l| result.label_ip(l))
            .collect::<Result<Vec<u64>, IcedError>>()?;
        let image = Image {
            class,
            kind,
            code: result.inner.code_buffer,
            data: b.data,
            bss_len: b.bss_len,
            entry_offset: 0,
        };
        let new_layout = image.layout();
        if new_layout == layout && ips == prev_ips {
            return image.write().map_err(Error::Elf);
        }
        layout = new_layout;
        prev_ips = ips;
    }
    Err(Error::NoFixpoint)
}

impl Arch {
    fn bitness(self) -> u32 {
        match self {
            Arch::X86_64 => 64,
            Arch::I386 => 32,
        }
    }
}

impl Builder {
    fn wide(&self) -> bool {
        self.arch == Arch::X86_64
    }

    /// Native word size in bytes.
    pub(crate) fn word(&self) -> u64 {
        if self.wide() { 8 } else { 4 }
    }

    fn abi(&self) -> Abi {
        match (self.arch, self.mech) {
            (Arch::X86_64, Mechanism::Syscall) => Abi::X64,
            _ => Abi::I386,
        }
    }

    fn reg(&self, r: R) -> Result<Register, Error> {
        use Register::*;
        let (q, d) = match r {
            R::Ax => (RAX, EAX),
            R::Bx => (RBX, EBX),
            R::Cx => (RCX, ECX),
            R::Dx => (RDX, EDX),
            R::Si => (RSI, ESI),
            R::Di => (RDI, EDI),
            R::Bp => (RBP, EBP),
            R::Sp => (RSP, ESP),
            R::R8 => (R8, R8D),
            R::R9 => (R9, R9D),
            R::R10 => (R10, R10D),
            R::R11 => (R11, R11D),
            R::R12 => (R12, R12D),
            R::R13 => (R13, R13D),
            R::R14 => (R14, R14D),
            R::R15 => (R15, R15D),
        };
        if self.wide() {
            Ok(q)
        } else if q.number() < 8 {
            Ok(d)
        } else {
            Err(Error::Unsupported("R8-R15 in 32-bit code"))
        }
    }

    fn reg32(&self, r: R) -> Result<Register, Error> {
        let full = self.reg(r)?;
        Ok(full.full_register32())
    }

    fn ins(&mut self, i: Result<Instruction, IcedError>) -> Result<(), Error> {
        self.a.add_instruction(i?)?;
        Ok(())
    }

    fn pick(&self, q: Code, d: Code) -> Code {
        if self.wide() { q } else { d }
    }

    // ----- symbols ---------------------------------------------------------

    /// Adds initialised (writable) data.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Sym {
        while !self.data.len().is_multiple_of(8) {
            self.data.push(0);
        }
        let off = self.data.len() as u64;
        self.data.extend_from_slice(bytes);
        Sym {
            space: Space::Data,
            off,
            len: bytes.len() as u64,
        }
    }

    /// Adds zeroed memory of `len` bytes, 16-byte aligned.
    pub(crate) fn buffer(&mut self, len: u64) -> Sym {
        let off = (self.bss_len + 15) & !15;
        self.bss_len = off + len;
        Sym {
            space: Space::Bss,
            off,
            len,
        }
    }

    /// Adds a zeroed native-width variable.
    pub(crate) fn var(&mut self) -> Sym {
        let w = self.word();
        self.buffer(w)
    }

    /// The link-time address of a symbol (placeholder in the first pass).
    pub(crate) fn addr(&self, s: Sym) -> u64 {
        match s.space {
            Space::Data => self.layout.data_vaddr + s.off,
            Space::Bss => self.layout.bss_vaddr + s.off,
        }
    }

    /// A memory operand for `s + extra`.
    fn mem(&self, s: Sym, extra: i64) -> Result<MemoryOperand, Error> {
        let target = self.addr(s).wrapping_add(extra as u64);
        match (self.arch, self.kind) {
            (Arch::X86_64, _) => Ok(MemoryOperand::with_base_displ(Register::RIP, target as i64)),
            (Arch::I386, Kind::Exec) => Ok(MemoryOperand::with_displ(target, 4)),
            (Arch::I386, Kind::Dyn) => Err(Error::Unsupported(
                "absolute data references in 32-bit PIE code",
            )),
        }
    }

    /// `[base + disp]` with a native-width base register.
    fn at(&self, base: R, disp: i32) -> Result<MemoryOperand, Error> {
        Ok(MemoryOperand::with_base_displ(
            self.reg(base)?,
            i64::from(disp),
        ))
    }

    // ----- labels -----------------------------------------------------------

    /// A new, unbound label.
    pub(crate) fn label(&mut self) -> CodeLabel {
        self.a.create_label()
    }

    /// Binds `l` to the next instruction.
    pub(crate) fn bind(&mut self, l: &mut CodeLabel) -> Result<(), Error> {
        self.a.set_label(l)?;
        Ok(())
    }

    // ----- register and memory moves ---------------------------------------

    /// `mov d, s` (native width).
    pub(crate) fn mov(&mut self, d: R, s: R) -> Result<(), Error> {
        let c = self.pick(Code::Mov_r64_rm64, Code::Mov_r32_rm32);
        let (d, s) = (self.reg(d)?, self.reg(s)?);
        self.ins(Instruction::with2(c, d, s))
    }

    /// Loads a constant (sign-extended to the native width).
    pub(crate) fn mov_imm(&mut self, d: R, v: i64) -> Result<(), Error> {
        if !self.wide() || (0..=i64::from(u32::MAX)).contains(&v) {
            // 32-bit moves zero-extend in 64-bit mode.
            let d = self.reg32(d)?;
            self.ins(Instruction::with2(Code::Mov_r32_imm32, d, v as u32))
        } else if let Ok(v32) = i32::try_from(v) {
            let d = self.reg(d)?;
            self.ins(Instruction::with2(Code::Mov_rm64_imm32, d, v32))
        } else {
            let d = self.reg(d)?;
            self.ins(Instruction::with2(Code::Mov_r64_imm64, d, v as u64))
        }
    }

    /// Loads the address of `s` (position independent where the image is).
    pub(crate) fn load_addr(&mut self, d: R, s: Sym) -> Result<(), Error> {
        let target = self.addr(s);
        match (self.arch, self.kind) {
            (Arch::X86_64, _) => {
                let m = self.mem(s, 0)?;
                let d = self.reg(d)?;
                self.ins(Instruction::with2(Code::Lea_r64_m, d, m))
            }
            (Arch::I386, Kind::Exec) => {
                let d = self.reg(d)?;
                self.ins(Instruction::with2(Code::Mov_r32_imm32, d, target as u32))
            }
            (Arch::I386, Kind::Dyn) => {
                // call next; next: pop d; add d, target - next. The address
                // of `next` comes from the previous pass (0 in the first).
                let d = self.reg(d)?;
                let next_ip = self.prev_ips.get(self.tracked.len()).copied().unwrap_or(0);
                let mut next = self.label();
                self.a.call(next)?;
                self.a.set_label(&mut next)?;
                self.tracked.push(next);
                self.ins(Instruction::with1(Code::Pop_r32, d))?;
                // imm32 always, so the code size does not depend on the value.
                let delta = target.wrapping_sub(next_ip) as u32 as i32;
                self.ins(Instruction::with2(Code::Add_rm32_imm32, d, delta))
            }
        }
    }

    /// `mov d, [s]` (native width).
    pub(crate) fn load(&mut self, d: R, s: Sym) -> Result<(), Error> {
        let c = self.pick(Code::Mov_r64_rm64, Code::Mov_r32_rm32);
        let (d, m) = (self.reg(d)?, self.mem(s, 0)?);
        self.ins(Instruction::with2(c, d, m))
    }

    /// `mov [s], r` (native width).
    pub(crate) fn store(&mut self, s: Sym, r: R) -> Result<(), Error> {
        let c = self.pick(Code::Mov_rm64_r64, Code::Mov_rm32_r32);
        let (m, r) = (self.mem(s, 0)?, self.reg(r)?);
        self.ins(Instruction::with2(c, m, r))
    }

    /// `mov d32, dword [s + off]`.
    pub(crate) fn load32(&mut self, d: R, s: Sym, off: i64) -> Result<(), Error> {
        let (d, m) = (self.reg32(d)?, self.mem(s, off)?);
        self.ins(Instruction::with2(Code::Mov_r32_rm32, d, m))
    }

    /// `mov d32, dword [base + disp]`.
    pub(crate) fn load32_at(&mut self, d: R, base: R, disp: i32) -> Result<(), Error> {
        let (d, m) = (self.reg32(d)?, self.at(base, disp)?);
        self.ins(Instruction::with2(Code::Mov_r32_rm32, d, m))
    }

    /// `mov d, [base + disp]` (native width).
    pub(crate) fn load_at(&mut self, d: R, base: R, disp: i32) -> Result<(), Error> {
        let c = self.pick(Code::Mov_r64_rm64, Code::Mov_r32_rm32);
        let (d, m) = (self.reg(d)?, self.at(base, disp)?);
        self.ins(Instruction::with2(c, d, m))
    }

    /// `cmp byte [base + index], v`.
    pub(crate) fn cmp8_indexed(&mut self, base: R, index: R, v: u8) -> Result<(), Error> {
        let m = MemoryOperand::new(
            self.reg(base)?,
            self.reg(index)?,
            1,
            0,
            0,
            false,
            Register::None,
        );
        self.ins(Instruction::with2(Code::Cmp_rm8_imm8, m, u32::from(v)))
    }

    /// `push r` (native width).
    pub(crate) fn push(&mut self, r: R) -> Result<(), Error> {
        let c = self.pick(Code::Push_r64, Code::Push_r32);
        let r = self.reg(r)?;
        self.ins(Instruction::with1(c, r))
    }

    /// `pop r` (native width).
    pub(crate) fn pop(&mut self, r: R) -> Result<(), Error> {
        let c = self.pick(Code::Pop_r64, Code::Pop_r32);
        let r = self.reg(r)?;
        self.ins(Instruction::with1(c, r))
    }

    // ----- arithmetic --------------------------------------------------------

    /// `add d, v` (native width).
    pub(crate) fn add_imm(&mut self, d: R, v: i32) -> Result<(), Error> {
        let c = match (self.wide(), i8::try_from(v).is_ok()) {
            (true, true) => Code::Add_rm64_imm8,
            (true, false) => Code::Add_rm64_imm32,
            (false, true) => Code::Add_rm32_imm8,
            (false, false) => Code::Add_rm32_imm32,
        };
        let d = self.reg(d)?;
        self.ins(Instruction::with2(c, d, v))
    }

    /// `sub d, s` (native width).
    pub(crate) fn sub(&mut self, d: R, s: R) -> Result<(), Error> {
        let c = self.pick(Code::Sub_r64_rm64, Code::Sub_r32_rm32);
        let (d, s) = (self.reg(d)?, self.reg(s)?);
        self.ins(Instruction::with2(c, d, s))
    }

    /// `dec r` (native width; sets ZF).
    pub(crate) fn dec(&mut self, r: R) -> Result<(), Error> {
        let c = self.pick(Code::Dec_rm64, Code::Dec_rm32);
        let r = self.reg(r)?;
        self.ins(Instruction::with1(c, r))
    }

    /// `inc r` (native width).
    pub(crate) fn inc(&mut self, r: R) -> Result<(), Error> {
        let c = self.pick(Code::Inc_rm64, Code::Inc_rm32);
        let r = self.reg(r)?;
        self.ins(Instruction::with1(c, r))
    }

    /// `cmp r32, v`.
    pub(crate) fn cmp32_imm(&mut self, r: R, v: i32) -> Result<(), Error> {
        let c = if i8::try_from(v).is_ok() {
            Code::Cmp_rm32_imm8
        } else {
            Code::Cmp_rm32_imm32
        };
        let r = self.reg32(r)?;
        self.ins(Instruction::with2(c, r, v))
    }

    /// `cmp a32, b32`.
    pub(crate) fn cmp32(&mut self, a: R, b: R) -> Result<(), Error> {
        let (a, b) = (self.reg32(a)?, self.reg32(b)?);
        self.ins(Instruction::with2(Code::Cmp_r32_rm32, a, b))
    }

    /// `test r, r` (native width; SF is the sign of a system-call result).
    pub(crate) fn test(&mut self, r: R) -> Result<(), Error> {
        let c = self.pick(Code::Test_rm64_r64, Code::Test_rm32_r32);
        let r = self.reg(r)?;
        self.ins(Instruction::with2(c, r, r))
    }

    /// `and r32, v`.
    pub(crate) fn and32_imm(&mut self, r: R, v: i32) -> Result<(), Error> {
        let c = if i8::try_from(v).is_ok() {
            Code::And_rm32_imm8
        } else {
            Code::And_rm32_imm32
        };
        let r = self.reg32(r)?;
        self.ins(Instruction::with2(c, r, v))
    }

    /// `shr r32, n`.
    pub(crate) fn shr32_imm(&mut self, r: R, n: u32) -> Result<(), Error> {
        let r = self.reg32(r)?;
        self.ins(Instruction::with2(Code::Shr_rm32_imm8, r, n))
    }

    /// Turns a raw system-call result in the accumulator into what a libc
    /// wrapper returns: -4095..-1 become -1 (glibc's
    /// `cmp $-4095, %rax; jae __syscall_error`, errno not kept).
    pub(crate) fn libc_result(&mut self) -> Result<(), Error> {
        let mut ok = self.label();
        let c = self.pick(Code::Cmp_rm64_imm32, Code::Cmp_rm32_imm32);
        let ax = self.reg(R::Ax)?;
        self.ins(Instruction::with2(c, ax, -4095i32))?;
        self.a.jb(ok)?;
        self.mov_imm(R::Ax, -1)?;
        self.bind(&mut ok)?;
        self.a.nop()?;
        Ok(())
    }

    // ----- system calls -------------------------------------------------------

    /// Makes system call `nr` with `args` through the builder's mechanism.
    ///
    /// Arguments go where the ABI puts them: RDI, RSI, RDX, R10, R8, R9 for
    /// `syscall` from 64-bit code; EBX, ECX, EDX, ESI, EDI, EBP for the i386
    /// ABI (every 32-bit mechanism, and `int 0x80` from 64-bit code, which
    /// also takes the i386 number). The result is in the accumulator.
    /// `Arg::Reg` sources are read before any other argument register is
    /// written; one that another `Arg::Reg` overwrote first is an error.
    pub(crate) fn sys(&mut self, nr: Nr, args: &[Arg]) -> Result<(), Error> {
        let abi = self.abi();
        let number = nr.number(abi).ok_or(Error::NoSuchCall(nr.name))?;
        let regs: [R; 6] = match abi {
            Abi::X64 => [R::Di, R::Si, R::Dx, R::R10, R::R8, R::R9],
            Abi::I386 => [R::Bx, R::Cx, R::Dx, R::Si, R::Di, R::Bp],
        };
        if args.len() > regs.len() {
            return Err(Error::Unsupported("more than six system-call arguments"));
        }
        let mut written: Vec<R> = Vec::new();
        for (arg, &dst) in args.iter().zip(regs.iter()) {
            if let Arg::Reg(src) = *arg {
                if written.contains(&src) {
                    return Err(Error::Unsupported("argument register clobbered"));
                }
                if src != dst {
                    self.mov(dst, src)?;
                }
                written.push(dst);
            }
        }
        for (arg, &dst) in args.iter().zip(regs.iter()) {
            match *arg {
                Arg::Imm(v) => self.mov_imm(dst, v)?,
                Arg::Addr(s) => self.load_addr(dst, s)?,
                Arg::Var(s) => self.load(dst, s)?,
                Arg::Reg(_) => {}
            }
        }
        self.mov_imm(R::Ax, i64::from(number))?;
        self.enter_kernel()
    }

    /// The instruction(s) that enter the kernel, system-call number and
    /// arguments already in place.
    fn enter_kernel(&mut self) -> Result<(), Error> {
        match (self.arch, self.mech) {
            (Arch::X86_64, Mechanism::Syscall) => self.a.syscall()?,
            (_, Mechanism::Int80) => self.a.int(0x80)?,
            (Arch::I386, Mechanism::Sysenter) => {
                let l = self.subroutine(Sub::SysenterStub);
                self.a.call(l)?;
            }
            (Arch::I386, Mechanism::Syscall) => {
                let l = self.subroutine(Sub::Syscall32Stub);
                self.a.call(l)?;
            }
            (Arch::I386, Mechanism::Vsyscall) => {
                let s = self
                    .sysinfo
                    .ok_or(Error::Unsupported("AT_SYSINFO not located"))?;
                let m = self.mem(s, 0)?;
                self.ins(Instruction::with1(Code::Call_rm32, m))?;
            }
            (Arch::X86_64, Mechanism::Sysenter | Mechanism::Vsyscall) => {
                return Err(Error::Unsupported(
                    "sysenter and __kernel_vsyscall exist for 32-bit code only",
                ));
            }
        }
        Ok(())
    }

    /// `write(fd, s, s.len)`.
    pub(crate) fn write(&mut self, fd: i64, s: Sym) -> Result<(), Error> {
        self.sys(
            nr::WRITE,
            &[Arg::Imm(fd), Arg::Addr(s), Arg::Imm(s.len as i64)],
        )
    }

    /// Adds `text` as data and writes it to stdout.
    pub(crate) fn print(&mut self, text: &str) -> Result<(), Error> {
        let s = self.bytes(text.as_bytes());
        self.write(1, s)
    }

    /// `exit_group(code)`.
    pub(crate) fn exit(&mut self, code: i64) -> Result<(), Error> {
        self.sys(nr::EXIT_GROUP, &[Arg::Imm(code)])
    }

    /// Writes `arg` (a signed 32-bit value) to stdout in decimal.
    /// Clobbers only the accumulator.
    pub(crate) fn print_dec(&mut self, arg: Arg) -> Result<(), Error> {
        match arg {
            Arg::Imm(v) => self.mov_imm(R::Ax, v)?,
            Arg::Addr(s) => self.load_addr(R::Ax, s)?,
            Arg::Var(s) => self.load(R::Ax, s)?,
            Arg::Reg(R::Ax) => {}
            Arg::Reg(r) => self.mov(R::Ax, r)?,
        }
        let l = self.subroutine(Sub::PrintDec);
        self.a.call(l)?;
        Ok(())
    }

    // ----- program start --------------------------------------------------------

    /// Code every program starts with: for [`Mechanism::Vsyscall`], find
    /// `AT_SYSINFO` in the auxiliary vector.
    fn prologue(&mut self) -> Result<(), Error> {
        if self.arch == Arch::I386 && self.mech == Mechanism::Vsyscall {
            self.find_sysinfo()?;
        }
        Ok(())
    }

    /// Scans the initial stack (argc, argv, NULL, envp, NULL, auxv pairs)
    /// for `AT_SYSINFO` and keeps its value; without one, says so on stderr
    /// through `int 0x80` and exits with status 2.
    fn find_sysinfo(&mut self) -> Result<(), Error> {
        let sysinfo = self.var();
        self.sysinfo = Some(sysinfo);
        let (mut env, mut aux, mut found, mut none, mut done) = (
            self.label(),
            self.label(),
            self.label(),
            self.label(),
            self.label(),
        );
        // esi = &envp[0] = esp + 4 + argc*4 + 4
        self.ins(Instruction::with2(
            Code::Mov_r32_rm32,
            Register::EAX,
            MemoryOperand::with_base(Register::ESP),
        ))?;
        self.ins(Instruction::with2(
            Code::Lea_r32_m,
            Register::ESI,
            MemoryOperand::new(Register::ESP, Register::EAX, 4, 8, 1, false, Register::None),
        ))?;
        self.bind(&mut env)?;
        self.load32_at(R::Dx, R::Si, 0)?;
        self.add_imm(R::Si, 4)?;
        self.test(R::Dx)?;
        self.a.jne(env)?;
        self.bind(&mut aux)?;
        self.load32_at(R::Ax, R::Si, 0)?;
        self.test(R::Ax)?;
        self.a.je(none)?;
        self.cmp32_imm(R::Ax, AT_SYSINFO as i32)?;
        self.a.je(found)?;
        self.add_imm(R::Si, 8)?;
        self.a.jmp(aux)?;
        self.bind(&mut found)?;
        self.load32_at(R::Ax, R::Si, 4)?;
        self.store(sysinfo, R::Ax)?;
        self.a.jmp(done)?;
        self.bind(&mut none)?;
        self.mech = Mechanism::Int80;
        let msg = self.bytes(b"no AT_SYSINFO in the auxiliary vector\n");
        self.write(2, msg)?;
        self.exit(2)?;
        self.mech = Mechanism::Vsyscall;
        self.bind(&mut done)?;
        self.a.nop()?;
        Ok(())
    }

    /// Keeps the initial stack pointer (it points at argc) for
    /// [`Self::arg_or_default`]. Must come first in a program body.
    pub(crate) fn save_initial_sp(&mut self) -> Result<(), Error> {
        let v = self.var();
        self.store(v, R::Sp)?;
        self.sp0 = Some(v);
        Ok(())
    }

    /// Sets variable `var` to `argv[index]` if the program got that many
    /// arguments, else to the address of `default` (a NUL-terminated string).
    pub(crate) fn arg_or_default(
        &mut self,
        var: Sym,
        index: u32,
        default: Sym,
    ) -> Result<(), Error> {
        let sp0 = self
            .sp0
            .ok_or(Error::Unsupported("save_initial_sp not called"))?;
        let (mut use_default, mut done) = (self.label(), self.label());
        self.load(R::Cx, sp0)?;
        self.load32_at(R::Ax, R::Cx, 0)?; // argc
        self.cmp32_imm(R::Ax, index as i32)?;
        self.a.jbe(use_default)?;
        let disp = (u64::from(index) + 1) * self.word();
        self.load_at(R::Ax, R::Cx, disp as i32)?;
        self.store(var, R::Ax)?;
        self.a.jmp(done)?;
        self.bind(&mut use_default)?;
        self.load_addr(R::Ax, default)?;
        self.store(var, R::Ax)?;
        self.bind(&mut done)?;
        self.a.nop()?;
        Ok(())
    }

    // ----- shared subroutines ------------------------------------------------------

    fn subroutine(&mut self, which: Sub) -> CodeLabel {
        if let Some((_, l, _)) = self.subs.iter().find(|(s, _, _)| *s == which) {
            return *l;
        }
        let l = self.a.create_label();
        self.subs.push((which, l, false));
        l
    }

    fn emit_subroutines(&mut self) -> Result<(), Error> {
        while let Some(i) = self.subs.iter().position(|(_, _, done)| !done) {
            self.subs[i].2 = true;
            let (which, mut l, _) = self.subs[i];
            self.a.set_label(&mut l)?;
            match which {
                Sub::PrintDec => self.emit_print_dec()?,
                Sub::SysenterStub => self.emit_fast32_stub(false)?,
                Sub::Syscall32Stub => self.emit_fast32_stub(true)?,
            }
        }
        Ok(())
    }

    /// `print_dec`: EAX (signed) in decimal to stdout; preserves all other
    /// registers.
    fn emit_print_dec(&mut self) -> Result<(), Error> {
        let (buf, ptr, len) = match self.num_buf {
            Some(t) => t,
            None => {
                let t = (self.buffer(16), self.var(), self.var());
                self.num_buf = Some(t);
                t
            }
        };
        let mut saved = vec![R::Bx, R::Cx, R::Dx, R::Si, R::Di, R::Bp];
        if self.wide() {
            saved.extend([R::R8, R::R9, R::R10, R::R11]);
        }
        for &r in &saved {
            self.push(r)?;
        }
        let (mut positive, mut digit, mut unsigned) = (self.label(), self.label(), self.label());
        self.mov(R::Bp, R::Ax)?; // keeps the sign
        // Only the low 32 bits count: test the 32-bit register.
        let eax = self.reg32(R::Ax)?;
        self.ins(Instruction::with2(Code::Test_rm32_r32, eax, eax))?;
        self.a.jns(positive)?;
        self.ins(Instruction::with1(Code::Neg_rm32, eax))?;
        self.bind(&mut positive)?;
        self.load_addr(R::Di, buf)?;
        self.add_imm(R::Di, 16)?;
        self.mov_imm(R::Si, 10)?;
        self.bind(&mut digit)?;
        self.ins(Instruction::with2(
            Code::Xor_r32_rm32,
            Register::EDX,
            Register::EDX,
        ))?;
        self.ins(Instruction::with1(Code::Div_rm32, Register::ESI))?;
        self.ins(Instruction::with2(
            Code::Add_rm32_imm8,
            Register::EDX,
            i32::from(b'0'),
        ))?;
        self.dec(R::Di)?;
        let di = MemoryOperand::with_base(self.reg(R::Di)?);
        self.ins(Instruction::with2(Code::Mov_rm8_r8, di, Register::DL))?;
        self.ins(Instruction::with2(Code::Test_rm32_r32, eax, eax))?;
        self.a.jne(digit)?;
        let ebp = self.reg32(R::Bp)?;
        self.ins(Instruction::with2(Code::Test_rm32_r32, ebp, ebp))?;
        self.a.jns(unsigned)?;
        self.dec(R::Di)?;
        self.ins(Instruction::with2(Code::Mov_rm8_imm8, di, u32::from(b'-')))?;
        self.bind(&mut unsigned)?;
        self.store(ptr, R::Di)?;
        self.load_addr(R::Ax, buf)?;
        self.add_imm(R::Ax, 16)?;
        self.sub(R::Ax, R::Di)?;
        self.store(len, R::Ax)?;
        self.sys(nr::WRITE, &[Arg::Imm(1), Arg::Var(ptr), Arg::Var(len)])?;
        for &r in saved.iter().rev() {
            self.pop(r)?;
        }
        self.a.ret()?;
        Ok(())
    }

    /// The 32-bit fast-system-call stub, called with EAX = number and the
    /// arguments in EBX, ECX, EDX, ESI, EDI, EBP like `__kernel_vsyscall`.
    ///
    /// It is Linux's `__kernel_vsyscall` sequence without the int 0x80
    /// fallback: `push ecx; push edx; push ebp`, then `mov ebp, esp;
    /// sysenter` or (AMD, 64-bit kernel) `mov ebp, ecx; syscall`. Linux does
    /// not return after the instruction: it returns to the vDSO's
    /// `int80_landing_pad` (`pop ebp; pop edx; pop ecx; ret`) with ESP = the
    /// ESP at entry (as stashed in EBP for SYSENTER) and EBP reloaded from
    /// `[ESP]`, so that pad pops what this stub pushed and returns to this
    /// stub's caller. The same four instructions follow the entry here, so a
    /// kernel that instead returns right after the instruction with the same
    /// stack also works.
    fn emit_fast32_stub(&mut self, syscall: bool) -> Result<(), Error> {
        use iced_x86::code_asm::registers::gpr32::{ebp, ecx, edx, esp};
        self.a.push(ecx)?;
        self.a.push(edx)?;
        self.a.push(ebp)?;
        if syscall {
            // SYSCALL overwrites ECX with the return address: the second
            // argument travels in EBP; the sixth is read from [ESP].
            self.a.mov(ebp, ecx)?;
            self.a.syscall()?;
        } else {
            // SYSENTER saves no return address and no stack pointer: EBP
            // carries the user ESP (and the sixth argument is at [EBP]).
            self.a.mov(ebp, esp)?;
            self.a.sysenter()?;
        }
        self.a.pop(ebp)?;
        self.a.pop(edx)?;
        self.a.pop(ecx)?;
        self.a.ret()?;
        Ok(())
    }
}
