/* Floating point: arithmetic, conversions, printf/strtod of floats,
 * double and long double (x87 on i386 and for long double). */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

int main(void)
{
    volatile double x = 1.0 / 3.0, y = 2.0, z = -0.0;
    volatile float f = 1.1f;
    volatile long double l = 1.0L / 3.0L;
    printf("%f %.17g %e %g %a\n", x, x, x * 1e300, x * 1e-10, x);
    printf("%.3f %10.4f %-10.2e| %G\n", y * y * y, -x, 12345.678, 1e-30);
    printf("float %f %.9g double(f) %.17g\n", f, f, (double)f);
    printf("long double %Lf %.21Lg\n", l, l);
    printf("sqrt(2) %.17g sqrtl(2) %.21Lg\n", sqrt(y), sqrtl(2.0L));
    printf("neg zero %f inf %f nan %f\n", z, 1.0 / (z + 0.0 == 0 ? 0.0 : 1.0), NAN);
    printf("rounding %.0f %.0f %.0f %.0f\n", 0.5, 1.5, 2.5, -2.5);
    printf("floor %g ceil %g trunc %g round %g fmod %g\n", floor(-2.5), ceil(-2.5), trunc(-2.7),
           round(2.5), fmod(10.0, 3.0));
    printf("casts %d %ld %u %lld\n", (int)-3.99, (long)1e10, (unsigned)3.99e9, (long long)-1e18);
    printf("strtod %.17g %.17g %g\n", strtod("3.14159265358979323846", NULL), strtod("1e-310", NULL),
           strtod("-inf", NULL));
    double acc = 0;
    for (int i = 1; i <= 1000; i++) acc += 1.0 / ((double)i * i);
    printf("basel partial %.15f\n", acc);
    long double lacc = 0;
    for (int i = 1; i <= 1000; i++) lacc += 1.0L / ((long double)i * i);
    printf("basel partial (long double) %.18Lf\n", lacc);
    float facc = 0;
    for (int i = 0; i < 100000; i++) facc += 0.1f;
    printf("float accumulate %.8f\n", facc);
    printf("compare %d %d %d\n", x < y, NAN == NAN, isnan(NAN));
    return 0;
}
