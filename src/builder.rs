//! [`MachineBuilder`]: the embedding entry point — choose the kernel
//! flavor, vendor, mechanism, cycle profile, files and program, and get a
//! booted [`Machine`] with the program loaded, ready to `run` or `step`.

use sysgate_cpu::{CycleModel, Vendor};
use sysgate_kernel_model::console::{Captured, Console};
use sysgate_kernel_model::machine::{Config, Flavor, KernelError, Machine, Vsyscall32};

/// Why a machine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No program was given.
    #[error("no program given")]
    NoProgram,
    /// The name is neither a built-in guest nor readable file.
    #[error("unknown program {0:?}")]
    UnknownProgram(String),
    /// The cycle-model profile does not exist.
    #[error("unknown cycle-model profile {0:?}")]
    UnknownProfile(String),
    /// Booting or loading failed.
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// Builds a [`Machine`].
///
/// ```
/// let mut m = sysgate::MachineBuilder::new().guest("hello-syscall64").build().unwrap();
/// assert_eq!(m.run(1_000_000).unwrap().code(), 0);
/// assert_eq!(m.stdout(), b"Hello, world!\n");
/// ```
#[derive(Default)]
pub struct MachineBuilder {
    config: Config,
    profile: Option<String>,
    program: Option<Vec<u8>>,
    program_name: Option<String>,
    args: Vec<String>,
    env: Vec<String>,
    files: Vec<(String, Vec<u8>, u32)>,
    console: Option<Console>,
    install_guests: bool,
}

impl MachineBuilder {
    /// x86_64 kernel, Intel, the mechanism Linux would choose, `skylake`.
    pub fn new() -> MachineBuilder {
        MachineBuilder {
            install_guests: true,
            ..MachineBuilder::default()
        }
    }

    /// The kernel flavor.
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.config.flavor = flavor;
        self
    }

    /// The CPU vendor.
    pub fn vendor(mut self, vendor: Vendor) -> Self {
        self.config.vendor = vendor;
        self
    }

    /// The mechanism of 32-bit `__kernel_vsyscall`.
    pub fn vsyscall32(mut self, mech: Vsyscall32) -> Self {
        self.config.vsyscall32 = Some(mech);
        self
    }

    /// Guest RAM in bytes.
    pub fn ram(mut self, bytes: u64) -> Self {
        self.config.ram = bytes;
        self
    }

    /// The cycle-model profile by name.
    pub fn profile(mut self, name: &str) -> Self {
        self.profile = Some(name.to_string());
        self
    }

    /// The program as ELF bytes.
    pub fn program(mut self, elf: Vec<u8>) -> Self {
        self.program = Some(elf);
        self
    }

    /// A built-in guest program by name (see [`crate::guests::all`]).
    pub fn guest(mut self, name: &str) -> Self {
        self.program_name = Some(name.to_string());
        self
    }

    /// argv (argv[0] defaults to the guest's name).
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// The environment.
    pub fn env<I: IntoIterator<Item = S>, S: Into<String>>(mut self, env: I) -> Self {
        self.env = env.into_iter().map(Into::into).collect();
        self
    }

    /// A file in the guest's in-memory file system.
    pub fn file(mut self, path: &str, data: &[u8], mode: u32) -> Self {
        self.files.push((path.to_string(), data.to_vec(), mode));
        self
    }

    /// The console (default: captured in memory, see [`Machine::stdout`]).
    pub fn console(mut self, console: Console) -> Self {
        self.console = Some(console);
        self
    }

    /// Whether to put every built-in guest at /bin/NAME (default: yes).
    pub fn install_guests(mut self, yes: bool) -> Self {
        self.install_guests = yes;
        self
    }

    /// Boots the kernel and loads the program.
    pub fn build(self) -> Result<Machine, BuildError> {
        let (elf, name) = match (self.program, &self.program_name) {
            (Some(elf), name) => (elf, name.clone().unwrap_or_else(|| "a.out".into())),
            (None, Some(name)) => match crate::guests::program(name) {
                Some(g) => (g.elf, name.clone()),
                None => return Err(BuildError::UnknownProgram(name.clone())),
            },
            (None, None) => return Err(BuildError::NoProgram),
        };
        let mut m = match self.console {
            Some(c) => Machine::with_console(self.config, c)?,
            None => Machine::new(self.config)?,
        };
        if let Some(p) = &self.profile {
            let model =
                CycleModel::by_name(p).ok_or_else(|| BuildError::UnknownProfile(p.clone()))?;
            m.vcpu.set_model(model);
        }
        if self.install_guests {
            for info in crate::guests::all() {
                if let Some(g) = crate::guests::program(info.name) {
                    m.add_file(&format!("/bin/{}", info.name), &g.elf, 0o755)?;
                }
            }
        }
        for (path, data, mode) in &self.files {
            m.add_file(path, data, *mode)?;
        }
        let mut args = self.args;
        if args.is_empty() {
            args.push(name);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let envp: Vec<&str> = self.env.iter().map(String::as_str).collect();
        m.spawn(&elf, &argv, &envp)?;
        Ok(m)
    }
}

/// A console that records the guest's output in memory, with the handles
/// to read it (for embedders that build their own [`Console`]).
pub fn captured_console(stdin: &[u8]) -> (Console, Captured) {
    Console::capture(stdin)
}
