/* String and memory functions over many lengths and alignments, checked
 * against byte-by-byte reference loops (these exercise libc's vectorized
 * implementations). Prints a checksum per function and any mismatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

static unsigned char a[1024], b[1024];
static unsigned long sum;
static int bad;

static void mix(unsigned long v) { sum = sum * 1000003u ^ v; }

static void check(const char *what, int ok, int x, int y)
{
    if (!ok && bad++ < 20)
        printf("MISMATCH %s at %d/%d\n", what, x, y);
}

static size_t ref_strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(1 + (seed >> 16) % 255);
    }
}

int main(void)
{
    const int lens[] = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128,
                        129, 255, 256, 300, 511};
    const int nlens = sizeof lens / sizeof lens[0];

    sum = 0;
    for (int al = 0; al < 64; al++)
        for (int li = 0; li < nlens; li++) {
            int n = lens[li];
            fill(a, sizeof a, (unsigned)(al * 31 + n));
            a[al + n] = 0;
            size_t got = strlen((char *)a + al);
            check("strlen", got == ref_strlen((char *)a + al), al, n);
            mix(got);
        }
    printf("strlen %lx\n", sum);

    sum = 0;
    for (int al = 0; al < 32; al++)
        for (int li = 0; li < nlens; li++) {
            int n = lens[li];
            fill(a, sizeof a, (unsigned)n);
            memset(b, 0xEE, sizeof b);
            memcpy(b + (al * 7) % 32, a + al, (size_t)n);
            int ok = 1;
            for (int i = 0; i < n; i++)
                ok &= b[(al * 7) % 32 + i] == a[al + i];
            ok &= b[(al * 7) % 32 + n] == 0xEE;
            check("memcpy", ok, al, n);
            mix(b[(al * 7) % 32 + n / 2]);
        }
    printf("memcpy %lx\n", sum);

    sum = 0;
    for (int shift = -40; shift <= 40; shift += 3) {
        fill(a, sizeof a, 99);
        memcpy(b, a, sizeof a);
        memmove(a + 100 + shift, a + 100, 300);
        int ok = 1;
        for (int i = 0; i < 300; i++)
            ok &= a[100 + shift + i] == b[100 + i];
        check("memmove", ok, shift, 300);
        mix(a[120]);
    }
    printf("memmove %lx\n", sum);

    sum = 0;
    for (int al = 0; al < 32; al++)
        for (int li = 0; li < nlens; li++) {
            int n = lens[li];
            memset(a, 1, sizeof a);
            memset(a + al, 0x5A, (size_t)n);
            int ok = 1;
            for (int i = 0; i < (int)sizeof a; i++)
                ok &= a[i] == ((i >= al && i < al + n) ? 0x5A : 1);
            check("memset", ok, al, n);
        }
    printf("memset ok\n");

    sum = 0;
    for (int al = 0; al < 32; al++)
        for (int li = 1; li < nlens; li++) {
            int n = lens[li];
            fill(a, sizeof a, 7);
            memcpy(b, a, sizeof a);
            int pos = (al * 13) % n;
            b[al + pos] ^= 0x80;
            int r = memcmp(a + al, b + al, (size_t)n);
            int want = a[al + pos] < b[al + pos] ? -1 : 1;
            check("memcmp", (r < 0 ? -1 : r > 0) == want, al, n);
            check("memcmp-eq", memcmp(a + al, a + al, (size_t)n) == 0, al, n);
            a[al + n] = 0;
            b[al + n] = 0;
            r = strcmp((char *)a + al, (char *)b + al);
            check("strcmp", (r < 0 ? -1 : r > 0) == want, al, n);
            r = strncmp((char *)a + al, (char *)b + al, (size_t)pos);
            check("strncmp", r == 0, al, n);
            void *p = memchr(a + al, a[al + pos], (size_t)n);
            unsigned char *q = a + al;
            while (*q != a[al + pos]) q++;
            check("memchr", p == q, al, n);
            char *s = strchr((char *)a + al, a[al + pos]);
            check("strchr", s == (char *)q, al, n);
            s = strrchr((char *)a + al, a[al + pos]);
            unsigned char *last = NULL;
            for (unsigned char *t = a + al; *t; t++)
                if (*t == a[al + pos]) last = t;
            check("strrchr", s == (char *)last, al, n);
            mix((unsigned long)(q - a));
        }
    printf("compare+search %lx\n", sum);

    char s[200];
    strcpy(s, "hello");
    strcat(s, ", ");
    strncat(s, "world!!!", 5);
    printf("[%s] %zu\n", s, strlen(s));
    strncpy(s, "abc", 6);
    printf("strncpy [%s] %d %d %d\n", s, s[3], s[4], s[5]);
    printf("strstr [%s] [%s]\n", strstr("find the needle here", "needle"),
           strstr("aaaaab", "aab"));
    printf("strspn %zu strcspn %zu\n", strspn("abcabcxyz", "abc"), strcspn("hello world", " "));
    char tok[] = "a,b,,c;d";
    for (char *t = strtok(tok, ",;"); t; t = strtok(NULL, ",;"))
        printf("tok [%s]\n", t);
    char *d = strdup("DupLicate");
    for (char *t = d; *t; t++)
        *t = (char)(islower((unsigned char)*t) ? toupper((unsigned char)*t) : tolower((unsigned char)*t));
    printf("swapcase %s\n", d);
    free(d);
    printf("strtol %ld %ld %lu\n", strtol("-1234xyz", NULL, 10), strtol("0x1f", NULL, 16),
           strtoul("777", NULL, 8));
    printf("atoi %d mismatches %d\n", atoi("  99 bottles"), bad);
    return bad != 0;
}
