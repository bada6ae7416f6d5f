//! Writes every built-in guest to a directory (default `guests/`), one
//! executable file per registry name, for running them natively or loading
//! them in sysgate.

use std::os::unix::fs::PermissionsExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "guests".to_string());
    std::fs::create_dir_all(&dir)?;
    for info in sysgate_guest_bins::all() {
        let g = sysgate_guest_bins::build(info.name)?;
        let path = std::path::Path::new(&dir).join(info.name);
        std::fs::write(&path, &g.elf)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        println!(
            "{:<26} {:>6} bytes  {}",
            info.name,
            g.elf.len(),
            path.display()
        );
    }
    Ok(())
}
