//! A small writer (and checker) of static ELF executables.
//!
//! Guest programs are tiny: one block of code, one block of initialised data
//! and some zero-initialised memory. This module lays them out the way a
//! linker would for a static executable and writes the bytes:
//!
//! * ELF64 (`EM_X86_64`) or ELF32 (`EM_386`), little endian, System V ABI;
//! * `ET_EXEC` at a fixed base ([`BASE_64`], [`BASE_32`]) or `ET_DYN`
//!   "static-PIE" at base 0 (no `PT_INTERP`, no `PT_DYNAMIC`, no relocations:
//!   the code must be position independent);
//! * a text `PT_LOAD` (R+X) from file offset 0 that also maps the headers, a
//!   data `PT_LOAD` (R+W, `p_memsz > p_filesz` for the zero-initialised part)
//!   on the page after the text, and a `PT_GNU_STACK` (R+W);
//! * file offsets and virtual addresses congruent modulo [`PAGE`], the data
//!   segment on its own page so no page is both writable and executable;
//! * a minimal section header table (`.text`, `.data`, `.bss`, `.shstrtab`) so
//!   `readelf -a` and `objdump -d` have something to show. Loaders ignore it.
//!
//! [`ElfFile::parse`] reads such a file back and [`ElfFile::validate`] checks
//! the properties a loader relies on; the tests use them on every guest.

use std::fmt;

/// Base address of 64-bit `ET_EXEC` images (the traditional x86-64 link address).
pub const BASE_64: u64 = 0x40_0000;
/// Base address of 32-bit `ET_EXEC` images (the traditional i386 link address).
pub const BASE_32: u64 = 0x0804_8000;
/// Page size assumed for segment alignment.
pub const PAGE: u64 = 0x1000;

const PT_LOAD: u32 = 1;
const PT_GNU_STACK: u32 = 0x6474_e551;
/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// Segment flag: readable.
pub const PF_R: u32 = 4;

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_386: u16 = 3;
const EM_X86_64: u16 = 62;

const SHT_PROGBITS: u32 = 1;
const SHT_STRTAB: u32 = 3;
const SHT_NOBITS: u32 = 8;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;

/// ELF class: the word size of the file and of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// `ELFCLASS32`, machine `EM_386`.
    Elf32,
    /// `ELFCLASS64`, machine `EM_X86_64`.
    Elf64,
}

impl Class {
    const fn ehdr_size(self) -> u64 {
        match self {
            Class::Elf32 => 52,
            Class::Elf64 => 64,
        }
    }
    const fn phdr_size(self) -> u64 {
        match self {
            Class::Elf32 => 32,
            Class::Elf64 => 56,
        }
    }
    const fn shdr_size(self) -> u64 {
        match self {
            Class::Elf32 => 40,
            Class::Elf64 => 64,
        }
    }
    const fn word(self) -> u64 {
        match self {
            Class::Elf32 => 4,
            Class::Elf64 => 8,
        }
    }
}

/// ELF file type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `ET_EXEC` linked at [`BASE_64`] or [`BASE_32`].
    Exec,
    /// `ET_DYN` linked at 0 ("static-PIE"): the loader picks the base.
    Dyn,
}

/// Errors of the writer and of the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The image does not fit the class's address space (ELF32 above 4 GiB).
    TooLarge,
    /// The entry offset is not inside the code.
    EntryOutsideCode,
    /// The input is shorter than the headers it announces.
    Truncated,
    /// The input is not an ELF file of a kind this module handles.
    BadHeader(&'static str),
    /// The file parses but breaks a loader rule; the text says which.
    Invalid(String),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::TooLarge => write!(f, "image does not fit the ELF class's address space"),
            ElfError::EntryOutsideCode => write!(f, "entry point outside the code"),
            ElfError::Truncated => write!(f, "ELF file truncated"),
            ElfError::BadHeader(what) => write!(f, "bad ELF header: {what}"),
            ElfError::Invalid(what) => write!(f, "invalid ELF image: {what}"),
        }
    }
}

impl std::error::Error for ElfError {}

const fn align_up(x: u64, a: u64) -> u64 {
    (x + a - 1) & !(a - 1)
}

/// Where everything of an image goes, in the file and in memory.
///
/// Computed from the sizes alone, so a program can be assembled at the
/// addresses it will be loaded at before its bytes exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    /// ELF class.
    pub class: Class,
    /// File type.
    pub kind: Kind,
    /// Link-time address of file offset 0 (the first `PT_LOAD`).
    pub base: u64,
    /// File offset of the code (right after the program headers).
    pub code_offset: u64,
    /// Link-time address of the first code byte.
    pub code_vaddr: u64,
    /// Code length in bytes.
    pub code_len: u64,
    /// File offset of the initialised data.
    pub data_offset: u64,
    /// Link-time address of the initialised data (page after the text).
    pub data_vaddr: u64,
    /// Initialised data length in bytes.
    pub data_len: u64,
    /// Link-time address of the zero-initialised memory (after the data).
    pub bss_vaddr: u64,
    /// Zero-initialised length in bytes.
    pub bss_len: u64,
}

impl Layout {
    /// Lays out an image with `code_len` bytes of code, `data_len` bytes of
    /// data and `bss_len` bytes of zero-initialised memory.
    pub fn new(class: Class, kind: Kind, code_len: u64, data_len: u64, bss_len: u64) -> Layout {
        let base = match (kind, class) {
            (Kind::Dyn, _) => 0,
            (Kind::Exec, Class::Elf64) => BASE_64,
            (Kind::Exec, Class::Elf32) => BASE_32,
        };
        let has_data = data_len > 0 || bss_len > 0;
        let phnum = if has_data { 3 } else { 2 };
        let code_offset = align_up(class.ehdr_size() + phnum * class.phdr_size(), 16);
        let code_vaddr = base + code_offset;
        let text_end = code_offset + code_len;
        let data_offset = align_up(text_end, 16);
        // Next page after the text, at the same offset within its page as the
        // file offset (p_offset % p_align == p_vaddr % p_align).
        let data_vaddr = align_up(base + text_end, PAGE) + data_offset % PAGE;
        let bss_vaddr = data_vaddr + align_up(data_len, 16);
        Layout {
            class,
            kind,
            base,
            code_offset,
            code_vaddr,
            code_len,
            data_offset,
            data_vaddr,
            data_len,
            bss_vaddr,
            bss_len,
        }
    }

    /// Whether the image has a data `PT_LOAD` (initialised or zeroed data).
    pub fn has_data_segment(&self) -> bool {
        self.data_len > 0 || self.bss_len > 0
    }

    fn phnum(&self) -> u64 {
        if self.has_data_segment() { 3 } else { 2 }
    }

    /// One past the last link-time address the image occupies.
    pub fn end_vaddr(&self) -> u64 {
        if self.bss_len > 0 {
            self.bss_vaddr + self.bss_len
        } else if self.data_len > 0 {
            self.data_vaddr + self.data_len
        } else {
            self.code_vaddr + self.code_len
        }
    }
}

/// An image to write: code, data, zeroed memory and the entry point.
///
/// The code must have been assembled for `layout().code_vaddr` and must refer
/// to data at `layout().data_vaddr` and to zeroed memory at
/// `layout().bss_vaddr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// ELF class.
    pub class: Class,
    /// File type.
    pub kind: Kind,
    /// Machine code (mapped R+X).
    pub code: Vec<u8>,
    /// Initialised data (mapped R+W).
    pub data: Vec<u8>,
    /// Bytes of zero-initialised memory after the data (mapped R+W).
    pub bss_len: u64,
    /// Offset of the entry point within `code`.
    pub entry_offset: u64,
}

impl Image {
    /// The layout this image will be written with.
    pub fn layout(&self) -> Layout {
        Layout::new(
            self.class,
            self.kind,
            self.code.len() as u64,
            self.data.len() as u64,
            self.bss_len,
        )
    }

    /// The link-time entry address (`e_entry`).
    pub fn entry(&self) -> u64 {
        self.layout().code_vaddr + self.entry_offset
    }

    /// Writes the ELF file.
    pub fn write(&self) -> Result<Vec<u8>, ElfError> {
        let l = self.layout();
        if self.entry_offset >= l.code_len {
            return Err(ElfError::EntryOutsideCode);
        }
        if self.class == Class::Elf32 && l.end_vaddr() > u64::from(u32::MAX) {
            return Err(ElfError::TooLarge);
        }
        let c = self.class;

        // Section names.
        let mut shstrtab = vec![0u8];
        let mut name = |s: &str| {
            let at = shstrtab.len() as u32;
            shstrtab.extend_from_slice(s.as_bytes());
            shstrtab.push(0);
            at
        };
        let n_text = name(".text");
        let n_data = name(".data");
        let n_bss = name(".bss");
        let n_shstrtab = name(".shstrtab");

        let file_data_end = if l.has_data_segment() {
            l.data_offset + l.data_len
        } else {
            l.code_offset + l.code_len
        };
        let shstrtab_offset = file_data_end;
        let shoff = align_up(shstrtab_offset + shstrtab.len() as u64, c.word());

        // Section headers: null, .text, [.data], [.bss], .shstrtab.
        let mut sections = vec![Shdr::default()];
        sections.push(Shdr {
            name: n_text,
            kind: SHT_PROGBITS,
            flags: SHF_ALLOC | SHF_EXECINSTR,
            addr: l.code_vaddr,
            offset: l.code_offset,
            size: l.code_len,
            align: 16,
        });
        if l.data_len > 0 {
            sections.push(Shdr {
                name: n_data,
                kind: SHT_PROGBITS,
                flags: SHF_ALLOC | SHF_WRITE,
                addr: l.data_vaddr,
                offset: l.data_offset,
                size: l.data_len,
                align: 16,
            });
        }
        if l.bss_len > 0 {
            sections.push(Shdr {
                name: n_bss,
                kind: SHT_NOBITS,
                flags: SHF_ALLOC | SHF_WRITE,
                addr: l.bss_vaddr,
                offset: l.data_offset + (l.bss_vaddr - l.data_vaddr),
                size: l.bss_len,
                align: 16,
            });
        }
        let shstrndx = sections.len() as u16;
        sections.push(Shdr {
            name: n_shstrtab,
            kind: SHT_STRTAB,
            flags: 0,
            addr: 0,
            offset: shstrtab_offset,
            size: shstrtab.len() as u64,
            align: 1,
        });

        // Program headers.
        let mut segments = vec![Phdr {
            kind: PT_LOAD,
            flags: PF_R | PF_X,
            offset: 0,
            vaddr: l.base,
            filesz: l.code_offset + l.code_len,
            memsz: l.code_offset + l.code_len,
            align: PAGE,
        }];
        if l.has_data_segment() {
            segments.push(Phdr {
                kind: PT_LOAD,
                flags: PF_R | PF_W,
                offset: l.data_offset,
                vaddr: l.data_vaddr,
                filesz: l.data_len,
                memsz: l.end_vaddr() - l.data_vaddr,
                align: PAGE,
            });
        }
        segments.push(Phdr {
            kind: PT_GNU_STACK,
            flags: PF_R | PF_W,
            offset: 0,
            vaddr: 0,
            filesz: 0,
            memsz: 0,
            align: 16,
        });
        debug_assert_eq!(segments.len() as u64, l.phnum());

        let mut w = Writer {
            class: c,
            out: Vec::new(),
        };
        // e_ident
        w.out.extend_from_slice(b"\x7fELF");
        w.out.push(match c {
            Class::Elf32 => 1,
            Class::Elf64 => 2,
        });
        w.out.push(1); // ELFDATA2LSB
        w.out.push(1); // EV_CURRENT
        w.out.push(0); // ELFOSABI_SYSV
        w.out.resize(16, 0);
        w.u16(match self.kind {
            Kind::Exec => ET_EXEC,
            Kind::Dyn => ET_DYN,
        });
        w.u16(match c {
            Class::Elf32 => EM_386,
            Class::Elf64 => EM_X86_64,
        });
        w.u32(1); // e_version
        w.word(l.code_vaddr + self.entry_offset);
        w.word(c.ehdr_size()); // e_phoff
        w.word(shoff);
        w.u32(0); // e_flags
        w.u16(c.ehdr_size() as u16);
        w.u16(c.phdr_size() as u16);
        w.u16(segments.len() as u16);
        w.u16(c.shdr_size() as u16);
        w.u16(sections.len() as u16);
        w.u16(shstrndx);
        for p in &segments {
            w.phdr(p);
        }
        w.pad_to(l.code_offset);
        w.out.extend_from_slice(&self.code);
        if l.has_data_segment() {
            w.pad_to(l.data_offset);
            w.out.extend_from_slice(&self.data);
        }
        w.out.extend_from_slice(&shstrtab);
        w.pad_to(shoff);
        for s in &sections {
            w.shdr(s);
        }
        Ok(w.out)
    }
}

#[derive(Default)]
struct Shdr {
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    align: u64,
}

struct Phdr {
    kind: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

struct Writer {
    class: Class,
    out: Vec<u8>,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    /// An address-sized field (`Elf32_Addr`/`Elf64_Addr`, offsets, sizes).
    /// Callers checked that ELF32 values fit in 32 bits.
    fn word(&mut self, v: u64) {
        match self.class {
            Class::Elf32 => self.u32(v as u32),
            Class::Elf64 => self.u64(v),
        }
    }
    fn pad_to(&mut self, offset: u64) {
        let offset = offset as usize;
        if self.out.len() < offset {
            self.out.resize(offset, 0);
        }
    }
    fn phdr(&mut self, p: &Phdr) {
        self.u32(p.kind);
        match self.class {
            Class::Elf64 => {
                self.u32(p.flags);
                self.u64(p.offset);
                self.u64(p.vaddr);
                self.u64(p.vaddr); // p_paddr
                self.u64(p.filesz);
                self.u64(p.memsz);
                self.u64(p.align);
            }
            Class::Elf32 => {
                self.word(p.offset);
                self.word(p.vaddr);
                self.word(p.vaddr);
                self.word(p.filesz);
                self.word(p.memsz);
                self.u32(p.flags);
                self.word(p.align);
            }
        }
    }
    fn shdr(&mut self, s: &Shdr) {
        self.u32(s.name);
        self.u32(s.kind);
        self.word(s.flags);
        self.word(s.addr);
        self.word(s.offset);
        self.word(s.size);
        self.u32(0); // sh_link
        self.u32(0); // sh_info
        self.word(s.align);
        self.word(0); // sh_entsize
    }
}

/// A program header as read back by [`ElfFile::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// `p_type`.
    pub kind: u32,
    /// `p_flags` ([`PF_R`], [`PF_W`], [`PF_X`]).
    pub flags: u32,
    /// `p_offset`.
    pub offset: u64,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_filesz`.
    pub filesz: u64,
    /// `p_memsz`.
    pub memsz: u64,
    /// `p_align`.
    pub align: u64,
}

impl Segment {
    /// Whether this is a `PT_LOAD`.
    pub fn is_load(&self) -> bool {
        self.kind == PT_LOAD
    }
    /// Whether this is the `PT_GNU_STACK` marker.
    pub fn is_gnu_stack(&self) -> bool {
        self.kind == PT_GNU_STACK
    }
}

/// The header facts of an ELF executable, as a loader sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfFile {
    /// ELF class (and machine: `EM_386` or `EM_X86_64`).
    pub class: Class,
    /// `ET_EXEC` or `ET_DYN`.
    pub kind: Kind,
    /// `e_entry`.
    pub entry: u64,
    /// The program headers in file order.
    pub segments: Vec<Segment>,
    /// Length of the file in bytes.
    pub file_len: u64,
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn get(&self, at: u64, n: usize) -> Result<&[u8], ElfError> {
        let at = usize::try_from(at).map_err(|_| ElfError::Truncated)?;
        let end = at.checked_add(n).ok_or(ElfError::Truncated)?;
        self.bytes.get(at..end).ok_or(ElfError::Truncated)
    }
    fn u16(&self, at: u64) -> Result<u16, ElfError> {
        let b = self.get(at, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&self, at: u64) -> Result<u32, ElfError> {
        let b = self.get(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&self, at: u64) -> Result<u64, ElfError> {
        let b = self.get(at, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn word(&self, class: Class, at: u64) -> Result<u64, ElfError> {
        match class {
            Class::Elf32 => self.u32(at).map(u64::from),
            Class::Elf64 => self.u64(at),
        }
    }
}

impl ElfFile {
    /// Reads the ELF header and program headers of a little-endian x86 or
    /// x86-64 executable.
    pub fn parse(bytes: &[u8]) -> Result<ElfFile, ElfError> {
        let r = Reader { bytes };
        if r.get(0, 4)? != b"\x7fELF" {
            return Err(ElfError::BadHeader("no ELF magic"));
        }
        let class = match r.get(4, 1)?[0] {
            1 => Class::Elf32,
            2 => Class::Elf64,
            _ => return Err(ElfError::BadHeader("unknown class")),
        };
        if r.get(5, 1)?[0] != 1 {
            return Err(ElfError::BadHeader("not little endian"));
        }
        let kind = match r.u16(16)? {
            ET_EXEC => Kind::Exec,
            ET_DYN => Kind::Dyn,
            _ => return Err(ElfError::BadHeader("not ET_EXEC or ET_DYN")),
        };
        let machine = r.u16(18)?;
        let expected_machine = match class {
            Class::Elf32 => EM_386,
            Class::Elf64 => EM_X86_64,
        };
        if machine != expected_machine {
            return Err(ElfError::BadHeader("machine does not match class"));
        }
        let w = class.word();
        let entry = r.word(class, 24)?;
        let phoff = r.word(class, 24 + w)?;
        let fixed = 24 + 3 * w + 4; // e_ident..e_shoff, e_flags
        let phentsize = u64::from(r.u16(fixed + 2)?);
        let phnum = u64::from(r.u16(fixed + 4)?);
        if phentsize != class.phdr_size() {
            return Err(ElfError::BadHeader("unexpected e_phentsize"));
        }
        let mut segments = Vec::new();
        for i in 0..phnum {
            let at = phoff + i * phentsize;
            let seg = match class {
                Class::Elf64 => Segment {
                    kind: r.u32(at)?,
                    flags: r.u32(at + 4)?,
                    offset: r.u64(at + 8)?,
                    vaddr: r.u64(at + 16)?,
                    filesz: r.u64(at + 32)?,
                    memsz: r.u64(at + 40)?,
                    align: r.u64(at + 48)?,
                },
                Class::Elf32 => Segment {
                    kind: r.u32(at)?,
                    offset: r.word(class, at + 4)?,
                    vaddr: r.word(class, at + 8)?,
                    filesz: r.word(class, at + 16)?,
                    memsz: r.word(class, at + 20)?,
                    flags: r.u32(at + 24)?,
                    align: r.word(class, at + 28)?,
                },
            };
            segments.push(seg);
        }
        Ok(ElfFile {
            class,
            kind,
            entry,
            segments,
            file_len: bytes.len() as u64,
        })
    }

    /// Checks what a loader relies on: at least one `PT_LOAD`; every
    /// `PT_LOAD` inside the file, with `p_filesz <= p_memsz`, a power-of-two
    /// alignment of at least a page and `p_offset ≡ p_vaddr (mod p_align)`;
    /// loads in ascending address order and not sharing a page; no load both
    /// writable and executable; the entry point inside the file-backed part
    /// of an executable load; a non-executable `PT_GNU_STACK`; `ET_EXEC`
    /// images at [`BASE_64`]/[`BASE_32`] or above, `ET_DYN` images at 0.
    pub fn validate(&self) -> Result<(), ElfError> {
        let bad = |s: String| Err(ElfError::Invalid(s));
        let loads: Vec<&Segment> = self.segments.iter().filter(|s| s.is_load()).collect();
        if loads.is_empty() {
            return bad("no PT_LOAD".into());
        }
        let mut prev_end_page: Option<u64> = None;
        for (i, s) in loads.iter().enumerate() {
            if s.filesz > s.memsz {
                return bad(format!("load {i}: p_filesz > p_memsz"));
            }
            if s.offset
                .checked_add(s.filesz)
                .is_none_or(|e| e > self.file_len)
            {
                return bad(format!("load {i}: extends past the end of the file"));
            }
            if !s.align.is_power_of_two() || s.align < PAGE {
                return bad(format!("load {i}: alignment {:#x}", s.align));
            }
            if s.offset % s.align != s.vaddr % s.align {
                return bad(format!("load {i}: p_offset and p_vaddr not congruent"));
            }
            if s.flags & PF_W != 0 && s.flags & PF_X != 0 {
                return bad(format!("load {i}: writable and executable"));
            }
            let first_page = s.vaddr & !(PAGE - 1);
            let Some(end) = s.vaddr.checked_add(s.memsz) else {
                return bad(format!("load {i}: wraps the address space"));
            };
            if let Some(p) = prev_end_page
                && first_page < p
            {
                return bad(format!("load {i}: overlaps or precedes the previous load"));
            }
            prev_end_page = Some(align_up(end, PAGE));
        }
        let min_base = match (self.kind, self.class) {
            (Kind::Dyn, _) => 0,
            (Kind::Exec, Class::Elf64) => BASE_64,
            (Kind::Exec, Class::Elf32) => BASE_32,
        };
        if self.kind == Kind::Dyn && loads[0].vaddr != 0 {
            return bad("ET_DYN image not linked at 0".into());
        }
        if loads[0].vaddr < min_base {
            return bad(format!("first load below {min_base:#x}"));
        }
        if self.class == Class::Elf32 && prev_end_page.is_some_and(|e| e > 1 << 32) {
            return bad("ELF32 image above 4 GiB".into());
        }
        let entry_ok = loads.iter().any(|s| {
            s.flags & PF_X != 0 && self.entry >= s.vaddr && self.entry < s.vaddr + s.filesz
        });
        if !entry_ok {
            return bad(format!("entry {:#x} not in an executable load", self.entry));
        }
        match self.segments.iter().find(|s| s.is_gnu_stack()) {
            None => return bad("no PT_GNU_STACK".into()),
            Some(s) if s.flags & PF_X != 0 => return bad("executable stack".into()),
            Some(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(class: Class, kind: Kind, data: usize, bss: u64) -> Image {
        Image {
            class,
            kind,
            code: vec![0x90; 37],
            data: vec![0xaa; data],
            bss_len: bss,
            entry_offset: 3,
        }
    }

    #[test]
    fn layouts_keep_offsets_and_addresses_congruent() {
        for class in [Class::Elf32, Class::Elf64] {
            for kind in [Kind::Exec, Kind::Dyn] {
                for code in [0u64, 1, 100, 4000, 4096, 5000] {
                    let l = Layout::new(class, kind, code, 10, 100);
                    assert_eq!(l.code_vaddr - l.base, l.code_offset);
                    assert_eq!(l.data_offset % PAGE, l.data_vaddr % PAGE);
                    assert!(l.data_vaddr >= align_up(l.code_vaddr + code, PAGE));
                    assert!(l.bss_vaddr >= l.data_vaddr + l.data_len);
                }
            }
        }
    }

    #[test]
    fn written_images_parse_and_validate() {
        for class in [Class::Elf32, Class::Elf64] {
            for kind in [Kind::Exec, Kind::Dyn] {
                for (data, bss) in [(0, 0), (5, 0), (0, 64), (300, 5000)] {
                    let img = image(class, kind, data, bss);
                    let bytes = img.write().unwrap();
                    let f = ElfFile::parse(&bytes).unwrap();
                    f.validate().unwrap();
                    assert_eq!(f.class, class);
                    assert_eq!(f.kind, kind);
                    assert_eq!(f.entry, img.entry());
                    let l = img.layout();
                    let loads = f.segments.iter().filter(|s| s.is_load()).count();
                    assert_eq!(loads, if data + bss as usize > 0 { 2 } else { 1 });
                    let at = l.code_offset as usize;
                    assert_eq!(&bytes[at..at + img.code.len()], &img.code[..]);
                    if data > 0 {
                        let at = l.data_offset as usize;
                        assert_eq!(&bytes[at..at + data], &img.data[..]);
                    }
                }
            }
        }
    }

    #[test]
    fn entry_outside_code_is_an_error() {
        let mut img = image(Class::Elf64, Kind::Exec, 0, 0);
        img.entry_offset = 37;
        assert_eq!(img.write(), Err(ElfError::EntryOutsideCode));
    }

    #[test]
    fn validate_rejects_broken_headers() {
        let bytes = image(Class::Elf64, Kind::Exec, 8, 8).write().unwrap();
        let good = ElfFile::parse(&bytes).unwrap();
        let mut f = good.clone();
        f.entry = 0;
        assert!(f.validate().is_err());
        let mut f = good.clone();
        f.segments[1].vaddr = f.segments[0].vaddr;
        assert!(f.validate().is_err());
        let mut f = good.clone();
        f.segments[1].flags |= PF_X;
        assert!(f.validate().is_err());
        let mut f = good.clone();
        f.segments[0].offset += 1;
        assert!(f.validate().is_err());
        let mut f = good;
        f.segments.retain(|s| !s.is_gnu_stack());
        assert!(f.validate().is_err());
        assert_eq!(ElfFile::parse(&bytes[..10]), Err(ElfError::Truncated));
        assert!(ElfFile::parse(b"not an elf file at all, really").is_err());
    }

    #[test]
    fn readelf_accepts_the_images() {
        let Some(dir) = crate::testutil::scratch_dir("elf") else {
            return;
        };
        if std::process::Command::new("readelf")
            .arg("--version")
            .output()
            .is_err()
        {
            println!("note: readelf not found; skipping the readelf check");
            return;
        }
        for class in [Class::Elf32, Class::Elf64] {
            for kind in [Kind::Exec, Kind::Dyn] {
                let img = image(class, kind, 20, 100);
                let path = dir.join(format!("{class:?}-{kind:?}"));
                std::fs::write(&path, img.write().unwrap()).unwrap();
                let out = std::process::Command::new("readelf")
                    .args(["-W", "-h", "-l", "-S"])
                    .arg(&path)
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "{err}");
                assert!(err.trim().is_empty(), "readelf complained: {err}");
                let (class_s, machine, ty) = match (class, kind) {
                    (Class::Elf64, k) => ("ELF64", "X86-64", k),
                    (Class::Elf32, k) => ("ELF32", "80386", k),
                };
                assert!(text.contains(class_s), "{text}");
                assert!(text.contains(machine), "{text}");
                let ty_s = match ty {
                    Kind::Exec => "EXEC (Executable file)",
                    Kind::Dyn => "DYN (",
                };
                assert!(text.contains(ty_s), "{text}");
                assert!(
                    text.contains(&format!(
                        "Entry point address:               {:#x}",
                        img.entry()
                    )),
                    "{text}"
                );
                assert!(text.contains("GNU_STACK"), "{text}");
                assert!(text.contains(".text"), "{text}");
                assert!(text.contains(".bss"), "{text}");
                assert_eq!(text.matches("LOAD").count(), 2, "{text}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
