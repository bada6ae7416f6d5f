/* fallocate: extending, keeping the size, punching a hole, and the errors
 * (EOPNOTSUPP, EINVAL, EBADF, ESPIPE) as Linux orders them. */
#define _GNU_SOURCE
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <sys/stat.h>
int main(void){
  int fd=open("f",O_CREAT|O_RDWR,0644); write(fd,"abcdefghij",10);
  struct stat st;
  printf("%d ", fallocate(fd,0,5,20)); fstat(fd,&st); printf("size %lld\n",(long long)st.st_size);
  printf("%d ", fallocate(fd,FALLOC_FL_KEEP_SIZE,0,100)); fstat(fd,&st); printf("size %lld\n",(long long)st.st_size);
  printf("%d ", fallocate(fd,FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE,2,3)); char b[11]={0}; pread(fd,b,10,0); for(int i=0;i<10;i++) putchar(b[i]?b[i]:'.'); putchar('\n');
  printf("%d %d\n", fallocate(fd,FALLOC_FL_PUNCH_HOLE,0,1), errno);
  printf("%d %d\n", fallocate(fd,0,-1,1), errno);
  printf("%d %d\n", fallocate(fd,0,0,0), errno);
  int r=open("f",O_RDONLY); printf("%d %d\n", fallocate(r,0,0,1), errno);
  int p[2]; pipe(p); printf("%d %d\n", fallocate(p[1],0,0,1), errno);
  int d=open(".",O_RDONLY); printf("%d %d\n", fallocate(d,0,0,1), errno);
  printf("%d %d\n", fallocate(99,0,0,1), errno);
  return 0;
}
