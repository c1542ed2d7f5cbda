"""The peer side of bench/train_dense: the same MLP training on Fashion-MNIST
train in PyTorch (SGD momentum, CE or avg-loss KD with M synthetic teachers),
and an AE-KD step written the way the AE-KD paper's published code does it
(one retained-graph backward per teacher, then scikit-learn's OneClassSVM on
the Gram matrix). Prints "metric value" lines for bench/run.sh.
Run with /usr/bin/python3 (Debian's torch, numpy, sklearn).
"""
import argparse
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.svm import OneClassSVM

DATA_DIR = "/usr/share/datasets/fashion-mnist"
# Teachers are drawn once from this seed, like the C benchmark's (not the
# same values: the cost is what is compared).
TEACHER_SEED = 20240611


def read_idx(path, header):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=header)


def load(data_dir):
    x = read_idx(f"{data_dir}/train-images-idx3-ubyte.gz", 16).reshape(-1, 784)
    y = read_idx(f"{data_dir}/train-labels-idx1-ubyte.gz", 8)
    return (torch.from_numpy(x.astype(np.float32) / 255.0),
            torch.from_numpy(y.astype(np.int64)))


def teachers_logp(M, N, C):
    """(M, N, C) log-probabilities of flat-Dirichlet rows."""
    rng = np.random.default_rng(TEACHER_SEED)
    p = rng.exponential(size=(M, N, C)).astype(np.float32)
    p /= p.sum(axis=2, keepdims=True)
    return torch.from_numpy(np.log(p))


def kd_losses(logits, logp_t, T):
    """Per-teacher L_m = T^2 (1/B) sum_b KL(q_mb || s_b); logp_t is (M, B, C)."""
    log_s = F.log_softmax(logits / T, dim=1)
    log_q = F.log_softmax(logp_t / T, dim=2)
    kl = (log_q.exp() * (log_q - log_s.unsqueeze(0))).sum(dim=2).mean(dim=1)
    return T * T * kl


def svm_weights(grads, nu):
    """The published code's weighting: batch-mean logit gradient per teacher,
    Gram matrix, one-class nu-SVM dual on it, weights = alpha / (M nu)."""
    M = grads.shape[0]
    g = grads.reshape(M, grads.shape[1], -1).mean(dim=1)
    G = (g @ g.t()).detach().numpy().astype(np.float64)
    svm = OneClassSVM(kernel="precomputed", nu=nu, tol=1e-6)
    svm.fit(G)
    w = np.zeros(M)
    w[svm.support_] = svm.dual_coef_.ravel() / (M * nu)
    return torch.from_numpy(w).float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", default="128")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--method", choices=["ce", "avg-loss", "aekd-official"], default="ce")
    ap.add_argument("--teachers", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", type=int, default=0,
                    help="time only this many batches (0: the whole epoch)")
    ap.add_argument("--tolerance", type=float, default=0.6)
    ap.add_argument("--data-dir", default=DATA_DIR)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    X, y = load(a.data_dir)
    N, D, C, M = X.shape[0], X.shape[1], 10, a.teachers
    T, alpha, gamma = 4.0, 0.9, 1.0
    logp = teachers_logp(M, N, C) if a.method != "ce" else None

    sizes = [D] + [int(h) for h in a.hidden.split(",")] + [C]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    nu = 1.0 / (a.tolerance * M)

    order = torch.randperm(N)
    starts = list(range(0, N, a.batch))
    if a.batches:
        starts = starts[:a.batches]
    svm_s = 0.0
    images = 0
    t0 = time.perf_counter()
    for start in starts:
        idx = order[start:start + a.batch]
        xb, yb = X[idx], y[idx]
        logits = model(xb)
        loss = gamma * F.cross_entropy(logits, yb)
        if a.method == "avg-loss":
            loss = loss + alpha * kd_losses(logits, logp[:, idx], T).mean()
        elif a.method == "aekd-official":
            grads = []
            logits.register_hook(lambda g: grads.append(g.detach().clone()))
            losses = []
            lt = logp[:, idx]
            for m in range(M):
                opt.zero_grad()
                loss_m = kd_losses(logits, lt[m:m + 1], T)[0]
                loss_m.backward(retain_graph=True)
                losses.append(loss_m)
            ts = time.perf_counter()
            w = svm_weights(torch.stack(grads), nu)
            svm_s += time.perf_counter() - ts
            loss = loss + alpha * torch.dot(w, torch.stack(losses))
        opt.zero_grad()
        loss.backward()
        opt.step()
        images += xb.shape[0]
    seconds = time.perf_counter() - t0
    if not np.isfinite(loss.item()):
        sys.exit("torch_mlp: loss is not finite")
    print(f"images_per_s {images / seconds:.1f}")
    print(f"epoch_s {N * seconds / images:.3f}")
    if a.method == "aekd-official":
        print(f"svm_ms_per_batch {1e3 * svm_s / len(starts):.3f}")


if __name__ == "__main__":
    main()
