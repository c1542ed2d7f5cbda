/* Internal helpers shared by the acquisition scores and the batch
 * selection: a seeded hash of a row index, used for random scores and for
 * the order among equal scores.
 */
#ifndef DG_ACTIVE_H
#define DG_ACTIVE_H

#include "core/internal.h"

/* Salts keep the random scores and the tie order of one seed unrelated. */
#define DG__SALT_RANDOM 0x52414e444f4d5331ULL
#define DG__SALT_TIES 0x5449455330524452ULL

/* A well-mixed 64-bit hash of (seed, salt, row): the splitmix64 finaliser
 * applied twice. Pure, so any thread computes the same value for a row. */
static inline uint64_t dg__row_hash(uint64_t seed, uint64_t salt, uint64_t row)
{
    uint64_t z = seed ^ salt;

    for (int round = 0; round < 2; round++) {
        z += 0x9e3779b97f4a7c15ULL + row;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
    }
    return z;
}

/* A probability row must sum to 1 within this (the teacher loader's rule). */
#define DG__PROB_SUM_TOL 1e-3

/* Consensus KL, sum_j w_j KL(p_j || pbar), of a block of `rows` pool rows
 * (scores.c, portable C). member[j] points at member j's (rows, C) block
 * and w[j] > 0 is its committee share, summing to 1 over the J members;
 * pbar and acc are (rows, C) scratch, zeroed by the caller. Writes
 * scores[0, rows) and returns 1 when some entry lies outside [0, 1] or
 * some row does not sum to 1 within DG__PROB_SUM_TOL, leaving the caller
 * to find which rows (their scores are then meaningless), else 0. */
int dg__ckl_block_portable(const float *const *member, const float *w, int J, int64_t rows, int C,
                           float *pbar, float *acc, double *scores);

/* The same in AVX-512 (ckl_avx512.c), for x86-64 builds with GCC or
 * Clang; callers check the processor first (__builtin_cpu_supports
 * ("avx512f")). table comes from dg__ckl_table. Its log and sums differ
 * from the portable kernel's in the last bits. */
#if defined(__x86_64__) && defined(__GNUC__)
#define DG__HAVE_CKL_AVX512 1
#define DG__CKL_TABLE 32
void dg__ckl_table(float table[2 * DG__CKL_TABLE]);
int dg__ckl_block_avx512(const float *const *member, const float *w, int J, int64_t rows, int C,
                         const float *table, float *pbar, float *acc, double *scores);
#else
#define DG__HAVE_CKL_AVX512 0
#endif

#endif /* DG_ACTIVE_H */
