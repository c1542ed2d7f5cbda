/* Core helpers: the RNG stream, shuffles, softmax and atomic output. */
#include "check.h"
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_rng_same_seed_same_stream(void)
{
    dg__rng a, b;

    dg__rng_seed(&a, 42);
    dg__rng_seed(&b, 42);
    for (int i = 0; i < 100; i++)
        CHECK(dg__rng_next(&a) == dg__rng_next(&b));
    dg__rng_seed(&b, 43);
    CHECK(dg__rng_next(&a) != dg__rng_next(&b));
}

static void test_rng_below_is_uniform_enough(void)
{
    dg__rng r;
    int counts[7] = {0};

    dg__rng_seed(&r, 1);
    for (int i = 0; i < 70000; i++)
        counts[dg__rng_below(&r, 7)]++;
    for (int k = 0; k < 7; k++)
        CHECK(counts[k] > 9500 && counts[k] < 10500);
}

static void test_shuffle_is_a_permutation(void)
{
    dg__rng r;
    int64_t idx[100];
    int seen[100] = {0};
    int moved = 0;

    for (int i = 0; i < 100; i++)
        idx[i] = i;
    dg__rng_seed(&r, 7);
    dg__rng_shuffle(&r, idx, 100);
    for (int i = 0; i < 100; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 100; i++)
        CHECK(seen[i] == 1);
    CHECK(moved > 80);
}

static void test_softmax_keeps_zeros_and_sums_to_one(void)
{
    float x[6] = {1.0f, -INFINITY, 3.0f, 1000.0f, 0.0f, -1000.0f};
    float p[6];

    dg__softmax_rows(x, 2, 3, 2.0, p);
    CHECK(p[1] == 0.0f);
    CHECK_NEAR(p[0] + p[2], 1.0, 1e-6);
    CHECK_NEAR(p[0] / p[2], exp(-1.0), 1e-6);
    CHECK_NEAR(p[3], 1.0, 1e-6);
    CHECK(isfinite(p[4]) && isfinite(p[5]));
}

static void test_atomic_output_leaves_nothing_on_abort(void)
{
    char path[] = "/tmp/dg_core_outXXXXXX";
    int fd = mkstemp(path);
    dg__outfile o;
    dg_error err;
    FILE *fp;
    char buf[16] = {0};

    close(fd);
    fp = fopen(path, "w");
    fputs("old", fp);
    fclose(fp);

    CHECK(dg__out_open(&o, path, &err) == 0);
    fputs("half", o.fp);
    dg__out_abort(&o);
    CHECK(access(o.tmp, F_OK) != 0);
    fp = fopen(path, "r");
    CHECK(fgets(buf, sizeof buf, fp) && strcmp(buf, "old") == 0);
    fclose(fp);

    CHECK(dg__out_open(&o, path, &err) == 0);
    fputs("new", o.fp);
    CHECK(dg__out_commit(&o, &err) == 0);
    fp = fopen(path, "r");
    CHECK(fgets(buf, sizeof buf, fp) && strcmp(buf, "new") == 0);
    fclose(fp);
    remove(path);
}

/* Writing a path again removes the temporaries of dead writers of that
 * path (a run killed before its rename), and only those: a live PID's and
 * any other name stay. */
static void test_stale_temporaries_of_dead_runs_are_removed(void)
{
    char path[] = "/tmp/dg_core_staleXXXXXX", dead[64], live[64], other[64];
    int fd = mkstemp(path);
    pid_t child;
    dg__outfile o;
    dg_error err;

    close(fd);
    child = fork();
    if (child == 0)
        _exit(0);
    CHECK(child > 0 && waitpid(child, NULL, 0) == child);
    snprintf(dead, sizeof dead, "%s.tmp.%ld", path, (long)child);
    snprintf(live, sizeof live, "%s.tmp.1", path); /* init: always alive */
    snprintf(other, sizeof other, "%s.tmp.1x", path);
    fclose(fopen(dead, "w"));
    fclose(fopen(live, "w"));
    fclose(fopen(other, "w"));

    CHECK(dg__out_open(&o, path, &err) == 0);
    CHECK(dg__out_commit(&o, &err) == 0);
    CHECK(access(dead, F_OK) != 0);
    CHECK(access(live, F_OK) == 0);
    CHECK(access(other, F_OK) == 0);
    remove(live);
    remove(other);
    remove(path);
}

static void test_output_into_missing_folder_is_an_error(void)
{
    dg__outfile o;
    dg_error err;

    CHECK(dg__out_open(&o, "/nonexistent-dir/x.npy", &err) == DG_EIO);
    CHECK(strstr(err.msg, "/nonexistent-dir/x.npy") != NULL);
}

static void test_fast_log_matches_libm(void)
{
    double worst = 0.0;

    /* every power of two from 2^-120 to 2^120, and 10^5 points between */
    for (int e = -120; e <= 120; e++) {
        float x = ldexpf(1.0f, e);

        worst = fmax(worst, fabs(dg__fast_logf(x) - log((double)x)) / fmax(1.0, fabs(log(x))));
    }
    for (int i = 1; i <= 100000; i++) {
        float x = (float)i / 1000.0f;
        double want = log((double)x);

        worst = fmax(worst, fabs(dg__fast_logf(x) - want) / fmax(1.0, fabs(want)));
    }
    CHECK(worst < 3e-7);
    CHECK(dg__fast_logf(1.0f) == 0.0f);
}

int main(void)
{
    RUN(test_rng_same_seed_same_stream);
    RUN(test_rng_below_is_uniform_enough);
    RUN(test_shuffle_is_a_permutation);
    RUN(test_softmax_keeps_zeros_and_sums_to_one);
    RUN(test_atomic_output_leaves_nothing_on_abort);
    RUN(test_stale_temporaries_of_dead_runs_are_removed);
    RUN(test_output_into_missing_folder_is_an_error);
    RUN(test_fast_log_matches_libm);
    return check_summary();
}
