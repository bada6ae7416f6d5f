/* Exit codes: return from main, exit() with atexit handlers, _exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void first(void) { printf("atexit: registered first, runs last\n"); }
static void second(void) { printf("atexit: registered second, runs first\n"); }

int main(int argc, char **argv)
{
    atexit(first);
    atexit(second);
    printf("buffered output before exit\n");
    if (argc > 1 && strcmp(argv[1], "_exit") == 0)
        _exit(9); /* skips atexit and the stdio flush */
    if (argc > 1)
        exit(atoi(argv[1]));
    return 42;
}
