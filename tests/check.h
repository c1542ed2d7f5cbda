/* A tiny test harness: each tests/test_*.c is one program whose test
 * functions run in order; a failed CHECK records the file, line and
 * expression and the test goes on. main() ends with check_summary().
 */
#ifndef DG_CHECK_H
#define DG_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_passed, check_failed, check_current_failed;
static const char *check_current;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            check_current_failed = 1;                                                   \
            fprintf(stderr, "  %s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,     \
                    check_current, #cond);                                              \
        }                                                                               \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                           \
    do {                                                                                \
        double check_a_ = (a), check_b_ = (b);                                          \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                                    \
            check_current_failed = 1;                                                   \
            fprintf(stderr, "  %s:%d: %s: %s = %.10g, expected %s = %.10g (tol %g)\n", \
                    __FILE__, __LINE__, check_current, #a, check_a_, #b, check_b_,      \
                    (double)(tol));                                                     \
        }                                                                               \
    } while (0)

#define RUN(fn)                                                                         \
    do {                                                                                \
        check_current = #fn;                                                            \
        check_current_failed = 0;                                                       \
        fn();                                                                           \
        if (check_current_failed) {                                                     \
            check_failed++;                                                             \
            printf("FAIL %s\n", #fn);                                                   \
        } else {                                                                        \
            check_passed++;                                                             \
            printf("ok   %s\n", #fn);                                                   \
        }                                                                               \
        fflush(stdout);                                                                 \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
