//! strace-style formatting of system calls, driven by the table rows.
//!
//! A call is formatted in two steps, as strace does: at entry
//! ([`capture_entry`]) the arguments the call reads are decoded — paths and
//! input buffers are read from user memory *before* the call can change
//! them — and at exit ([`Pending::finish`]) the arguments the call fills
//! (read buffers, stat structures, pipe descriptors) are read back, and
//! only if the call succeeded. The result is a [`Completed`] call, whose
//! [`line`](Completed::line) is the text strace prints:
//!
//! ```text
//! open("tmp/test.txt", O_RDONLY) = -1 ENOENT (No such file or directory)
//! close(-1) = -1 EBADF (Bad file descriptor)
//! write(1, "hello\n", 6) = 6
//! ```
//!
//! Strings are quoted with strace's escapes and cut at 32 bytes with `...`
//! (strace's default `-s 32`); paths are shown in full. Unknown numbers are
//! shown as `syscall_0x1b3(0x1, ...)`. With `aligned`, the ` = ` is padded
//! to column 40 like strace's own output.

use crate::abi::{Abi, arg_int, arg_uint};
use crate::errno::Errno;
use crate::syscalls::net::{SOCKETCALL_NAMES, SOCKETCALL_NARGS, socketcall_arg_kinds};
use crate::syscalls::table::{Arg, Ret, Row};
use crate::uaccess::{PATH_MAX, UserMemory, read_cstr, read_iovecs, read_ulong, read_ulong_array};
use crate::uapi::*;
use crate::vfs::stat::StatLayout;

pub mod decode;
pub mod ext;
#[cfg(test)]
mod tests;

/// strace's default string limit (`-s 32`).
pub const STRING_LIMIT: usize = 32;

/// Quotes bytes as strace does: `"..."` with C escapes and octal for the
/// rest; `more` appends `...` after the closing quote.
pub fn quote(bytes: &[u8], more: bool) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            0x0b => s.push_str("\\v"),
            0x0c => s.push_str("\\f"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                let next_is_octal = bytes.get(i + 1).is_some_and(|n| (b'0'..=b'7').contains(n));
                if next_is_octal {
                    s.push_str(&format!("\\{b:03o}"));
                } else {
                    s.push_str(&format!("\\{b:o}"));
                }
            }
        }
    }
    s.push('"');
    if more {
        s.push_str("...");
    }
    s
}

/// An octal mode as strace prints it (`%#03o`: `0644`, `022`, `000`).
pub fn octal(v: u64) -> String {
    let s = if v == 0 {
        "0".to_string()
    } else {
        format!("0{v:o}")
    };
    format!("{s:0>3}")
}

fn hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

pub(crate) fn ptr(v: u64) -> String {
    if v == 0 {
        "NULL".into()
    } else {
        format!("{v:#x}")
    }
}

/// The file type and permission part of a mode (`S_IFREG|0644`).
pub fn mode_string(mode: u32) -> String {
    let t = match mode & S_IFMT {
        S_IFREG => "S_IFREG",
        S_IFDIR => "S_IFDIR",
        S_IFLNK => "S_IFLNK",
        S_IFCHR => "S_IFCHR",
        S_IFBLK => "S_IFBLK",
        S_IFIFO => "S_IFIFO",
        S_IFSOCK => "S_IFSOCK",
        _ => return octal(u64::from(mode)),
    };
    let mut perm = String::new();
    for (bit, name) in [
        (S_ISUID, "S_ISUID"),
        (S_ISGID, "S_ISGID"),
        (S_ISVTX, "S_ISVTX"),
    ] {
        if mode & bit != 0 {
            perm.push_str(name);
            perm.push('|');
        }
    }
    format!("{t}|{perm}{}", octal(u64::from(mode & 0o777)))
}

/// `open` flags: the access mode, then the other flags (`O_RDONLY|O_CLOEXEC`).
pub fn open_flags(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let acc = match v as u32 & O_ACCMODE {
        O_RDONLY => "O_RDONLY",
        O_WRONLY => "O_WRONLY",
        O_RDWR => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = v & !u64::from(O_ACCMODE);
    if rest == 0 {
        acc.to_string()
    } else {
        format!("{acc}|{}", flag_names(rest, OPEN_FLAG_NAMES, "0"))
    }
}

fn named(v: i64, names: &[(i64, &str)]) -> String {
    names
        .iter()
        .find(|(n, _)| *n == v)
        .map(|(_, s)| s.to_string())
        .unwrap_or_else(|| v.to_string())
}

/// A signal's name (`SIGPIPE`), or its number.
pub fn signal_name(v: u64) -> String {
    match usize::try_from(v).ok().and_then(|i| SIGNAL_NAMES.get(i)) {
        Some(n) if v != 0 => n.to_string(),
        // strace's signalent: 32 is SIGRTMIN, the rest SIGRT_<n>.
        _ if v == 32 => "SIGRTMIN".to_string(),
        _ if (33..=64).contains(&v) => format!("SIGRT_{}", v - 32),
        _ => v.to_string(),
    }
}

/// One argument as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    /// Filled at exit.
    Deferred,
    /// Not shown.
    Omit,
}

/// A call captured at entry, waiting for its result.
#[derive(Clone, Debug)]
pub struct Pending {
    abi: Abi,
    nr: u32,
    /// The table name (`socketcall`, `syscall_0x1b3`).
    name: String,
    /// The name shown (`socket` for a `socketcall` operation).
    shown: String,
    kinds: Vec<Arg>,
    values: Vec<u64>,
    parts: Vec<Part>,
    ret: Ret,
    raw: Vec<u64>,
}

/// A call with its result, ready to print or to audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    /// The ABI.
    pub abi: Abi,
    /// The number.
    pub nr: u32,
    /// The table name.
    pub name: String,
    /// The raw arguments, as many as the call takes (6 when unknown).
    pub args: Vec<u64>,
    /// The call as strace shows it, without the result: `open("x", O_RDONLY)`.
    pub call: String,
    /// The return value (`None`: did not return).
    pub ret: Option<i64>,
    /// The result as strace shows it: `3`, `-1 ENOENT (No such file or directory)`, `?`.
    pub result: String,
}

impl Completed {
    /// The strace line; `aligned` pads `= ` to column 40 as strace does.
    pub fn line(&self, aligned: bool) -> String {
        if aligned {
            let mut s = format!("{} ", self.call);
            while s.len() < 40 {
                s.push(' ');
            }
            s.push_str("= ");
            s.push_str(&self.result);
            s
        } else {
            format!("{} = {}", self.call, self.result)
        }
    }
}

/// Formats a return value per `kind`; `args` are the call's arguments
/// (for `fcntl`).
pub fn format_ret(kind: Ret, ret: Option<i64>, args: &[u64]) -> String {
    let Some(ret) = ret else { return "?".into() };
    if let Some(e) = Errno::from_return(ret) {
        return format!("-1 {e}");
    }
    match kind {
        Ret::Int | Ret::NoReturn | Ret::EntryNumber | Ret::Poll | Ret::Select => ret.to_string(),
        Ret::Time => format!("{ret} ({})", decode::sprinttime(ret)),
        Ret::Hex => hex(ret as u64),
        Ret::Octal => octal(ret as u64),
        Ret::Fcntl => match args.get(1).map(|&c| arg_uint(c)) {
            Some(F_GETFD) if ret != 0 => {
                let f = if ret as u32 & FD_CLOEXEC != 0 {
                    "FD_CLOEXEC"
                } else {
                    "0"
                };
                format!("{} (flags {f})", hex(ret as u64))
            }
            Some(F_GETFL) => format!("{} (flags {})", hex(ret as u64), open_flags(ret as u64)),
            _ => ret.to_string(),
        },
    }
}

/// Captures call `nr` of `abi` at entry. `row` is its table row, if any.
pub fn capture_entry(
    abi: Abi,
    nr: u32,
    row: Option<&Row>,
    args: &[u64; 6],
    mem: &mut dyn UserMemory,
) -> Pending {
    let (name, kinds, ret): (String, &[Arg], Ret) = match row {
        Some(r) => (r.name.to_string(), r.args, r.ret),
        None => {
            let name = abi
                .syscall_name(nr)
                .map(str::to_string)
                .unwrap_or_else(|| format!("syscall_{nr:#x}"));
            (name, &[Arg::Hex; 6], Ret::Int)
        }
    };
    let raw: Vec<u64> = args.iter().take(kinds.len()).copied().collect();
    let mut shown = name.clone();
    let mut kinds: Vec<Arg> = kinds.to_vec();
    let mut values: Vec<u64> = raw.clone();
    if name == "socketcall" && abi == Abi::I386 {
        // Show the operation with its arguments, as strace does.
        let call = arg_int(args[0]);
        let n = usize::try_from(call)
            .ok()
            .and_then(|i| SOCKETCALL_NARGS.get(i))
            .copied()
            .unwrap_or(0);
        if n > 0
            && let Ok(v) = read_ulong_array(mem, abi, args[1], n)
        {
            shown = SOCKETCALL_NAMES
                .get(call as usize)
                .copied()
                .unwrap_or("socketcall")
                .to_string();
            kinds = socketcall_arg_kinds(call as u32).to_vec();
            values = v;
        }
    }
    let parts = if name == "futex" || name == "futex_time64" {
        // Which arguments are shown depends on the operation.
        let shown = decode::futex_args(abi, &raw, mem, name == "futex_time64");
        kinds = vec![Arg::Hex; shown.len()];
        shown.into_iter().map(Part::Text).collect()
    } else {
        kinds
            .iter()
            .enumerate()
            .map(|(i, k)| entry_part(abi, *k, i, &values, mem))
            .collect()
    };
    Pending {
        abi,
        nr,
        name,
        shown,
        kinds,
        values,
        parts,
        ret,
        raw,
    }
}

fn value(values: &[u64], i: u8) -> u64 {
    values.get(usize::from(i)).copied().unwrap_or(0)
}

fn read_string(mem: &mut dyn UserMemory, addr: u64, len: u64) -> Option<String> {
    // strace's printstr_ex shows a NULL buffer as NULL, whatever its length.
    if addr == 0 {
        return Some("NULL".into());
    }
    let n = len.min(STRING_LIMIT as u64) as usize;
    let mut b = vec![0u8; n];
    mem.read(addr, &mut b).ok()?;
    Some(quote(&b, len > STRING_LIMIT as u64))
}

pub(super) fn read_timespec(
    abi: Abi,
    mem: &mut dyn UserMemory,
    addr: u64,
    wide: bool,
) -> Option<(i64, i64)> {
    if wide || abi == Abi::X86_64 {
        let mut b = [0u8; 16];
        mem.read(addr, &mut b).ok()?;
        let (s, n) = b.split_at(8);
        Some((
            i64::from_le_bytes(s.try_into().ok()?),
            i64::from_le_bytes(n.try_into().ok()?),
        ))
    } else {
        let mut b = [0u8; 8];
        mem.read(addr, &mut b).ok()?;
        let (s, n) = b.split_at(4);
        Some((
            i64::from(i32::from_le_bytes(s.try_into().ok()?)),
            i64::from(i32::from_le_bytes(n.try_into().ok()?)),
        ))
    }
}

fn str_array(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    let w = abi.ptr_size() as u64;
    let mut items = Vec::new();
    for i in 0..=STRING_LIMIT as u64 {
        let p = read_ulong(mem, abi, addr.checked_add(i * w)?).ok()?;
        if p == 0 {
            return Some(format!("[{}]", items.join(", ")));
        }
        if i == STRING_LIMIT as u64 {
            items.push("...".to_string());
            break;
        }
        items.push(match read_cstr(mem, p, STRING_LIMIT + 1) {
            Ok(s) => quote(&s, false),
            Err(Errno::ENAMETOOLONG) => {
                let mut b = vec![0u8; STRING_LIMIT];
                mem.read(p, &mut b).ok()?;
                quote(&b, true)
            }
            Err(_) => ptr(p),
        });
    }
    Some(format!("[{}]", items.join(", ")))
}

fn env_array(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    let w = abi.ptr_size() as u64;
    for i in 0..4096u64 {
        if read_ulong(mem, abi, addr.checked_add(i * w)?).ok()? == 0 {
            let s = if i == 1 { "" } else { "s" };
            return Some(format!("{} /* {i} var{s} */", ptr(addr)));
        }
    }
    None
}

fn entry_part(abi: Abi, kind: Arg, i: usize, values: &[u64], mem: &mut dyn UserMemory) -> Part {
    let v = values.get(i).copied().unwrap_or(0);
    let text = match kind {
        Arg::Int | Arg::Fd => arg_int(v).to_string(),
        Arg::Uint => arg_uint(v).to_string(),
        Arg::Long => abi.long(v).to_string(),
        Arg::Ulong => abi.ulong(v).to_string(),
        Arg::Hex => hex(abi.ulong(v)),
        Arg::Ptr => ptr(v),
        Arg::DirFd if arg_int(v) == AT_FDCWD => "AT_FDCWD".into(),
        Arg::DirFd => arg_int(v).to_string(),
        Arg::Path => match read_cstr(mem, v, PATH_MAX) {
            Ok(p) => quote(&p, false),
            Err(_) => ptr(v),
        },
        Arg::InBuf(n) => read_string(mem, v, abi.ulong(value(values, n))).unwrap_or_else(|| ptr(v)),
        Arg::OutBuf(_)
        | Arg::OutCStr
        | Arg::OutFdPair
        | Arg::OutStat(_)
        | Arg::OutTimespec
        | Arg::OutTimespec64
        | Arg::OutTimeval
        | Arg::OutIovec(_)
        | Arg::OutUtsname
        | Arg::OutLoff
        | Arg::OutWaitStatus
        | Arg::OutRlimit
        | Arg::OutRlimit64
        | Arg::OutDirents
        | Arg::OutSigaction
        | Arg::OutSigset(_)
        | Arg::OutRandom(_)
        | Arg::SigreturnMask
        | Arg::OutSysinfo
        | Arg::OutStack
        | Arg::OutTime
        | Arg::OutSiginfo
        | Arg::OutGroups(_)
        | Arg::OutId(_)
        | Arg::OutCpuMask
        | Arg::OutStatfs(_)
        | Arg::OutItimerval
        | Arg::OutTms
        | Arg::OutRusage => return Part::Deferred,
        Arg::ItimerWhich => ext::itimer_which(v),
        Arg::InItimerval => ext::itimerval(abi, mem, v).unwrap_or_else(|| ptr(v)),
        Arg::RusageWho => ext::rusage_who(v),
        Arg::InFdSet(n) => ext::fd_set(abi, mem, v, value(values, n)),
        Arg::InTimeval => ext::timeval(abi, mem, v),
        Arg::PselectSig => ext::pselect_sig(abi, mem, v),
        Arg::Uid(n) => ext::uid(v, n),
        Arg::InGroups(n) => {
            let count = u64::from(arg_uint(value(values, 0)));
            ext::groups(mem, v, count, n)
        }
        Arg::PrioWhich => ext::prio_which(v),
        Arg::InCpuMask(n) => ext::cpu_list(mem, v, u64::from(arg_uint(value(values, n)))),
        Arg::MknodMode => ext::mknod_mode(v),
        Arg::MknodDev(n) => match ext::mknod_dev(value(values, n), v) {
            Some(s) => s,
            None => return Part::Omit,
        },
        Arg::FlockOp => ext::flock_op(v),
        Arg::InUtimens(w) => ext::utimens(abi, mem, v, w == 1),
        Arg::InPollfds(n) => ext::pollfds(mem, v, u64::from(arg_uint(value(values, n))), false)
            .unwrap_or_else(|| ptr(v)),
        Arg::Madvice => decode::madvise_advice(v),
        Arg::PageOffset => hex(abi.ulong(v) << 12),
        Arg::PrctlOption => decode::prctl_option(v),
        // strace's prctl: PR_SET_NAME's name (at most 15 bytes), the
        // PR_GET_NAME buffer at exit, the other options' arguments in hex.
        Arg::PrctlArg => match value(values, 0) & 0xffff_ffff {
            15 => {
                let mut b = [0u8; 16];
                match mem.read(v, &mut b) {
                    Ok(()) => match b[..15].iter().position(|&c| c == 0) {
                        Some(n) => quote(&b[..n], false),
                        None => quote(&b[..15], b[15] != 0),
                    },
                    Err(_) => ptr(v),
                }
            }
            16 => return Part::Deferred,
            _ => hex(abi.ulong(v)),
        },
        Arg::PrctlRest if matches!(value(values, 0) & 0xffff_ffff, 15 | 16) => return Part::Omit,
        Arg::PrctlRest => hex(abi.ulong(v)),
        Arg::IdType => decode::waitid_type(v),
        Arg::InStack => decode::stack_t(abi, mem, v).unwrap_or_else(|| ptr(v)),
        Arg::WaitOptions => decode::wait_options(v),
        Arg::MremapFlags => decode::printflags(
            abi.ulong(v),
            &[
                (1, "MREMAP_MAYMOVE"),
                (2, "MREMAP_FIXED"),
                (4, "MREMAP_DONTUNMAP"),
            ],
            Some("MREMAP_???"),
        ),
        Arg::MremapAddr if value(values, 3) & 3 != 3 => return Part::Omit,
        Arg::MremapAddr => ptr(abi.ulong(v)),
        Arg::Resource => decode::resource(v),
        Arg::InRlimit | Arg::InRlimit64 if v == 0 => "NULL".into(),
        Arg::InRlimit | Arg::InRlimit64 => {
            let wide = kind == Arg::InRlimit64 || abi == Abi::X86_64;
            decode::rlimit(mem, v, wide).unwrap_or_else(|| ptr(v))
        }
        Arg::StatxFlags => decode::statx_flags(v),
        Arg::StatxMask => decode::statx_mask(v),
        Arg::UserDesc => decode::user_desc(abi, mem, v).unwrap_or_else(|| ptr(v)),
        Arg::InSigaction if v == 0 => "NULL".into(),
        Arg::InSigaction => decode::sigaction(abi, mem, v).unwrap_or_else(|| ptr(v)),
        Arg::SigHow => decode::sigprocmask_how(v),
        Arg::InSigset(n) => decode::sigset_at(abi, mem, v, abi.ulong(value(values, n))),
        Arg::OpenFlags => open_flags(v),
        Arg::CreateMode(n) => {
            let flags = arg_uint(value(values, n));
            if flags & O_CREAT == 0 && flags & O_TMPFILE != O_TMPFILE {
                return Part::Omit;
            }
            octal(u64::from(arg_uint(v)))
        }
        Arg::Mode => octal(u64::from(arg_uint(v))),
        Arg::Whence => named(
            i64::from(arg_uint(v)),
            &[
                (0, "SEEK_SET"),
                (1, "SEEK_CUR"),
                (2, "SEEK_END"),
                (3, "SEEK_DATA"),
                (4, "SEEK_HOLE"),
            ],
        ),
        Arg::AccessMode if arg_uint(v) == 0 => "F_OK".into(),
        Arg::AccessMode => flag_names(
            u64::from(arg_uint(v)),
            &[(R_OK, "R_OK"), (W_OK, "W_OK"), (X_OK, "X_OK")],
            "0",
        ),
        Arg::AtFlags => flag_names(u64::from(arg_uint(v)), AT_FLAG_NAMES, "0"),
        Arg::FdFlags => flag_names(
            u64::from(arg_uint(v)),
            &[
                (O_NONBLOCK, "O_NONBLOCK"),
                (O_DIRECT, "O_DIRECT"),
                (O_CLOEXEC, "O_CLOEXEC"),
            ],
            "0",
        ),
        Arg::FcntlCmd => decode::fcntl_cmd(v),
        // strace's print_fcntl: the argument per command, in hex for
        // commands it does not know.
        Arg::FcntlArg => match arg_uint(value(values, 1)) {
            F_GETFD | F_GETFL | F_GETOWN | F_GETPIPE_SZ | 11 | 1025 | 1034 => return Part::Omit,
            F_SETFD => decode::fd_flags(abi.ulong(v)),
            F_SETFL => open_flags(abi.ulong(v)),
            F_GETLK | F_SETLK | F_SETLKW | F_GETLK64 | F_SETLK64 | F_SETLKW64 | 15 | 16 | 36
            | 37 | 38 => ptr(v),
            F_DUPFD | F_DUPFD_CLOEXEC | 1031 | F_SETOWN => abi.long(v).to_string(),
            10 => signal_name(abi.ulong(v)),
            _ => decode::hex0(abi.ulong(v)),
        },
        Arg::IoctlReq => named(
            i64::from(arg_uint(v)),
            &[
                (TCGETS as i64, "TCGETS"),
                (TCSETS as i64, "TCSETS"),
                (TCSETSW as i64, "TCSETSW"),
                (TCSETSF as i64, "TCSETSF"),
                (TIOCGPGRP as i64, "TIOCGPGRP"),
                (TIOCSPGRP as i64, "TIOCSPGRP"),
                (TIOCGWINSZ as i64, "TIOCGWINSZ"),
                (TIOCSWINSZ as i64, "TIOCSWINSZ"),
                (FIONREAD as i64, "FIONREAD"),
                (FIONBIO as i64, "FIONBIO"),
                (FIONCLEX as i64, "FIONCLEX"),
                (FIOCLEX as i64, "FIOCLEX"),
            ],
        ),
        Arg::ClockId => {
            let id = arg_int(v);
            CLOCK_NAMES
                .iter()
                .find(|(n, _)| *n == id)
                .map(|(_, s)| s.to_string())
                .unwrap_or_else(|| id.to_string())
        }
        Arg::Signal => signal_name(u64::from(arg_uint(v))),
        Arg::InSiginfo => decode::siginfo(abi, mem, v).unwrap_or_else(|| ptr(v)),
        Arg::InTimespec | Arg::InTimespec64 => {
            match read_timespec(abi, mem, v, kind == Arg::InTimespec64) {
                Some((s, n)) => format!("{{tv_sec={s}, tv_nsec={n}}}"),
                None => ptr(v),
            }
        }
        Arg::InIovec(n) => {
            iovec_text(abi, mem, v, value(values, n), None).unwrap_or_else(|| ptr(v))
        }
        Arg::Hi64(lo) => {
            ((((v & 0xffff_ffff) << 32) | (value(values, lo) & 0xffff_ffff)) as i64).to_string()
        }
        Arg::Lo64(hi) => {
            ((((value(values, hi) & 0xffff_ffff) << 32) | (v & 0xffff_ffff)) as i64).to_string()
        }
        Arg::Skip => return Part::Omit,
        Arg::RenameFlags => flag_names(
            u64::from(arg_uint(v)),
            &[
                (RENAME_NOREPLACE, "RENAME_NOREPLACE"),
                (RENAME_EXCHANGE, "RENAME_EXCHANGE"),
                (RENAME_WHITEOUT, "RENAME_WHITEOUT"),
            ],
            "0",
        ),
        Arg::GrndFlags => flag_names(
            u64::from(arg_uint(v)),
            &[
                (GRND_NONBLOCK, "GRND_NONBLOCK"),
                (GRND_RANDOM, "GRND_RANDOM"),
                (GRND_INSECURE, "GRND_INSECURE"),
            ],
            "0",
        ),
        Arg::StrArray => str_array(abi, mem, v).unwrap_or_else(|| ptr(v)),
        Arg::EnvArray => env_array(abi, mem, v).unwrap_or_else(|| ptr(v)),
        Arg::Prot if abi.ulong(v) == 0 => "PROT_NONE".into(),
        Arg::Prot => flag_names(
            abi.ulong(v),
            &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")],
            "0",
        ),
        Arg::MapFlags => flag_names(
            abi.ulong(v),
            &[
                (1, "MAP_SHARED"),
                (2, "MAP_PRIVATE"),
                (0x10, "MAP_FIXED"),
                (0x20, "MAP_ANONYMOUS"),
                (0x100, "MAP_GROWSDOWN"),
                (0x800, "MAP_DENYWRITE"),
                (0x1000, "MAP_EXECUTABLE"),
                (0x2000, "MAP_LOCKED"),
                (0x4000, "MAP_NORESERVE"),
                (0x8000, "MAP_POPULATE"),
                (0x20000, "MAP_STACK"),
                (0x100000, "MAP_FIXED_NOREPLACE"),
            ],
            "0",
        ),
        Arg::ArchPrctlCode => named(
            i64::from(arg_int(v)),
            &[
                (0x1001, "ARCH_SET_GS"),
                (0x1002, "ARCH_SET_FS"),
                (0x1003, "ARCH_GET_FS"),
                (0x1004, "ARCH_GET_GS"),
            ],
        ),
        Arg::CloneFlags => decode::clone_flags(abi.ulong(v)),
        Arg::SockFamily => named(
            i64::from(arg_int(v)),
            &[
                (0, "AF_UNSPEC"),
                (1, "AF_UNIX"),
                (2, "AF_INET"),
                (10, "AF_INET6"),
                (16, "AF_NETLINK"),
                (17, "AF_PACKET"),
            ],
        ),
        Arg::SockType => {
            let t = arg_uint(v);
            let base = named(
                i64::from(t & 0xf),
                &[
                    (1, "SOCK_STREAM"),
                    (2, "SOCK_DGRAM"),
                    (3, "SOCK_RAW"),
                    (4, "SOCK_RDM"),
                    (5, "SOCK_SEQPACKET"),
                    (10, "SOCK_PACKET"),
                ],
            );
            let rest = flag_names(
                u64::from(t & !0xf),
                &[(O_CLOEXEC, "SOCK_CLOEXEC"), (O_NONBLOCK, "SOCK_NONBLOCK")],
                "",
            );
            if rest.is_empty() {
                base
            } else {
                format!("{base}|{rest}")
            }
        }
    };
    Part::Text(text)
}

/// `[{iov_base="...", iov_len=N}, ...]`; with `limit`, only that many bytes
/// in all are shown as data (what a `readv` returned).
fn iovec_text(
    abi: Abi,
    mem: &mut dyn UserMemory,
    addr: u64,
    count: u64,
    limit: Option<u64>,
) -> Option<String> {
    let count = u64::try_from(arg_int(count)).ok()?;
    let iovs = read_iovecs(mem, abi, addr, count).ok()?;
    let mut left = limit;
    let mut items = Vec::new();
    for (i, iov) in iovs.iter().enumerate() {
        if i == 8 {
            items.push("...".to_string());
            break;
        }
        let n = match left {
            Some(l) => l.min(iov.len),
            None => iov.len,
        };
        if let Some(l) = &mut left {
            *l -= n;
        }
        let data = read_string(mem, iov.base, n).unwrap_or_else(|| ptr(iov.base));
        items.push(format!("{{iov_base={data}, iov_len={}}}", iov.len));
    }
    Some(format!("[{}]", items.join(", ")))
}

impl Pending {
    /// The table name of the call.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Replaces the value of argument `i` before [`Pending::finish`], for
    /// arguments only the machine layer knows (a sigreturn's restored
    /// mask).
    pub fn set_value(&mut self, i: usize, v: u64) {
        if let Some(x) = self.values.get_mut(i) {
            *x = v;
        }
    }

    /// Completes the call with its result (`None`: it did not return),
    /// reading the arguments it filled from `mem` if it succeeded.
    pub fn finish(self, ret: Option<i64>, mem: &mut dyn UserMemory) -> Completed {
        let ok = ret.is_some_and(|r| Errno::from_return(r).is_none());
        let mut shown = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            let text = match part {
                Part::Text(t) => t.clone(),
                Part::Omit => continue,
                Part::Deferred => {
                    let kind = self.kinds.get(i).copied().unwrap_or(Arg::Hex);
                    let v = self.values.get(i).copied().unwrap_or(0);
                    if kind == Arg::SigreturnMask {
                        // Whatever sigreturn returns (the restored AX).
                        format!("{{mask={}}}", decode::sigset(v, 8))
                    } else if ok {
                        self.exit_part(kind, v, ret.unwrap_or(0), mem)
                    } else {
                        ptr(v)
                    }
                }
            };
            shown.push(text);
        }
        let call = if self.name == "clone" {
            format!("clone({})", decode::clone_args(self.abi, &self.raw))
        } else {
            format!("{}({})", self.shown, shown.join(", "))
        };
        let mut result = format_ret(self.ret, ret, &self.raw);
        if self.ret == Ret::Select && ok {
            ext::select_result(&mut result, self.abi, &self.raw, &self.name, mem);
        }
        if self.ret == Ret::Poll && ok {
            ext::poll_result(&mut result, self.abi, &self.raw, &self.name, mem);
        }
        if self.ret == Ret::EntryNumber
            && ok
            && let Some(e) = self
                .raw
                .first()
                .and_then(|&a| decode::user_desc_entry(mem, a))
        {
            result.push_str(&format!(" (entry_number={e})"));
        }
        Completed {
            abi: self.abi,
            nr: self.nr,
            name: self.name,
            args: self.raw,
            call,
            ret,
            result,
        }
    }

    fn exit_part(&self, kind: Arg, v: u64, ret: i64, mem: &mut dyn UserMemory) -> String {
        let abi = self.abi;
        let text = match kind {
            Arg::OutBuf(n) => {
                let cap = abi.ulong(value(&self.values, n));
                let got = u64::try_from(ret).unwrap_or(0).min(cap);
                read_string(mem, v, got)
            }
            Arg::OutCStr => read_cstr(mem, v, PATH_MAX).ok().map(|s| quote(&s, false)),
            Arg::OutFdPair => {
                let mut b = [0u8; 8];
                mem.read(v, &mut b).ok().map(|_| {
                    let r = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    let w = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                    format!("[{r}, {w}]")
                })
            }
            Arg::OutStat(layout) => stat_text(layout, mem, v),
            Arg::OutTimespec | Arg::OutTimespec64 if v == 0 => Some("NULL".into()),
            Arg::OutTimespec | Arg::OutTimespec64 => {
                read_timespec(abi, mem, v, kind == Arg::OutTimespec64)
                    .map(|(s, n)| format!("{{tv_sec={s}, tv_nsec={n}}}"))
            }
            Arg::OutTimeval if v == 0 => Some("NULL".into()),
            Arg::OutTimeval => read_timespec(abi, mem, v, false)
                .map(|(s, u)| format!("{{tv_sec={s}, tv_usec={u}}}")),
            Arg::OutIovec(n) => iovec_text(
                abi,
                mem,
                v,
                value(&self.values, n),
                Some(u64::try_from(ret).unwrap_or(0)),
            ),
            Arg::OutUtsname => {
                let mut b = [0u8; 130];
                mem.read(v, &mut b).ok().map(|_| {
                    let field = |s: &[u8]| {
                        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
                        quote(s.get(..end).unwrap_or_default(), false)
                    };
                    format!(
                        "{{sysname={}, nodename={}, ...}}",
                        field(&b[..65]),
                        field(&b[65..])
                    )
                })
            }
            Arg::OutLoff => {
                let mut b = [0u8; 8];
                mem.read(v, &mut b)
                    .ok()
                    .map(|_| format!("[{}]", i64::from_le_bytes(b)))
            }
            Arg::OutWaitStatus if v == 0 => Some("NULL".into()),
            // strace shows the status only when a child was reaped.
            Arg::OutWaitStatus if ret == 0 => None,
            Arg::OutRlimit | Arg::OutRlimit64 if v == 0 => Some("NULL".into()),
            Arg::OutRlimit | Arg::OutRlimit64 => {
                decode::rlimit(mem, v, kind == Arg::OutRlimit64 || abi == Abi::X86_64)
            }
            Arg::OutDirents => {
                let count = u64::from(arg_uint(value(&self.values, 2)));
                let len = u64::try_from(ret).unwrap_or(u64::MAX);
                (len <= count).then(|| decode::dirents64(mem, v, len))
            }
            Arg::OutSigaction if v == 0 => Some("NULL".into()),
            Arg::OutSigaction => decode::sigaction(abi, mem, v),
            Arg::OutSigset(n) => Some(decode::sigset_at(
                abi,
                mem,
                v,
                abi.ulong(value(&self.values, n)),
            )),
            Arg::OutSysinfo => decode::sysinfo(abi, mem, v),
            Arg::OutStack => decode::stack_t(abi, mem, v),
            Arg::PrctlArg => read_cstr(mem, v, 16).ok().map(|s| quote(&s, false)),
            Arg::OutTime => decode::time_arg(abi, mem, v),
            Arg::OutGroups(n) => Some(ext::groups(mem, v, u64::try_from(ret).unwrap_or(0), n)),
            Arg::OutId(n) => ext::out_id(mem, v, n),
            Arg::OutCpuMask => Some(ext::cpu_list(mem, v, u64::try_from(ret).unwrap_or(0))),
            Arg::OutStatfs(k) => ext::statfs(abi, mem, v, k),
            Arg::OutItimerval => ext::itimerval(abi, mem, v),
            Arg::OutTms => ext::tms(abi, mem, v),
            Arg::OutRusage => ext::rusage(abi, mem, v),
            Arg::OutSiginfo if v == 0 => Some("NULL".into()),
            Arg::OutSiginfo => decode::siginfo(abi, mem, v),
            Arg::OutRandom(n) => {
                let cap = abi.ulong(value(&self.values, n));
                decode::hex_string(mem, v, u64::try_from(ret).unwrap_or(0).min(cap))
            }
            Arg::OutWaitStatus => {
                let mut b = [0u8; 4];
                mem.read(v, &mut b)
                    .ok()
                    .map(|_| wait_status(u32::from_le_bytes(b)))
            }
            _ => None,
        };
        text.unwrap_or_else(|| ptr(v))
    }
}

fn stat_text(layout: StatLayout, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    let mut b = vec![0u8; layout.size()];
    mem.read(addr, &mut b).ok()?;
    if layout == StatLayout::Statx {
        return Some(decode::statx(&b));
    }
    let ((mo, mw), (so, sw)) = layout.mode_and_size_fields();
    let get = |off: usize, w: usize| -> u64 {
        let mut q = [0u8; 8];
        if let (Some(d), Some(s)) = (q.get_mut(..w), b.get(off..off + w)) {
            d.copy_from_slice(s);
        }
        u64::from_le_bytes(q)
    };
    let mode = get(mo, mw) as u32;
    // strace's print_struct_stat: devices show st_rdev instead of st_size.
    let second = if matches!(mode & S_IFMT, S_IFCHR | S_IFBLK) {
        let (ro, rw) = match layout {
            StatLayout::Stat64Native => (40, 8),
            StatLayout::StatI386 => (16, 2),
            StatLayout::Stat64I386 | StatLayout::Statx => (32, 8),
        };
        let rdev = get(ro, rw);
        format!(
            "st_rdev=makedev({}, {})",
            decode::hex0(u64::from(crate::vfs::stat::dev_major(rdev))),
            decode::hex0(u64::from(crate::vfs::stat::dev_minor(rdev)))
        )
    } else {
        format!("st_size={}", get(so, sw))
    };
    Some(format!("{{st_mode={}, {second}, ...}}", mode_string(mode)))
}

/// A `wait4` status as strace shows it.
pub fn wait_status(s: u32) -> String {
    let sig = s & 0x7f;
    if sig == 0 {
        format!(
            "[{{WIFEXITED(s) && WEXITSTATUS(s) == {}}}]",
            (s >> 8) & 0xff
        )
    } else if sig != 0x7f {
        let core = if s & 0x80 != 0 {
            " && WCOREDUMP(s)"
        } else {
            ""
        };
        format!(
            "[{{WIFSIGNALED(s) && WTERMSIG(s) == {}{core}}}]",
            signal_name(u64::from(sig))
        )
    } else {
        format!("[{}]", hex(u64::from(s)))
    }
}
