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

typedef enum {
    DG_LOG_QUIET = 0,
    DG_LOG_ERROR,
    DG_LOG_WARN,
    DG_LOG_INFO,
    DG_LOG_DEBUG
} dg_log_level;

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
 * 1 +- 1e-3, else as logits. Same as dg_teachers_load_aligned with no
 * alignment options. */
int dg_teachers_load(const char *const *paths, int M, dg_teacher_format format,
                     dg_teachers **out, dg_error *err);
/* From in-memory arrays, each N x C (copied). */
int dg_teachers_from_arrays(const float *const *outputs, int M, int64_t N, int C,
                            dg_teacher_format format, dg_teachers **out, dg_error *err);
/* The same with abstentions: present[m] (N bytes, or NULL: every row) is 0
 * where teacher m gave no output; such rows are neither checked nor used,
 * and the teacher adds nothing to that row's KD term or AE-KD gradient. */
int dg_teachers_from_arrays_masked(const float *const *outputs,
                                   const unsigned char *const *present, int M, int64_t N, int C,
                                   dg_teacher_format format, dg_teachers **out, dg_error *err);

/* How teacher files are matched to the data's rows and classes.
 *
 * Files keyed by id, whose rows may come in any order, skip rows or abstain:
 *   CSV/TSV whose header has an `id_key` column: one more column per class
 *     name; a row whose class cells are all empty abstains.
 *   JSONL (.jsonl, .ndjson, .json): one object per line, {"id": ..,
 *     "probs": {"cat": 0.7, "dog": 0.3}} (every class, probabilities or
 *     logits as `format` says) or {"id": .., "label": "cat"}, a hard label
 *     read as the one-hot probability row (so not with DG_TEACHER_LOGIT);
 *     "probs": null or "label": null abstains. Other keys are skipped.
 *   Ids are compared as strings (a JSON integer id as its decimal
 *   spelling). Without `ids` the data's ids are the row numbers 0..N-1.
 *   A duplicate id, an id not in the data, or (without allow_missing) a
 *   data id with no row is an error naming the file, line or row and id.
 * Positional files (.npy, CSV without an id column) give one row per data
 * row in order.
 *
 * Classes: column k of the teachers is class id k of `classes`. Without a
 * class list, the first file that names its classes gives it, sorted (see
 * dg_class_names_sort), so it matches labels named by the same rule; a
 * file without names has its columns in class-id order. A named file's
 * unknown or missing class is an error naming the file, line and class. */
typedef struct dg_align_opts {
    int64_t N;                  /* data rows; 0: the rows of the first positional file */
    const char *data_source;    /* the data file N came from, for messages; NULL: "the data" */
    const char *const *ids;     /* N data ids; NULL: the row numbers "0" .. "N-1" */
    const char *ids_source;     /* where ids came from, for messages; NULL: "the data" */
    const char *const *classes; /* C class names in class-id order; NULL: see above */
    int C;
    const char *id_key;         /* id column / key: "id" */
    int allow_missing;          /* a data id with no row in a keyed file: abstention */
} dg_align_opts;
dg_align_opts dg_align_defaults(void);

/* Reads every teacher file and aligns it as `align` says (NULL: defaults,
 * which need N from a positional file). */
int dg_teachers_load_aligned(const char *const *paths, int M, dg_teacher_format format,
                             const dg_align_opts *align, dg_teachers **out, dg_error *err);
/* Whether teacher m answered each row: present (N) gets 1 or 0. */
int dg_teachers_present(const dg_teachers *t, int m, unsigned char *present);

/* Data ids: one per line of a text file, the `key` column of a CSV/TSV
 * with a header, or the `key` of each JSONL object (key NULL: "id"). Empty
 * and repeated ids are errors naming the line. Free with dg_names_free. */
int dg_read_ids(const char *path, const char *key, char ***ids, int64_t *n, dg_error *err);
/* Class names from a file (one per line, or one line "a,b,c"), or, when
 * no file of that name exists and `spec` holds a comma, the list itself.
 * Empty and repeated names are errors. Free with dg_names_free. */
int dg_read_class_names(const char *spec, char ***names, int *C, dg_error *err);
/* The one order class names get class ids in when no list is given:
 * numeric when every name is a decimal integer, else byte order. */
void dg_class_names_sort(char **names, int C);
/* Labels as class names, one per line (an empty line: no label, -1),
 * mapped to ids in classes[C]; an unknown name is an error naming the file,
 * line and name. When classes is NULL, *names_out (if not NULL) receives
 * the sorted distinct names and *C_out their count. */
int dg_load_labels_named(const char *path, const char *const *classes, int C, dg_labels *out,
                         char ***names_out, int *C_out, dg_error *err);
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
    /* Optional per-teacher prior weights (M, non-negative, any scale), e.g.
     * reliability measured on gold labels. avg-loss and avg-prob weight the
     * teachers by it; AE-KD solves on the summaries g_m / prior_m and maps
     * the weights back (a_m / prior_m, renormalised), so where the teachers'
     * gradients do not conflict (orthogonal, equal length) the weights are
     * exactly the prior, and the min-norm solve moves them from there where
     * they do. A prior of 0 leaves that teacher out. NULL: no prior. */
    const double *teacher_prior;
    dg_schedule schedule;
    int step_every;     /* DG_LR_STEP: multiply lr by step_gamma every this many epochs */
    double step_gamma;
    uint64_t seed;
    int threads;        /* 0: leave BLAS/OpenMP defaults; > 0 sets OpenBLAS's and
                         * OpenMP's thread counts for the whole process. dg_distill
                         * shares each step among the OpenMP threads, OpenBLAS at
                         * one thread meanwhile; results are deterministic for a
                         * seed and thread count, and differ in the last bits
                         * between thread counts */

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

/* Same loop, continuing from an existing model (fine-tuning, or warm
 * starts between active-learning rounds); its shape must fit the data. */
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

/* Acquisition scores: one number per pool row, higher = more worth a
 * person's label. Student scores read the student's probabilities,
 * committee scores the teachers' (and optionally the student's). */
typedef enum {
    DG_ACQ_RANDOM = 0,        /* uniform in [0, 1), from the seed and the row index */
    DG_ACQ_LEAST_CONFIDENCE,  /* 1 - max_c s_c */
    DG_ACQ_MARGIN,            /* 1 - (s_top1 - s_top2), in [0, 1] */
    DG_ACQ_ENTROPY,           /* -sum_c s_c ln s_c */
    DG_ACQ_VOTE_ENTROPY,      /* entropy of the members' weighted argmax votes */
    DG_ACQ_CONSENSUS_KL,      /* sum_m w_m KL(p_m || pbar): generalised Jensen-Shannon */
    DG_ACQ_STUDENT_KL,        /* KL(pbar_teachers || s): the KD loss left on the row */
    DG_ACQ_GRADIENT_CONFLICT  /* sum_m w_m |g_m| - |min-norm point of hull{g_m}| */
} dg_acq_kind;

typedef struct dg_acq_input {
    int64_t N;               /* pool rows */
    int C;                   /* classes, >= 2 */
    const float *student;    /* N x C student probabilities; NULL when the score needs none */
    int M;                   /* teachers */
    const float *teachers;   /* M blocks of N x C probabilities: (m, n, c) at (m*N + n)*C + c */
    const double *weights;   /* M non-negative teacher reliabilities (normalised inside,
                              * not all zero); NULL: equal */
    int include_student;     /* vote entropy, consensus KL: the student joins as one more
                              * member with share 1/(M+1), the teachers share M/(M+1);
                              * student KL and gradient conflict compare the teachers
                              * with the student and ignore it */
    double temperature;      /* gradient conflict: softening T > 0 */
    uint64_t seed;           /* random scores */
} dg_acq_input;

/* N, C, M zero and pointers NULL; temperature 4 (the distillation default),
 * seed 0, no student member. */
dg_acq_input dg_acq_defaults(void);

/* Fills scores (N) with the acquisition score `kind` for every row. Every
 * probability row must be finite, non-negative and sum to 1 +- 1e-3 (an
 * error names the matrix and row). Zero probabilities give finite scores.
 * Deterministic and independent of the thread count. */
int dg_acq_scores(dg_acq_kind kind, const dg_acq_input *in, double *scores, dg_error *err);

/* "random", "least-confidence", "margin", "entropy", "vote-entropy",
 * "consensus-kl", "student-kl", "gradient-conflict". */
const char *dg_acq_name(dg_acq_kind kind);
int dg_acq_parse(const char *name, dg_acq_kind *out, dg_error *err);

/* Batch selection: K of N scored rows for a person to label. */
typedef enum {
    DG_SELECT_TOPK = 0,  /* the K best scores */
    DG_SELECT_DIVERSE,   /* greedy score-weighted farthest-first over an embedding */
    DG_SELECT_BALANCED   /* round-robin over predicted classes, best first in each */
} dg_select_mode;

typedef struct dg_select_opts {
    dg_select_mode mode;
    uint64_t seed;                 /* order among equal scores */
    const unsigned char *labelled; /* N: nonzero = already labelled, never picked; NULL: none */
    const float *features;         /* N x D: exact duplicate rows are picked at most once,
                                    * never when a copy is labelled; NULL: no check */
    int64_t D;
    const float *embedding;        /* N x H (e.g. the student's last hidden layer): DIVERSE */
    int64_t H;
    int64_t pool;                  /* DIVERSE: only the `pool` best-scored rows compete;
                                    * 0: every available row (cost N*K*H) */
    const int32_t *predicted;      /* N predicted class ids >= 0: BALANCED */
} dg_select_opts;

dg_select_opts dg_select_defaults(void);

/* Picks up to K rows of the N scored rows (scores: N finite values) into
 * picked (room for K row ids) in the order chosen, and the count into
 * *n_picked: fewer than K only when fewer rows are available. Deterministic
 * for a seed. */
int dg_select_batch(const double *scores, int64_t N, int64_t K, const dg_select_opts *opts,
                    int64_t *picked, int64_t *n_picked, dg_error *err);

/* "topk", "diverse", "balanced". */
const char *dg_select_name(dg_select_mode mode);
int dg_select_parse(const char *name, dg_select_mode *out, dg_error *err);

/* How far each teacher can be trusted, from the rows with gold labels. */
typedef struct dg_teacher_reliability {
    int64_t n;               /* labelled rows scored */
    double accuracy;         /* argmax (first on ties) == label; NaN when n == 0 */
    double acc_low, acc_high; /* Wilson 95% score interval; [0, 1] when n == 0 */
    double ece;              /* expected calibration error, 15 equal-width bins; NaN when n == 0 */
} dg_teacher_reliability;

/* teachers: M blocks of N x C probabilities; labels (N): class id, or -1
 * for an unlabelled row (skipped). Fills out[0..M). */
int dg_teacher_reliability_eval(const float *teachers, int M, int64_t N, int C,
                                const int32_t *labels, dg_teacher_reliability *out,
                                dg_error *err);

/* Committee weights from reliability (the weights input of dg_acq_input):
 * w_m = max(acc_low_m - 1/C, 0.01), the Wilson lower bound of teacher m's
 * accuracy above chance, so a teacher no better than guessing keeps only a
 * token vote; w_m = 1 for a teacher scored on no row. Fills w (M). */
void dg_reliability_weights(const dg_teacher_reliability *r, int M, int C, double *w);

/* Cohen's kappa between two labelings a and b (N class ids in [0, C)):
 * (p_o - p_e) / (1 - p_e). 1 when both are the same constant labeling;
 * NaN when N is 0 or an id lies outside [0, C). */
double dg_cohen_kappa(const int32_t *a, const int32_t *b, int64_t N, int C);

/* The first labels[i] (of n curve points, in order) whose acc[i] >= target,
 * or -1 when the curve never gets there. */
int64_t dg_al_crossing(const int64_t *labels, const double *acc, int n, double target);

/* The committee's answer for every row: argmax (first on ties) of the mean
 * of the M teachers' probabilities, into out (N). */
int dg_teachers_vote(const dg_teachers *t, int32_t *out, dg_error *err);

/* The student's last hidden layer for X (N x D) into out (N x H), H from
 * dg_model_embed_width (D for a model without hidden layer). */
int64_t dg_model_embed_width(const dg_model *m);
int dg_model_embed(const dg_model *m, const float *X, int64_t N, float *out, dg_error *err);

/* One round of a simulated labelling loop. */
typedef struct dg_al_round {
    int round;              /* 0-based; round 0 trains on the initial random set */
    int64_t labels;         /* labelled rows the student trained on */
    double accuracy;        /* student's test accuracy */
    double kappa;           /* Cohen's kappa of stop-set predictions vs the previous
                             * round (NaN in round 0) */
    double uncertainty;     /* mean of H(s)/ln C over the stop set */
    double max_uncertainty; /* largest H(s)/ln C over the stop set */
    double seconds;         /* wall time of the round */
} dg_al_round;

typedef void (*dg_al_round_cb)(const dg_al_round *r, void *user);

typedef struct dg_al_opts {
    dg_acq_kind strategy;
    dg_select_mode select;
    int64_t initial, batch, budget; /* labels: first random set, per round, at most */
    int64_t stop_rows;        /* held-out stop set carved from the pool, never labelled */
    double kappa_threshold;   /* stabilising predictions: kappa >= this ... */
    int kappa_rounds;         /* ... for this many consecutive rounds */
    double uncertainty_threshold; /* stop when the stop set's mean H/ln C falls to this */
    /* The student and how each round trains it: method DG_CE learns from
     * labels only; any other method also distils the teachers over
     * kd_rows unlabelled pool rows drawn afresh each round (labelled rows
     * get CE + KD, unlabelled rows KD only). Each round trains from scratch
     * for `steps` minibatch steps; dg_al_reference uses train.epochs. */
    dg_distill_opts train;
    int steps;
    int64_t kd_rows;
    const int32_t *answers;     /* N labels the simulated annotator gives; NULL: the pool's */
    const int32_t *test_labels; /* test truth; NULL: the test set's own labels */
    int reliability;            /* weight committee scores by dg_reliability_weights
                                 * measured on the rows labelled so far */
    uint64_t seed;              /* stop set, initial set, random scores */
    dg_al_round_cb on_round;
    void *on_round_user;
} dg_al_opts;

/* Strategy entropy, top-k, 100 / 100 / 3000 labels, 1000 stop rows, kappa
 * 0.99 for 3 rounds, uncertainty 0.1, a CE student (128 hidden), 300 steps
 * a round, 2000 KD rows, seed 1. */
dg_al_opts dg_al_defaults(void);

typedef struct dg_al_result {
    int n_rounds;
    dg_al_round *rounds;        /* n_rounds */
    int64_t n_labelled;
    int64_t *labelled;          /* n_labelled row ids in the order they were labelled */
    /* The round (index into rounds) at which each stopping rule fires, or -1. */
    int stop_kappa, stop_uncertainty, stop_budget;
    int M;
    dg_teacher_reliability *reliability; /* M: teachers against the answers on the
                                          * labelled rows at the end; NULL when M = 0 */
} dg_al_result;

/* Simulates the labelling loop on a pool whose answers are known: round 0
 * trains on a random initial set, each later round labels the batch the
 * strategy picks, retrains, and scores the student on `test`. teachers
 * (outputs on the pool rows) may be NULL when neither the strategy nor the
 * method needs them. Deterministic for opts->seed; never labels a row twice
 * nor a stop-set row. */
int dg_al_simulate(const dg_dataset *pool, const dg_teachers *teachers, const dg_dataset *test,
                   const dg_al_opts *opts, dg_al_result *out, dg_error *err);
void dg_al_result_free(dg_al_result *r);

/* Test accuracy of the same student trained on every pool answer for
 * opts->train.epochs epochs (the "full-data accuracy"). */
int dg_al_reference(const dg_dataset *pool, const dg_teachers *teachers, const dg_dataset *test,
                    const dg_al_opts *opts, double *accuracy, dg_error *err);

/* ------------------------------------------------------------------------
 * Text: UTF-8 readers, tokenizer, hashed n-grams, sparse matrices
 */

/* (section: text) */

/* A sparse matrix in compressed sparse row form: row r holds the entries
 * row_ptr[r] .. row_ptr[r+1]-1 of col and val. Within a row the columns are
 * strictly increasing (duplicates were summed). Free with dg_csr_free (safe
 * on a zeroed struct). */
typedef struct dg_csr {
    int64_t rows, cols, nnz;
    int64_t *row_ptr; /* rows + 1 offsets, row_ptr[0] = 0, non-decreasing */
    int32_t *col;     /* nnz column indices in [0, cols) */
    float *val;       /* nnz values */
} dg_csr;

/* Builds a rows x cols CSR matrix from n (row, col, val) triplets in any
 * order; entries with the same (row, col) are summed (an explicit zero sum
 * stays stored). */
int dg_csr_from_triplets(int64_t rows, int64_t cols, const int64_t *row, const int32_t *col,
                         const float *val, int64_t n, dg_csr *out, dg_error *err);
void dg_csr_free(dg_csr *m);

/* A corpus: N texts (valid UTF-8, possibly empty, may hold U+0000), each
 * with a class id (-1: none), an optional id and an optional group. Labels
 * are mapped to class ids 0..C-1 and the C class names are kept. */
typedef struct dg_corpus dg_corpus;

typedef enum { DG_UTF8_ERROR = 0, DG_UTF8_REPLACE } dg_utf8_mode;

typedef struct dg_text_opts {
    const char *text_key;  /* JSON key or CSV column of the text: "text" */
    const char *label_key; /* "label"; NULL: ignore labels */
    const char *id_key;    /* "id"; NULL: ignore */
    const char *group_key; /* "group"; NULL: ignore */
    char delimiter;        /* CSV/TSV: 0 picks '\t' for .tsv/.tab files, else ',' */
    /* DG_UTF8_ERROR: invalid UTF-8 (or a lone \u surrogate escape) is an
     * error naming file, line and byte. DG_UTF8_REPLACE: each maximal
     * invalid subpart becomes U+FFFD and is counted (dg_corpus_replaced). */
    dg_utf8_mode invalid_utf8;
    /* When not NULL, labels must be one of these n_classes names (or an
     * integer id below n_classes), so a test file shares the training ids.
     * When NULL, string labels get ids in order of first appearance and
     * integer labels are the ids themselves (class names "0", "1", ...). */
    const char *const *classes;
    int n_classes;
} dg_text_opts;
dg_text_opts dg_text_defaults(void);

/* JSONL: one JSON object per non-blank line. The text must be a string;
 * the label a string, an integer (-1 or null: none) or absent; id and group
 * a string or integer. Other keys may hold any JSON value and are skipped.
 * A UTF-8 BOM and CRLF line ends are accepted. Errors name the line and the
 * byte (1-based within the line). */
int dg_read_jsonl(const char *path, const dg_text_opts *opts, dg_corpus **out, dg_error *err);
/* CSV or TSV with a header row naming the columns; the text column is
 * required, label/id/group columns are used when present. Quoted fields may
 * hold delimiters, newlines and "" escapes; CRLF and a BOM are accepted. An
 * empty label cell is no label; a cell spelling an integer (and no given
 * class name) is an integer label. */
int dg_read_text_csv(const char *path, const dg_text_opts *opts, dg_corpus **out,
                     dg_error *err);
/* By extension: .jsonl/.ndjson/.json as JSONL, .csv/.tsv/.tab as CSV. */
int dg_read_text(const char *path, const dg_text_opts *opts, dg_corpus **out, dg_error *err);

/* An empty corpus (for building one in memory with dg_corpus_add). */
int dg_corpus_create(const dg_text_opts *opts, dg_corpus **out, dg_error *err);
/* Appends a text of len bytes. label: a class name, or NULL for none. id and
 * group may be NULL. Invalid UTF-8 is handled as opts->invalid_utf8 says. */
int dg_corpus_add(dg_corpus *c, const char *text, size_t len, const char *label,
                  const char *id, const char *group, dg_error *err);
void dg_corpus_free(dg_corpus *c);
int64_t dg_corpus_size(const dg_corpus *c);
/* Text i and its length in bytes (NUL-terminated as well). Pointers stay
 * valid until the next dg_corpus_add or dg_corpus_free. */
const char *dg_corpus_text(const dg_corpus *c, int64_t i, size_t *len);
const int32_t *dg_corpus_labels(const dg_corpus *c); /* N class ids, -1 none */
int dg_corpus_classes(const dg_corpus *c);           /* C */
const char *const *dg_corpus_class_names(const dg_corpus *c); /* C names */
const char *dg_corpus_id(const dg_corpus *c, int64_t i);    /* NULL: none */
const char *dg_corpus_group(const dg_corpus *c, int64_t i); /* NULL: none */
int64_t dg_corpus_replaced(const dg_corpus *c); /* U+FFFD inserted by the reader */

/* Which part of a text is seen. For mail, the RFC 822 header block ends at
 * the first empty line ("\n\n" or "\r\n\r\n"): BODY is what follows it
 * (empty when there is no empty line), HEADERS what precedes it (the whole
 * text when there is none). */
typedef enum { DG_TEXT_ALL = 0, DG_TEXT_BODY, DG_TEXT_HEADERS } dg_text_part;
/* The byte span [*start, *start + *span) of `part` within text[0..len). */
void dg_text_span(const char *text, size_t len, dg_text_part part, size_t *start,
                  size_t *span);

/* NFKC + Unicode case folding (utf8proc). *out is NUL-terminated, *out_len
 * bytes long, and freed with free(). The input must be valid UTF-8. */
int dg_text_normalize(const char *text, size_t len, char **out, size_t *out_len, dg_error *err);
/* Word tokens: maximal runs of letters (L*) and digits/numbers (N*), with
 * combining marks (M*) kept inside a run they continue; every other code
 * point separates. normalize != 0 applies dg_text_normalize first. */
int dg_text_tokens(const char *text, size_t len, int normalize, char ***tokens, int64_t *n,
                   dg_error *err);
void dg_text_tokens_free(char **tokens, int64_t n);

/* Hashed n-grams. An n-gram's bucket is h xor-folded to b bits,
 * ((h >> b) ^ h) & (2^b - 1), where h is the 64-bit FNV-1a hash (offset
 * basis 0xcbf29ce484222325, prime 0x100000001b3) of one kind byte followed
 * by the n-gram's UTF-8 bytes:
 *   word n-grams: 'W', then the n tokens joined by the byte 0x1F;
 *   char n-grams: 'C', then n consecutive code points of one token padded
 *   with a space on each side (" spam " gives " sp", "spa", "pam", "am ").
 * Char n-grams never cross a word; tokens shorter than n - 2 code points
 * give no char n-gram of order n. */
#define DG_NGRAM_WORD 'W'
#define DG_NGRAM_CHAR 'C'
#define DG_NGRAM_SEP 0x1F
#define DG_HASH_BITS_MAX 24
uint32_t dg_ngram_bucket(char kind, const char *bytes, size_t len, int bits);

typedef struct dg_featurizer_opts {
    int bits;               /* 2^bits columns, 1..DG_HASH_BITS_MAX; 20 */
    int word_min, word_max; /* word n-gram orders, 1..3; 1..2 (0..0: none) */
    int char_min, char_max; /* char n-gram orders, 1..8; 0..0 (none) */
    int normalize;          /* NFKC + case folding first; 1 */
    int sublinear_tf;       /* tf -> 1 + ln(tf); 0 */
    int idf;                /* multiply by ln((1 + N) / (1 + df)) + 1; 1 */
    int l2;                 /* scale each non-empty row to unit L2 norm; 1 */
    dg_text_part part;      /* DG_TEXT_ALL */
} dg_featurizer_opts;
dg_featurizer_opts dg_featurizer_defaults(void);

/* A featurizer remembers its options and, with idf, the document
 * frequencies of the training corpus, so test texts get the same columns
 * and weights. train may be NULL when opts->idf is 0. */
typedef struct dg_featurizer dg_featurizer;
int dg_featurizer_fit(const dg_featurizer_opts *opts, const dg_corpus *train,
                      dg_featurizer **out, dg_error *err);
/* From a saved idf vector of 2^bits floats (NULL when opts->idf is 0). */
int dg_featurizer_from_idf(const dg_featurizer_opts *opts, const float *idf, int64_t n,
                           dg_featurizer **out, dg_error *err);
/* The 2^bits idf weights, or NULL without idf. */
const float *dg_featurizer_idf(const dg_featurizer *f);
int64_t dg_featurizer_columns(const dg_featurizer *f);
/* N x 2^bits features of corpus c. */
int dg_featurizer_transform(const dg_featurizer *f, const dg_corpus *c, dg_csr *out,
                            dg_error *err);
void dg_featurizer_free(dg_featurizer *f);

/* Text students over a featurizer's columns (V = 2^bits): sparse softmax
 * regression (z = x W + b) or a fastText-style embedding bag (h = the
 * x-weighted mean of the row's bucket embeddings, E floats; z = W h + b).
 * A model keeps its featurizer settings and idf, so it predicts raw text. */
typedef enum { DG_TEXT_LINEAR = 0, DG_TEXT_BAG } dg_text_student;

#define DG_TEXT_DIM_MAX 1024

typedef struct dg_text_model dg_text_model;

/* A new student for C classes (names: C class names, copied) over the
 * columns of featurizer f (its options and idf are copied). dim is E for
 * the bag (1..DG_TEXT_DIM_MAX; embeddings uniform in +-1/E from seed, the
 * rest zero) and ignored by the linear student (all zero). */
int dg_text_model_create(dg_text_student kind, const dg_featurizer_opts *fopts,
                         const dg_featurizer *f, int C, const char *const *names, int dim,
                         uint64_t seed, dg_text_model **out, dg_error *err);
void dg_text_model_free(dg_text_model *m);
dg_text_student dg_text_model_kind(const dg_text_model *m);
int dg_text_model_classes(const dg_text_model *m);
const char *const *dg_text_model_class_names(const dg_text_model *m);
int64_t dg_text_model_param_count(const dg_text_model *m);
/* The model's own featurizer (use it to transform new text). */
const dg_featurizer *dg_text_model_featurizer(const dg_text_model *m);

/* Trains m on X (N x V) with labels (N, -1: none; NULL: none) and the
 * teachers' outputs on the same rows (NULL only for DG_CE), minibatches in
 * a seeded order, SGD or Adam (opts->optimizer, lr, momentum,
 * weight_decay, schedule), every distillation method of opts->method.
 * Updates are sparse: an epoch costs O(nnz(X) * R), R = C or E. opts->rows
 * selects training rows; opts->hidden, test, checkpoint, resume and
 * weights_log do not apply (the last three are rejected). test_X (N2 x V)
 * and test_y (N2) are optional and only reported per epoch. Deterministic
 * for a seed, whatever opts->threads. */
int dg_text_train(dg_text_model *m, const dg_csr *X, const int32_t *labels,
                  const dg_teachers *teachers, const dg_distill_opts *opts,
                  const dg_csr *test_X, const int32_t *test_y, dg_error *err);

/* Class probabilities (N x C) of X (N x V), or of raw texts through the
 * model's featurizer. */
int dg_text_model_predict_proba(const dg_text_model *m, const dg_csr *X, float *probs,
                                dg_error *err);
int dg_text_model_predict_corpus(const dg_text_model *m, const dg_corpus *c, float *probs,
                                 dg_error *err);

/* Text model file: magic "DGTEXT\0\0", version, kind, sizes, featurizer
 * options, class names, float32 parameters, idf, CRC-32 of all before it;
 * integers and floats little-endian. Written atomically. */
int dg_text_model_save(const dg_text_model *m, const char *path, dg_error *err);
int dg_text_model_load(const char *path, dg_text_model **out, dg_error *err);

#ifdef __cplusplus
}
#endif

#endif /* DISAGREE_H */
