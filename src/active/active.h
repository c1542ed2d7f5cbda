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

#endif /* DG_ACTIVE_H */
