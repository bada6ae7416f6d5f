//! Structure and flag decoders that follow strace 6.1 to the character:
//! `printflags`/`printxval` semantics (names in strace's table order,
//! leftover bits in hex, `0x.. /* X_??? */` for unknown values), rlimits
//! (`8192*1024`, `RLIM_INFINITY`), `struct statx`, `struct user_desc`,
//! `struct sigaction` and signal sets (`[PIPE]`, `~[KILL STOP RTMIN RT_1]`),
//! directory-entry counts, `getrandom` bytes in forced hex, `clone`
//! arguments by name, `wait4` options and `fcntl` commands.
//!
//! The sources are strace's own (src/resource.c, statx.c, ldt.c,
//! signal.c, xgetdents.c, clone.c, wait.c, fcntl.c, xlat.c and the
//! `xlat/*.in` tables); the expected strings in the tests are lines real
//! strace printed.

use crate::abi::Abi;
use crate::uaccess::UserMemory;

use super::{STRING_LIMIT, mode_string, ptr, signal_name};

/// strace's `printflags`: each table entry whose bits are all set (or
/// that equals the whole value, for zero entries) is named in table
/// order and its bits cleared; leftover bits follow in hex. With no name
/// at all: the hex value and ` /* dflt */`, or `0` when the value is zero
/// and `dflt` is given (nothing when not).
pub fn printflags(mut v: u64, table: &[(u64, &str)], dflt: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for &(bits, name) in table {
        if !(v != 0 || parts.is_empty()) {
            break;
        }
        if v == bits || (bits != 0 && v & bits == bits) {
            parts.push(name.to_string());
            v &= !bits;
        }
        if v == 0 {
            break;
        }
    }
    if !parts.is_empty() {
        if v != 0 {
            parts.push(format!("{v:#x}"));
        }
        return parts.join("|");
    }
    match (v, dflt) {
        (0, Some(_)) => "0".into(),
        (0, None) => String::new(),
        (v, Some(d)) => format!("{v:#x} /* {d} */"),
        (v, None) => format!("{v:#x}"),
    }
}

/// strace's `printxval`: the name of `v`, or `0x.. /* dflt */`.
pub fn printxval(v: u64, table: &[(u64, &str)], dflt: &str) -> String {
    match table.iter().find(|(n, _)| *n == v) {
        Some((_, s)) => s.to_string(),
        None => format!("{v:#x} /* {dflt} */"),
    }
}

/// `%#x` as C prints it (`0` without prefix).
pub fn hex0(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

fn read_bytes<const N: usize>(mem: &mut dyn UserMemory, addr: u64) -> Option<[u8; N]> {
    let mut b = [0u8; N];
    mem.read(addr, &mut b).ok()?;
    Some(b)
}

fn le(b: &[u8], off: usize, w: usize) -> u64 {
    let mut q = [0u8; 8];
    if let (Some(d), Some(s)) = (q.get_mut(..w), b.get(off..off + w)) {
        d.copy_from_slice(s);
    }
    u64::from_le_bytes(q)
}

// ---- rlimits (src/resource.c) ----

/// `xlat/resources.in` (x86).
pub const RESOURCES: &[(u64, &str)] = &[
    (0, "RLIMIT_CPU"),
    (1, "RLIMIT_FSIZE"),
    (2, "RLIMIT_DATA"),
    (3, "RLIMIT_STACK"),
    (4, "RLIMIT_CORE"),
    (5, "RLIMIT_RSS"),
    (6, "RLIMIT_NPROC"),
    (7, "RLIMIT_NOFILE"),
    (8, "RLIMIT_MEMLOCK"),
    (9, "RLIMIT_AS"),
    (10, "RLIMIT_LOCKS"),
    (11, "RLIMIT_SIGPENDING"),
    (12, "RLIMIT_MSGQUEUE"),
    (13, "RLIMIT_NICE"),
    (14, "RLIMIT_RTPRIO"),
    (15, "RLIMIT_RTTIME"),
];

/// A resource number: `RLIMIT_STACK`.
pub fn resource(v: u64) -> String {
    printxval(v & 0xffff_ffff, RESOURCES, "RLIMIT_???")
}

/// One limit: `RLIM64_INFINITY` / `RLIM_INFINITY`, `N*1024` for
/// multiples of 1024 above 1024, else the number.
fn rlim(v: u64, wide: bool) -> String {
    let inf = if wide { u64::MAX } else { u64::from(u32::MAX) };
    if v == inf {
        if wide {
            "RLIM64_INFINITY"
        } else {
            "RLIM_INFINITY"
        }
        .into()
    } else if v > 1024 && v.is_multiple_of(1024) {
        format!("{}*1024", v / 1024)
    } else {
        v.to_string()
    }
}

/// `struct rlimit` (`wide`: 64-bit fields, as `prlimit64` and x86_64
/// `getrlimit`; else the i386 32-bit one).
pub fn rlimit(mem: &mut dyn UserMemory, addr: u64, wide: bool) -> Option<String> {
    let (cur, max) = if wide {
        let b: [u8; 16] = read_bytes(mem, addr)?;
        (le(&b, 0, 8), le(&b, 8, 8))
    } else {
        let b: [u8; 8] = read_bytes(mem, addr)?;
        (le(&b, 0, 4), le(&b, 4, 4))
    };
    Some(format!(
        "{{rlim_cur={}, rlim_max={}}}",
        rlim(cur, wide),
        rlim(max, wide)
    ))
}

// ---- statx (src/statx.c) ----

/// `xlat/at_statx_sync_types.in`.
const AT_STATX_SYNC_TYPES: &[(u64, &str)] = &[
    (0, "AT_STATX_SYNC_AS_STAT"),
    (0x2000, "AT_STATX_FORCE_SYNC"),
    (0x4000, "AT_STATX_DONT_SYNC"),
    (0x6000, "AT_STATX_SYNC_TYPE"),
];

/// `xlat/at_flags.in`.
pub const AT_FLAGS: &[(u64, &str)] = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x8000, "AT_RECURSIVE"),
];

/// `xlat/statx_masks.in`.
const STATX_MASKS: &[(u64, &str)] = &[
    (0xfff, "STATX_ALL"),
    (0x7ff, "STATX_BASIC_STATS"),
    (0x1, "STATX_TYPE"),
    (0x2, "STATX_MODE"),
    (0x4, "STATX_NLINK"),
    (0x8, "STATX_UID"),
    (0x10, "STATX_GID"),
    (0x20, "STATX_ATIME"),
    (0x40, "STATX_MTIME"),
    (0x80, "STATX_CTIME"),
    (0x100, "STATX_INO"),
    (0x200, "STATX_SIZE"),
    (0x400, "STATX_BLOCKS"),
    (0x800, "STATX_BTIME"),
    (0x1000, "STATX_MNT_ID"),
    (0x2000, "STATX_DIOALIGN"),
];

/// `xlat/statx_attrs.in`.
const STATX_ATTRS: &[(u64, &str)] = &[
    (0x4, "STATX_ATTR_COMPRESSED"),
    (0x10, "STATX_ATTR_IMMUTABLE"),
    (0x20, "STATX_ATTR_APPEND"),
    (0x40, "STATX_ATTR_NODUMP"),
    (0x800, "STATX_ATTR_ENCRYPTED"),
    (0x1000, "STATX_ATTR_AUTOMOUNT"),
    (0x2000, "STATX_ATTR_MOUNT_ROOT"),
    (0x100000, "STATX_ATTR_VERITY"),
    (0x200000, "STATX_ATTR_DAX"),
];

/// `statx` flags: the sync type (`AT_STATX_SYNC_AS_STAT` for 0), then the
/// other `AT_*` flags.
pub fn statx_flags(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let mut s = printflags(v & 0x6000, AT_STATX_SYNC_TYPES, None);
    let rest = v & !0x6000;
    if rest != 0 {
        s.push('|');
        s.push_str(&printflags(rest, AT_FLAGS, None));
    }
    s
}

/// A `statx` mask: `STATX_BASIC_STATS|STATX_MNT_ID`.
pub fn statx_mask(v: u64) -> String {
    printflags(v & 0xffff_ffff, STATX_MASKS, Some("STATX_???"))
}

/// `struct statx` as strace abbreviates it.
pub fn statx(b: &[u8]) -> String {
    let mask = le(b, 0, 4);
    let mut s = format!(
        "{{stx_mask={}, stx_attributes={}",
        statx_mask(mask),
        printflags(le(b, 8, 8), STATX_ATTRS, Some("STATX_ATTR_???"))
    );
    if mask & 3 != 0 {
        s.push_str(&format!(", stx_mode={}", mode_string(le(b, 28, 2) as u32)));
    }
    if mask & 0x200 != 0 {
        s.push_str(&format!(", stx_size={}", le(b, 40, 8)));
    }
    s.push_str(", ...}");
    s
}

// ---- struct user_desc (src/ldt.c) ----

/// `struct user_desc` as `set_thread_area` shows it at entry (`lm` only
/// for 64-bit tasks).
pub fn user_desc(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    let b: [u8; 16] = read_bytes(mem, addr)?;
    let entry = le(&b, 0, 4) as u32;
    let flags = le(&b, 12, 4) as u32;
    let entry = if entry == u32::MAX {
        "-1".to_string()
    } else {
        entry.to_string()
    };
    // PRINT_FIELD_0X: "%#0*x" with the field's width in hex digits.
    let x0 = |v: u64| {
        if v == 0 {
            "00000000".to_string()
        } else {
            format!("{v:#08x}")
        }
    };
    let mut s = format!(
        "{{entry_number={entry}, base_addr={}, limit={}, seg_32bit={}, contents={}, \
         read_exec_only={}, limit_in_pages={}, seg_not_present={}, useable={}",
        x0(le(&b, 4, 4)),
        x0(le(&b, 8, 4)),
        flags & 1,
        (flags >> 1) & 3,
        (flags >> 3) & 1,
        (flags >> 4) & 1,
        (flags >> 5) & 1,
        (flags >> 6) & 1,
    );
    if abi == Abi::X86_64 {
        s.push_str(&format!(", lm={}", (flags >> 7) & 1));
    }
    s.push('}');
    Some(s)
}

/// The `entry_number` `set_thread_area` wrote back.
pub fn user_desc_entry(mem: &mut dyn UserMemory, addr: u64) -> Option<u32> {
    let b: [u8; 4] = read_bytes(mem, addr)?;
    Some(u32::from_le_bytes(b))
}

// ---- signals (src/signal.c) ----

/// A signal's name inside a set: `PIPE`, `RTMIN`, `RT_1`.
fn set_member(i: u32) -> String {
    match i {
        1..=31 => signal_name(u64::from(i))
            .trim_start_matches("SIG")
            .to_string(),
        32 => "RTMIN".into(),
        33..=64 => format!("RT_{}", i - 32),
        _ => i.to_string(),
    }
}

/// `sprintsigmask_n`: a set of `bytes` bytes (at most 8), inverted with
/// `~` when two thirds or more of its bits are set.
pub fn sigset(mask: u64, bytes: usize) -> String {
    let words = bytes.min(8).div_ceil(4);
    let bits = words * 32;
    let valid = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut m = mask & valid;
    let mut s = String::new();
    if (m.count_ones() as usize) >= bits * 2 / 3 {
        m = !m & valid;
        s.push('~');
    }
    let names: Vec<String> = (0..bits as u32)
        .filter(|b| m >> b & 1 != 0)
        .map(|b| set_member(b + 1))
        .collect();
    s.push('[');
    s.push_str(&names.join(" "));
    s.push(']');
    s
}

/// A signal set at `addr` of `len` bytes (`rt_sigprocmask`'s
/// `print_sigset_addr_len`: the address when the size is not between the
/// word size and 8).
pub fn sigset_at(abi: Abi, mem: &mut dyn UserMemory, addr: u64, len: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    if len < abi.ptr_size() as u64 || len > 8 {
        return ptr(addr);
    }
    let mut b = vec![0u8; len as usize];
    if mem.read(addr, &mut b).is_err() {
        return ptr(addr);
    }
    sigset(le(&b, 0, b.len()), len as usize)
}

/// `xlat/sigprocmaskcmds.in`.
pub fn sigprocmask_how(v: u64) -> String {
    printxval(
        v & 0xffff_ffff,
        &[(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")],
        "SIG_???",
    )
}

/// `xlat/sigact_flags.in` (x86 values).
const SIGACT_FLAGS: &[(u64, &str)] = &[
    (0x0400_0000, "SA_RESTORER"),
    (0x0800_0000, "SA_ONSTACK"),
    (0x1000_0000, "SA_RESTART"),
    (0x2000_0000, "SA_INTERRUPT"),
    (0x4000_0000, "SA_NODEFER"),
    (0x8000_0000, "SA_RESETHAND"),
    (4, "SA_SIGINFO"),
    (1, "SA_NOCLDSTOP"),
    (2, "SA_NOCLDWAIT"),
];

/// The kernel's `struct sigaction` of `abi` (handler, flags, restorer,
/// mask): `{sa_handler=SIG_IGN, sa_mask=[PIPE], sa_flags=SA_RESTART}`.
pub fn sigaction(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    let (handler, flags, restorer, mask) = if abi == Abi::X86_64 {
        let b: [u8; 32] = read_bytes(mem, addr)?;
        (le(&b, 0, 8), le(&b, 8, 8), le(&b, 16, 8), le(&b, 24, 8))
    } else {
        let b: [u8; 20] = read_bytes(mem, addr)?;
        (le(&b, 0, 4), le(&b, 4, 4), le(&b, 8, 4), le(&b, 12, 8))
    };
    let h = match handler {
        0 => "SIG_DFL".to_string(),
        1 => "SIG_IGN".to_string(),
        u64::MAX => "SIG_ERR".to_string(),
        h => ptr(h),
    };
    let mut s = format!(
        "{{sa_handler={h}, sa_mask={}, sa_flags={}",
        sigset(mask, 8),
        printflags(flags, SIGACT_FLAGS, Some("SA_???"))
    );
    if flags & 0x0400_0000 != 0 {
        s.push_str(&format!(", sa_restorer={}", ptr(restorer)));
    }
    s.push('}');
    Some(s)
}

// ---- getdents64 (src/xgetdents.c) ----

/// `ADDR /* N entries */` for a `getdents64` that returned `len` bytes
/// (`+` when bytes are left that do not make a whole entry).
pub fn dirents64(mem: &mut dyn UserMemory, addr: u64, len: u64) -> String {
    const HEADER: u64 = 19; // offsetof(struct linux_dirent64, d_name)
    let mut count = 0;
    let (mut at, mut len) = (addr, len);
    while len >= HEADER {
        let Some(b) = read_bytes::<19>(mem, at) else {
            break;
        };
        count += 1;
        let reclen = le(&b, 16, 2);
        if reclen > len {
            len = 0;
            break;
        } else if reclen < HEADER {
            len -= HEADER;
            break;
        }
        len -= reclen;
        at += reclen;
    }
    let plus = if len != 0 { "+" } else { "" };
    format!("{} /* {count}{plus} entries */", ptr(addr))
}

// ---- getrandom ----

/// Bytes with every byte as `\xNN` (strace's `QUOTE_FORCE_HEX`), cut at
/// 32 with `...`.
pub fn hex_string(mem: &mut dyn UserMemory, addr: u64, len: u64) -> Option<String> {
    if addr == 0 {
        return Some("NULL".into());
    }
    let n = len.min(STRING_LIMIT as u64) as usize;
    let mut b = vec![0u8; n];
    mem.read(addr, &mut b).ok()?;
    let mut s = String::with_capacity(n * 4 + 5);
    s.push('"');
    for c in b {
        s.push_str(&format!("\\x{c:02x}"));
    }
    s.push('"');
    if len > STRING_LIMIT as u64 {
        s.push_str("...");
    }
    Some(s)
}

// ---- clone (src/clone.c) ----

/// `xlat/clone_flags.in`.
const CLONE_FLAGS: &[(u64, &str)] = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
];

/// `clone` flags with the exit signal: `CLONE_CHILD_SETTID|SIGCHLD`.
pub fn clone_flags(v: u64) -> String {
    let sig = v & 0xff;
    let flags = v & !0xff;
    let sig_text = || signal_name(sig);
    if flags == 0 {
        return sig_text();
    }
    let f = printflags(flags, CLONE_FLAGS, Some("CLONE_???"));
    if sig != 0 {
        format!("{f}|{}", sig_text())
    } else {
        f
    }
}

/// The arguments of `clone` as strace names them; `ok` when the call
/// succeeded (the output arguments are shown at exit either way).
pub fn clone_args(abi: Abi, a: &[u64]) -> String {
    let get = |i: usize| a.get(i).copied().unwrap_or(0);
    let flags = abi.ulong(get(0));
    let (ctid, tls) = if abi == Abi::X86_64 { (3, 4) } else { (4, 3) };
    let mut s = format!(
        "child_stack={}, flags={}",
        ptr(abi.ulong(get(1))),
        clone_flags(flags)
    );
    let f = flags & !0xff;
    if f & (0x100000 | 0x1000) != 0 {
        s.push_str(&format!(", parent_tid={}", ptr(abi.ulong(get(2)))));
    }
    if f & 0x80000 != 0 {
        s.push_str(&format!(", tls={}", ptr(abi.ulong(get(tls)))));
    }
    if f & (0x1000000 | 0x200000) != 0 {
        s.push_str(&format!(", child_tidptr={}", ptr(abi.ulong(get(ctid)))));
    }
    s
}

// ---- wait4 (src/wait.c) ----

/// `xlat/wait4_options.in`.
pub fn wait_options(v: u64) -> String {
    printflags(
        v & 0xffff_ffff,
        &[
            (1, "WNOHANG"),
            (4, "WEXITED"),
            (2, "WSTOPPED"),
            (8, "WCONTINUED"),
            (0x0100_0000, "WNOWAIT"),
            (0x8000_0000, "__WCLONE"),
            (0x4000_0000, "__WALL"),
            (0x2000_0000, "__WNOTHREAD"),
        ],
        Some("W???"),
    )
}

// ---- fcntl (src/fcntl.c) ----

/// `xlat/fcntlcmds.in` and `fcntl64cmds.in` (x86).
pub const FCNTL_CMDS: &[(u64, &str)] = &[
    (0, "F_DUPFD"),
    (1, "F_GETFD"),
    (2, "F_SETFD"),
    (3, "F_GETFL"),
    (4, "F_SETFL"),
    (5, "F_GETLK"),
    (6, "F_SETLK"),
    (7, "F_SETLKW"),
    (8, "F_SETOWN"),
    (9, "F_GETOWN"),
    (10, "F_SETSIG"),
    (11, "F_GETSIG"),
    (12, "F_GETLK64"),
    (13, "F_SETLK64"),
    (14, "F_SETLKW64"),
    (15, "F_SETOWN_EX"),
    (16, "F_GETOWN_EX"),
    (17, "F_GETOWNER_UIDS"),
    (36, "F_OFD_GETLK"),
    (37, "F_OFD_SETLK"),
    (38, "F_OFD_SETLKW"),
    (1024, "F_SETLEASE"),
    (1025, "F_GETLEASE"),
    (1026, "F_NOTIFY"),
    (1030, "F_DUPFD_CLOEXEC"),
    (1031, "F_SETPIPE_SZ"),
    (1032, "F_GETPIPE_SZ"),
    (1033, "F_ADD_SEALS"),
    (1034, "F_GET_SEALS"),
];

/// An `fcntl` command: `F_SETFD`, or `0x270f /* F_??? */`.
pub fn fcntl_cmd(v: u64) -> String {
    printxval(v & 0xffff_ffff, FCNTL_CMDS, "F_???")
}

/// `xlat/fdflags.in`.
pub fn fd_flags(v: u64) -> String {
    printflags(v, &[(1, "FD_CLOEXEC")], Some("FD_???"))
}

// ---- sysinfo (src/sysinfo.c) ----

/// `struct sysinfo` of `abi` (32-bit `long`s for i386).
pub fn sysinfo(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    let w = abi.ptr_size();
    let mut b = vec![0u8; if w == 8 { 112 } else { 64 }];
    mem.read(addr, &mut b).ok()?;
    let l = |k: usize| le(&b, k * w, w);
    let high = 11 * w;
    Some(format!(
        "{{uptime={}, loads=[{}, {}, {}], totalram={}, freeram={}, sharedram={}, \
         bufferram={}, totalswap={}, freeswap={}, procs={}, totalhigh={}, freehigh={}, \
         mem_unit={}}}",
        abi.long(l(0)),
        l(1),
        l(2),
        l(3),
        l(4),
        l(5),
        l(6),
        l(7),
        l(8),
        l(9),
        le(&b, 10 * w, 2),
        le(&b, high, w),
        le(&b, high + w, w),
        le(&b, high + 2 * w, 4),
    ))
}

// ---- sigaltstack (src/sigaltstack.c) ----

/// A `stack_t` of `abi`: `{ss_sp=0x..., ss_flags=0, ss_size=65536}`
/// (`NULL` for a null pointer).
pub fn stack_t(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    if addr == 0 {
        return Some("NULL".into());
    }
    let w = abi.ptr_size();
    let mut b = vec![0u8; 3 * w];
    mem.read(addr, &mut b).ok()?;
    Some(format!(
        "{{ss_sp={}, ss_flags={}, ss_size={}}}",
        ptr(le(&b, 0, w)),
        printflags(
            le(&b, w, 4),
            &[
                (1, "SS_ONSTACK"),
                (2, "SS_DISABLE"),
                (0x8000_0000, "SS_AUTODISARM"),
            ],
            Some("SS_???"),
        ),
        le(&b, 2 * w, w)
    ))
}

// ---- time (src/print_time.c, util.c sprinttime) ----

/// `sprinttime`: `2026-11-23T22:59:16+0000`. strace uses the local time
/// zone; sysgate's guests have none, so this is UTC (`+0000`), which is
/// also what strace prints on a machine without a time zone.
pub fn sprinttime(t: i64) -> String {
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+0000",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `time`'s argument at exit: `NULL` or `[N /* date */]`.
pub fn time_arg(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    if addr == 0 {
        return Some("NULL".into());
    }
    let w = abi.ptr_size();
    let mut b = vec![0u8; w];
    mem.read(addr, &mut b).ok()?;
    let t = abi.long(le(&b, 0, w));
    Some(format!("[{t} /* {} */]", sprinttime(t)))
}

// ---- madvise (xlat/madvise_cmds.in) ----

/// A `madvise` advice: `MADV_DONTNEED`.
pub fn madvise_advice(v: u64) -> String {
    printxval(
        v & 0xffff_ffff,
        &[
            (0, "MADV_NORMAL"),
            (1, "MADV_RANDOM"),
            (2, "MADV_SEQUENTIAL"),
            (3, "MADV_WILLNEED"),
            (4, "MADV_DONTNEED"),
            (8, "MADV_FREE"),
            (9, "MADV_REMOVE"),
            (10, "MADV_DONTFORK"),
            (11, "MADV_DOFORK"),
            (12, "MADV_MERGEABLE"),
            (13, "MADV_UNMERGEABLE"),
            (14, "MADV_HUGEPAGE"),
            (15, "MADV_NOHUGEPAGE"),
            (16, "MADV_DONTDUMP"),
            (17, "MADV_DODUMP"),
            (18, "MADV_WIPEONFORK"),
            (19, "MADV_KEEPONFORK"),
            (20, "MADV_COLD"),
            (21, "MADV_PAGEOUT"),
            (22, "MADV_POPULATE_READ"),
            (23, "MADV_POPULATE_WRITE"),
            (24, "MADV_DONTNEED_LOCKED"),
            (100, "MADV_HWPOISON"),
            (101, "MADV_SOFT_OFFLINE"),
        ],
        "MADV_???",
    )
}

// ---- waitid (src/wait.c, printsiginfo.c) ----

/// `waitid`'s id type: `P_PID`.
pub fn waitid_type(v: u64) -> String {
    printxval(
        v & 0xffff_ffff,
        &[(0, "P_ALL"), (1, "P_PID"), (2, "P_PGID"), (3, "P_PIDFD")],
        "P_???",
    )
}

/// A `siginfo_t` of `abi` as strace's `printsiginfo` shows it (the
/// kinds the kernel model produces: sent signals, SIGCHLD, faults).
pub fn siginfo(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    let mut b = [0u8; 128];
    mem.read(addr, &mut b).ok()?;
    let signo = le(&b, 0, 4) as u32;
    if signo == 0 {
        return Some("{}".into());
    }
    let code = le(&b, 8, 4) as u32 as i32;
    let w = abi.ptr_size();
    let u = if w == 8 { 16 } else { 12 };
    let name = |table: &[&str], c: i32| {
        usize::try_from(c - 1)
            .ok()
            .and_then(|k| table.get(k))
            .map_or_else(|| c.to_string(), |s| s.to_string())
    };
    let code_text = match (code, signo) {
        (0, _) => "SI_USER".to_string(),
        (0x80, _) => "SI_KERNEL".to_string(),
        (-1, _) => "SI_QUEUE".to_string(),
        (-6, _) => "SI_TKILL".to_string(),
        (c, 17) => name(
            &[
                "CLD_EXITED",
                "CLD_KILLED",
                "CLD_DUMPED",
                "CLD_TRAPPED",
                "CLD_STOPPED",
                "CLD_CONTINUED",
            ],
            c,
        ),
        (c, 11) => name(&["SEGV_MAPERR", "SEGV_ACCERR"], c),
        (c, 5) => name(&["TRAP_BRKPT", "TRAP_TRACE"], c),
        (c, _) => c.to_string(),
    };
    let mut s = format!(
        "{{si_signo={}, si_code={code_text}",
        signal_name(u64::from(signo))
    );
    let (pid, uid) = (le(&b, u, 4) as u32 as i32, le(&b, u + 4, 4) as u32);
    if code <= 0 {
        s.push_str(&format!(", si_pid={pid}, si_uid={uid}"));
        let value = le(&b, u + 8, w);
        if code == -1 && value != 0 {
            // SI_QUEUE: the sigval, as int and as pointer (strace leaves
            // out a zero one).
            let int = value as u32 as i32;
            s.push_str(&format!(", si_int={int}, si_ptr={}", ptr(value)));
        }
    } else {
        match signo {
            17 => {
                let status = le(&b, u + 8, 4) as u32 as i32;
                let st = if code == 1 {
                    status.to_string()
                } else {
                    signal_name(status as u64)
                };
                let (ut, stt) = if w == 8 {
                    (le(&b, u + 16, 8) as i64, le(&b, u + 24, 8) as i64)
                } else {
                    (
                        i64::from(le(&b, u + 12, 4) as u32 as i32),
                        i64::from(le(&b, u + 16, 4) as u32 as i32),
                    )
                };
                s.push_str(&format!(
                    ", si_pid={pid}, si_uid={uid}, si_status={st}, si_utime={ut}, si_stime={stt}"
                ));
            }
            4 | 5 | 7 | 8 | 11 => {
                s.push_str(&format!(", si_addr={}", ptr(le(&b, u, w))));
            }
            _ => {}
        }
    }
    s.push('}');
    Some(s)
}

// ---- prctl (src/prctl.c, xlat/prctl_options.in) ----

/// A `prctl` option: `PR_GET_NAME`, or `0x.. /* PR_??? */`.
pub fn prctl_option(v: u64) -> String {
    printxval(
        v & 0xffff_ffff,
        &[
            (1, "PR_SET_PDEATHSIG"),
            (2, "PR_GET_PDEATHSIG"),
            (3, "PR_GET_DUMPABLE"),
            (4, "PR_SET_DUMPABLE"),
            (7, "PR_GET_KEEPCAPS"),
            (8, "PR_SET_KEEPCAPS"),
            (15, "PR_SET_NAME"),
            (16, "PR_GET_NAME"),
            (21, "PR_GET_SECCOMP"),
            (22, "PR_SET_SECCOMP"),
            (23, "PR_CAPBSET_READ"),
            (24, "PR_CAPBSET_DROP"),
            (36, "PR_SET_CHILD_SUBREAPER"),
            (37, "PR_GET_CHILD_SUBREAPER"),
            (38, "PR_SET_NO_NEW_PRIVS"),
            (39, "PR_GET_NO_NEW_PRIVS"),
            (0x5961_6d61, "PR_SET_PTRACER"),
            (0x5356_4d41, "PR_SET_VMA"),
        ],
        "PR_???",
    )
}

/// The arguments of `futex` (and i386 `futex_time64`, `time64`) as strace
/// shows them: the operation by name (`FUTEX_WAKE_PRIVATE`,
/// `FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME`), then only the arguments that
/// operation uses.
pub(super) fn futex_args(
    abi: Abi,
    a: &[u64],
    mem: &mut dyn UserMemory,
    time64: bool,
) -> Vec<String> {
    const NAMES: [&str; 14] = [
        "FUTEX_WAIT",
        "FUTEX_WAKE",
        "FUTEX_FD",
        "FUTEX_REQUEUE",
        "FUTEX_CMP_REQUEUE",
        "FUTEX_WAKE_OP",
        "FUTEX_LOCK_PI",
        "FUTEX_UNLOCK_PI",
        "FUTEX_TRYLOCK_PI",
        "FUTEX_WAIT_BITSET",
        "FUTEX_WAKE_BITSET",
        "FUTEX_WAIT_REQUEUE_PI",
        "FUTEX_CMP_REQUEUE_PI",
        "FUTEX_LOCK_PI2",
    ];
    let arg = |i: usize| a.get(i).copied().unwrap_or(0);
    let op = arg(1) as u32;
    let cmd = op & 127;
    let known = op & !(127 | 128 | 256) == 0 && (cmd as usize) < NAMES.len();
    let val = (arg(2) as u32).to_string();
    let val2 = (arg(3) as u32).to_string();
    let val3 = (arg(5) as u32).to_string();
    let uaddr2 = ptr(abi.ulong(arg(4)));
    let timeout = |mem: &mut dyn UserMemory| match super::read_timespec(
        abi,
        mem,
        abi.ulong(arg(3)),
        time64,
    ) {
        Some((s, n)) if arg(3) != 0 => format!("{{tv_sec={s}, tv_nsec={n}}}"),
        _ => ptr(abi.ulong(arg(3))),
    };
    let bitset = if arg(5) as u32 == u32::MAX {
        "FUTEX_BITSET_MATCH_ANY".to_string()
    } else {
        format!("{:#x}", arg(5) as u32)
    };
    let mut out = vec![ptr(abi.ulong(arg(0)))];
    if !known {
        out.push(format!("{op:#x} /* FUTEX_??? */"));
        out.extend([val, timeout(mem), uaddr2, val3]);
        return out;
    }
    let mut name = NAMES[cmd as usize].to_string();
    if op & 128 != 0 {
        name.push_str("_PRIVATE");
    }
    if op & 256 != 0 {
        name.push_str("|FUTEX_CLOCK_REALTIME");
    }
    out.push(name);
    match cmd {
        0 => out.extend([val, timeout(mem)]),
        9 => out.extend([val, timeout(mem), bitset]),
        10 => out.extend([val, bitset]),
        3 => out.extend([val, val2, uaddr2]),
        4 | 12 => out.extend([val, val2, uaddr2, val3]),
        5 => out.extend([val, val2, uaddr2, futex_wake_op(arg(5) as u32)]),
        6 | 13 => out.push(timeout(mem)),
        7 | 8 => {}
        11 => out.extend([val, timeout(mem), uaddr2]),
        _ => out.push(val),
    }
    out
}

/// A `FUTEX_WAKE_OP` operation word as strace shows it
/// (`FUTEX_OP_SET<<28|0<<12|FUTEX_OP_CMP_GT<<24|0x1`).
fn futex_wake_op(v: u32) -> String {
    const OPS: [&str; 5] = ["SET", "ADD", "OR", "ANDN", "XOR"];
    const CMPS: [&str; 6] = ["EQ", "NE", "LT", "LE", "GT", "GE"];
    let op = (v >> 28) & 7;
    let cmp = (v >> 24) & 15;
    let mut s = String::new();
    if v & (8 << 28) != 0 {
        s.push_str("FUTEX_OP_OPARG_SHIFT<<28|");
    }
    match OPS.get(op as usize) {
        Some(n) => s.push_str(&format!("FUTEX_OP_{n}<<28")),
        None => s.push_str(&format!("{op:#x}<<28")),
    }
    let hexz = |x: u32| {
        if x == 0 {
            "0".to_string()
        } else {
            format!("{x:#x}")
        }
    };
    s.push_str(&format!("|{}<<12|", hexz((v >> 12) & 0xFFF)));
    match CMPS.get(cmp as usize) {
        Some(n) => s.push_str(&format!("FUTEX_OP_CMP_{n}<<24")),
        None => s.push_str(&format!("{cmp:#x}<<24")),
    }
    s.push_str(&format!("|{}", hexz(v & 0xFFF)));
    s
}
