/* stdio: printf conversions, stream buffering, stdin reading, stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

int main(void)
{
    char buf[256];
    int n = 0;

    printf("int %d %i %5d|%-5d|%05d %+d\n", 42, -7, 3, 3, 3, 9);
    printf("unsigned %u %x %X %o %#x %#o\n", 4000000000u, 0xbeef, 0xbeef, 8, 255, 8);
    printf("long %ld %lld %llx\n", -1234567890L, -123456789012345LL, 0x123456789abcdefULL);
    printf("char %c%c%c str [%s] [%10s] [%-10s] [%.3s]\n", 'a', 'b', 'c', "xyz", "right", "left",
           "truncate");
    printf("size %zu ptrdiff %td percent %%\n", sizeof(long), (ptrdiff_t)-3);
    snprintf(buf, sizeof buf, "%s-%d-%c", "snprintf", 77, '!');
    puts(buf);
    n = snprintf(buf, 8, "%s", "0123456789abcdef");
    printf("truncated to [%s], would be %d\n", buf, n);
    fputs("to stderr\n", stderr);
    fprintf(stderr, "stderr %d\n", 2);

    int a = 0, b = 0;
    char word[32];
    if (sscanf("12 34 word", "%d %d %31s", &a, &b, word) == 3)
        printf("sscanf %d %d %s\n", a, b, word);

    /* Read stdin line by line and echo it numbered. */
    int line = 0;
    long total = 0;
    while (fgets(buf, sizeof buf, stdin)) {
        line++;
        total += (long)strlen(buf);
        printf("%3d: %s", line, buf);
    }
    printf("lines %d bytes %ld eof %d\n", line, total, feof(stdin));

    /* Unbuffered and line-buffered streams interleave predictably. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < 3; i++)
        printf("line-buffered %d\n", i);
    fflush(stdout);
    return 0;
}
