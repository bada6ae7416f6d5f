/* System-call failures: each prints the errno name and strerror text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>

static void report(const char *what, long r)
{
    int e = errno;
    printf("%-28s -> %ld errno=%d (%s)\n", what, r, r < 0 ? e : 0, r < 0 ? strerror(e) : "-");
    errno = 0;
}

int main(void)
{
    char buf[16];
    int fd[2];
    umask(022);
    report("open missing", open("no/such/file", O_RDONLY));
    report("close(-1)", close(-1));
    report("close(999)", close(999));
    report("read bad fd", (long)read(77, buf, 1));
    report("mkdir", mkdir("errno-dir", 0755));
    report("mkdir existing", mkdir("errno-dir", 0755));
    report("open dir for write", open("errno-dir", O_WRONLY));
    report("unlink dir", unlink("errno-dir"));
    int f = open("errno-dir/file", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    report("create file", f >= 0 ? 0 : -1);
    report("read write-only fd", (long)read(f, buf, 1));
    close(f);
    report("open O_EXCL existing", open("errno-dir/file", O_CREAT | O_EXCL | O_WRONLY, 0644));
    report("rmdir non-empty", rmdir("errno-dir"));
    report("open file as dir", open("errno-dir/file/x", O_RDONLY));
    report("chdir to file", chdir("errno-dir/file"));
    report("unlink file", unlink("errno-dir/file"));
    report("rmdir", rmdir("errno-dir"));
    report("rmdir again", rmdir("errno-dir"));
    report("pipe", pipe(fd));
    report("lseek on pipe", (long)lseek(fd[0], 0, SEEK_SET));
    signal(SIGPIPE, SIG_IGN);
    close(fd[0]);
    report("write to widowed pipe", (long)write(fd[1], "x", 1));
    close(fd[1]);
    report("dup2 bad fd", dup2(99, 5));
    report("fcntl bad cmd", fcntl(0, 9999));
    report("lseek negative", (long)lseek(0, -1, SEEK_SET) < 0 ? -1 : 0);
    report("kill bad signal", kill(getpid(), 999));
    report("access missing", access("missing", F_OK));
    return 0;
}
