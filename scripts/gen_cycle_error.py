#!/usr/bin/env python3
"""Measures the cycle model's error on a set of loops.

`perf stat -e cycles` is not available where sysgate is developed (a
virtual machine without a cycle counter), so the reference is llvm-mca's
simulation of the same loop (1000 iterations, the same LLVM scheduling
models the per-instruction tables come from, with LLVM's per-port resource
model, register renaming and reorder buffer). The model's figure is what
sysgate charges per iteration of the loop (tests/cycles.rs,
print_loop_cycles). Each loop is the body below followed by
`dec ecx; jnz top`. The error printed is (model - llvm-mca) / llvm-mca.

Usage: scripts/gen_cycle_error.py [--llvm-mca llvm-mca-14] [--llvm-mc llvm-mc-14]
"""

import argparse
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LOOPS = [
    ("add chain", ["add rax, rbx", "add rax, rbx", "add rax, rbx", "add rax, rbx"]),
    ("independent adds", ["add rax, 1", "add rbx, 1", "add rdx, 1", "add rdi, 1"]),
    ("imul chain", ["imul rax, rax", "imul rax, rax"]),
    ("independent imuls", ["imul rax, rax", "imul rbx, rbx", "imul rdx, rdx", "imul rdi, rdi"]),
    ("load sum", ["add rax, qword ptr [rsi]", "add rsi, 8"]),
    ("pointer chase", ["mov rax, qword ptr [rax]"]),
    ("store stream", ["mov qword ptr [rdi], rax", "add rdi, 8"]),
    ("load, multiply, accumulate", ["mov rax, qword ptr [rsi]", "imul rax, rbx",
                                    "add rdx, rax", "add rsi, 8"]),
    ("shifts and logic", ["mov rax, rdx", "shl rax, 5", "xor rdx, rax", "shr rax, 3",
                          "and rbx, rax", "or rdi, rbx"]),
    ("cmov select", ["cmp rax, rbx", "cmovl rax, rbx", "add rbx, 3"]),
    ("push/pop", ["push rax", "push rbx", "pop rbx", "pop rax"]),
    ("division", ["xor edx, edx", "mov eax, 1000", "div ebx"]),
    ("compute_loop (bench)", ["add rax, rcx", "xor rdx, rax", "rol rdx, 7", "imul r8, rdx, 31",
                              "mov qword ptr [rsi], r8", "add rax, qword ptr [rsi]",
                              "lea rdx, [rdx + 2*rax + 1]"]),
    # x87, MMX and SSE/SSE2.
    ("addsd chain", ["addsd xmm0, xmm1"] * 4),
    ("divsd chain", ["divsd xmm0, xmm1", "divsd xmm0, xmm1"]),
    ("independent mulpds", ["mulpd xmm0, xmm4", "mulpd xmm1, xmm4", "mulpd xmm2, xmm4",
                            "mulpd xmm3, xmm4"]),
    ("addpd load sum", ["addpd xmm0, xmmword ptr [rsi]", "add rsi, 16"]),
    ("sse integer mix", ["paddd xmm0, xmm1", "pxor xmm2, xmm0", "pshufd xmm1, xmm2, 27"]),
    ("int/double conversions", ["cvtsi2sd xmm0, rax", "cvttsd2si rax, xmm0"]),
    ("mmx adds", ["paddw mm0, mm1", "paddw mm2, mm1", "pmullw mm3, mm1"]),
    ("x87 fadd chain", ["fadd st(0), st(1)"] * 4),
    ("x87 fdiv chain", ["fdiv st(0), st(1)", "fdiv st(0), st(1)"]),
    ("x87 load, multiply, store", ["fld qword ptr [rsi]", "fmul st(0), st(1)",
                                   "fstp qword ptr [rdi]"]),
]

# Loops where llvm-mca is no reference: it does not track the dependency
# through the x87 stack register (its timeline starts each FADD ST(0),
# ST(1) one cycle after the previous one, not a FADD latency later), and
# LLVM's models give FDIV a reciprocal throughput of 1. The summary gives
# the mean error with and without them.
NO_REFERENCE = {"x87 fadd chain", "x87 fdiv chain"}

PROFILES = [("skylake", "skylake"), ("zen2", "znver2")]


def encode(llvm_mc, lines):
    src = ".intel_syntax noprefix\n" + "\n".join(lines) + "\n"
    out = subprocess.run([llvm_mc, "-triple=x86_64", "-show-encoding"], input=src,
                         capture_output=True, text=True, check=True).stdout
    hexes = re.findall(r"encoding: \[([^\]]*)\]", out)
    return "".join("".join(f"{int(b, 16):02x}" for b in h.split(",")) for h in hexes)


def mca(llvm_mca, cpu, lines):
    src = ".intel_syntax noprefix\ntop:\n" + "\n".join(lines) + "\ndec ecx\njnz top\n"
    out = subprocess.run([llvm_mca, "-mtriple=x86_64", f"-mcpu={cpu}", "-iterations=1000"],
                         input=src, capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1))
    return total / 1000


def model(profile, hexes):
    env = dict(os.environ, SYSGATE_PROFILE=profile, SYSGATE_LOOP_BODIES=",".join(hexes))
    out = subprocess.run(["cargo", "test", "-q", "-p", "sysgate-cpu", "--test", "cycles", "--",
                          "--ignored", "--nocapture", "print_loop_cycles"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"loop (\w+) ([\d.]+)", out)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llvm-mca", default="llvm-mca")
    ap.add_argument("--llvm-mc", default="llvm-mc")
    args = ap.parse_args()
    hexes = [encode(args.llvm_mc, body) for _, body in LOOPS]
    print("| loop | profile | sysgate | llvm-mca | error |")
    print("| --- | --- | ---: | ---: | ---: |")
    for profile, cpu in PROFILES:
        got = model(profile, hexes)
        errs = []
        kept = []
        for (name, body), h in zip(LOOPS, hexes):
            ref = mca(args.llvm_mca, cpu, body)
            err = (got[h] - ref) / ref
            errs.append(abs(err))
            mark = " (no reference)" if name in NO_REFERENCE else ""
            if not mark:
                kept.append(abs(err))
            print(f"| {name}{mark} | {profile} | {got[h]:.2f} | {ref:.2f} | {err:+.0%} |")
        for label, e in [("all loops", errs), ("without the no-reference loops", kept)]:
            e.sort()
            print(f"| **{profile}: mean abs error, {label}** | | | | {sum(e) / len(e):.0%} "
                  f"(median {e[len(e) // 2]:.0%}, max {e[-1]:.0%}) |")


if __name__ == "__main__":
    main()
