/* malloc/calloc/realloc/free: small, large (mmap-backed) and many blocks,
 * with contents checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

int main(void)
{
    enum { N = 2000 };
    static unsigned char *blk[N];
    static size_t sz[N];
    unsigned seed = 1;
    int bad = 0;

    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            seed = seed * 1664525u + 1013904223u;
            size_t n = 1 + (seed >> 8) % (i % 50 == 0 ? 300000 : 2000);
            if (blk[i]) {
                for (size_t k = 0; k < sz[i]; k += 97)
                    bad += blk[i][k] != (unsigned char)(i + k);
                if (seed & 1) {
                    free(blk[i]);
                    blk[i] = NULL;
                    continue;
                }
                unsigned char *p = realloc(blk[i], n);
                if (!p) return 2;
                size_t keep = n < sz[i] ? n : sz[i];
                for (size_t k = 0; k < keep; k += 97)
                    bad += p[k] != (unsigned char)(i + k);
                blk[i] = p;
            } else {
                blk[i] = (seed & 2) ? calloc(1, n) : malloc(n);
                if (!blk[i]) return 2;
                if (seed & 2)
                    for (size_t k = 0; k < n; k += 61)
                        bad += blk[i][k] != 0;
            }
            sz[i] = n;
            for (size_t k = 0; k < n; k += 97)
                blk[i][k] = (unsigned char)(i + k);
            bad += ((uintptr_t)blk[i] % (2 * sizeof(void *))) != 0;
        }
    }
    size_t live = 0;
    for (int i = 0; i < N; i++)
        if (blk[i]) {
            live += sz[i];
            free(blk[i]);
        }
    void *big = malloc(64u << 20);
    if (!big) return 3;
    memset(big, 0xA5, 64u << 20);
    unsigned long s = 0;
    for (size_t k = 0; k < (64u << 20); k += 4096)
        s += ((unsigned char *)big)[k];
    free(big);
    printf("live bytes %zu, checksum %lu, errors %d\n", live, s, bad);
    return bad != 0;
}
