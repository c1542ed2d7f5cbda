# Validation split for tuning `disagree simulate` without touching t10k:
# pool = Fashion-MNIST training rows 0-49999, validation = rows 50000-59999,
# the teachers' training-set outputs (demo-out/t*.train.npy) sliced the same way.
# Usage: python3 bench/al/val_split.py OUTDIR  (needs numpy; see README.md)
import gzip
import sys

import numpy as np

DATA = '/usr/share/datasets/fashion-mnist/'
TEACHERS = 'demo-out'
MEMBERS = 5
POOL_ROWS = 50000


def idx(path, offset):
    return np.frombuffer(gzip.open(DATA + path).read(), np.uint8, offset=offset)


out = sys.argv[1] + '/'
x = idx('train-images-idx3-ubyte.gz', 16).reshape(-1, 784) / np.float32(255.0)
y = idx('train-labels-idx1-ubyte.gz', 8).astype(np.int32)
np.save(out + 'pool.npy', x[:POOL_ROWS].astype(np.float32))
np.save(out + 'val.npy', x[POOL_ROWS:].astype(np.float32))
np.save(out + 'pool_y.npy', y[:POOL_ROWS])
np.save(out + 'val_y.npy', y[POOL_ROWS:])
for m in range(MEMBERS):
    t = np.load('%s/t%d.train.npy' % (TEACHERS, m))
    np.save(out + 't%d.pool.npy' % m, t[:POOL_ROWS])
    np.save(out + 't%d.val.npy' % m, t[POOL_ROWS:])
