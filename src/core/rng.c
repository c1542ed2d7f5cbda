/* Seeded random numbers: xoshiro256** with a splitmix64 seeder, so a seed
 * gives the same shuffles, initialisations and samples on every machine.
 */
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void dg__rng_seed(dg__rng *r, uint64_t seed)
{
    uint64_t x = seed;

    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t dg__rng_next(dg__rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double dg__rng_uniform(dg__rng *r)
{
    return (double)(dg__rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t dg__rng_below(dg__rng *r, uint64_t n)
{
    uint64_t limit, x;

    if (n == 0)
        abort(); /* a caller bug: there is no integer in [0, 0) */
    /* Rejection keeps every value equally likely. */
    limit = UINT64_MAX - UINT64_MAX % n;

    do
        x = dg__rng_next(r);
    while (x >= limit);
    return x % n;
}

double dg__rng_normal(dg__rng *r)
{
    double u1 = 1.0 - dg__rng_uniform(r); /* in (0, 1]: log is finite */
    double u2 = dg__rng_uniform(r);

    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void dg__rng_shuffle(dg__rng *r, int64_t *idx, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)dg__rng_below(r, (uint64_t)i + 1);
        int64_t t = idx[i];

        idx[i] = idx[j];
        idx[j] = t;
    }
}
