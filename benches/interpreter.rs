//! Raw interpreter throughput: guest instructions per second on an integer
//! compute loop, with cycle counting on (it is always on).

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sysgate::cpu::{Exit, Limit};
use sysgate::demo;

fn interpreter(c: &mut Criterion) {
    const ITERATIONS: u32 = 1_000_000;
    let code = demo::compute_loop(ITERATIONS).expect("demo assembles");
    let insns = demo::compute_loop_instructions(ITERATIONS);
    let mut g = c.benchmark_group("interpreter");
    g.throughput(Throughput::Elements(insns));
    g.sample_size(20);
    g.bench_function("compute_loop", |b| {
        let mut vcpu = demo::machine(&code);
        b.iter(|| {
            vcpu.cpu.rip = demo::CODE_BASE;
            let exit = vcpu.run(Limit::NONE);
            assert_eq!(exit, Exit::Hlt);
        })
    });
    g.finish();
}

criterion_group!(benches, interpreter);
criterion_main!(benches);
