/* Processes: fork, pipe, dup2, waitpid statuses, exec of this program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        printf("exec'd child: argc=%d argv[2]=%s\n", argc, argc > 2 ? argv[2] : "-");
        return 7;
    }
    setvbuf(stdout, NULL, _IONBF, 0);

    int fd[2];
    if (pipe(fd) != 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        close(fd[0]);
        for (int i = 0; i < 5; i++) {
            char msg[64];
            int n = snprintf(msg, sizeof msg, "message %d from child\n", i);
            if (write(fd[1], msg, (size_t)n) != n) _exit(10);
        }
        close(fd[1]);
        _exit(3);
    }
    close(fd[1]);
    char buf[512];
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)n;
    buf[got] = 0;
    close(fd[0]);
    printf("parent read %zu bytes:\n%s", got, buf);
    int st = 0;
    pid_t w = waitpid(pid, &st, 0);
    printf("waitpid same=%d exited=%d status=%d\n", w == pid, WIFEXITED(st), WEXITSTATUS(st));

    /* Several children with distinct exit codes, reaped in any order. */
    int codes = 0;
    for (int i = 0; i < 4; i++) {
        pid_t c = fork();
        if (c == 0) _exit(20 + i);
    }
    for (int i = 0; i < 4; i++) {
        if (wait(&st) > 0 && WIFEXITED(st)) codes += WEXITSTATUS(st);
    }
    errno = 0;
    printf("sum of child codes %d, extra wait=%d errno=%s\n", codes, (int)wait(&st),
           errno == ECHILD ? "ECHILD" : "other");

    /* A child whose stdout is redirected into a pipe with dup2. */
    if (pipe(fd) != 0) return 1;
    pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        printf("through dup2'd stdout\n");
        fflush(stdout);
        _exit(0);
    }
    close(fd[1]);
    got = 0;
    while ((n = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)n;
    buf[got] = 0;
    waitpid(pid, &st, 0);
    printf("captured: %s", buf);

    /* A child that execs this program again. */
    pid = fork();
    if (pid == 0) {
        char *args[] = {argv[0], "child", "arg", NULL};
        execv(argv[0], args);
        _exit(99);
    }
    waitpid(pid, &st, 0);
    printf("exec child exited=%d status=%d\n", WIFEXITED(st), WEXITSTATUS(st));

    /* WNOHANG with a child still running is not modeled as a race:
     * the child exits first via a pipe handshake. */
    if (pipe(fd) != 0) return 1;
    pid = fork();
    if (pid == 0) {
        char c;
        close(fd[1]);
        while (read(fd[0], &c, 1) > 0) {}
        _exit(5);
    }
    close(fd[0]);
    printf("WNOHANG before exit: %d\n", (int)waitpid(pid, &st, WNOHANG));
    close(fd[1]);
    waitpid(pid, &st, 0);
    printf("after: exited=%d status=%d\n", WIFEXITED(st), WEXITSTATUS(st));

    /* One write() much larger than the pipe: it returns only when all of
     * it is written, while the parent reads in small pieces. */
    if (pipe(fd) != 0) return 1;
    pid = fork();
    if (pid == 0) {
        static char big[200000];
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (char)(i % 251);
        close(fd[0]);
        ssize_t n = write(fd[1], big, sizeof big);
        _exit(n == (ssize_t)sizeof big ? 0 : 1);
    }
    close(fd[1]);
    long total = 0;
    unsigned sum = 0;
    char piece[1000];
    ssize_t r;
    while ((r = read(fd[0], piece, sizeof piece)) > 0) {
        for (ssize_t i = 0; i < r; i++)
            sum = sum * 31 + (unsigned char)piece[i];
        total += r;
    }
    waitpid(pid, &st, 0);
    printf("big write: %ld bytes, sum %u, writer status %d\n", total, sum, WEXITSTATUS(st));
    return 0;
}
