//! The ELF loader: static ELF32/ELF64 executables (ET_EXEC, and ET_DYN
//! "static-PIE" loaded at a fixed base), mapped page by page into a fresh
//! address space, and the initial process stack Linux builds
//! (fs/binfmt_elf.c `create_elf_tables`): argc, argv, envp, auxv, the
//! strings, AT_RANDOM bytes and the platform string.
//!
//! Every field of the file is checked before use; a malformed image gives
//! [`LoadError`], never a panic.

use sysgate_mmu::PhysMem;

use super::frames::{Frames, OutOfMemory};
use super::paging::{AddressSpace, Prot};

/// Why an executable could not be loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoadError {
    /// Not an ELF file, or a class/machine this kernel cannot run.
    #[error("not an executable for this kernel: {0}")]
    Format(&'static str),
    /// A header field points outside the file or the address space.
    #[error("malformed ELF: {0}")]
    Malformed(&'static str),
    /// Guest memory ran out.
    #[error("out of guest memory")]
    NoMemory,
    /// A dynamically linked executable (PT_INTERP): the kernel model has
    /// no program interpreter to load, so it runs static binaries only.
    #[error(
        "dynamically linked (program interpreter {0}), which this kernel model does not \
         provide: link the program statically (gcc -static, musl-gcc -static)"
    )]
    Interpreter(String),
}

impl From<OutOfMemory> for LoadError {
    fn from(_: OutOfMemory) -> Self {
        LoadError::NoMemory
    }
}

/// Load base of an ET_DYN (static-PIE) executable.
pub const PIE_BASE_64: u64 = 0x5555_5555_4000;
/// Load base of a 32-bit ET_DYN executable.
pub const PIE_BASE_32: u64 = 0x5655_5000;

/// What the loader learned about an executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// 64 or 32.
    pub bits: u32,
    /// Entry point (relocated).
    pub entry: u64,
    /// Address of the program headers in memory (AT_PHDR).
    pub phdr: u64,
    /// Program header entry size and count (AT_PHENT, AT_PHNUM).
    pub phent: u64,
    /// Number of program headers.
    pub phnum: u64,
    /// End of the highest segment: where the heap (brk) starts.
    pub brk: u64,
    /// Load bias (0 for ET_EXEC).
    pub bias: u64,
}

fn field(b: &[u8], off: usize, len: usize) -> Result<u64, LoadError> {
    let s = b
        .get(off..off.checked_add(len).ok_or(LoadError::Malformed("offset"))?)
        .ok_or(LoadError::Malformed("truncated header"))?;
    let mut v = 0u64;
    for (k, x) in s.iter().enumerate() {
        v |= (*x as u64) << (8 * k);
    }
    Ok(v)
}

/// Reads the ELF header: class (32/64), type, machine.
pub fn identify(file: &[u8]) -> Result<u32, LoadError> {
    if file.len() < 52 || &file[..4] != b"\x7fELF" {
        return Err(LoadError::Format("no ELF magic"));
    }
    if file[5] != 1 {
        return Err(LoadError::Format("not little-endian"));
    }
    let bits = match file[4] {
        1 => 32,
        2 => 64,
        _ => return Err(LoadError::Format("unknown ELF class")),
    };
    let machine = field(file, 18, 2)?;
    match (bits, machine) {
        (64, 62) | (32, 3) => Ok(bits),
        _ => Err(LoadError::Format("not an x86 executable")),
    }
}

/// Program header type of the program interpreter's path.
const PT_INTERP: u64 = 3;

/// The interpreter path PT_INTERP names (`offset`, `size` in the file), as
/// far as it is readable text; `?` when the header points outside the file.
fn interpreter_path(file: &[u8], offset: u64, size: u64) -> String {
    let range = usize::try_from(offset)
        .ok()
        .zip(usize::try_from(size.min(4096)).ok())
        .and_then(|(o, n)| file.get(o..o.checked_add(n)?));
    match range {
        Some(b) => {
            let b = b.split(|&c| c == 0).next().unwrap_or_default();
            String::from_utf8_lossy(b).into_owned()
        }
        None => "?".to_string(),
    }
}

/// Maps `file` into `mm` (which must have only the kernel half yet).
/// `limit` is the top of user space.
pub fn load(
    file: &[u8],
    mm: &mut AddressSpace,
    mem: &mut PhysMem,
    frames: &mut Frames,
    limit: u64,
) -> Result<Image, LoadError> {
    let bits = identify(file)?;
    let w = if bits == 64 { 8 } else { 4 };
    let e_type = field(file, 16, 2)?;
    let (entry, phoff, phentsize, phnum) = if bits == 64 {
        (
            field(file, 24, 8)?,
            field(file, 32, 8)?,
            field(file, 54, 2)?,
            field(file, 56, 2)?,
        )
    } else {
        (
            field(file, 24, 4)?,
            field(file, 28, 4)?,
            field(file, 42, 2)?,
            field(file, 44, 2)?,
        )
    };
    let bias = match e_type {
        2 => 0,
        3 if bits == 64 => PIE_BASE_64,
        3 => PIE_BASE_32,
        _ => return Err(LoadError::Format("not ET_EXEC or ET_DYN")),
    };
    let expected_phent = if bits == 64 { 56 } else { 32 };
    if phentsize != expected_phent || phnum == 0 || phnum > 64 {
        return Err(LoadError::Malformed("program headers"));
    }
    let mut phdr_va = None;
    let mut brk = 0u64;
    let mut first_load = None;
    for k in 0..phnum {
        let ph = phoff
            .checked_add(k * phentsize)
            .ok_or(LoadError::Malformed("phoff"))? as usize;
        let p_type = field(file, ph, 4)?;
        let (flags, offset, vaddr, filesz, memsz) = if bits == 64 {
            (
                field(file, ph + 4, 4)?,
                field(file, ph + 8, 8)?,
                field(file, ph + 16, 8)?,
                field(file, ph + 32, 8)?,
                field(file, ph + 40, 8)?,
            )
        } else {
            (
                field(file, ph + 24, 4)?,
                field(file, ph + 4, 4)?,
                field(file, ph + 8, 4)?,
                field(file, ph + 16, 4)?,
                field(file, ph + 20, 4)?,
            )
        };
        if p_type == 6 {
            phdr_va = Some(vaddr.wrapping_add(bias));
        }
        if p_type == PT_INTERP {
            return Err(LoadError::Interpreter(interpreter_path(
                file, offset, filesz,
            )));
        }
        if p_type != 1 {
            continue;
        }
        let start = vaddr
            .checked_add(bias)
            .ok_or(LoadError::Malformed("vaddr"))?;
        let end = start
            .checked_add(memsz)
            .ok_or(LoadError::Malformed("memsz"))?;
        if filesz > memsz || end > limit || (offset & 0xFFF) != (vaddr & 0xFFF) {
            return Err(LoadError::Malformed("PT_LOAD placement"));
        }
        let data_end = offset
            .checked_add(filesz)
            .ok_or(LoadError::Malformed("filesz"))?;
        let data = file
            .get(offset as usize..data_end as usize)
            .ok_or(LoadError::Malformed("PT_LOAD beyond the file"))?;
        let prot = Prot {
            write: flags & 2 != 0,
            exec: flags & 1 != 0,
        };
        let mut page = start & !0xFFF;
        while page < end {
            // Map writable first so the contents can be copied; protection
            // is only enforced for the guest.
            let pa = mm.map_new(mem, frames, page, prot)?;
            let lo = page.max(start);
            let hi = (page + 0x1000).min(start + filesz);
            if lo < hi {
                let src = &data[(lo - start) as usize..(hi - start) as usize];
                mem.write(pa + (lo & 0xFFF), src);
            }
            page += 0x1000;
        }
        if first_load.is_none() {
            first_load = Some((start, offset));
        }
        brk = brk.max(end);
    }
    let (first_va, first_off) = first_load.ok_or(LoadError::Malformed("no PT_LOAD"))?;
    // Without PT_PHDR, the headers are where the first segment maps them.
    let phdr = phdr_va.unwrap_or(first_va - first_off + phoff);
    let entry = entry.wrapping_add(bias);
    if mm.lookup(entry).is_none_or(|(_, p)| !p.exec) {
        return Err(LoadError::Malformed(
            "entry point outside executable segments",
        ));
    }
    let _ = w;
    Ok(Image {
        bits,
        entry,
        phdr,
        phent: phentsize,
        phnum,
        brk: (brk + 0xFFF) & !0xFFF,
        bias,
    })
}

/// Auxiliary vector keys (include/uapi/linux/auxvec.h, asm/auxvec.h).
pub mod at {
    /// End of vector.
    pub const NULL: u64 = 0;
    /// Program headers.
    pub const PHDR: u64 = 3;
    /// Size of a program header.
    pub const PHENT: u64 = 4;
    /// Number of program headers.
    pub const PHNUM: u64 = 5;
    /// Page size.
    pub const PAGESZ: u64 = 6;
    /// Interpreter base.
    pub const BASE: u64 = 7;
    /// Flags.
    pub const FLAGS: u64 = 8;
    /// Entry point.
    pub const ENTRY: u64 = 9;
    /// Real uid.
    pub const UID: u64 = 11;
    /// Effective uid.
    pub const EUID: u64 = 12;
    /// Real gid.
    pub const GID: u64 = 13;
    /// Effective gid.
    pub const EGID: u64 = 14;
    /// Platform string.
    pub const PLATFORM: u64 = 15;
    /// Hardware capabilities.
    pub const HWCAP: u64 = 16;
    /// Clock ticks per second.
    pub const CLKTCK: u64 = 17;
    /// Secure mode.
    pub const SECURE: u64 = 23;
    /// 16 random bytes.
    pub const RANDOM: u64 = 25;
    /// Executable file name.
    pub const EXECFN: u64 = 31;
    /// i386: `__kernel_vsyscall`.
    pub const SYSINFO: u64 = 32;
    /// The vDSO's ELF header.
    pub const SYSINFO_EHDR: u64 = 33;
}

/// Builds the initial stack below `top` (mapping it, `pages` pages) and
/// returns the initial stack pointer. `auxv` holds the key/value pairs
/// before AT_NULL; AT_RANDOM, AT_EXECFN and AT_PLATFORM are added here.
#[allow(clippy::too_many_arguments)]
pub fn build_stack(
    mm: &mut AddressSpace,
    mem: &mut PhysMem,
    frames: &mut Frames,
    bits: u32,
    top: u64,
    pages: u64,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    auxv: &[(u64, u64)],
    random: [u8; 16],
) -> Result<(u64, ArgAreas), LoadError> {
    for k in 1..=pages {
        mm.map_new(mem, frames, top - k * 0x1000, Prot::RW)?;
    }
    let low = top - pages * 0x1000;
    let w: u64 = if bits == 64 { 8 } else { 4 };
    let mut sp = top;
    let mut put = |sp: &mut u64, bytes: &[u8]| -> Result<u64, LoadError> {
        *sp = sp
            .checked_sub(bytes.len() as u64)
            .filter(|s| *s >= low)
            .ok_or(LoadError::Malformed("arguments too large for the stack"))?;
        write_user(mm, mem, *sp, bytes);
        Ok(*sp)
    };
    let platform = if bits == 64 {
        &b"x86_64\0"[..]
    } else {
        &b"i686\0"[..]
    };
    let execfn = {
        let mut s = argv.first().cloned().unwrap_or_default();
        s.push(0);
        put(&mut sp, &s)?
    };
    let mut envs = Vec::new();
    for e in envp.iter().rev() {
        let mut s = e.clone();
        s.push(0);
        envs.push(put(&mut sp, &s)?);
    }
    envs.reverse();
    let mut args = Vec::new();
    for a in argv.iter().rev() {
        let mut s = a.clone();
        s.push(0);
        args.push(put(&mut sp, &s)?);
    }
    args.reverse();
    // The strings lie in ascending order: arguments, environment, the
    // program's name (AT_EXECFN).
    let env_start = envs.first().copied().unwrap_or(execfn);
    let areas = ArgAreas {
        arg_start: args.first().copied().unwrap_or(env_start),
        arg_end: env_start,
        env_start,
        env_end: execfn,
    };
    let plat = put(&mut sp, platform)?;
    let rand = put(&mut sp, &random)?;
    let mut vec: Vec<u64> = Vec::new();
    vec.push(args.len() as u64);
    vec.extend(&args);
    vec.push(0);
    vec.extend(&envs);
    vec.push(0);
    for &(k, v) in auxv {
        vec.push(k);
        vec.push(v);
    }
    vec.extend([
        at::RANDOM,
        rand,
        at::EXECFN,
        execfn,
        at::PLATFORM,
        plat,
        at::NULL,
        0,
    ]);
    let size = vec.len() as u64 * w;
    sp = (sp.checked_sub(size).ok_or(LoadError::Malformed("stack"))?) & !15;
    if sp < low {
        return Err(LoadError::Malformed("arguments too large for the stack"));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    for v in vec {
        bytes.extend_from_slice(&v.to_le_bytes()[..w as usize]);
    }
    write_user(mm, mem, sp, &bytes);
    Ok((sp, areas))
}

/// Where the argument and environment strings of the initial stack lie
/// (Linux's `mm->arg_start`/`arg_end`/`env_start`/`env_end`): what
/// `/proc/<pid>/cmdline` and `environ` read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArgAreas {
    /// The first byte of `argv[0]`.
    pub arg_start: u64,
    /// Just past the last argument's NUL.
    pub arg_end: u64,
    /// The first byte of `envp[0]`.
    pub env_start: u64,
    /// Just past the last environment string's NUL.
    pub env_end: u64,
}

/// Writes to user memory through the Rust-side page map (the pages exist).
pub fn write_user(mm: &AddressSpace, mem: &mut PhysMem, va: u64, data: &[u8]) {
    let mut off = 0usize;
    while off < data.len() {
        let a = va + off as u64;
        let n = ((0x1000 - (a & 0xFFF)) as usize).min(data.len() - off);
        if let Some((pa, _)) = mm.lookup(a) {
            mem.write(pa, &data[off..off + n]);
        }
        off += n;
    }
}
