/* disagree: distil a committee of disagreeing teacher models into one small
 * student (AE-KD), and pick what a person should label next.
 *
 * The whole public C API. Every call that can fail returns 0 on success or a
 * negative DG_E* code, and fills a dg_error whose message names the file,
 * row or byte and what was expected. The library never exits and never
 * prints except through the logger (silent by default).
 *
 * Sizes follow one legend throughout: N rows, D features, C classes,
 * M teachers, B examples in a minibatch, K rows picked for labelling.
 */
#ifndef DISAGREE_H
#define DISAGREE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DG_VERSION "0.1.0"

/* ------------------------------------------------------------------------
 * Errors and logging
 */

enum {
    DG_OK = 0,
    DG_EIO = -1,      /* a file could not be opened, read or written */
    DG_EFORMAT = -2,  /* a file's contents are not what its format requires */
    DG_EINVAL = -3,   /* an argument or option is out of range */
    DG_ENOMEM = -4,   /* an allocation failed or a size overflows */
    DG_ENUMERIC = -5, /* a NaN or Inf appeared in training */
    DG_EMISMATCH = -6 /* two inputs disagree in rows or classes */
};

#define DG_ERROR_MSG 512

typedef struct dg_error {
    int code;
    char msg[DG_ERROR_MSG];
} dg_error;

typedef enum { DG_LOG_QUIET = 0, DG_LOG_ERROR, DG_LOG_WARN, DG_LOG_INFO, DG_LOG_DEBUG } dg_log_level;

/* Messages at or below `level` go to `sink` (stderr when sink is NULL). */
typedef void (*dg_log_sink)(dg_log_level level, const char *msg, void *user);
void dg_log_configure(dg_log_level level, dg_log_sink sink, void *user);

/* ------------------------------------------------------------------------
 * Plain arrays: dense float matrices and integer labels, owned by the caller
 * once returned. Free with the matching *_free (safe on zeroed structs).
 */

typedef struct dg_matrix {
    int64_t rows, cols;
    float *data; /* rows x cols, row-major */
} dg_matrix;

typedef struct dg_labels {
    int64_t n;
    int32_t *data; /* class ids 0..C-1; -1 marks a row without a label */
} dg_labels;

void dg_matrix_free(dg_matrix *m);
void dg_labels_free(dg_labels *y);

/* ------------------------------------------------------------------------
 * Readers and writers
 */

/* IDX (MNIST layout), raw or gzip-compressed (detected by content).
 * Images: N x H x W unsigned bytes -> N x (H*W) floats in [0, 1]. */
int dg_read_idx_images(const char *path, dg_matrix *out, dg_error *err);
int dg_read_idx_labels(const char *path, dg_labels *out, dg_error *err);

/* NumPy .npy, versions 1-3, C order, either byte order; dtypes f4 f8 i1 i2
 * i4 i8 u1 u2 u4 u8 (and b1). A 1-D array reads as N x 1. */
int dg_read_npy(const char *path, dg_matrix *out, dg_error *err);
/* A 1-D (or N x 1) integer array of class ids; floats with integral values
 * are accepted, anything else is an error naming the element. */
int dg_read_npy_labels(const char *path, dg_labels *out, dg_error *err);

typedef struct dg_csv_opts {
    const char *label_column; /* column name or 0-based index; NULL: no label */
    int header;               /* -1 auto-detect, 0 none, 1 present */
    char delimiter;           /* 0: ',' (or '\t' for .tsv files) */
    int allow_nan;            /* 0: a NaN/Inf cell is an error */
} dg_csv_opts;
dg_csv_opts dg_csv_defaults(void);

/* CSV with numeric feature columns and an optional label column. Quoted
 * fields, CRLF and a UTF-8 BOM are accepted. `labels` may be NULL when no
 * label column is requested. When `names` is not NULL it receives the
 * feature column names (or NULL when there is no header); free it with
 * dg_names_free. */
int dg_read_csv(const char *path, const dg_csv_opts *opts, dg_matrix *features,
                dg_labels *labels, char ***names, dg_error *err);
void dg_names_free(char **names, int64_t n);

/* LIBSVM / SVMlight: "label idx:val ..." with 1-based indices, densified
 * to N x D, D = max(largest index, n_features). */
int dg_read_libsvm(const char *path, int64_t n_features, dg_matrix *features,
                   dg_labels *labels, dg_error *err);

/* Writers are atomic: a temporary file in the same folder, fsync, rename.
 * On failure nothing is left at `path`. */
int dg_write_npy(const char *path, const float *data, int64_t rows, int64_t cols,
                 dg_error *err);
int dg_write_npy_labels(const char *path, const int32_t *labels, int64_t n, dg_error *err);
/* header may be NULL (no header row) or hold `cols` names. */
int dg_write_csv(const char *path, const float *data, int64_t rows, int64_t cols,
                 const char *const *header, dg_error *err);

/* Features by file extension: .npy, .csv/.tsv, .svm/.libsvm/.txt (LIBSVM),
 * *-ubyte / *-ubyte.gz (IDX). */
int dg_load_features(const char *path, const dg_csv_opts *csv, dg_matrix *out, dg_error *err);
/* Labels by file extension: IDX, .npy, or a text/CSV file of one integer
 * per line. */
int dg_load_labels(const char *path, dg_labels *out, dg_error *err);

/* ------------------------------------------------------------------------
 * Datasets: features plus optional labels
 */

typedef struct dg_dataset dg_dataset;

/* Takes ownership of X and y (y may be NULL or empty: no labels). Labels
 * must lie in [0, n_classes) or be -1; n_classes 0 infers max label + 1. */
int dg_dataset_from_arrays(dg_matrix *X, dg_labels *y, int n_classes, dg_dataset **out,
                           dg_error *err);
/* Reads features (and labels when labels_path is not NULL; for CSV a label
 * column in the same file may be named in csv->label_column instead). */
int dg_dataset_load(const char *features_path, const char *labels_path,
                    const dg_csv_opts *csv, dg_dataset **out, dg_error *err);
void dg_dataset_free(dg_dataset *ds);
int64_t dg_dataset_rows(const dg_dataset *ds);
int64_t dg_dataset_cols(const dg_dataset *ds);
int dg_dataset_classes(const dg_dataset *ds);
const float *dg_dataset_features(const dg_dataset *ds);
const int32_t *dg_dataset_labels(const dg_dataset *ds); /* NULL: no labels */
const char *dg_dataset_source(const dg_dataset *ds);

/* ------------------------------------------------------------------------
 * Teachers: M matrices of N x C outputs, probabilities or logits
 */

typedef enum { DG_TEACHER_AUTO = 0, DG_TEACHER_PROB, DG_TEACHER_LOGIT } dg_teacher_format;

typedef struct dg_teachers dg_teachers;

/* Reads one N x C file per teacher (.npy or CSV with a header of class
 * names). All must agree in N and C; a mismatch names both files. AUTO
 * takes a file as probabilities when every row is non-negative and sums to
 * 1 +- 1e-3, else as logits. */
int dg_teachers_load(const char *const *paths, int M, dg_teacher_format format,
                     dg_teachers **out, dg_error *err);
/* From in-memory arrays, each N x C (copied). */
int dg_teachers_from_arrays(const float *const *outputs, int M, int64_t N, int C,
                            dg_teacher_format format, dg_teachers **out, dg_error *err);
void dg_teachers_free(dg_teachers *t);
int dg_teachers_count(const dg_teachers *t);
int64_t dg_teachers_rows(const dg_teachers *t);
int dg_teachers_classes(const dg_teachers *t);
/* Teacher m's probabilities (temperature 1) for every row, into N x C. */
int dg_teachers_probs(const dg_teachers *t, int m, float *out);

/* ------------------------------------------------------------------------
 * Models: an MLP (ReLU, He init); no hidden layer is softmax regression.
 * Parameters live in one contiguous float buffer.
 */

typedef struct dg_model dg_model;

#define DG_MAX_LAYERS 16

int dg_mlp_create(int64_t D, const int *hidden, int n_hidden, int C, uint64_t seed,
                  dg_model **out, dg_error *err);
void dg_model_free(dg_model *m);
int64_t dg_model_inputs(const dg_model *m);
int dg_model_classes(const dg_model *m);
int64_t dg_model_param_count(const dg_model *m);
/* Logits (N x C) and probabilities (N x C) for X (N x D). */
int dg_model_logits(const dg_model *m, const float *X, int64_t N, float *logits, dg_error *err);
int dg_model_predict_proba(const dg_model *m, const float *X, int64_t N, float *probs,
                           dg_error *err);
/* Model file: magic "DGMODEL\0", version, sizes, little-endian float32
 * parameters, CRC-32 of everything before it. Written atomically. */
int dg_model_save(const dg_model *m, const char *path, dg_error *err);
int dg_model_load(const char *path, dg_model **out, dg_error *err);

/* ------------------------------------------------------------------------
 * Training and distillation
 */

typedef enum { DG_CE = 0, DG_AVG_LOSS, DG_AVG_PROB, DG_AEKD } dg_method;
typedef enum { DG_AEKD_MEAN = 0, DG_AEKD_FULL, DG_AEKD_PER_EXAMPLE } dg_aekd_grad;
typedef enum { DG_SGD = 0, DG_ADAM } dg_optimizer;
typedef enum { DG_LR_CONSTANT = 0, DG_LR_STEP, DG_LR_COSINE } dg_schedule;

/* What one epoch reports; passed to the epoch callback. */
typedef struct dg_epoch_report {
    int epoch;           /* 1-based */
    double loss;         /* mean training loss */
    double train_acc;    /* on labelled training rows; NaN without labels */
    double test_acc;     /* NaN without a test set */
    double seconds;      /* wall time of this epoch */
    int M;               /* teachers */
    const double *mean_weight; /* M mean teacher weights this epoch */
} dg_epoch_report;

typedef void (*dg_epoch_cb)(const dg_epoch_report *r, void *user);

typedef struct dg_distill_opts {
    dg_method method;
    double temperature; /* T > 0 */
    double alpha;       /* weight of the KD term */
    double gamma;       /* weight of the CE term */
    double tolerance;   /* AE-KD cap C in [1/M, 1] */
    dg_aekd_grad aekd_grad;
    int aekd_normalize;

    int hidden[DG_MAX_LAYERS];
    int n_hidden;
    int epochs;
    int batch;
    dg_optimizer optimizer;
    double lr, momentum, weight_decay;
    dg_schedule schedule;
    int step_every;     /* DG_LR_STEP: multiply lr by step_gamma every this many epochs */
    double step_gamma;
    uint64_t seed;
    int threads;        /* 0: leave BLAS/OpenMP defaults */

    /* Optional overrides of what the run trains on, for bootstrap members,
     * label noise and active learning (NULL: the dataset's own). */
    const int64_t *rows;               /* n_rows training row ids, may repeat */
    int64_t n_rows;
    const int32_t *labels;             /* N labels (-1: none) replacing the dataset's */

    const dg_dataset *test;            /* optional */
    const char *weights_log;           /* optional CSV of every batch's weights */
    const char *checkpoint;            /* optional path, written every epoch */
    int resume;                        /* continue from checkpoint if it exists */
    dg_epoch_cb on_epoch;
    void *on_epoch_user;
} dg_distill_opts;

dg_distill_opts dg_distill_defaults(void);

/* Trains a new student on `train` (labels optional per row) with the
 * teachers' outputs on the same rows (NULL only for DG_CE). */
int dg_distill(const dg_dataset *train, const dg_teachers *teachers,
               const dg_distill_opts *opts, dg_model **out, dg_error *err);

/* Same loop, continuing from an existing model (used by active learning). */
int dg_distill_into(dg_model *model, const dg_dataset *train, const dg_teachers *teachers,
                    const dg_distill_opts *opts, dg_error *err);

/* Capped-simplex QP: minimise 1/2 a'Ga subject to sum(a) = 1 and
 * 0 <= a_m <= cap. G is M x M symmetric positive semi-definite (row-major).
 * cap must lie in [1/M, 1]. Exact up to a KKT tolerance of 1e-9 and
 * deterministic. */
int dg_capped_simplex_qp(const double *G, int M, double cap, double *a, dg_error *err);

/* ------------------------------------------------------------------------
 * Evaluation
 */

typedef struct dg_eval_report {
    int64_t n;
    int C;
    double accuracy, macro_f1, log_loss, ece;
    int64_t *confusion; /* C x C, rows = truth, columns = prediction */
} dg_eval_report;

/* probs N x C against labels (rows with label -1 are skipped). */
int dg_evaluate(const float *probs, const int32_t *labels, int64_t N, int C,
                dg_eval_report *out, dg_error *err);
void dg_eval_report_free(dg_eval_report *r);

/* ------------------------------------------------------------------------
 * Active learning: acquisition scores and batch selection
 */

/* (section: active) */

/* ------------------------------------------------------------------------
 * Text: UTF-8 readers, tokenizer, hashed n-grams, sparse matrices
 */

/* (section: text) */

#ifdef __cplusplus
}
#endif

#endif /* DISAGREE_H */
