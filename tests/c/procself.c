/* /proc/self: cmdline and environ as the program's memory holds them,
   comm, status lines, stat attributes, and what cannot be done. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t slurp(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -errno;
    ssize_t total = 0, n;
    /* Small reads, to check the offset moves. */
    while ((n = read(fd, buf + total, 7 < cap - total ? 7 : cap - total)) > 0) total += n;
    close(fd);
    return total;
}

static const char *field(const char *status, const char *name) {
    static char out[128];
    const char *p = strstr(status, name);
    if (!p) return "(none)";
    p += strlen(name);
    size_t n = strcspn(p, "\n");
    if (n >= sizeof out) n = sizeof out - 1;
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}

int main(int argc, char **argv) {
    char buf[8192];
    extern char **environ;
    char **initial = environ;
    setenv("UNUSED", "x", 1); /* changes environ, not the initial strings */
    ssize_t n = slurp("/proc/self/cmdline", buf, sizeof buf);
    size_t want = 0;
    for (int i = 0; i < argc; i++) want += strlen(argv[i]) + 1;
    int same = n == (ssize_t)want;
    for (int i = 0, off = 0; same && i < argc; off += strlen(argv[i]) + 1, i++)
        same = strcmp(buf + off, argv[i]) == 0;
    printf("cmdline: %zd bytes, %s argv\n", n, same ? "matches" : "differs from");
    /* The program rewrites argv[1] in place: cmdline follows. */
    if (argc > 1) {
        argv[1][0] = 'Z';
        n = slurp("/proc/self/cmdline", buf, sizeof buf);
        printf("rewritten: %s\n", buf + strlen(argv[0]) + 1);
    }
    /* environ: the initial strings, whatever setenv did since. */
    n = slurp("/proc/self/environ", buf, sizeof buf);
    int k = 0, ok = 1;
    ssize_t off = 0;
    for (; off < n && initial[k]; off += strlen(buf + off) + 1, k++)
        ok = ok && strcmp(buf + off, initial[k]) == 0;
    printf("environ: %d strings, same as the initial environment: %d\n", k,
           ok && off == n && !initial[k]);
    n = slurp("/proc/self/comm", buf, sizeof buf);
    buf[n > 0 ? n : 0] = 0;
    printf("comm: %s", buf);
    n = slurp("/proc/self/status", buf, sizeof buf);
    buf[n > 0 ? n : 0] = 0;
    printf("status Name:%s\n", field(buf, "Name:"));
    printf("status Pid ok: %d\n", atoi(field(buf, "\nPid:")) == getpid());
    printf("status PPid ok: %d\n", atoi(field(buf, "PPid:")) == getppid());
    printf("status Tgid ok: %d\n", atoi(field(buf, "Tgid:")) == getpid());
    printf("status State:%s\n", field(buf, "State:"));
    printf("status Umask:%s\n", field(buf, "Umask:"));
    printf("status Threads:%s\n", field(buf, "Threads:"));
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", getpid());
    n = slurp(path, buf, sizeof buf);
    printf("by pid: %zd\n", n);
    struct stat st;
    int r = stat("/proc/self/status", &st);
    printf("stat: %d regular %d mode %o size %lld\n", r, S_ISREG(st.st_mode), st.st_mode & 07777,
           (long long)st.st_size);
    printf("access R_OK %d\n", access("/proc/self/cmdline", R_OK));
    int fd = open("/proc/self/status", O_RDONLY);
    char c[4];
    printf("pread at 1: %zd ", pread(fd, c, 3, 1));
    c[3] = 0;
    printf("'%s'\n", c);
    printf("lseek SET 2: %lld\n", (long long)lseek(fd, 2, SEEK_SET));
    errno = 0;
    int w = write(fd, "x", 1);
    printf("write: %d %s\n", w, strerror(errno));
    close(fd);
    errno = 0;
    fd = open("/proc/self/comm", O_RDONLY | O_DIRECTORY);
    printf("O_DIRECTORY: %d %s\n", fd, strerror(errno));
    errno = 0;
    fd = open("/proc/self/nonexistent", O_RDONLY);
    printf("missing: %d %s\n", fd, strerror(errno));
    return 0;
}
