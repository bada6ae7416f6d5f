/* copy_file_range between regular files (file offsets and explicit ones,
 * the end of input, and its errors), preadv/pwritev. */
#define _GNU_SOURCE
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
int main(void){
  int a=open("a",O_CREAT|O_RDWR|O_TRUNC,0644); const char*msg="0123456789abcdefghij"; write(a,msg,20);
  int b=open("b",O_CREAT|O_RDWR|O_TRUNC,0644);
  long r;
  r=copy_file_range(a,NULL,b,NULL,5,0); printf("at eof: %ld\n", r);
  lseek(a,0,SEEK_SET); r=copy_file_range(a,NULL,b,NULL,8,0); printf("copied %ld, offsets %ld %ld\n", r, (long)lseek(a,0,SEEK_CUR), (long)lseek(b,0,SEEK_CUR));
  off64_t oi=10, oo=100; r=copy_file_range(a,&oi,b,&oo,50,0); printf("explicit %ld -> %lld %lld\n", r, (long long)oi, (long long)oo);
  char buf[128]={0}; int n=pread(b,buf,sizeof buf,0); printf("b size %d head %.8s tail %.10s\n", n, buf, buf+100);
  errno=0; r=copy_file_range(a,NULL,b,NULL,5,1); printf("flags: %ld %d\n", r, errno);
  off64_t x=0, y=5; errno=0; r=copy_file_range(a,&x,a,&y,10,0); printf("overlap: %ld %d\n", r, errno);
  int ro=open("a",O_RDONLY); errno=0; r=copy_file_range(a,NULL,ro,NULL,5,0); printf("ro out: %ld %d\n", r, errno);
  int ap=open("b",O_WRONLY|O_APPEND); errno=0; r=copy_file_range(a,NULL,ap,NULL,5,0); printf("append out: %ld %d\n", r, errno);
  int p[2]; pipe(p); errno=0; r=copy_file_range(a,NULL,p[1],NULL,5,0); printf("pipe out: %ld %d\n", r, errno);
  int d=open(".",O_RDONLY); errno=0; r=copy_file_range(d,NULL,b,NULL,5,0); printf("dir in: %ld %d\n", r, errno);
  /* preadv / pwritev at a position, leaving the file offset alone. */
  char x1[4] = "WXYZ", x2[3] = "uvw";
  struct iovec wv[2] = {{x1, 4}, {x2, 3}};
  long before = (long)lseek(b, 0, SEEK_CUR);
  printf("pwritev %ld\n", (long)pwritev(b, wv, 2, 2));
  char r1[5] = {0}, r2[6] = {0};
  struct iovec rv[2] = {{r1, 4}, {r2, 5}};
  printf("preadv %ld [%s][%s] offset kept %d\n", (long)preadv(b, rv, 2, 0), r1, r2,
         (long)lseek(b, 0, SEEK_CUR) == before);
  errno = 0;
  r = (long)preadv(p[0], rv, 2, 0);
  printf("preadv on a pipe: %ld %d\n", r, errno);
  errno = 0;
  r = (long)preadv(b, rv, 2, -1);
  printf("preadv at -1: %ld %d\n", r, errno);
  return 0;
}
