/* File I/O in a directory the program creates: create, write, read, seek,
 * append, truncate, pread/pwrite, rename, stat, readdir, stdio streams. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void list(const char *dir)
{
    DIR *d = opendir(dir);
    char *names[64];
    int n = 0;
    struct dirent *e;
    if (!d) { printf("opendir %s failed\n", dir); return; }
    while ((e = readdir(d)) && n < 64)
        names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp);
    printf("%s:", dir);
    for (int i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}

static void show(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) { printf("stat %s: failed\n", path); return; }
    printf("%s: %s size=%lld mode=%o\n", path, S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other",
           (long long)st.st_size, (unsigned)(st.st_mode & 07777));
}

int main(void)
{
    char buf[256];
    umask(022);
    if (mkdir("io-test", 0755) != 0) { perror("mkdir"); return 1; }
    if (chdir("io-test") != 0) { perror("chdir"); return 1; }

    int fd = open("data.bin", O_CREAT | O_RDWR | O_TRUNC, 0640);
    for (int i = 0; i < 100; i++) {
        int n = snprintf(buf, sizeof buf, "record %03d\n", i);
        if (write(fd, buf, (size_t)n) != n) return 2;
    }
    printf("size via lseek %lld\n", (long long)lseek(fd, 0, SEEK_END));
    lseek(fd, 11 * 42, SEEK_SET);
    ssize_t n = read(fd, buf, 11);
    buf[n > 0 ? n : 0] = 0;
    printf("record 42: %s", buf);
    pwrite(fd, "RECORD", 6, 11 * 7);
    n = pread(fd, buf, 11, 11 * 7);
    buf[n > 0 ? n : 0] = 0;
    printf("pread: %s", buf);
    printf("offset unchanged by pread: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    ftruncate(fd, 55);
    show("data.bin");
    lseek(fd, 100, SEEK_SET);
    write(fd, "end", 3);
    show("data.bin");
    lseek(fd, 60, SEEK_SET);
    n = read(fd, buf, 8);
    printf("hole reads as zeros: %d %d %d\n", (int)n, buf[0], buf[7]);
    close(fd);

    fd = open("log.txt", O_CREAT | O_WRONLY | O_APPEND, 0600);
    write(fd, "one\n", 4);
    lseek(fd, 0, SEEK_SET);
    write(fd, "two\n", 4);
    close(fd);
    FILE *f = fopen("log.txt", "a+");
    fprintf(f, "three %d\n", 3);
    rewind(f);
    while (fgets(buf, sizeof buf, f)) printf("log: %s", buf);
    fclose(f);
    show("log.txt");

    mkdir("sub", 0700);
    rename("log.txt", "sub/moved.txt");
    show("sub");
    show("sub/moved.txt");
    int fd2 = dup(open("sub/moved.txt", O_RDONLY));
    n = read(fd2, buf, 4);
    printf("read through dup: %.*s", (int)n, buf);
    list(".");
    list("sub");

    f = fopen("nums.txt", "w");
    for (int i = 1; i <= 10; i++) fprintf(f, "%d %d\n", i, i * i);
    fclose(f);
    f = fopen("nums.txt", "r");
    int a, b, sum = 0;
    while (fscanf(f, "%d %d", &a, &b) == 2) sum += b;
    fclose(f);
    printf("sum of squares %d\n", sum);

    unlink("nums.txt");
    unlink("data.bin");
    unlink("sub/moved.txt");
    rmdir("sub");
    list(".");
    chdir("..");
    printf("rmdir io-test: %d\n", rmdir("io-test"));
    return 0;
}
