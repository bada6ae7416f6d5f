#!/usr/bin/env bash
# Builds the C test programs in tests/c/ as static binaries for the three
# targets the native-vs-sysgate comparison runs:
#   glibc64  gcc -static          (glibc, x86-64)
#   musl64   musl-gcc -static     (musl, x86-64)
#   glibc32  gcc -m32 -static     (glibc, i386)
# and the C++ ones (tests/c/*.cc) with g++ -static for glibc64 only,
# into target/c-tests/<target>/<program>. Only programs whose source is newer
# than the binary are rebuilt.
#
#   scripts/build-c-tests.sh            build (fails if a compiler is missing)
#   scripts/build-c-tests.sh --install  first install gcc-multilib, musl-tools,
#                                       g++, busybox-static and strace when
#                                       missing
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--install" ]]; then
    missing=()
    command -v musl-gcc >/dev/null 2>&1 || missing+=(musl-tools)
    command -v g++ >/dev/null 2>&1 || missing+=(g++)
    [[ -e /usr/lib/gcc/x86_64-linux-gnu/"$(gcc -dumpversion)"/32/libgcc.a ]] || missing+=(gcc-multilib)
    [[ -x /bin/busybox ]] || missing+=(busybox-static)
    command -v strace >/dev/null 2>&1 || missing+=(strace)
    if ((${#missing[@]})); then
        sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        echo "build-c-tests: installing ${missing[*]}" >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

out=target/c-tests
mkdir -p "$out"/glibc64 "$out"/musl64 "$out"/glibc32
cflags=(-O2 -static -Wall -Wextra -Werror -Wno-format-truncation -Wno-stringop-truncation -std=gnu11)

build() { # compiler-and-flags... -- source binary
    local src="${@: -2:1}" bin="${@: -1}"
    if [[ ! -e "$bin" || "$src" -nt "$bin" || "$0" -nt "$bin" ]]; then
        "${@:1:$#-2}" "${cflags[@]}" "$src" -o "$bin.tmp" -lm
        mv "$bin.tmp" "$bin"
    fi
}

for src in tests/c/*.c; do
    name=$(basename "$src" .c)
    build gcc "$src" "$out/glibc64/$name"
    build musl-gcc "$src" "$out/musl64/$name"
    build gcc -m32 "$src" "$out/glibc32/$name"
done

cxxflags=(-O2 -static -Wall -Wextra -Werror -std=gnu++17)
for src in tests/c/*.cc; do
    name=$(basename "$src" .cc)
    bin="$out/glibc64/$name"
    if [[ ! -e "$bin" || "$src" -nt "$bin" || "$0" -nt "$bin" ]]; then
        g++ "${cxxflags[@]}" "$src" -o "$bin.tmp"
        mv "$bin.tmp" "$bin"
    fi
done
