//! Generated files of `/proc`: `cmdline`, `environ`, `comm`, `status` and
//! `mounts` of the calling process (`/proc/self`, `/proc/thread-self` and
//! `/proc/<own pid>`), and `/proc/meminfo`, `/proc/uptime` and
//! `/proc/mounts`.
//!
//! There is no `/proc` directory in the VFS: like the magic links of
//! `procfd.rs`, these are found when a lookup fails with `ENOENT`. Their
//! contents are generated when the file is opened (`fd::ProcFile`), as
//! Linux's `fs/proc/base.c` generates them at each read:
//! - `cmdline` and `environ` are the bytes between `mm->arg_start` and
//!   `arg_end` (`env_start` and `env_end`) of user memory, as the program
//!   may have rewritten them;
//! - `comm` is the task's name and a newline;
//! - `status` has the first lines of `proc_pid_status` (name, umask,
//!   state, ids, descriptor table size, groups, threads), in Linux's order
//!   and format; the memory, signal and capability lines are left out;
//! - `mounts` lists the VFS's mounts (`tmpfs` for in-memory ones, the
//!   host's filesystem type for host directories);
//! - `meminfo` reports the machine `sysinfo` describes (2 GiB, half of it
//!   free, no swap, no caches);
//! - `uptime` is the modeled monotonic clock (the idle time is 0).
//!
//! Other processes' directories, listing `/proc` and the other global
//! files are not provided (`ENOENT`). The files are mode 0444: opening one for
//! writing is `EACCES`.

use std::sync::Arc;

use super::path::{lexical_abs, own_proc_rest};
use crate::errno::Errno;
use crate::fd::{FileObject, ProcFile};
use crate::personality::Ctx;
use crate::uapi::*;
use crate::vfs::stat::{Attr, makedev};

/// The device number of `/proc` (an anonymous device, as procfs has).
const PROC_DEV: u64 = makedev(0, 0x16);

/// The files of `/proc/<pid>`, in the order their inode numbers follow.
const FILES: [&[u8]; 5] = [b"cmdline", b"environ", b"comm", b"status", b"mounts"];

/// The files of `/proc` itself (inode numbers after those of [`FILES`]).
const GLOBAL: [&[u8]; 3] = [b"meminfo", b"uptime", b"mounts"];

/// The name of the file `abs` names (under the caller's own `/proc/<pid>`
/// or in `/proc`), and its canonical path with the pid spelled out.
fn own_file(ctx: &Ctx<'_>, abs: &[u8]) -> Option<(&'static [u8], Vec<u8>)> {
    let rest = abs.strip_prefix(b"/proc/")?;
    if !rest.contains(&b'/') {
        let file = GLOBAL.iter().copied().find(|f| *f == rest)?;
        let mut path = b"/proc/".to_vec();
        path.extend_from_slice(file);
        return Some((file, path));
    }
    let name = own_proc_rest(ctx, abs)?;
    let file = FILES.iter().copied().find(|f| *f == name)?;
    let mut path = format!("/proc/{}/", ctx.process.pid()).into_bytes();
    path.extend_from_slice(file);
    Some((file, path))
}

/// The attributes of file `name` (a regular file of size 0, as procfs
/// reports).
fn attr(ctx: &Ctx<'_>, name: &[u8]) -> Attr {
    let index = FILES
        .iter()
        .chain(GLOBAL.iter())
        .position(|f| *f == name)
        .unwrap_or(0) as u64;
    let now = ctx.sys.vfs.now();
    Attr {
        dev: PROC_DEV,
        ino: (u64::from(ctx.process.pid()) << 16) | (index + 1),
        mode: S_IFREG | 0o444,
        nlink: 1,
        uid: ctx.process.euid(),
        gid: ctx.process.egid(),
        rdev: 0,
        size: 0,
        blksize: 1024,
        blocks: 0,
        atime: now,
        mtime: now,
        ctime: now,
    }
}

/// The bytes of user memory in `[start, end)`, up to the first page that
/// cannot be read.
fn user_bytes(ctx: &mut Ctx<'_>, (start, end): (u64, u64)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let n = (0x1000 - (at & 0xFFF)).min(end - at) as usize;
        let mut page = vec![0u8; n];
        if ctx.mem.read(at, &mut page).is_err() {
            break;
        }
        out.extend_from_slice(&page);
        at += n as u64;
    }
    out
}

/// The `status` lines the model fills in (`proc_pid_status`).
fn status(ctx: &Ctx<'_>) -> Vec<u8> {
    let p = ctx.process;
    let comm = p.comm();
    let len = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    let name = String::from_utf8_lossy(comm.get(..len).unwrap_or_default()).into_owned();
    let (uids, gids) = (ctx.uids(), ctx.gids());
    // Linux's table starts with 64 slots and doubles as needed.
    let fds = &ctx.task.fds;
    let highest = (0..fds.limit() as i32).rev().find(|&n| fds.is_open(n));
    let fdsize = highest.map_or(64, |h| (h as u32 + 1).next_power_of_two().max(64));
    let mut s = String::new();
    s.push_str(&format!("Name:\t{name}\n"));
    s.push_str(&format!("Umask:\t{:04o}\n", ctx.task.umask));
    s.push_str("State:\tR (running)\n");
    s.push_str(&format!("Tgid:\t{}\n", p.pid()));
    s.push_str("Ngid:\t0\n");
    s.push_str(&format!("Pid:\t{}\n", p.tid()));
    s.push_str(&format!("PPid:\t{}\n", p.ppid()));
    s.push_str("TracerPid:\t0\n");
    s.push_str(&format!(
        "Uid:\t{}\t{}\t{}\t{}\n",
        uids[0], uids[1], uids[2], uids[3]
    ));
    s.push_str(&format!(
        "Gid:\t{}\t{}\t{}\t{}\n",
        gids[0], gids[1], gids[2], gids[3]
    ));
    s.push_str(&format!("FDSize:\t{fdsize}\n"));
    s.push_str("Groups:\t\n");
    s.push_str("Threads:\t1\n");
    s.into_bytes()
}

/// `meminfo`'s lines (`show_val_kb`: the name padded to 16 columns, the
/// value in kB right-aligned in 8).
fn meminfo() -> Vec<u8> {
    let total = super::misc::SYSINFO_TOTALRAM >> 10;
    let free = total / 2;
    let mut s = String::new();
    for (name, kb) in [
        ("MemTotal:", total),
        ("MemFree:", free),
        ("MemAvailable:", free),
        ("Buffers:", 0),
        ("Cached:", 0),
        ("SwapCached:", 0),
        ("SwapTotal:", 0),
        ("SwapFree:", 0),
        ("Shmem:", 0),
    ] {
        s.push_str(&format!("{name:<16}{kb:>8} kB\n"));
    }
    s.into_bytes()
}

/// `uptime`: seconds since boot and idle seconds, two decimals each.
fn uptime(ctx: &Ctx<'_>) -> Vec<u8> {
    let up = ctx.sys.clock.monotonic(ctx.cycles);
    format!("{}.{:02} 0.00\n", up.sec, up.nsec / 10_000_000).into_bytes()
}

/// A path as `mounts` prints it: space, tab, newline and backslash in
/// octal (`mangle_path`).
fn mangle(path: &[u8]) -> String {
    let mut s = String::new();
    for &b in path {
        match b {
            b' ' | b'\t' | b'\n' | b'\\' => s.push_str(&format!("\\{b:03o}")),
            _ => s.push(char::from(b)),
        }
    }
    s
}

/// `mounts`: one line per mount, `source point type options 0 0`.
fn mounts(ctx: &Ctx<'_>) -> Vec<u8> {
    let mut s = String::new();
    for (path, mem, ro) in ctx.sys.vfs.mount_table() {
        let opts = if ro { "ro" } else { "rw" };
        let (source, kind) = if mem {
            ("tmpfs", "tmpfs".to_string())
        } else {
            ("host", host_fs_type(ctx, &path))
        };
        s.push_str(&format!("{source} {} {kind} {opts} 0 0\n", mangle(&path)));
    }
    s.into_bytes()
}

/// The filesystem type of the host directory mounted at `path`, by the
/// magic number its `statfs` reports.
fn host_fs_type(ctx: &Ctx<'_>, path: &[u8]) -> String {
    let cred = ctx.cred();
    let magic = ctx
        .sys
        .vfs
        .walk(b"/", path, true, &cred)
        .and_then(|w| w.existing().and_then(|node| ctx.sys.vfs.statfs(node)))
        .map(|st| st.ftype)
        .unwrap_or(0);
    match magic {
        0xEF53 => "ext4",
        0x794C_7630 => "overlay",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x6969 => "nfs",
        0x6573_5546 => "fuse",
        _ => "unknown",
    }
    .to_string()
}

/// The contents of file `name`.
fn contents(ctx: &mut Ctx<'_>, name: &[u8]) -> Vec<u8> {
    let areas = ctx.process.arg_areas();
    match name {
        b"cmdline" => areas.map_or_else(Vec::new, |[args, _]| user_bytes(ctx, args)),
        b"environ" => areas.map_or_else(Vec::new, |[_, env]| user_bytes(ctx, env)),
        b"comm" => {
            let comm = ctx.process.comm();
            let len = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
            let mut v = comm.get(..len).unwrap_or_default().to_vec();
            v.push(b'\n');
            v
        }
        b"meminfo" => meminfo(),
        b"uptime" => uptime(ctx),
        b"mounts" => mounts(ctx),
        _ => status(ctx),
    }
}

/// `open` of a path that failed with `ENOENT`: `None` if it is not one of
/// these files, else the new description's object.
pub(super) fn open(
    ctx: &mut Ctx<'_>,
    base: &[u8],
    path: &[u8],
    flags: u32,
) -> Option<Result<FileObject, Errno>> {
    let (name, canonical) = own_file(ctx, &lexical_abs(base, path))?;
    if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL {
        return Some(Err(Errno::EEXIST));
    }
    if flags & O_DIRECTORY != 0 {
        return Some(Err(Errno::ENOTDIR));
    }
    if flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0 {
        return Some(Err(Errno::EACCES));
    }
    let data: Arc<[u8]> = contents(ctx, name).into();
    Some(Ok(FileObject::Proc(ProcFile {
        path: canonical,
        data,
    })))
}

/// `stat` of a path that failed with `ENOENT`: `None` if it is not one of
/// these files, else its attributes.
pub(super) fn stat(ctx: &Ctx<'_>, base: &[u8], path: &[u8]) -> Option<Attr> {
    let (name, _) = own_file(ctx, &lexical_abs(base, path))?;
    Some(attr(ctx, name))
}

/// The attributes of an open file of these (for `fstat`).
pub(super) fn fstat(ctx: &Ctx<'_>, f: &ProcFile) -> Attr {
    let name = f.path.rsplit(|&b| b == b'/').next().unwrap_or_default();
    attr(ctx, name)
}

/// `access` of a path that failed with `ENOENT`: `None` if it is not one
/// of these files, else the answer for `mode` (read only).
pub(super) fn access(
    ctx: &Ctx<'_>,
    base: &[u8],
    path: &[u8],
    mode: u32,
) -> Option<Result<(), Errno>> {
    own_file(ctx, &lexical_abs(base, path))?;
    Some(if mode & (W_OK | X_OK) != 0 {
        Err(Errno::EACCES)
    } else {
        Ok(())
    })
}
