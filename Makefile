# disagree: build, test, demo.
#   make            library (static + shared) and the CLI in build/
#   make test       every test; last line "N passed, N failed"
#   make test SAN=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make deps       install the Debian packages that are missing
#   make demo       deps, build, then the Fashion-MNIST distillation demo

CC      ?= gcc
BUILD   ?= build
ifeq ($(SAN),1)
BUILD   := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -fPIC -fopenmp -D_DEFAULT_SOURCE \
           -Iinclude -Isrc $(SANFLAGS)
LDLIBS  := -lopenblas -lutf8proc -lz -lm
LDFLAGS += -fopenmp $(SANFLAGS)

LIB_SRC := $(sort $(wildcard src/core/*.c src/io/*.c src/nn/*.c src/distill/*.c \
             src/active/*.c src/text/*.c src/annotate/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
HEADERS := include/disagree.h $(wildcard src/*/*.h) $(wildcard tests/*.h)

.PHONY: all test deps deps-bench demo clean fuzz bench
all: $(BUILD)/libdisagree.a $(BUILD)/libdisagree.so $(BUILD)/disagree

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libdisagree.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libdisagree.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/disagree: $(CLI_OBJ) $(BUILD)/libdisagree.a
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libdisagree.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libdisagree.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libdisagree.a $(LDFLAGS) $(LDLIBS)

test: all $(TEST_BIN)
	@sh tests/run.sh $(BUILD)

deps:
	@sh scripts/install-deps

deps-bench:
	@sh scripts/install-deps bench

demo: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/disagree demo --out demo-out

clean:
	rm -rf build

# ------------------------------------------------------------------ bench
# make bench: builds the benchmark programs, runs bench/run.sh (ours and
# the PyTorch/NumPy peers interleaved) and rewrites bench/RESULTS.md.
BENCH_BIN := $(BUILD)/bench/sgemm $(BUILD)/bench/train_dense $(BUILD)/bench/pool_score

$(BUILD)/bench/%: bench/%.c bench/bench.h $(BUILD)/libdisagree.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libdisagree.a $(LDFLAGS) $(LDLIBS)

bench: deps-bench all $(BENCH_BIN)
	sh bench/run.sh $(BUILD)

# Active learning on Fashion-MNIST: random against entropy, consensus-kl,
# student-kl and gradient-conflict (100 initial labels, batches of 100,
# budget 3000, 3 repetitions), labels only and with the teachers distilled
# over every unlabelled pool row each round (1500 steps a round both; settings
# chosen on a validation split, see bench/al/README.md); random alone again up
# to 7100 labels (batches of 200) to see where it gets there. Reuses the demo's
# teachers in demo-out/ and makes them there when missing.
AL_DATA := /usr/share/datasets/fashion-mnist
AL_T    := demo-out
AL_ARGS := --data $(AL_DATA)/train-images-idx3-ubyte.gz \
           --labels $(AL_DATA)/train-labels-idx1-ubyte.gz \
           --test $(AL_DATA)/t10k-images-idx3-ubyte.gz \
           --test-labels $(AL_DATA)/t10k-labels-idx1-ubyte.gz \
           --teachers $(AL_T)/t0.train.npy,$(AL_T)/t1.train.npy,$(AL_T)/t2.train.npy,$(AL_T)/t3.train.npy,$(AL_T)/t4.train.npy \
           --test-teachers $(AL_T)/t0.test.npy,$(AL_T)/t1.test.npy,$(AL_T)/t2.test.npy,$(AL_T)/t3.test.npy,$(AL_T)/t4.test.npy \
           --initial 100 --repeats 3 --epochs 5 --no-estimate
AL_RUN  := $(AL_ARGS) --strategies random,entropy,consensus-kl,student-kl,gradient-conflict \
           --batch 100 --budget 3000

.PHONY: demo-al
demo-al: deps
	@$(MAKE) --no-print-directory all
	@[ -f $(AL_T)/t4.test.npy ] || $(BUILD)/disagree teach \
	    --data $(AL_DATA)/train-images-idx3-ubyte.gz --labels $(AL_DATA)/train-labels-idx1-ubyte.gz \
	    --test $(AL_DATA)/t10k-images-idx3-ubyte.gz --test-labels $(AL_DATA)/t10k-labels-idx1-ubyte.gz \
	    --members 5 --noisy-member 4 --out $(AL_T)
	@mkdir -p bench/al
	$(BUILD)/disagree simulate $(AL_RUN) --steps 1500 --out bench/al/labels-only
	$(BUILD)/disagree simulate $(AL_RUN) --steps 1500 --distill avg-loss --kd-rows 60000 \
	    --out bench/al/distill
	$(BUILD)/disagree simulate $(AL_ARGS) --strategies random --steps 1500 \
	    --batch 200 --budget 7100 --out bench/al/random-long

# make fuzz [FUZZ_SECONDS=60]: every fuzz/fuzz_*.c built with clang's
# libFuzzer, ASan and UBSan against the library compiled by clang in
# build/fuzz, then each run for FUZZ_SECONDS seconds; fails on any crash.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_CFLAGS  := -O1 -g -std=c11 -Wall -Wextra -fopenmp -D_DEFAULT_SOURCE -Iinclude -Isrc \
                -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_BIN     := $(patsubst fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard fuzz/fuzz_*.c))

$(FUZZ_DIR)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/libdisagree.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_file.h $(FUZZ_DIR)/libdisagree.a $(HEADERS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libdisagree.a $(LDLIBS)

fuzz:
	@sh scripts/install-deps fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@sh scripts/fuzz $(FUZZ_SECONDS) $(FUZZ_BIN)

# The text demo: SpamAssassin, four teachers on four views, distilled
# embedding-bag students against fastText; writes bench/text/RESULTS.md.
# Epochs and lr come from bench/text/tuned.env, picked on validation mail by
# `sh bench/text/tune.sh 2` (about 6 minutes more; run first when missing).
.PHONY: demo-text
demo-text: deps-bench
	@$(MAKE) --no-print-directory all
	sh bench/text/run.sh 2

# Active learning on the text: SpamAssassin as dense hashed word 1-2-grams
# (disagree text featurize), the four text teachers (out/demo-text's when
# there), simulate with random, entropy, consensus-kl and student-kl; writes
# bench/text/al/{curves.csv,curves.svg,cost.md,cost.json}. About 5 minutes.
.PHONY: demo-text-al
demo-text-al: deps-bench
	@$(MAKE) --no-print-directory all
	sh bench/text/al/run.sh 2
