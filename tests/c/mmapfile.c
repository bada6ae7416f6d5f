/* File-backed mmap: private mappings see the file's bytes (zeros past its
 * end) and keep their writes private; shared read-only mappings; the
 * errors Linux gives for unmappable descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void result(const char *what, void *p)
{
    printf("%-32s %s\n", what, p == MAP_FAILED ? strerror(errno) : "mapped");
    errno = 0;
}

int main(void)
{
    int fd = open("mapped.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    char text[6000];
    for (int i = 0; i < (int)sizeof text; i++) text[i] = (char)('a' + i % 26);
    if (write(fd, text, sizeof text) != (ssize_t)sizeof text) return 1;

    char *p = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    result("private read-only", p);
    printf("first %.10s at 5990 %.10s past end %d %d\n", p, p + 5990, p[6000], p[8191]);
    char *q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 4096);
    result("private writable at 4096", q);
    printf("offset 4096 starts with %c\n", q[0]);
    q[0] = '#';
    char b[2] = {0};
    pread(fd, b, 1, 4096);
    printf("private write seen %c, file still %c, other mapping %c\n", q[0], b[0], p[4096]);
    char *s = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    result("shared read-only", s);
    printf("shared sees %.5s\n", s);
    munmap(p, 3 * 4096);
    munmap(q, 4096);
    munmap(s, 4096);

    int pfd[2];
    pipe(pfd);
    result("pipe", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, pfd[0], 0));
    result("closed fd", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 77, 0));
    int wo = open("mapped.txt", O_WRONLY);
    result("write-only fd", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, wo, 0));
    int ro = open("mapped.txt", O_RDONLY);
    result("shared writable on read-only fd", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0));
    result("unaligned offset", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, ro, 100));
    if (sizeof(off_t) == 8) /* past the largest file offset */
        result("offset beyond LLONG_MAX", mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, ro,
                                                (off_t)(0x7FFFFFFFFFFFF000ull)));
    mkdir("adir", 0755);
    int dfd = open("adir", O_RDONLY);
    result("directory", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, dfd, 0));
    rmdir("adir");
    unlink("mapped.txt");
    return 0;
}
