/* qsort and bsearch on integers, strings and structs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rec { int key; char name[12]; };

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}
static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->key != y->key) return (x->key > y->key) - (x->key < y->key);
    return strcmp(x->name, y->name);
}

int main(void)
{
    enum { N = 5000 };
    static int v[N];
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (int)(seed >> 4) % 100000 - 50000;
    }
    qsort(v, N, sizeof v[0], cmp_int);
    int sorted = 1;
    long sum = 0;
    for (int i = 1; i < N; i++) sorted &= v[i - 1] <= v[i];
    for (int i = 0; i < N; i++) sum += (long)v[i] * (i % 7);
    printf("ints sorted=%d min=%d max=%d median=%d weighted=%ld\n", sorted, v[0], v[N - 1], v[N / 2], sum);
    int key = v[1234];
    int *hit = bsearch(&key, v, N, sizeof v[0], cmp_int);
    printf("bsearch %d found=%d\n", key, hit && *hit == key);
    key = 1000001;
    printf("bsearch missing found=%d\n", bsearch(&key, v, N, sizeof v[0], cmp_int) != NULL);

    const char *words[] = {"pear", "apple", "fig", "banana", "cherry", "date", "elderberry",
                           "grape", "kiwi", "lemon", "mango", "apple", "Zebra", "zebra"};
    size_t nw = sizeof words / sizeof words[0];
    qsort(words, nw, sizeof words[0], cmp_str);
    for (size_t i = 0; i < nw; i++) printf("%s%c", words[i], i + 1 < nw ? ' ' : '\n');

    static struct rec r[300];
    for (int i = 0; i < 300; i++) {
        seed = seed * 1103515245u + 12345u;
        r[i].key = (int)(seed >> 16) % 10;
        snprintf(r[i].name, sizeof r[i].name, "n%05u", (seed >> 3) % 99999);
    }
    qsort(r, 300, sizeof r[0], cmp_rec);
    for (int i = 0; i < 300; i += 37) printf("%d:%s ", r[i].key, r[i].name);
    printf("\n");
    return 0;
}
