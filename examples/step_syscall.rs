//! Embeds sysgate: boots the x86_64 kernel model, loads a built-in guest and
//! steps it instruction by instruction across its first system call,
//! printing every transition (SYSCALL, SWAPGS, SYSRET) and the dispatch.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut m = sysgate::MachineBuilder::new()
        .guest("hello-syscall64")
        .build()?;
    loop {
        let step = m.step()?;
        if let Some(t) = step.event.transition {
            println!(
                "{:>6} cycles  {:?}: CPL {} -> {}, {:#x} -> {:#x}",
                m.vcpu.cpu.cycles, t.kind, t.cpl_before, t.cpl_after, t.from.offset, t.to.offset
            );
            if t.cpl_after == 3 {
                break;
            }
        }
        if let Some(call) = step.syscall {
            println!(
                "{:>6} cycles  dispatch: {} = {:?}",
                m.vcpu.cpu.cycles,
                call.abi.syscall_name(call.nr).unwrap_or("?"),
                call.ret
            );
        }
    }
    println!("guest wrote {:?}", String::from_utf8_lossy(&m.stdout()));
    Ok(())
}
