//! Calls that name another process by pid: `getpgid`, `getsid`,
//! `setpgid`, `getpriority`, `setpriority` (kernel/sys.c), served from the
//! tasks' [`TaskIds`](crate::personality::TaskIds) (the personality layer
//! keeps them; only the machine layer sees every task). A zombie keeps
//! its ids until reaped, as Linux's pid lookup finds it. "Privileged" is
//! an effective uid of 0.

use super::Machine;
use super::process::State;
use super::ret::{EACCES, EINVAL, EPERM, ESRCH};

impl Machine {
    /// The task `pid` names (0: the caller).
    fn target(&self, pid: i32) -> Option<u32> {
        let pid = if pid == 0 { self.current } else { pid as u32 };
        (pid as i32 > 0 && self.tasks.contains_key(&pid)).then_some(pid)
    }

    fn euid_of(&self, pid: u32) -> u32 {
        self.tasks
            .get(&pid)
            .and_then(|t| t.files.ids.uid)
            .map_or(0, |u| u[1])
    }

    /// `getpgid(pid)`.
    pub(crate) fn sys_getpgid(&mut self, pid: u64) -> i64 {
        match self.target(pid as i32) {
            Some(p) => i64::from(self.tasks[&p].files.ids.pgid),
            None => ESRCH,
        }
    }

    /// `getsid(pid)`.
    pub(crate) fn sys_getsid(&mut self, pid: u64) -> i64 {
        match self.target(pid as i32) {
            Some(p) => i64::from(self.tasks[&p].files.ids.sid),
            None => ESRCH,
        }
    }

    /// `setpgid(pid, pgid)`: the caller or one of its children, within
    /// the caller's session.
    pub(crate) fn sys_setpgid(&mut self, pid: u64, pgid: u64) -> i64 {
        let me = self.current;
        let pgid = pgid as i32;
        if pgid < 0 {
            return EINVAL;
        }
        let Some(p) = self.target(pid as i32) else {
            return ESRCH;
        };
        let pgid = if pgid == 0 { p } else { pgid as u32 };
        let my_sid = self.tasks[&me].files.ids.sid;
        let t = &self.tasks[&p];
        if p != me {
            if t.ppid != me || matches!(t.state, State::Zombie(_)) {
                return ESRCH;
            }
            if t.files.ids.execed {
                return EACCES;
            }
            if t.files.ids.sid != my_sid {
                return EPERM;
            }
        }
        if t.files.ids.sid == p {
            return EPERM;
        }
        if pgid != p
            && !self
                .tasks
                .values()
                .any(|o| o.files.ids.pgid == pgid && o.files.ids.sid == my_sid)
        {
            return EPERM;
        }
        if let Some(t) = self.tasks.get_mut(&p) {
            t.files.ids.pgid = pgid;
        }
        0
    }

    /// The live tasks `(which, who)` selects (`None`: bad `which`).
    fn prio_targets(&self, which: u64, who: u64) -> Option<Vec<u32>> {
        let who = who as i32;
        let me = self.current;
        let live = |t: &&super::process::Task| !matches!(t.state, State::Zombie(_));
        Some(match which as i32 {
            0 => self.target(who).into_iter().collect(),
            1 => {
                let g = if who == 0 {
                    self.tasks[&me].files.ids.pgid
                } else {
                    who as u32
                };
                self.tasks
                    .values()
                    .filter(live)
                    .filter(|t| t.files.ids.pgid == g)
                    .map(|t| t.pid)
                    .collect()
            }
            2 => {
                let u = if who == 0 {
                    self.euid_of(me)
                } else {
                    who as u32
                };
                self.tasks
                    .values()
                    .filter(live)
                    .filter(|t| t.files.ids.uid.map_or(0, |x| x[1]) == u)
                    .map(|t| t.pid)
                    .collect()
            }
            _ => return None,
        })
    }

    /// `getpriority(which, who)`: the highest `20 - nice` of the selected
    /// tasks.
    pub(crate) fn sys_getpriority(&mut self, which: u64, who: u64) -> i64 {
        let Some(ts) = self.prio_targets(which, who) else {
            return EINVAL;
        };
        ts.iter()
            .map(|p| i64::from(20 - self.tasks[p].files.ids.nice))
            .max()
            .unwrap_or(ESRCH)
    }

    /// `setpriority(which, who, niceval)`: `EPERM` for another user's
    /// task, `EACCES` for lowering the nice value, unless privileged.
    pub(crate) fn sys_setpriority(&mut self, which: u64, who: u64, nice: u64) -> i64 {
        let Some(ts) = self.prio_targets(which, who) else {
            return EINVAL;
        };
        if ts.is_empty() {
            return ESRCH;
        }
        let nice = i64::from(nice as i32).clamp(-20, 19) as i32;
        let me = self.euid_of(self.current);
        let mut err = 0;
        for p in ts {
            let owner = self.euid_of(p);
            let Some(t) = self.tasks.get_mut(&p) else {
                continue;
            };
            if me != 0 && owner != me {
                err = EPERM;
            } else if me != 0 && nice < t.files.ids.nice {
                err = EACCES;
            } else {
                t.files.ids.nice = nice;
            }
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::elf;
    use super::super::{Config, Flavor};
    use super::*;

    /// pid 1 and a forked child 2 (same session and group as pid 1).
    fn machine() -> Machine {
        let mut m = Machine::new(Config {
            flavor: Flavor::X86_64,
            ..Config::default()
        })
        .unwrap();
        m.spawn(&elf(64, 0x40_0000, &[0xf4]), &["t"], &[]).unwrap();
        m
    }

    #[test]
    fn groups_sessions_priorities_of_one_task() {
        let mut m = machine();
        let me = m.current;
        assert_eq!(m.sys_getpgid(0), 1);
        assert_eq!(m.sys_getsid(u64::from(me)), 1);
        assert_eq!(m.sys_getpgid(999), ESRCH);
        assert_eq!(m.sys_getsid((-1i64) as u64), ESRCH);
        // pid 1 leads its session: setpgid is EPERM.
        assert_eq!(m.sys_setpgid(0, 0), EPERM);
        assert_eq!(m.sys_setpgid(0, (-1i64) as u64), EINVAL);
        assert_eq!(m.sys_setpgid(999, 0), ESRCH);
        assert_eq!(m.sys_getpriority(0, 0), 20);
        assert_eq!(m.sys_setpriority(0, 0, 5), 0);
        assert_eq!(m.sys_getpriority(0, u64::from(me)), 15);
        assert_eq!(m.sys_getpriority(1, 0), 15);
        assert_eq!(m.sys_getpriority(2, 0), 15);
        assert_eq!(m.sys_getpriority(2, 1000), ESRCH);
        assert_eq!(m.sys_getpriority(3, 0), EINVAL);
        assert_eq!(m.sys_setpriority(0, 999, 0), ESRCH);
        // Unprivileged: lowering is EACCES.
        m.tasks.get_mut(&me).unwrap().files.ids.uid = Some([1000; 4]);
        assert_eq!(m.sys_setpriority(0, 0, 0), EACCES);
        assert_eq!(m.sys_setpriority(0, 0, 19), 0);
        assert_eq!(m.sys_getpriority(0, 0), 1);
    }
}
