#!/usr/bin/env python3
"""Generates the per-instruction cost tables of sysgate's cycle profiles.

The numbers come from LLVM's X86 scheduling models, the machine-readable
description of each microarchitecture that LLVM's scheduler and llvm-mca
use (Apache-2.0 WITH LLVM-exception):

  skylake  llvm/lib/Target/X86/X86SchedSkylakeClient.td  (-mcpu=skylake)
  zen2     llvm/lib/Target/X86/X86ScheduleZnver2.td      (-mcpu=znver2)

Rather than re-implementing TableGen (WriteRes/SchedWriteRes definitions,
the InstRW regular expressions that override them, ReadAdvance, folded-load
variants), this script asks LLVM itself: for every instruction form in
FORMS below it assembles one instance with llvm-mc (Intel syntax, to get
the encoding) and runs llvm-mca on it, reading the "Instruction Info"
columns: micro-ops, latency and reciprocal throughput. llvm-mca resolves
the form to LLVM's opcode (e.g. ADD64rm), applies the model's InstRW
overrides and prints the resulting figures, so every number in the output
is LLVM's. Nothing here types a cost by hand; FORMS only lists which
instruction forms to ask about, written in the operand order iced-x86
decodes them in.

Output (all committed):
  crates/cpu/src/cycles/tables.rs       the generated Rust tables
  crates/cpu/data/llvm/<profile>.tsv    provenance: key, encoding, the
                                        assembly line and LLVM's figures

The x87, MMX, SSE and SSE2 (and SSE3 FISTTP) forms are not listed by
hand: the ignored unit test cycles::tests::list_fp_forms (crates/cpu/src/
cycles.rs) decodes every legacy opcode of the 0F, 0F 38, 0F 3A and D8-DF
maps with iced-x86 and prints one encoding (register and [rsi] memory
operands) of every such form sysgate has a handler for; this script runs
it, disassembles each encoding with llvm-mc into LLVM's own assembly and
asks llvm-mca about that line. iced-x86 (and so sysgate) decodes the
FWAIT of FSTSW, FSTCW, FSTENV, FSAVE, FINIT and FCLEX as an instruction of
its own, WAIT, so those are charged as WAIT plus the no-wait form.

The key of a form is (iced Mnemonic, operand letters, operand size):
  v XMM register, q MMX register, t x87 register ST(i),
  r GPR, m memory, p far-pointer memory (m16:16/32/64), i immediate,
  1 the implicit count of 1 of a D0/D1 shift, s segment register,
  c control register, d debug register, b near branch target,
  f far branch target (ptr16:16/32), x string operand (rSI/rDI);
  a leading L marks a LOCK prefix. Size is the byte size of operand 0 when
  it is a register or memory, else of operand 1, else 0.
crates/cpu/src/cycles.rs computes the same key from a decoded instruction;
a unit test there decodes every encoding in the .tsv files and checks that
it yields the key recorded next to it.

Usage: scripts/gen_cycle_tables.py [--llvm-mca llvm-mca-14] [--llvm-mc llvm-mc-14]
Needs LLVM's tools (Debian/Ubuntu: apt-get install llvm-14). The committed
tables were produced with Debian LLVM 14.0.6 (package llvm-14 1:14.0.6-12).
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_RS = os.path.join(ROOT, "crates/cpu/src/cycles/tables.rs")
OUT_DATA = os.path.join(ROOT, "crates/cpu/data/llvm")

# (sysgate profile name, llvm -mcpu, upstream scheduling-model file)
PROFILES = [
    ("skylake", "skylake", "llvm/lib/Target/X86/X86SchedSkylakeClient.td"),
    ("zen2", "znver2", "llvm/lib/Target/X86/X86ScheduleZnver2.td"),
]

# Register, memory and immediate operands by size in bytes.
DST = {1: "al", 2: "ax", 4: "eax", 8: "rax"}
SRC = {1: "bl", 2: "bx", 4: "ebx", 8: "rbx"}
MEM = {1: "byte ptr [rsi]", 2: "word ptr [rsi]", 4: "dword ptr [rsi]", 8: "qword ptr [rsi]"}
MEM32 = {1: "byte ptr [esi]", 2: "word ptr [esi]", 4: "dword ptr [esi]"}
IMM = {1: "0x12", 2: "0x1234", 4: "0x12345678", 8: "0x12345678"}
ALL = (1, 2, 4, 8)
WIDE = (2, 4, 8)

CONDS = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]

FORMS = []  # (mnemonic, form, size, asm, bits)


def add(mn, form, size, asm, bits=64):
    FORMS.append((mn, form, size, asm, bits))


def cap(s):
    return s[0].upper() + s[1:]


def build_forms():
    for m in ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]:
        for s in ALL:
            add(cap(m), "rr", s, f"{m} {DST[s]}, {SRC[s]}")
            add(cap(m), "rm", s, f"{m} {DST[s]}, {MEM[s]}")
            add(cap(m), "mr", s, f"{m} {MEM[s]}, {SRC[s]}")
            add(cap(m), "ri", s, f"{m} {DST[s]}, {IMM[s]}")
            add(cap(m), "mi", s, f"{m} {MEM[s]}, {IMM[s]}")
            if m != "cmp":
                add(cap(m), "Lmr", s, f"lock {m} {MEM[s]}, {SRC[s]}")
                add(cap(m), "Lmi", s, f"lock {m} {MEM[s]}, {IMM[s]}")
    for s in ALL:
        add("Test", "rr", s, f"test {DST[s]}, {SRC[s]}")
        add("Test", "mr", s, f"test {MEM[s]}, {SRC[s]}")
        add("Test", "ri", s, f"test {DST[s]}, {IMM[s]}")
        add("Test", "mi", s, f"test {MEM[s]}, {IMM[s]}")
        add("Mov", "rr", s, f"mov {DST[s]}, {SRC[s]}")
        add("Mov", "rm", s, f"mov {DST[s]}, {MEM[s]}")
        add("Mov", "mr", s, f"mov {MEM[s]}, {SRC[s]}")
        add("Mov", "ri", s, f"mov {DST[s]}, {IMM[s]}")
        add("Mov", "mi", s, f"mov {MEM[s]}, {IMM[s]}")
        for m in ["inc", "dec", "neg", "not"]:
            add(cap(m), "r", s, f"{m} {DST[s]}")
            add(cap(m), "m", s, f"{m} {MEM[s]}")
            add(cap(m), "Lm", s, f"lock {m} {MEM[s]}")
        for m in ["shl", "shr", "sar", "rol", "ror", "rcl", "rcr"]:
            add(cap(m), "r1", s, f"{m} {DST[s]}, 1")
            add(cap(m), "ri", s, f"{m} {DST[s]}, 3")
            add(cap(m), "rr", s, f"{m} {DST[s]}, cl")
            add(cap(m), "m1", s, f"{m} {MEM[s]}, 1")
            add(cap(m), "mi", s, f"{m} {MEM[s]}, 3")
            add(cap(m), "mr", s, f"{m} {MEM[s]}, cl")
        for m in ["mul", "div", "idiv"]:
            add(cap(m), "r", s, f"{m} {SRC[s]}")
            add(cap(m), "m", s, f"{m} {MEM[s]}")
        add("Imul", "r", s, f"imul {SRC[s]}")
        add("Imul", "m", s, f"imul {MEM[s]}")
        add("Xchg", "rr", s, f"xchg {SRC[s]}, {{r}}".replace("{r}", {1: "cl", 2: "cx", 4: "ecx", 8: "rcx"}[s]))
        add("Xchg", "mr", s, f"xchg {MEM[s]}, {SRC[s]}")
        for m in ["cmpxchg", "xadd"]:
            add(cap(m), "rr", s, f"{m} {SRC[s]}, {{r}}".replace("{r}", {1: "cl", 2: "cx", 4: "ecx", 8: "rcx"}[s]))
            add(cap(m), "mr", s, f"{m} {MEM[s]}, {SRC[s]}")
            add(cap(m), "Lmr", s, f"lock {m} {MEM[s]}, {SRC[s]}")
    for s in WIDE:
        add("Imul", "rr", s, f"imul {DST[s]}, {SRC[s]}")
        add("Imul", "rm", s, f"imul {DST[s]}, {MEM[s]}")
        add("Imul", "rri", s, f"imul {DST[s]}, {SRC[s]}, {IMM[min(s, 4)]}")
        add("Imul", "rmi", s, f"imul {DST[s]}, {MEM[s]}, {IMM[min(s, 4)]}")
        for m in ["shld", "shrd"]:
            add(cap(m), "rri", s, f"{m} {DST[s]}, {SRC[s]}, 3")
            add(cap(m), "rrr", s, f"{m} {DST[s]}, {SRC[s]}, cl")
            add(cap(m), "mri", s, f"{m} {MEM[s]}, {SRC[s]}, 3")
            add(cap(m), "mrr", s, f"{m} {MEM[s]}, {SRC[s]}, cl")
        add("Movzx", "rr", s, f"movzx {DST[s]}, bl")
        add("Movzx", "rm", s, f"movzx {DST[s]}, {MEM[1]}")
        add("Movsx", "rr", s, f"movsx {DST[s]}, bl")
        add("Movsx", "rm", s, f"movsx {DST[s]}, {MEM[1]}")
        add("Lea", "rm", s, f"lea {DST[s]}, [rsi + 8*rbx + 16]")
        for m in ["bt", "bts", "btr", "btc"]:
            add(cap(m), "rr", s, f"{m} {DST[s]}, {SRC[s]}")
            add(cap(m), "ri", s, f"{m} {DST[s]}, 3")
            add(cap(m), "mr", s, f"{m} {MEM[s]}, {SRC[s]}")
            add(cap(m), "mi", s, f"{m} {MEM[s]}, 3")
            if m != "bt":
                add(cap(m), "Lmr", s, f"lock {m} {MEM[s]}, {SRC[s]}")
                add(cap(m), "Lmi", s, f"lock {m} {MEM[s]}, 3")
        for m in ["bsf", "bsr", "tzcnt", "lzcnt", "popcnt"]:
            add(cap(m), "rr", s, f"{m} {DST[s]}, {SRC[s]}")
            add(cap(m), "rm", s, f"{m} {DST[s]}, {MEM[s]}")
        for c in CONDS:
            add("Cmov" + c, "rr", s, f"cmov{c} {DST[s]}, {SRC[s]}")
            add("Cmov" + c, "rm", s, f"cmov{c} {DST[s]}, {MEM[s]}")
    add("Movsxd", "rr", 8, "movsxd rax, ebx")
    add("Movsxd", "rm", 8, "movsxd rax, dword ptr [rsi]")
    for s in (4, 8):
        add("Bswap", "r", s, f"bswap {DST[s]}")
    for c in CONDS:
        add("Set" + c, "r", 1, f"set{c} al")
        add("Set" + c, "m", 1, f"set{c} byte ptr [rsi]")
        add("J" + c, "b", 0, f"L: j{c} L")
    add("Cmpxchg8b", "m", 8, "cmpxchg8b qword ptr [rsi]")
    add("Cmpxchg8b", "Lm", 8, "lock cmpxchg8b qword ptr [rsi]")
    add("Cmpxchg16b", "m", 16, "cmpxchg16b xmmword ptr [rsi]")
    add("Cmpxchg16b", "Lm", 16, "lock cmpxchg16b xmmword ptr [rsi]")
    # Control transfers.
    add("Jmp", "b", 0, "L: jmp L")
    add("Jmp", "r", 8, "jmp rax")
    add("Jmp", "m", 8, "jmp qword ptr [rsi]")
    add("Call", "b", 0, "L: call L")
    add("Call", "r", 8, "call rax")
    add("Call", "m", 8, "call qword ptr [rsi]")
    add("Call", "p", 6, "call fword ptr [rsi]")
    add("Jmp", "p", 6, "jmp fword ptr [rsi]")
    add("Call", "f", 0, "lcall 0x10, 0x1000", 32)
    add("Jmp", "f", 0, "ljmp 0x10, 0x1000", 32)
    add("Ret", "", 0, "ret")
    add("Ret", "i", 0, "ret 8")
    add("Retf", "", 0, "retf")
    add("Retf", "i", 0, "retf 8")
    for m in ["loop", "loope", "loopne", "jrcxz"]:
        add(cap(m), "b", 0, f"L: {m} L")
    add("Jecxz", "b", 0, "L: jecxz L")
    add("Enter", "ii", 0, "enter 16, 0")
    add("Leave", "", 0, "leave")
    # Stack.
    add("Push", "r", 8, "push rax")
    add("Push", "r", 2, "push ax")
    add("Push", "m", 8, "push qword ptr [rsi]")
    add("Push", "i", 0, "push 0x12345678")
    add("Push", "s", 2, "push fs")
    add("Pop", "r", 8, "pop rax")
    add("Pop", "r", 2, "pop ax")
    add("Pop", "m", 8, "pop qword ptr [rsi]")
    add("Pop", "s", 2, "pop fs")
    add("Pushfq", "", 0, "pushfq")
    add("Popfq", "", 0, "popfq")
    add("Pushfd", "", 0, "pushfd", 32)
    add("Popfd", "", 0, "popfd", 32)
    add("Pushad", "", 0, "pushad", 32)
    add("Popad", "", 0, "popad", 32)
    # Simple instructions without explicit operands.
    for m in ["cbw", "cwde", "cdqe", "cwd", "cdq", "cqo", "clc", "stc", "cmc", "cld",
              "std", "cli", "sti", "lahf", "sahf", "nop", "pause", "lfence", "mfence",
              "sfence", "cpuid", "rdtsc", "rdtscp", "rdmsr", "wrmsr", "hlt", "swapgs",
              "syscall", "sysretq", "sysenter", "sysexitq", "iretq", "int3", "ud2",
              "clts", "wbinvd", "invd"]:
        add(cap(m), "", 0, m)
    add("Sysret", "", 0, "sysret")
    add("Sysexit", "", 0, "sysexit")
    add("Iretd", "", 0, "iretd")
    add("Xlatb", "m", 1, "xlatb")
    add("Int", "i", 0, "int 0x80")
    add("Into", "", 0, "into", 32)
    add("Nop", "m", 4, "nop dword ptr [rax]")
    for m in ["prefetchnta", "prefetcht0", "prefetcht1", "prefetcht2", "prefetchw"]:
        add(cap(m), "m", 1, f"{m} byte ptr [rsi]")
    # Strings (REP prefixes share the entry; insn/string.rs charges the
    # further iterations).
    for m, s in [("movs", "b"), ("stos", "b"), ("lods", "b"), ("cmps", "b"), ("scas", "b")]:
        for suf, size in [("b", 1), ("w", 2), ("d", 4), ("q", 8)]:
            form = {"movs": "xx", "cmps": "xx", "stos": "xr", "lods": "rx", "scas": "rx"}[m]
            add(cap(m + suf), form, size, f"{m}{suf}")
    # I/O.
    add("In", "rr", 1, "in al, dx")
    add("In", "ri", 1, "in al, 0x80")
    add("Out", "rr", 2, "out dx, al")
    add("Out", "ir", 1, "out 0x80, al")
    add("Insb", "xr", 1, "insb")
    add("Outsb", "rx", 2, "outsb")
    # System and segment instructions.
    add("Mov", "sr", 2, "mov ds, ax")
    add("Mov", "rs", 4, "mov eax, ds")
    add("Mov", "sm", 2, "mov ds, word ptr [rsi]")
    add("Mov", "ms", 2, "mov word ptr [rsi], ds")
    add("Mov", "cr", 8, "mov cr3, rax")
    add("Mov", "rc", 8, "mov rax, cr3")
    add("Mov", "dr", 8, "mov dr7, rax")
    add("Mov", "rd", 8, "mov rax, dr7")
    for m in ["lgdt", "lidt", "sgdt", "sidt"]:
        add(cap(m), "m", 10, f"{m} [rsi]")
    for m in ["lldt", "ltr", "verr", "verw", "lmsw"]:
        add(cap(m), "r", 4, f"{m} ax")
        add(cap(m), "m", 2, f"{m} word ptr [rsi]")
    for m in ["sldt", "str", "smsw"]:
        add(cap(m), "r", 2, f"{m} ax")
        add(cap(m), "m", 2, f"{m} word ptr [rsi]")
    for m in ["lar", "lsl"]:
        add(cap(m), "rr", 4, f"{m} eax, bx")
        add(cap(m), "rm", 4, f"{m} eax, word ptr [rsi]")
    add("Invlpg", "m", 0, "invlpg byte ptr [rsi]")
    for m in ["lfs", "lgs", "lss"]:
        add(cap(m), "rp", 4, f"{m} eax, fword ptr [rsi]")
    for m in ["lds", "les"]:
        add(cap(m), "rp", 4, f"{m} eax, fword ptr [esi]", 32)
    # 32-bit-only instructions.
    for m in ["aaa", "aas", "daa", "das"]:
        add(cap(m), "", 0, m, 32)
    add("Aam", "i", 0, "aam", 32)
    add("Aad", "i", 0, "aad", 32)


# Encodings of the forms found by cycles::tests::list_fp_forms (key ->
# bytes), recorded as iced-x86 produced them.
ENCODING = {}


def add_fp_forms(llvm_mc):
    """Adds the x87/MMX/SSE forms sysgate executes (see the docstring)."""
    p = subprocess.run(["cargo", "test", "-q", "-p", "sysgate-cpu", "--lib", "--", "--ignored",
                        "--exact", "cycles::tests::list_fp_forms", "--nocapture"],
                       cwd=ROOT, capture_output=True, text=True, check=True)
    rows = [l.split("\t")[1:] for l in p.stdout.splitlines() if l.startswith("fpform\t")]
    for (mn, form, size, h) in rows:
        d = subprocess.run([llvm_mc, "--disassemble", "-triple=x86_64", "-output-asm-variant=1"],
                           input=" ".join(f"0x{h[k:k + 2]}" for k in range(0, len(h), 2)) + "\n",
                           capture_output=True, text=True)
        lines = [l.strip().replace("\t", " ") for l in d.stdout.splitlines()
                 if l.strip() and not l.strip().startswith(".")]
        if d.stderr.strip() or len(lines) != 1:
            print(f"skipped (llvm-mc cannot disassemble it): {mn} {form} {size} {h}",
                  file=sys.stderr)
            continue
        add(mn, form, int(size), lines[0])
        ENCODING.setdefault((mn, form, int(size)), [int(h[k:k + 2], 16)
                                                    for k in range(0, len(h), 2)])


ENC_RE = re.compile(r"encoding: \[([^\]]*)\]")


def encode(llvm_mc, asm, bits):
    triple = "x86_64" if bits == 64 else "i386"
    src = f".intel_syntax noprefix\n{asm}\n"
    p = subprocess.run([llvm_mc, f"-triple={triple}", "-show-encoding"], input=src,
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None
    m = ENC_RE.search(p.stdout)
    if not m:
        return None
    out = []
    for b in m.group(1).split(","):
        b = b.strip()
        out.append(int(b, 16) if b.startswith("0x") else 0)  # fixups: 0
    return out


def mca(llvm_mca, cpu, asm, bits):
    triple = "x86_64" if bits == 64 else "i386"
    src = f".intel_syntax noprefix\n{asm}\n"
    p = subprocess.run([llvm_mca, f"-mtriple={triple}", f"-mcpu={cpu}", "-iterations=1",
                        "-instruction-info", "-resource-pressure=false",
                        "-dispatch-stats=false"],
                       input=src, capture_output=True, text=True)
    if p.returncode != 0:
        return None
    lines = p.stdout.splitlines()
    width = None
    for ln in lines:
        if ln.startswith("Dispatch Width:"):
            width = int(ln.split()[-1])
    for k, ln in enumerate(lines):
        if ln.startswith("[1]    [2]    [3]"):
            f = lines[k + 1].split()
            return int(f[0]), int(f[1]), float(f[2]), width
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llvm-mca", default="llvm-mca")
    ap.add_argument("--llvm-mc", default="llvm-mc")
    args = ap.parse_args()
    ver = subprocess.run([args.llvm_mca, "--version"], capture_output=True, text=True).stdout
    ver = next((l.strip() for l in ver.splitlines() if "LLVM version" in l), "unknown")
    build_forms()
    add_fp_forms(args.llvm_mc)
    seen = set()
    forms = []
    for f in FORMS:
        key = f[:3]
        if key not in seen:
            seen.add(key)
            forms.append(f)

    def work(f):
        mn, form, size, asm, bits = f
        enc = ENCODING.get((mn, form, size)) or encode(args.llvm_mc, asm, bits)
        res = {cpu: mca(args.llvm_mca, cpu, asm, bits) for _, cpu, _ in PROFILES}
        return f, enc, res

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        results = list(ex.map(work, forms))

    skipped = [f for f, enc, res in results if enc is None or any(v is None for v in res.values())]
    for f in skipped:
        print(f"skipped (LLVM 14 does not accept it): {f[3]}", file=sys.stderr)
    good = [(f, enc, res) for f, enc, res in results if f not in skipped]

    # Fill LLVM's placeholders. LLVM gives instructions it has no data for
    # (its WriteSystem and WriteMicrocoded classes) a latency of exactly
    # 100 cycles; no instruction the tables cover has a real figure of 100.
    # In order: (1) the other profile's real figure for the same form;
    # (2) for string instructions, the composition of the profile's own
    # figures for the equivalent load/store/compare forms (MOVS = load +
    # store, LODS = load, STOS = store, SCAS = CMP r, m; CMPS = load +
    # CMP r, m: latencies, micro-ops and reciprocal throughputs added);
    # (3) otherwise the placeholder stays (an estimate, marked as such).
    PLACEHOLDER = 100
    names = [name for name, _, _ in PROFILES]
    cpu_of = {name: cpu for name, cpu, _ in PROFILES}
    table = {}  # (key, profile) -> (uops, lat, rthru, source)
    for f, enc, res in good:
        for name in names:
            u, lat, rt, _ = res[cpu_of[name]]
            table[(f[:3], name)] = (u, lat, rt, "llvm")
    for f, enc, res in good:
        for name in names:
            u, lat, rt, src = table[(f[:3], name)]
            if lat != PLACEHOLDER:
                continue
            for other in names:
                ou, olat, ort, osrc = table[(f[:3], other)]
                if other != name and osrc == "llvm" and olat != PLACEHOLDER:
                    table[(f[:3], name)] = (ou, olat, ort, f"from-{other}")
                    break
    string_parts = {"Movs": [("Mov", "rm"), ("Mov", "mr")], "Lods": [("Mov", "rm")],
                    "Stos": [("Mov", "mr")], "Scas": [("Cmp", "rm")],
                    "Cmps": [("Mov", "rm"), ("Cmp", "rm")]}
    for f, enc, res in good:
        mn, form, size = f[:3]
        base = mn[:-1]
        for name in names:
            u, lat, rt, src = table[(f[:3], name)]
            if lat != PLACEHOLDER or base not in string_parts or src != "llvm":
                continue
            parts = [table[((pm, pf, size), name)] for pm, pf in string_parts[base]]
            table[(f[:3], name)] = (sum(p[0] for p in parts), sum(p[1] for p in parts),
                                    sum(p[2] for p in parts), "composed")
    for key, v in list(table.items()):
        if v[1] == PLACEHOLDER and v[3] == "llvm":
            table[key] = v[:3] + ("placeholder",)

    os.makedirs(OUT_DATA, exist_ok=True)
    os.makedirs(os.path.dirname(OUT_RS), exist_ok=True)
    widths = {}
    for name, cpu, _ in PROFILES:
        with open(os.path.join(OUT_DATA, f"{name}.tsv"), "w") as out:
            out.write(f"# {name}: llvm-mca -mcpu={cpu} ({ver}); generated by scripts/gen_cycle_tables.py\n")
            out.write("# mnemonic\tform\tsize\tbits\tencoding\tuops\tlatency\trthroughput\tsource\tasm\n")
            for (mn, form, size, asm, bits), enc, res in good:
                widths[name] = res[cpu][3]
                u, lat, rt, src = table[((mn, form, size), name)]
                hexenc = "".join(f"{b:02x}" for b in enc)
                out.write(f"{mn}\t{form}\t{size}\t{bits}\t{hexenc}\t{u}\t{lat}\t{rt:.2f}\t{src}\t{asm}\n")

    by_mn = {}
    for (mn, form, size, asm, bits), enc, res in good:
        by_mn.setdefault(mn, []).append((form, size, res, asm))

    with open(OUT_RS, "w") as out:
        out.write("// @generated by scripts/gen_cycle_tables.py from LLVM's X86 scheduling\n")
        out.write(f"// models through llvm-mca ({ver}); do not edit by hand.\n")
        out.write("// Source models (Apache-2.0 WITH LLVM-exception):\n")
        for name, cpu, td in PROFILES:
            out.write(f"//   {name}: {td} (-mcpu={cpu})\n")
        out.write("// Provenance per entry: crates/cpu/data/llvm/<profile>.tsv.\n\n")
        out.write("//! Generated per-instruction-form costs (see `scripts/gen_cycle_tables.py`).\n\n")
        out.write("use super::Cost;\nuse iced_x86::Mnemonic;\n\n")
        for name, cpu, _ in PROFILES:
            out.write(f"/// LLVM's dispatch width for `-mcpu={cpu}` (micro-ops per cycle).\n")
            out.write(f"pub(super) const {name.upper()}_WIDTH: u32 = {widths[name]};\n\n")
        for name, cpu, _ in PROFILES:
            out.write(f"/// The `{name}` costs (llvm-mca -mcpu={cpu}) of the forms of `m`.\n")
            out.write(f"pub(super) fn {name}(m: Mnemonic) -> &'static [Cost] {{\n")
            out.write("    match m {\n")
            for mn in sorted(by_mn):
                out.write(f"        Mnemonic::{mn} => const {{\n            &[\n")
                for form, size, res, asm in by_mn[mn]:
                    u, lat, rt, src = table[((mn, form, size), name)]
                    note = "" if src == "llvm" else f" [{src}]"
                    out.write(f"                Cost::new(b\"{form}\", {size}, {lat}, {round(rt * 100)}, {u}), // {asm}{note}\n")
                out.write("            ]\n        },\n")
            out.write("        _ => &[],\n    }\n}\n\n")
    # Keep the generated file as rustfmt writes it (cargo fmt --check).
    subprocess.run(["rustfmt", "--edition", "2024", OUT_RS], check=False)
    print(f"{len(good)} forms, {len(skipped)} skipped; wrote {OUT_RS} and {OUT_DATA}/*.tsv")


if __name__ == "__main__":
    main()
