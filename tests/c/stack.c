/* The stack grows on demand: deep recursion and a large alloca use a few
 * MiB, within the 8 MiB RLIMIT_STACK, far past the pages mapped at exec. */
#include <alloca.h>
#include <stdio.h>
#include <string.h>

static unsigned recurse(unsigned n)
{
    volatile unsigned char frame[2048];
    memset((void *)frame, (int)(n & 0xFF), sizeof frame);
    if (n == 0)
        return frame[7];
    return recurse(n - 1) + frame[n % sizeof frame];
}

static unsigned big_alloca(size_t n)
{
    unsigned char *p = alloca(n);
    for (size_t i = 0; i < n; i += 4096)
        p[i] = (unsigned char)(i >> 12);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i += 4096)
        sum += p[i];
    return sum;
}

int main(void)
{
    printf("recurse %u\n", recurse(1500));
    printf("alloca %u\n", big_alloca(3u << 20));
    printf("recurse again %u\n", recurse(1000));
    return 0;
}
