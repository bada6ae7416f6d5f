/* Signals with user handlers: sigaction with SA_SIGINFO, masks and pending
 * signals, SA_RESETHAND, SA_NODEFER, an alternate stack, synchronous faults
 * (SIGSEGV, SIGFPE, SIGILL, SIGTRAP) caught and left with siglongjmp, and
 * register/floating-point state preserved across a handler. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t count, last_sig, last_code, depth, max_depth, raises;
static volatile uintptr_t last_addr;
static sigjmp_buf jump;
static char altstack[65536];
static volatile int on_alt;

static volatile int last_value;

static void info_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    count++;
    last_sig = sig;
    last_code = si->si_code;
    last_value = si->si_code == SI_QUEUE ? si->si_value.sival_int : -1;
    char probe;
    on_alt = (uintptr_t)&probe >= (uintptr_t)altstack &&
             (uintptr_t)&probe < (uintptr_t)altstack + sizeof altstack;
}

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    last_sig = sig;
    last_code = si->si_code;
    last_addr = (uintptr_t)si->si_addr;
    siglongjmp(jump, 1);
}

static void nested_handler(int sig)
{
    depth++;
    if (depth > max_depth) max_depth = depth;
    if (depth < 3 && raises++ < 5) raise(sig);
    depth--;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) { perror("sigaction"); exit(2); }
}

static const char *code_name(int sig, int code)
{
    if (code == SI_USER) return "SI_USER";
    if (code == SI_TKILL) return "SI_TKILL";
    if (code == SI_KERNEL) return "SI_KERNEL";
    if (code == SI_QUEUE) return "SI_QUEUE";
    if (sig == SIGSEGV && code == SEGV_MAPERR) return "SEGV_MAPERR";
    if (sig == SIGSEGV && code == SEGV_ACCERR) return "SEGV_ACCERR";
    if (sig == SIGFPE && code == FPE_INTDIV) return "FPE_INTDIV";
    if (sig == SIGILL && code == ILL_ILLOPN) return "ILL_ILLOPN";
    if (sig == SIGTRAP && code == SI_KERNEL) return "SI_KERNEL";
    return "other";
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);

    install(SIGUSR1, info_handler, 0);
    raise(SIGUSR1);
    printf("raise: count=%d sig=%s code=%s\n", count, strsignal(last_sig), code_name(last_sig, last_code));
    kill(getpid(), SIGUSR1);
    printf("kill: count=%d code=%s\n", count, code_name(last_sig, last_code));

    /* Blocked signals stay pending until unblocked. */
    sigset_t set, old, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    raise(SIGUSR1);
    sigpending(&pend);
    printf("blocked: count=%d pending=%d\n", count, sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("unblocked: count=%d\n", count);

    /* SA_RESETHAND: the second SIGUSR2 takes the default action, which we
     * make "ignore" by checking with sigaction instead of raising. */
    install(SIGUSR2, info_handler, SA_RESETHAND);
    raise(SIGUSR2);
    struct sigaction cur;
    sigaction(SIGUSR2, NULL, &cur);
    printf("resethand: count=%d now default=%d\n", count, cur.sa_handler == SIG_DFL);

    /* SA_NODEFER lets a handler interrupt itself. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nested_handler;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGHUP, &sa, NULL);
    raise(SIGHUP);
    printf("nodefer: max depth %d\n", max_depth);
    sa.sa_flags = 0;
    max_depth = 0;
    raises = 0;
    sigaction(SIGHUP, &sa, NULL);
    raise(SIGHUP);
    printf("deferred: max depth %d\n", max_depth);

    /* Alternate signal stack. */
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    install(SIGUSR1, info_handler, SA_ONSTACK);
    raise(SIGUSR1);
    printf("altstack: handler ran on it=%d\n", on_alt);
    install(SIGUSR1, info_handler, 0);
    raise(SIGUSR1);
    printf("no SA_ONSTACK: on it=%d\n", on_alt);

    /* Synchronous faults. */
    install(SIGSEGV, fault_handler, 0);
    install(SIGFPE, fault_handler, 0);
    install(SIGILL, fault_handler, 0);
    install(SIGTRAP, fault_handler, 0);
    if (sigsetjmp(jump, 1) == 0) {
        int *volatile p = (int *)16;
        *p = 1;
    } else {
        printf("NULL page write: %s %s addr=%#lx\n", strsignal(last_sig), code_name(last_sig, last_code),
               (unsigned long)last_addr);
    }
    char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(jump, 1) == 0) {
        page[100] = 1;
    } else {
        printf("read-only write: %s %s offset=%ld\n", strsignal(last_sig), code_name(last_sig, last_code),
               (long)(last_addr - (uintptr_t)page));
    }
    volatile int zero = 0;
    if (sigsetjmp(jump, 1) == 0) {
        printf("%d\n", 10 / zero);
    } else {
        printf("divide: %s %s\n", strsignal(last_sig), code_name(last_sig, last_code));
    }
    if (sigsetjmp(jump, 1) == 0) {
        __asm__ volatile("ud2");
    } else {
        printf("ud2: %s %s\n", strsignal(last_sig), code_name(last_sig, last_code));
    }
    if (sigsetjmp(jump, 1) == 0) {
        __asm__ volatile("int3");
    } else {
        printf("int3: %s %s\n", strsignal(last_sig), code_name(last_sig, last_code));
    }

    /* The handler must not disturb the interrupted code's state. */
    volatile double x = 1.0;
    double acc = 0;
    for (int i = 1; i <= 200; i++) {
        acc += x / i;
        if (i % 50 == 0) raise(SIGUSR1);
    }
    printf("harmonic(200) across handlers: %.15f count=%d\n", acc, count);
    printf("mask after all: blocked USR1=%d\n", (sigprocmask(SIG_BLOCK, NULL, &old), sigismember(&old, SIGUSR1)));

    /* sigqueue (rt_sigqueueinfo): the value reaches the handler. */
    install(SIGUSR2, info_handler, 0);
    union sigval v;
    v.sival_int = 4242;
    int q = sigqueue(getpid(), SIGUSR2, v);
    printf("sigqueue: %d %s %s value=%d\n", q, strsignal(last_sig), code_name(last_sig, last_code), last_value);

    /* Its checks, in Linux's order: signal 0 only checks; no such process;
     * an invalid signal; an si_code that would pose as kill() to another
     * process, refused before the process is looked for. */
    errno = 0;
    q = sigqueue(getpid(), 0, v);
    printf("sigqueue 0: %d %d\n", q, errno);
    errno = 0;
    q = sigqueue(0x3fffffff, SIGUSR2, v);
    printf("sigqueue to nobody: %d %d\n", q, errno);
    siginfo_t forged;
    memset(&forged, 0, sizeof forged);
    forged.si_signo = SIGUSR2;
    forged.si_code = SI_QUEUE;
    errno = 0;
    q = (int)syscall(SYS_rt_sigqueueinfo, getpid(), 65, &forged);
    printf("sigqueue 65: %d %d\n", q, errno);
    /* EPERM comes before ESRCH: the target need not exist. */
    forged.si_code = SI_USER;
    errno = 0;
    q = (int)syscall(SYS_rt_sigqueueinfo, 0x3fffffff, SIGUSR2, &forged);
    printf("sigqueue posing as kill: %d %d\n", q, errno);
    return 0;
}
