//! The audit log, after the seed's "system-call log collection system"
//! (`syscall_audit` 335, `myaudit` 336, `test_syscall.c`).
//!
//! Every call whose name passes the [`AuditFilter`] (by default the seed's
//! set: `open`, `close`, `getpid`, `clone`, `fork`, `execve` — by name, so
//! the same filter serves both ABIs) is recorded with a serial number, the
//! modeled time, number, name, arguments, return value, pid, uid, `comm`,
//! the entry mechanism and the cycles per phase (filled in later by the
//! machine layer with [`AuditLog::set_cycles`]). Records go to a bounded
//! ring buffer (100 by default); when it fills to the watermark (80%) the
//! embedder's callback runs, as the seed's module woke its collector.
//!
//! # Guest-visible calls (x86_64 numbers 335 and 336, the seed's)
//! - `syscall_audit(int syscall, int return_value)`: records a call named
//!   by the guest (the seed's `my_audit` hook), regardless of the filter;
//!   returns 0.
//! - `myaudit(u8 type, u8 *buf, u16 size, u8 reset)`: for `type == 0`,
//!   zeroes `size` bytes at `buf` (`clear_user`), waits until the buffer
//!   holds at least the watermark (the seed's `wait_event_interruptible`;
//!   here [`Dispatch::Block`](crate::personality::Dispatch::Block), or no
//!   waiting when [`AuditConfig::myaudit_blocks`] is off), copies the oldest
//!   records in the seed's `struct syscall_buf` layout ([`SEED_RECORD_SIZE`]
//!   bytes each, see [`encode_seed_record`]) and returns how many. Any other
//!   `type` returns 0, as in the seed.
//!
//! Deliberate differences from the seed's module, which had bugs: it copied
//! `current_pos * sizeof(struct syscall_buf)` bytes whatever `size` was
//! (`test_syscall.c` passes room for 20 records while up to 100 may be
//! waiting: an overflow); here at most `size / 56` records are copied, and
//! only those leave the buffer — unless `reset` is non-zero, in which case
//! the rest are discarded too, which is what the seed's `current_pos = 0`
//! did (`test_syscall.c` passes `reset = 1`). Faults return `-EFAULT`
//! rather than 0. The seed stored `current->tgid` in the `uid` field; the
//! real uid is stored here.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::io::Write;

use serde::{Serialize, Serializer};

use crate::abi::Abi;
use crate::personality::ProcessInfo;
use crate::strace::Completed;
use crate::time::Timespec;

/// How a system call entered the kernel.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub enum EntryMechanism {
    /// `syscall` from 64-bit code (`entry_SYSCALL_64`).
    #[serde(rename = "syscall")]
    Syscall64,
    /// `int $0x80` (`entry_INT80_32` or `entry_INT80_compat`).
    #[serde(rename = "int80")]
    Int80,
    /// `sysenter` (`entry_SYSENTER_32` or `entry_SYSENTER_compat`).
    #[serde(rename = "sysenter")]
    Sysenter,
    /// `syscall` from 32-bit code on AMD (`entry_SYSCALL_compat`).
    #[serde(rename = "syscall32")]
    SyscallCompat,
    /// The legacy vsyscall page (emulated).
    #[serde(rename = "vsyscall")]
    Vsyscall,
    /// Called from the host, not from a guest (tests, tools).
    #[serde(rename = "direct")]
    Direct,
}

impl EntryMechanism {
    /// The short name (`syscall`, `int80`, `sysenter`, `syscall32`,
    /// `vsyscall`, `direct`), matching the machine layer's names.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryMechanism::Syscall64 => "syscall",
            EntryMechanism::Int80 => "int80",
            EntryMechanism::Sysenter => "sysenter",
            EntryMechanism::SyscallCompat => "syscall32",
            EntryMechanism::Vsyscall => "vsyscall",
            EntryMechanism::Direct => "direct",
        }
    }

    /// Parses a short name.
    pub fn from_name(s: &str) -> Option<EntryMechanism> {
        [
            EntryMechanism::Syscall64,
            EntryMechanism::Int80,
            EntryMechanism::Sysenter,
            EntryMechanism::SyscallCompat,
            EntryMechanism::Vsyscall,
            EntryMechanism::Direct,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

impl fmt::Display for EntryMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Modeled cycles of one call, by phase (filled by the machine layer).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
pub struct PhaseCycles {
    /// User-mode stub (`__kernel_vsyscall`, libc wrapper).
    pub user_stub: u64,
    /// Hardware entry (`syscall`, `sysenter`, `int`).
    pub hw_entry: u64,
    /// Kernel entry stub up to the dispatcher.
    pub entry_stub: u64,
    /// The handler.
    pub handler: u64,
    /// Kernel exit stub.
    pub exit_stub: u64,
    /// Hardware exit (`sysret`, `sysexit`, `iret`).
    pub hw_exit: u64,
}

impl PhaseCycles {
    /// The sum of all phases (saturating).
    pub fn total(&self) -> u64 {
        [
            self.user_stub,
            self.hw_entry,
            self.entry_stub,
            self.handler,
            self.exit_stub,
            self.hw_exit,
        ]
        .iter()
        .fold(0u64, |a, &b| a.saturating_add(b))
    }
}

fn comm_string(c: &[u8; 16]) -> String {
    let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
    String::from_utf8_lossy(c.get(..end).unwrap_or_default()).into_owned()
}

fn ser_comm<S: Serializer>(c: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&comm_string(c))
}

/// One audit record.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct AuditRecord {
    /// Serial number (counts every record ever stored, from 0).
    pub serial: u32,
    /// Modeled wall-clock seconds.
    pub ts_sec: u64,
    /// Modeled microseconds within the second.
    pub ts_usec: u32,
    /// The ABI of the call.
    pub abi: Abi,
    /// Call number.
    pub nr: u32,
    /// Call name.
    pub name: String,
    /// Arguments (as many as the call takes).
    pub args: Vec<u64>,
    /// Return value (negative errno on failure; 0 for calls that did not
    /// return).
    pub ret: i64,
    /// Process id.
    pub pid: u32,
    /// User id.
    pub uid: u32,
    /// Command name.
    #[serde(serialize_with = "ser_comm")]
    pub comm: [u8; 16],
    /// Entry mechanism.
    pub mechanism: EntryMechanism,
    /// Cycles per phase.
    pub cycles: PhaseCycles,
    /// The call as strace shows it (`open("x", O_RDONLY)`), when captured.
    pub call: Option<String>,
    /// The result as strace shows it.
    pub result: String,
}

impl AuditRecord {
    /// `comm` as a string (up to its NUL).
    pub fn comm_str(&self) -> String {
        comm_string(&self.comm)
    }

    /// One JSON object, no newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// strace-style text: `serial sec.usec comm[pid] uid=U mechanism call = result`.
    pub fn to_text(&self) -> String {
        let call = self
            .call
            .clone()
            .unwrap_or_else(|| format!("{}()", self.name));
        format!(
            "{} {}.{:06} {}[{}] uid={} {} {} = {}",
            self.serial,
            self.ts_sec,
            self.ts_usec,
            self.comm_str(),
            self.pid,
            self.uid,
            self.mechanism,
            call,
            self.result
        )
    }
}

/// Size of the seed's `struct syscall_buf` on x86_64: u32 serial, (pad),
/// u64 ts_sec, u64 ts_micro, u32 syscall, u32 status, pid_t pid, uid_t uid,
/// `u8 comm[16]` — 56 bytes with natural alignment.
pub const SEED_RECORD_SIZE: usize = 56;

/// Encodes a record in the seed's `struct syscall_buf` layout, which
/// `test_syscall.c` reads: serial at 0, ts_sec at 8, ts_micro at 16,
/// syscall at 24, status (the return value, truncated) at 28, pid at 32,
/// uid at 36, comm at 40.
pub fn encode_seed_record(r: &AuditRecord) -> [u8; SEED_RECORD_SIZE] {
    let mut b = [0u8; SEED_RECORD_SIZE];
    b[0..4].copy_from_slice(&r.serial.to_le_bytes());
    b[8..16].copy_from_slice(&r.ts_sec.to_le_bytes());
    b[16..24].copy_from_slice(&u64::from(r.ts_usec).to_le_bytes());
    b[24..28].copy_from_slice(&r.nr.to_le_bytes());
    b[28..32].copy_from_slice(&(r.ret as u32).to_le_bytes());
    b[32..36].copy_from_slice(&r.pid.to_le_bytes());
    b[36..40].copy_from_slice(&r.uid.to_le_bytes());
    b[40..56].copy_from_slice(&r.comm);
    b
}

/// Which calls are recorded.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum AuditFilter {
    /// Every call.
    All,
    /// Calls with these names (empty: none).
    Names(BTreeSet<String>),
}

impl AuditFilter {
    /// The seed's set: `open`, `close`, `getpid`, `clone`, `fork`, `execve`.
    pub fn seed_default() -> AuditFilter {
        AuditFilter::names(["open", "close", "getpid", "clone", "fork", "execve"])
    }

    /// A filter accepting the given names.
    pub fn names<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> AuditFilter {
        AuditFilter::Names(names.into_iter().map(Into::into).collect())
    }

    /// True if calls named `name` are recorded.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            AuditFilter::All => true,
            AuditFilter::Names(n) => n.contains(name),
        }
    }
}

/// What happens to a record arriving at a full buffer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Overflow {
    /// A ring: the oldest record is overwritten (counted in
    /// [`AuditLog::lost`]).
    DropOldest,
    /// The new record is dropped, as the seed's module did.
    DropNewest,
}

/// Audit configuration.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditConfig {
    /// Capacity in records (at least 1; default 100, the seed's
    /// `AUDIT_BUF_SIZE`).
    pub capacity: usize,
    /// Watermark in percent of the capacity (default 80).
    pub watermark_percent: u32,
    /// Which calls are recorded.
    pub filter: AuditFilter,
    /// Behaviour when full.
    pub overflow: Overflow,
    /// Whether `myaudit` waits for the watermark as in the seed (default);
    /// when off it returns whatever is there at once.
    pub myaudit_blocks: bool,
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            capacity: 100,
            watermark_percent: 80,
            filter: AuditFilter::seed_default(),
            overflow: Overflow::DropOldest,
            myaudit_blocks: true,
        }
    }
}

/// The watermark callback: called with (records held, capacity).
pub type WatermarkFn = Box<dyn FnMut(usize, usize) + Send>;

/// The audit log.
pub struct AuditLog {
    config: AuditConfig,
    records: VecDeque<AuditRecord>,
    next_serial: u32,
    lost: u64,
    callback: Option<WatermarkFn>,
    fired: bool,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("config", &self.config)
            .field("len", &self.records.len())
            .field("next_serial", &self.next_serial)
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// An empty log.
    pub fn new(mut config: AuditConfig) -> AuditLog {
        config.capacity = config.capacity.max(1);
        AuditLog {
            config,
            records: VecDeque::new(),
            next_serial: 0,
            lost: 0,
            callback: None,
            fired: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AuditConfig {
        &self.config
    }

    /// Replaces the filter.
    pub fn set_filter(&mut self, filter: AuditFilter) {
        self.config.filter = filter;
    }

    /// Sets whether `myaudit` waits for the watermark.
    pub fn set_myaudit_blocks(&mut self, on: bool) {
        self.config.myaudit_blocks = on;
    }

    /// Sets the watermark callback.
    pub fn set_watermark_callback(&mut self, f: Option<WatermarkFn>) {
        self.callback = f;
    }

    /// True if calls named `name` are recorded.
    pub fn wants(&self, name: &str) -> bool {
        self.config.filter.matches(name)
    }

    /// Capacity in records.
    pub fn capacity(&self) -> usize {
        self.config.capacity
    }

    /// The watermark in records (`capacity * percent / 100`, at least 1).
    pub fn watermark(&self) -> usize {
        let pct = self.config.watermark_percent.min(100) as usize;
        (self.config.capacity * pct / 100).max(1)
    }

    /// True if the buffer holds at least the watermark.
    pub fn at_watermark(&self) -> bool {
        self.records.len() >= self.watermark()
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True if no records are held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records overwritten or dropped because the buffer was full.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The records held, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &AuditRecord> {
        self.records.iter()
    }

    /// Stores a record (its serial is assigned here); returns the serial,
    /// or `None` if it was dropped (`Overflow::DropNewest` when full).
    pub fn push(&mut self, mut rec: AuditRecord) -> Option<u32> {
        if self.records.len() >= self.config.capacity {
            self.lost += 1;
            match self.config.overflow {
                Overflow::DropNewest => return None,
                Overflow::DropOldest => {
                    self.records.pop_front();
                }
            }
        }
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        rec.serial = serial;
        self.records.push_back(rec);
        if self.at_watermark() {
            if !self.fired {
                self.fired = true;
                let (len, cap) = (self.records.len(), self.config.capacity);
                if let Some(cb) = &mut self.callback {
                    cb(len, cap);
                }
            }
        } else {
            self.fired = false;
        }
        Some(serial)
    }

    /// Records a completed call for `process`.
    pub fn record_call(
        &mut self,
        done: &Completed,
        ts: Timespec,
        process: &dyn ProcessInfo,
        mechanism: EntryMechanism,
    ) -> Option<u32> {
        self.push(AuditRecord {
            serial: 0,
            ts_sec: u64::try_from(ts.sec).unwrap_or(0),
            ts_usec: ts.usec(),
            abi: done.abi,
            nr: done.nr,
            name: done.name.clone(),
            args: done.args.clone(),
            ret: done.ret.unwrap_or(0),
            pid: process.pid(),
            uid: process.uid(),
            comm: process.comm(),
            mechanism,
            cycles: PhaseCycles::default(),
            call: Some(done.call.clone()),
            result: done.result.clone(),
        })
    }

    /// Fills in the cycles of record `serial`; false if it is gone.
    pub fn set_cycles(&mut self, serial: u32, cycles: PhaseCycles) -> bool {
        // Records are held in serial order with consecutive serials, so
        // the record is found by its distance from the oldest one.
        let at = self
            .records
            .front()
            .map(|f| serial.wrapping_sub(f.serial) as usize);
        if let Some(r) = at.and_then(|k| self.records.get_mut(k))
            && r.serial == serial
        {
            r.cycles = cycles;
            return true;
        }
        match self.records.iter_mut().find(|r| r.serial == serial) {
            Some(r) => {
                r.cycles = cycles;
                true
            }
            None => false,
        }
    }

    fn rearm(&mut self) {
        if !self.at_watermark() {
            self.fired = false;
        }
    }

    /// Removes and returns up to `max` records, oldest first.
    pub fn drain(&mut self, max: usize) -> Vec<AuditRecord> {
        let n = max.min(self.records.len());
        let out = self.records.drain(..n).collect();
        self.rearm();
        out
    }

    /// Discards every record held.
    pub fn clear(&mut self) {
        self.records.clear();
        self.rearm();
    }

    /// The records held as JSON Lines (one object per line).
    pub fn to_jsonl(&self) -> String {
        let mut s = String::new();
        for r in &self.records {
            s.push_str(&r.to_json());
            s.push('\n');
        }
        s
    }

    /// Writes the records held as JSON Lines.
    pub fn write_jsonl(&self, w: &mut dyn Write) -> std::io::Result<()> {
        for r in &self.records {
            serde_json::to_writer(&mut *w, r).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    /// The records held as strace-style text, one per line.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for r in &self.records {
            s.push_str(&r.to_text());
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests;
