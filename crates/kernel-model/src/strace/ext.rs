//! Decoders for the credential, file-metadata and scheduler calls of
//! `syscalls::rows_ext`, in strace 6.1's format: ids (`-1` for the
//! all-ones id, 16-bit ids included), group lists, `getres[ug]id`'s
//! `[N]`, `PRIO_*`, CPU lists, `mknod` modes and `makedev()`, `struct
//! statfs`/`statfs64`, `flock` operations and `utimensat` times.

use super::decode::{printflags, printxval, sprinttime};
use super::{mode_string, ptr};
use crate::abi::{Abi, arg_uint};
use crate::uaccess::UserMemory;
use crate::uapi::*;

/// strace's `print_uid`: `-1` for the all-ones id of `size` bytes.
pub fn uid(v: u64, size: u8) -> String {
    let v = if size == 2 {
        v & 0xffff
    } else {
        u64::from(arg_uint(v))
    };
    if (size == 2 && v == 0xffff) || (size != 2 && v == 0xffff_ffff) {
        "-1".into()
    } else {
        v.to_string()
    }
}

/// An id array of `n` entries of `size` bytes (`[0, 5]`), `NULL`, or the
/// address when unreadable.
pub fn groups(mem: &mut dyn UserMemory, addr: u64, n: u64, size: u8) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    if n > 65536 {
        return ptr(addr);
    }
    let sz = u64::from(size.max(1));
    let mut b = vec![0u8; (n * sz) as usize];
    if mem.read(addr, &mut b).is_err() {
        return ptr(addr);
    }
    let items: Vec<String> = b
        .chunks_exact(sz as usize)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            uid(u64::from_le_bytes(w), size)
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// One id the call wrote (`getresuid`): `[N]`.
pub fn out_id(mem: &mut dyn UserMemory, addr: u64, size: u8) -> Option<String> {
    if addr == 0 {
        return Some("NULL".into());
    }
    let mut b = [0u8; 4];
    let n = usize::from(size.clamp(1, 4));
    mem.read(addr, &mut b[..n]).ok()?;
    Some(format!("[{}]", uid(u64::from(u32::from_le_bytes(b)), size)))
}

/// `getpriority`/`setpriority` `which`.
pub fn prio_which(v: u64) -> String {
    printxval(
        u64::from(arg_uint(v)),
        &[(0, "PRIO_PROCESS"), (1, "PRIO_PGRP"), (2, "PRIO_USER")],
        "PRIO_???",
    )
}

/// A CPU set of `len` bytes as a list of CPU numbers (`[0]`).
pub fn cpu_list(mem: &mut dyn UserMemory, addr: u64, len: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let len = len.min(1 << 16) as usize;
    let mut b = vec![0u8; len];
    if mem.read(addr, &mut b).is_err() {
        return ptr(addr);
    }
    let cpus: Vec<String> = b
        .iter()
        .enumerate()
        .flat_map(|(i, &byte)| {
            (0..8)
                .filter(move |k| byte & (1 << k) != 0)
                .map(move |k| i * 8 + k)
        })
        .map(|c| c.to_string())
        .collect();
    // print_affinitylist separates CPUs with spaces.
    format!("[{}]", cpus.join(" "))
}

/// A `mknod` mode: type and permissions (`S_IFIFO|0666`), or octal alone
/// without a type.
pub fn mknod_mode(v: u64) -> String {
    let m = arg_uint(v);
    if m & S_IFMT == 0 {
        super::octal(u64::from(m))
    } else {
        mode_string(m)
    }
}

/// A `mknod` device, shown for character and block devices only:
/// `makedev(0x1, 0x3)` (`new_decode_dev` of the 32-bit value).
pub fn mknod_dev(mode: u64, dev: u64) -> Option<String> {
    let t = arg_uint(mode) & S_IFMT;
    if t != S_IFCHR && t != S_IFBLK {
        return None;
    }
    let d = dev as u32;
    let (major, minor) = ((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
    Some(format!("makedev({major:#x}, {minor:#x})"))
}

/// `flock` operation (`LOCK_EX|LOCK_NB`).
pub fn flock_op(v: u64) -> String {
    printflags(
        u64::from(arg_uint(v)),
        &[
            (1, "LOCK_SH"),
            (2, "LOCK_EX"),
            (4, "LOCK_NB"),
            (8, "LOCK_UN"),
            (192, "LOCK_RW"),
            (64, "LOCK_READ"),
            (128, "LOCK_WRITE"),
            (32, "LOCK_MAND"),
        ],
        Some("LOCK_???"),
    )
}

/// `utimensat` times: `NULL`, or two timespecs with `UTIME_NOW`/
/// `UTIME_OMIT` by name and dates as comments.
pub fn utimens(abi: Abi, mem: &mut dyn UserMemory, addr: u64, wide: bool) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let w = if wide || abi == Abi::X86_64 { 8 } else { 4 };
    let mut b = vec![0u8; 4 * w];
    if mem.read(addr, &mut b).is_err() {
        return ptr(addr);
    }
    let field = |k: usize| {
        let mut x = [0u8; 8];
        x[..w].copy_from_slice(&b[k * w..k * w + w]);
        let v = u64::from_le_bytes(x);
        if w == 4 {
            i64::from(v as u32 as i32)
        } else {
            v as i64
        }
    };
    let one = |sec: i64, nsec: i64| match nsec {
        0x3fff_ffff => "UTIME_NOW".to_string(),
        0x3fff_fffe => "UTIME_OMIT".to_string(),
        n if (0..1_000_000_000).contains(&n) => {
            let date = sprinttime(sec);
            // strace's sprinttime_nsec: nanoseconds (when not zero)
            // before the zone.
            if n == 0 {
                format!("{{tv_sec={sec}, tv_nsec=0}} /* {date} */")
            } else {
                let (head, zone) = date.split_at(date.len() - 5);
                format!("{{tv_sec={sec}, tv_nsec={n}}} /* {head}.{n:09}{zone} */")
            }
        }
        n => format!("{{tv_sec={sec}, tv_nsec={n}}}"),
    };
    format!("[{}, {}]", one(field(0), field(1)), one(field(2), field(3)))
}

/// strace's `fsmagic` names for the filesystems a run may report.
const FSMAGIC: &[(u64, &str)] = &[
    (0x0102_1994, "TMPFS_MAGIC"),
    (0x5049_5045, "PIPEFS_MAGIC"),
    (0xef53, "EXT2_SUPER_MAGIC"),
    (0x794c_7630, "OVERLAYFS_SUPER_MAGIC"),
    (0x9123_683e, "BTRFS_SUPER_MAGIC"),
    (0x5846_5342, "XFS_SUPER_MAGIC"),
    (0x6969, "NFS_SUPER_MAGIC"),
    (0x9fa0, "PROC_SUPER_MAGIC"),
    (0x6265_6572, "SYSFS_MAGIC"),
    (0x6573_5546, "FUSE_SUPER_MAGIC"),
    (0x0102_1997, "V9FS_MAGIC"),
];

/// `statfs` flags (xlat/statfs_flags.in).
const ST_FLAGS: &[(u64, &str)] = &[
    (1, "ST_RDONLY"),
    (2, "ST_NOSUID"),
    (4, "ST_NODEV"),
    (8, "ST_NOEXEC"),
    (16, "ST_SYNCHRONOUS"),
    (32, "ST_VALID"),
    (64, "ST_MANDLOCK"),
    (1024, "ST_NOATIME"),
    (2048, "ST_NODIRATIME"),
    (4096, "ST_RELATIME"),
    (0x0200_0000, "ST_NOSYMFOLLOW"),
];

/// `struct statfs` (`kind` 0: the ABI's `statfs`; 1: i386 `statfs64`).
pub fn statfs(abi: Abi, mem: &mut dyn UserMemory, addr: u64, kind: u8) -> Option<String> {
    // Field widths: type, bsize, 5 counts, fsid (2x4), namelen, frsize,
    // flags.
    let (w, cw) = match (abi, kind) {
        (Abi::X86_64, _) => (8usize, 8usize),
        (Abi::I386, 1) => (4, 8),
        (Abi::I386, _) => (4, 4),
    };
    let size = 2 * w + 5 * cw + 8 + 3 * w;
    let mut b = vec![0u8; size];
    mem.read(addr, &mut b).ok()?;
    let get = |off: usize, n: usize| {
        let mut x = [0u8; 8];
        x[..n].copy_from_slice(&b[off..off + n]);
        u64::from_le_bytes(x)
    };
    let ftype = get(0, w);
    let bsize = get(w, w);
    let c: Vec<u64> = (0..5).map(|k| get(2 * w + k * cw, cw)).collect();
    let f = 2 * w + 5 * cw;
    let (fs0, fs1) = (get(f, 4), get(f + 4, 4));
    let namelen = get(f + 8, w);
    let frsize = get(f + 8 + w, w);
    let flags = get(f + 8 + 2 * w, w);
    let ftype_s = match FSMAGIC.iter().find(|(m, _)| *m == ftype) {
        Some((_, n)) => n.to_string(),
        None => format!("{ftype:#x}"),
    };
    Some(format!(
        "{{f_type={ftype_s}, f_bsize={bsize}, f_blocks={}, f_bfree={}, f_bavail={}, \
         f_files={}, f_ffree={}, f_fsid={{val=[{}, {}]}}, f_namelen={namelen}, \
         f_frsize={frsize}, f_flags={}}}",
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        super::decode::hex0(fs0),
        super::decode::hex0(fs1),
        printflags(flags, ST_FLAGS, Some("ST_???"))
    ))
}

/// `poll` event names (xlat/pollflags.in).
const POLL_FLAGS: &[(u64, &str)] = &[
    (0x1, "POLLIN"),
    (0x2, "POLLPRI"),
    (0x4, "POLLOUT"),
    (0x8, "POLLERR"),
    (0x10, "POLLHUP"),
    (0x20, "POLLNVAL"),
    (0x40, "POLLRDNORM"),
    (0x80, "POLLRDBAND"),
    (0x100, "POLLWRNORM"),
    (0x200, "POLLWRBAND"),
    (0x400, "POLLMSG"),
    (0x1000, "POLLREMOVE"),
    (0x2000, "POLLRDHUP"),
];

/// A `pollfd` array: at entry every entry with its events (`{fd=-1}` for
/// a negative descriptor); with `ready`, only the entries with revents.
pub fn pollfds(mem: &mut dyn UserMemory, addr: u64, n: u64, ready: bool) -> Option<String> {
    if addr == 0 {
        return Some("NULL".into());
    }
    let n = n.min(1024);
    let mut b = vec![0u8; (n * 8) as usize];
    mem.read(addr, &mut b).ok()?;
    let mut items = Vec::new();
    for e in b.chunks_exact(8) {
        let fd = i32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        let events = u16::from_le_bytes([e[4], e[5]]);
        let revents = u16::from_le_bytes([e[6], e[7]]);
        if ready {
            if revents != 0 {
                items.push(format!(
                    "{{fd={fd}, revents={}}}",
                    printflags(u64::from(revents), POLL_FLAGS, Some("POLL???"))
                ));
            }
        } else if fd < 0 {
            items.push(format!("{{fd={fd}}}"));
        } else {
            items.push(format!(
                "{{fd={fd}, events={}}}",
                printflags(u64::from(events), POLL_FLAGS, Some("POLL???"))
            ));
        }
    }
    Some(format!("[{}]", items.join(", ")))
}

/// Decorates a successful `poll`/`ppoll` result: ` (Timeout)` for 0, else
/// the ready entries; `ppoll` adds the time left.
pub fn poll_result(
    result: &mut String,
    abi: Abi,
    args: &[u64],
    name: &str,
    mem: &mut dyn UserMemory,
) {
    let get = |i: usize| args.get(i).copied().unwrap_or(0);
    if result == "0" {
        result.push_str(" (Timeout)");
        return;
    }
    let Some(list) = pollfds(mem, get(0), u64::from(arg_uint(get(1))), true) else {
        return;
    };
    let mut extra = list;
    if name.starts_with("ppoll") && get(2) != 0 {
        let wide = name == "ppoll_time64" || abi == Abi::X86_64;
        let w = if wide { 8 } else { 4 };
        let mut b = vec![0u8; 2 * w];
        if mem.read(get(2), &mut b).is_ok() {
            let f = |k: usize| {
                let mut x = [0u8; 8];
                x[..w].copy_from_slice(&b[k * w..k * w + w]);
                let v = u64::from_le_bytes(x);
                if w == 4 {
                    i64::from(v as u32 as i32)
                } else {
                    v as i64
                }
            };
            extra.push_str(&format!(", left {{tv_sec={}, tv_nsec={}}}", f(0), f(1)));
        }
    }
    result.push_str(&format!(" ({extra})"));
}

/// Reads `n` ABI `long`s (signed).
fn longs(abi: Abi, mem: &mut dyn UserMemory, addr: u64, n: usize) -> Option<Vec<i64>> {
    let w = abi.ptr_size();
    let mut b = vec![0u8; n * w];
    mem.read(addr, &mut b).ok()?;
    Some(
        b.chunks_exact(w)
            .map(|c| {
                let mut x = [0u8; 8];
                x[..w].copy_from_slice(c);
                abi.long(u64::from_le_bytes(x))
            })
            .collect(),
    )
}

/// Interval timer names.
pub fn itimer_which(v: u64) -> String {
    printxval(
        u64::from(arg_uint(v)),
        &[
            (0, "ITIMER_REAL"),
            (1, "ITIMER_VIRTUAL"),
            (2, "ITIMER_PROF"),
        ],
        "ITIMER_???",
    )
}

/// `struct itimerval`: `{it_interval={tv_sec=0, tv_usec=0}, it_value=...}`.
pub fn itimerval(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    if addr == 0 {
        return Some("NULL".into());
    }
    let v = longs(abi, mem, addr, 4)?;
    Some(format!(
        "{{it_interval={{tv_sec={}, tv_usec={}}}, it_value={{tv_sec={}, tv_usec={}}}}}",
        v[0], v[1], v[2], v[3]
    ))
}

/// `struct tms`.
pub fn tms(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    if addr == 0 {
        return Some("NULL".into());
    }
    let v = longs(abi, mem, addr, 4)?;
    Some(format!(
        "{{tms_utime={}, tms_stime={}, tms_cutime={}, tms_cstime={}}}",
        v[0], v[1], v[2], v[3]
    ))
}

/// `getrusage` who.
pub fn rusage_who(v: u64) -> String {
    let who = arg_uint(v) as i32;
    match who {
        0 => "RUSAGE_SELF".into(),
        -1 => "RUSAGE_CHILDREN".into(),
        1 => "RUSAGE_THREAD".into(),
        w => format!("{:#x} /* RUSAGE_??? */", w as u32),
    }
}

/// `struct rusage`, abbreviated as strace does by default: the two
/// times, then `...`.
pub fn rusage(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> Option<String> {
    let v = longs(abi, mem, addr, 4)?;
    Some(format!(
        "{{ru_utime={{tv_sec={}, tv_usec={}}}, ru_stime={{tv_sec={}, tv_usec={}}}, ...}}",
        v[0], v[1], v[2], v[3]
    ))
}

/// An `fd_set` of `nfds` bits: `NULL`, or its members (`[0 3]`).
pub fn fd_set(abi: Abi, mem: &mut dyn UserMemory, addr: u64, nfds: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let n = u64::from(arg_uint(nfds)).min(1 << 16) as usize;
    let w = abi.ptr_size();
    let mut b = vec![0u8; n.div_ceil(8 * w) * w];
    if mem.read(addr, &mut b).is_err() {
        return ptr(addr);
    }
    let fds: Vec<String> = (0..n)
        .filter(|&i| b.get(i / 8).is_some_and(|x| x & (1 << (i % 8)) != 0))
        .map(|i| i.to_string())
        .collect();
    format!("[{}]", fds.join(" "))
}

/// A `struct timeval` of ABI `long`s.
pub fn timeval(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    match longs(abi, mem, addr, 2) {
        Some(v) => format!("{{tv_sec={}, tv_usec={}}}", v[0], v[1]),
        None => ptr(addr),
    }
}

/// `pselect6`'s sixth argument: `{sigmask=[...], sigsetsize=N}`.
pub fn pselect_sig(abi: Abi, mem: &mut dyn UserMemory, addr: u64) -> String {
    if addr == 0 {
        return "NULL".into();
    }
    let Some(v) = longs(abi, mem, addr, 2) else {
        return ptr(addr);
    };
    let (ss, len) = (abi.ulong(v[0] as u64), abi.ulong(v[1] as u64));
    let mask = if ss == 0 {
        "NULL".to_string()
    } else {
        super::decode::sigset_at(abi, mem, ss, len)
    };
    format!("{{sigmask={mask}, sigsetsize={len}}}")
}

/// Decorates a successful `select`/`pselect6` result: ` (Timeout)`, or
/// the ready sets (`in`, `out`, `except`) and the time left.
pub fn select_result(
    result: &mut String,
    abi: Abi,
    args: &[u64],
    name: &str,
    mem: &mut dyn UserMemory,
) {
    let get = |i: usize| args.get(i).copied().unwrap_or(0);
    if result == "0" {
        result.push_str(" (Timeout)");
        return;
    }
    let mut parts = Vec::new();
    for (k, label) in [(1, "in"), (2, "out"), (3, "except")] {
        if get(k) == 0 {
            continue;
        }
        let set = fd_set(abi, mem, get(k), get(0));
        if set != "[]" {
            parts.push(format!("{label} {set}"));
        }
    }
    if get(4) != 0 {
        let left = if name.starts_with("pselect6") {
            let wide = name == "pselect6_time64" || abi == Abi::X86_64;
            let w = if wide { 8 } else { 4 };
            let mut b = vec![0u8; 2 * w];
            mem.read(get(4), &mut b).ok().map(|_| {
                let f = |k: usize| {
                    let mut x = [0u8; 8];
                    x[..w].copy_from_slice(&b[k * w..k * w + w]);
                    let v = u64::from_le_bytes(x);
                    if w == 4 {
                        i64::from(v as u32 as i32)
                    } else {
                        v as i64
                    }
                };
                format!("{{tv_sec={}, tv_nsec={}}}", f(0), f(1))
            })
        } else {
            Some(timeval(abi, mem, get(4)))
        };
        if let Some(l) = left {
            parts.push(format!("left {l}"));
        }
    }
    result.push_str(&format!(" ({})", parts.join(", ")));
}
