//! The seed's guest-visible audit calls on x86_64: `syscall_audit` (335)
//! and `myaudit` (336). Semantics and deliberate differences are described
//! in [`crate::audit`].

use crate::abi::arg_int;
use crate::audit::{AuditRecord, PhaseCycles, SEED_RECORD_SIZE, encode_seed_record};
use crate::errno::Errno;
use crate::personality::{Ctx, SysError, SysResult, Wait};
use crate::strace::format_ret;
use crate::syscalls::table::Ret;
use crate::uaccess::clear_user;

/// `syscall_audit(int syscall, int return_value)`: records `syscall` with
/// `return_value` for the calling process, whatever the filter; returns 0.
pub(crate) fn sys_syscall_audit(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let nr = arg_int(a[0]) as u32;
    let ret = i64::from(arg_int(a[1]));
    let name = ctx
        .sys
        .table(ctx.abi)
        .name(nr)
        .map(str::to_string)
        .unwrap_or_else(|| format!("syscall_{nr:#x}"));
    let ts = ctx.sys.clock.realtime(ctx.cycles);
    let rec = AuditRecord {
        serial: 0,
        ts_sec: u64::try_from(ts.sec).unwrap_or(0),
        ts_usec: ts.usec(),
        abi: ctx.abi,
        nr,
        name,
        args: Vec::new(),
        ret,
        pid: ctx.process.pid(),
        uid: ctx.process.uid(),
        comm: ctx.process.comm(),
        mechanism: ctx.mechanism,
        cycles: PhaseCycles::default(),
        call: None,
        result: format_ret(Ret::Int, Some(ret), &[]),
    };
    ctx.sys.audit.push(rec);
    Ok(0)
}

/// `myaudit(u8 type, u8 *buf, u16 size, u8 reset)`: drains records to the
/// guest in the seed's layout; returns how many were copied.
pub(crate) fn sys_myaudit(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let ty = a[0] as u8;
    let buf = a[1];
    let size = u64::from(a[2] as u16);
    let reset = a[3] as u8 != 0;
    if ty != 0 {
        return Ok(0);
    }
    clear_user(ctx.mem, buf, size)?;
    let log = &mut ctx.sys.audit;
    if log.config().myaudit_blocks && !log.at_watermark() {
        return Err(SysError::Block(Wait::AuditWatermark));
    }
    let room = usize::try_from(size).unwrap_or(0) / SEED_RECORD_SIZE;
    let take = room.min(log.len());
    let mut bytes = Vec::with_capacity(take * SEED_RECORD_SIZE);
    for r in log.records().take(take) {
        bytes.extend_from_slice(&encode_seed_record(r));
    }
    if ctx.mem.write(buf, &bytes).is_err() {
        return Err(Errno::EFAULT.into());
    }
    let log = &mut ctx.sys.audit;
    log.drain(take);
    if reset {
        log.clear();
    }
    Ok(take as i64)
}
