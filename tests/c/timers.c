/* Waiting with timeouts: poll and select on a pipe nobody writes (the
 * writer end is open), an interval timer firing repeatedly into pause(),
 * and alarm() replacing an interval timer with a one-shot one. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;

static void on_alarm(int s)
{
    (void)s;
    alarms++;
}

int main(void)
{
    int p[2];
    if (pipe(p) != 0)
        return 1;
    struct pollfd pf = {p[0], POLLIN, 0};
    printf("poll timeout: %d\n", poll(&pf, 1, 20));
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timeval tv = {0, 15000};
    printf("select timeout: %d\n", select(p[0] + 1, &rs, NULL, NULL, &tv));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 3000}, {0, 3000}};
    setitimer(ITIMER_REAL, &it, NULL);
    while (alarms < 4)
        pause();
    struct itimerval cur;
    getitimer(ITIMER_REAL, &cur);
    printf("interval timer: %d alarms, interval %ld us\n", (int)alarms, (long)cur.it_interval.tv_usec);
    alarm(1);
    getitimer(ITIMER_REAL, &cur);
    printf("after alarm: interval %ld us, armed %d\n", (long)cur.it_interval.tv_usec,
           cur.it_value.tv_sec > 0 || cur.it_value.tv_usec > 0);
    pause();
    printf("one-shot: %d alarms\n", (int)alarms);
    alarm(0);
    return 0;
}
