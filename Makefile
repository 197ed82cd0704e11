# Makefile - builds build/xllm, the unit tests (plain and ASan+UBSan), fuzz targets.
#   make            build/xllm
#   make test       install deps if missing, run unit tests, the e2e tests (real clients against
#                   a live xllm serve), then the sanitizer build of the unit tests
#   make e2e-test   only the e2e tests (tests/e2e, node --test; npm ci when node_modules lacks the clients)
#   make run        build and run xllm on the demo model in models/
#   make fuzz       build the libFuzzer targets (clang) into build-fuzz/
#   make CUDA=1     also the CUDA engine plugin: build/libxllm-cuda.so, build/cuda.json
#                   and build/xllm-cuda-check (needs nvcc; docs/cuda.md)
# BUILD=dir picks the output folder (helpers building in parallel use their own).

BUILD ?= build
CC ?= cc
SAN ?= 0

CFLAGS_BASE := -std=c11 -Wall -Wextra -g -D_GNU_SOURCE -Isrc -Iinclude -MMD -MP -pthread -fPIC \
               -I/usr/include/pcre2
ifeq ($(SAN),1)
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN := -fsanitize=address,undefined
else
  OPT := -O2
  LDSAN :=
endif
CFLAGS ?=
CFLAGS += $(CFLAGS_BASE) $(OPT)
LDLIBS := -ljansson -lyaml -lpcre2-8 -lutf8proc -lcrypto -lmicrohttpd -lcurl -lz -ledit -ldl -lm -pthread

# Per-file ISA flags: kernels named *_avx2.c / *_avx512.c are compiled for that
# ISA and only called after the start-up CPU check.
AVX2_FLAGS := -mavx2 -mfma -mf16c
AVX512_FLAGS := $(AVX2_FLAGS) -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mavxvnni

LIB_SRC := $(filter-out src/cli/main.c,$(shell find src -name '*.c' | sort))
MAIN_SRC := src/cli/main.c
TEST_SRC := $(shell find tests/unit -name '*.c' | sort)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all test unit-test san-test e2e-test run deps fuzz clean models bench-models cuda
all: $(BUILD)/xllm

# ---- CUDA engine plugin (make CUDA=1; the objects of src/ are PIC so the
# plugin links the parts of libxllm.a it uses, with only its entry exported)
CUDA ?= 0
NVCC ?= $(shell command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
NVCC_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVCCFLAGS := -O3 -std=c++17 $(NVCC_ARCH) -Xcompiler -fPIC -Isrc -Iinclude -Icuda -MMD -MP
CUDA_C_SRC := $(filter-out cuda/cuda_check.c cuda/cuda_kcheck.c,$(wildcard cuda/*.c))
CUDA_CU_SRC := $(wildcard cuda/*.cu)
CUDA_OBJ := $(CUDA_C_SRC:%.c=$(BUILD)/obj/%.o) $(CUDA_CU_SRC:%.cu=$(BUILD)/obj/%.cu.o)
CUDA_PLAN_OBJ := $(BUILD)/obj/cuda/cuda_plan.o $(BUILD)/obj/cuda/cuda_pack.o
ifeq ($(CUDA),1)
all: cuda
endif
cuda: $(BUILD)/libxllm-cuda.so $(BUILD)/cuda.json $(BUILD)/xllm-cuda-check $(BUILD)/xllm-cuda-kcheck

$(BUILD)/obj/cuda/%.o: cuda/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icuda -I$(CUDA_HOME)/include -c $< -o $@

$(BUILD)/obj/cuda/%.cu.o: cuda/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/libxllm-cuda.so: $(CUDA_OBJ) $(BUILD)/libxllm.a cuda/exports.map
	$(NVCC) -shared -o $@ $(CUDA_OBJ) $(BUILD)/libxllm.a -lcublas -ljansson -lpcre2-8 -lutf8proc -lcrypto -lm \
	  -Xlinker --version-script=cuda/exports.map -Xlinker -Bsymbolic -Xlinker --no-undefined

$(BUILD)/cuda.json: cuda/manifest.json
	cp $< $@

$(BUILD)/xllm-cuda-check: $(BUILD)/obj/cuda/cuda_check.o $(BUILD)/libxllm.a
	$(CC) $(LDSAN) -o $@ $< $(BUILD)/libxllm.a $(LDLIBS)

CUDA_KERNEL_OBJ := $(CUDA_CU_SRC:%.cu=$(BUILD)/obj/%.cu.o)
$(BUILD)/xllm-cuda-kcheck: $(BUILD)/obj/cuda/cuda_kcheck.o $(CUDA_KERNEL_OBJ) $(BUILD)/obj/cuda/cuda_pack.o $(BUILD)/libxllm.a
	$(NVCC) -o $@ $< $(CUDA_KERNEL_OBJ) $(BUILD)/obj/cuda/cuda_pack.o $(BUILD)/libxllm.a -lcublas $(filter-out -pthread,$(LDLIBS)) -Xcompiler -pthread

$(BUILD)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX2_FLAGS) -c $< -o $@

$(BUILD)/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX512_FLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libxllm.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/xllm: $(MAIN_OBJ) $(BUILD)/libxllm.a
	$(CC) $(LDSAN) -o $@ $(MAIN_OBJ) $(BUILD)/libxllm.a $(LDLIBS)

$(TEST_OBJ): CFLAGS += -Icuda

$(BUILD)/obj/cuda/cuda_plan.o $(BUILD)/obj/cuda/cuda_pack.o: $(BUILD)/obj/cuda/%.o: cuda/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icuda -c $< -o $@

$(BUILD)/xllm-tests: $(TEST_OBJ) $(CUDA_PLAN_OBJ) $(BUILD)/libxllm.a
	$(CC) $(LDSAN) -o $@ $(TEST_OBJ) $(CUDA_PLAN_OBJ) -Wl,--whole-archive $(BUILD)/libxllm.a -Wl,--no-whole-archive $(LDLIBS)

deps:
	@scripts/install-deps

unit-test: $(BUILD)/xllm $(BUILD)/xllm-tests
	XLLM_BIN=$(BUILD)/xllm XLLM_CUDA_MANIFEST=$(wildcard $(BUILD)/cuda.json) $(BUILD)/xllm-tests $(T)

san-test:
	$(MAKE) BUILD=build-asan SAN=1 build-asan/xllm build-asan/xllm-tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 XLLM_BIN=build-asan/xllm build-asan/xllm-tests $(T)

# The official openai / ollama / @anthropic-ai/sdk clients against build/xllm serve
# on the demo model; each test file starts and always kills its own server.
e2e-test: $(BUILD)/xllm
	@test -f node_modules/openai/package.json || npm ci --no-audit --no-fund
	XLLM_BIN=$(BUILD)/xllm timeout 600 node --test --test-concurrency=1 tests/e2e/

# The CUDA plugin is built (and its GPU-free tests run) where nvcc exists.
test: deps
	@if command -v nvcc >/dev/null 2>&1; then $(MAKE) CUDA=1 cuda; fi
	$(MAKE) unit-test
	$(MAKE) e2e-test
	$(MAKE) san-test

DEMO_MODEL ?= $(firstword $(wildcard models/*.gguf))
# PROMPT unset: on a terminal, a prompt loop; otherwise a one-shot default line.
run: deps $(BUILD)/xllm
	@scripts/run-demo $(BUILD)/xllm "$(DEMO_MODEL)" $(if $(PROMPT),"$(PROMPT)")

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libxllm.a
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  echo "clang $$f -> build-fuzz/$$n"; \
	  clang $(CFLAGS_BASE) -O1 -g -fsanitize=fuzzer,address,undefined $$f build-fuzz/libxllm.a $(LDLIBS) -o build-fuzz/$$n || exit 1; done

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CUDA_OBJ:.o=.d) $(CUDA_PLAN_OBJ:.o=.d) \
  $(BUILD)/obj/cuda/cuda_check.d $(BUILD)/obj/cuda/cuda_kcheck.d
