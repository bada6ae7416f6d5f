//! Test harness: a personality with a captured console, a fake user memory
//! and a fixed process, plus helpers to make calls by name.

use std::sync::{Arc, Mutex};

use crate::abi::Abi;
use crate::console::{Captured, Console};
use crate::errno::Errno;
use crate::personality::{Dispatch, Personality, SimpleProcess, SyscallEnv, TaskFiles};
use crate::uaccess::{UserMemory, VecMemory};

/// Where tests put strings.
pub const STR: u64 = 0x10000;
/// Where tests put output buffers.
pub const BUF: u64 = 0x20000;
/// A second output area.
pub const BUF2: u64 = 0x28000;
/// An address that is never mapped.
pub const BAD: u64 = 0xdead_0000;

pub struct T {
    pub sys: Personality,
    pub task: TaskFiles,
    pub mem: VecMemory,
    pub proc: SimpleProcess,
    pub cap: Captured,
    pub abi: Abi,
    pub cycles: u64,
    pub lines: Arc<Mutex<Vec<String>>>,
    next_str: u64,
}

impl T {
    pub fn new(abi: Abi) -> T {
        T::with_stdin(abi, b"")
    }

    pub fn with_stdin(abi: Abi, stdin: &[u8]) -> T {
        let (console, cap) = Console::capture(stdin);
        let mut sys = Personality::new(console);
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l2 = lines.clone();
        sys.set_strace(Some(Box::new(move |s: &str| {
            l2.lock().unwrap().push(s.to_string())
        })));
        let mut mem = VecMemory::new();
        mem.map(STR, 0x10000, true);
        mem.map(BUF, 0x10000, true);
        let mut proc = SimpleProcess::new(42, "test");
        proc.ppid = 1;
        proc.exe = Some(b"/bin/test".to_vec());
        T {
            sys,
            task: TaskFiles::new(),
            mem,
            proc,
            cap,
            abi,
            cycles: 0,
            lines,
            next_str: STR,
        }
    }

    /// The number of call `name` in this ABI.
    pub fn nr(&self, name: &str) -> u32 {
        self.sys
            .table(self.abi)
            .number(name)
            .unwrap_or_else(|| panic!("no call {name}"))
    }

    pub fn dispatch(&mut self, name: &str, args: &[u64]) -> Dispatch {
        let nr = self.nr(name);
        self.dispatch_nr(u64::from(nr), args)
    }

    pub fn dispatch_nr(&mut self, nr: u64, args: &[u64]) -> Dispatch {
        let mut a = [0u64; 6];
        for (d, s) in a.iter_mut().zip(args) {
            *d = *s;
        }
        let env = SyscallEnv {
            task: &mut self.task,
            mem: &mut self.mem,
            process: &self.proc,
            mechanism: crate::audit::EntryMechanism::Direct,
            cycles: self.cycles,
        };
        self.sys.syscall(self.abi, nr, a, env).dispatch
    }

    /// Calls `name` and returns its value (panics unless it returned).
    pub fn call(&mut self, name: &str, args: &[u64]) -> i64 {
        match self.dispatch(name, args) {
            Dispatch::Return(v) => v,
            other => panic!("{name}: expected a return, got {other:?}"),
        }
    }

    /// Calls `name` expecting success.
    pub fn ok(&mut self, name: &str, args: &[u64]) -> i64 {
        let r = self.call(name, args);
        assert!(
            Errno::from_return(r).is_none(),
            "{name}{args:?} failed: {r} ({:?})",
            Errno::from_return(r)
        );
        r
    }

    /// Calls `name` expecting `errno`.
    pub fn err(&mut self, name: &str, args: &[u64], errno: Errno) {
        let r = self.call(name, args);
        assert_eq!(
            Errno::from_return(r),
            Some(errno),
            "{name}{args:?} returned {r}"
        );
    }

    /// Puts a NUL-terminated string in memory and returns its address.
    pub fn s(&mut self, s: &str) -> u64 {
        self.bytes(s.as_bytes(), true)
    }

    /// Puts bytes (optionally NUL-terminated) in memory; returns the address.
    pub fn bytes(&mut self, b: &[u8], nul: bool) -> u64 {
        let addr = self.next_str;
        self.mem.poke(addr, b).unwrap();
        let mut end = addr + b.len() as u64;
        if nul {
            self.mem.poke(end, &[0]).unwrap();
            end += 1;
        }
        self.next_str = (end + 7) & !7;
        addr
    }

    pub fn read(&mut self, addr: u64, len: usize) -> Vec<u8> {
        self.mem.peek(addr, len).unwrap()
    }

    pub fn u32_at(&mut self, addr: u64) -> u32 {
        let b = self.read(addr, 4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn i32_at(&mut self, addr: u64) -> i32 {
        self.u32_at(addr) as i32
    }

    pub fn u64_at(&mut self, addr: u64) -> u64 {
        let b = self.read(addr, 8);
        u64::from_le_bytes(b.try_into().unwrap())
    }

    pub fn write_mem(&mut self, addr: u64, data: &[u8]) {
        self.mem.write(addr, data).unwrap();
    }

    /// The last strace line.
    pub fn last_line(&mut self) -> String {
        self.lines
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }

    /// Opens `path` with `flags` (and mode 0644), expecting success.
    pub fn open(&mut self, path: &str, flags: u32) -> i64 {
        let p = self.s(path);
        self.ok("openat", &[FDCWD, p, u64::from(flags), 0o644])
    }
}

/// The two ABIs, for tests that run on both.
pub const ABIS: [Abi; 2] = [Abi::X86_64, Abi::I386];

/// Negative `-100` (`AT_FDCWD`) as a register value.
pub const FDCWD: u64 = (-100i64) as u64;
