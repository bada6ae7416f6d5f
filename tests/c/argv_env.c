/* argv, envp, environ, getenv/setenv/unsetenv, auxv-derived values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv, char **envp)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=[%s]\n", i, argv[i]);
    printf("argv[argc]=%s\n", argv[argc] ? "non-null" : "NULL");
    int n = 0;
    for (char **e = envp; *e; e++)
        printf("envp[%d]=[%s]\n", n++, *e);
    printf("environ same as envp: %d\n", environ == envp);
    printf("HOME=%s MISSING=%s\n", getenv("HOME"), getenv("SYSGATE_MISSING") ? "set" : "(null)");
    setenv("NEWVAR", "value", 1);
    setenv("HOME", "/elsewhere", 0);
    printf("NEWVAR=%s HOME=%s\n", getenv("NEWVAR"), getenv("HOME"));
    unsetenv("NEWVAR");
    printf("after unsetenv: %s\n", getenv("NEWVAR") ? "set" : "(null)");
    printf("page size %ld\n", sysconf(_SC_PAGESIZE));
    return argc;
}
