//! Generated files of `/proc/<pid>` for the calling process (`/proc/self`,
//! `/proc/thread-self` and `/proc/<own pid>`): `cmdline`, `environ`,
//! `comm` and `status`.
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
//!   and format; the memory, signal and capability lines are left out.
//!
//! Other processes' directories, `/proc` itself and the global files are
//! not provided (`ENOENT`). The files are mode 0444: opening one for
//! writing is `EACCES`.

use std::sync::Arc;

use super::path::lexical_abs;
use crate::errno::Errno;
use crate::fd::{FileObject, ProcFile};
use crate::personality::Ctx;
use crate::uapi::*;
use crate::vfs::stat::{Attr, makedev};

/// The device number of `/proc` (an anonymous device, as procfs has).
const PROC_DEV: u64 = makedev(0, 0x16);

/// The files, in the order their inode numbers follow.
const FILES: [&[u8]; 4] = [b"cmdline", b"environ", b"comm", b"status"];

/// The name of the file `abs` names under the caller's own `/proc/<pid>`,
/// and its canonical path with the pid spelled out.
fn own_file(ctx: &Ctx<'_>, abs: &[u8]) -> Option<(&'static [u8], Vec<u8>)> {
    let rest = abs.strip_prefix(b"/proc/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (who, name) = (rest.get(..slash)?, rest.get(slash + 1..)?);
    let pid = ctx.process.pid().to_string();
    if who != b"self" && who != b"thread-self" && who != pid.as_bytes() {
        return None;
    }
    let file = FILES.iter().copied().find(|f| *f == name)?;
    let mut path = format!("/proc/{pid}/").into_bytes();
    path.extend_from_slice(file);
    Some((file, path))
}

/// The attributes of file `name` (a regular file of size 0, as procfs
/// reports).
fn attr(ctx: &Ctx<'_>, name: &[u8]) -> Attr {
    let index = FILES.iter().position(|f| *f == name).unwrap_or(0) as u64;
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
