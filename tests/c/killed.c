/* Default signal actions: the process dies with the signal (exit status
 * 128+n as a shell reports it) after flushing nothing it had buffered. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *how = argc > 1 ? argv[1] : "abort";
    printf("about to die by %s\n", how);
    fflush(stdout);
    printf("this buffered line is lost\n");
    if (strcmp(how, "abort") == 0) abort();
    if (strcmp(how, "segv") == 0) { int *volatile p = (int *)8; *p = 0; }
    if (strcmp(how, "fpe") == 0) { volatile int z = 0; return 10 / z; }
    if (strcmp(how, "ill") == 0) __asm__ volatile("ud2");
    if (strcmp(how, "term") == 0) kill(getpid(), SIGTERM);
    if (strcmp(how, "bus") == 0) raise(SIGBUS);
    if (strcmp(how, "ignored") == 0) { signal(SIGTERM, SIG_IGN); raise(SIGTERM); printf("survived\n"); return 0; }
    return 3;
}
