# portcullis build.
#
#   make                 build/portcullis (release, -O2 -g)
#   make SAN=1           build-san/portcullis with AddressSanitizer and UBSan
#   make unit            build and run the cmocka unit tests
#   make fuzz            build the libFuzzer targets (clang) into build-fuzz/
#   make fuzz-replay     replay every fuzz corpus once
#   make bench-bins      build the C micro-benchmarks under bench/
#   make test-tools      build the test-only drivers under tests/tools/ (integration tests use them)
#   make format          clang-format every source file in place
#
# Libraries come from Debian and are found with pkg-config; llhttp is compiled from the
# sources that Debian's node-llhttp package ships.

PKGS        := libuv openssl yaml-0.1 jansson libcurl libpcre2-8 libnghttp2 libprotobuf-c
LLHTTP_SRC  ?= /usr/share/llhttp
LLHTTP_INC  ?= /usr/share/include/llhttp
VERSION     := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV     := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

# V=1 shows every command.
ifeq ($(V),1)
Q :=
else
Q := @
endif

ifeq ($(SAN),1)
BUILD       ?= build-san
CC          ?= cc
OPT         ?= -O1 -g -fno-omit-frame-pointer
SANFLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
BUILD       ?= build
OPT         ?= -O2 -g
SANFLAGS    :=
endif

PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS    := $(shell pkg-config --libs $(PKGS)) -lpthread -lm
WARN        := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
               -Wno-unused-parameter -Werror=implicit-function-declaration
CPPFLAGS    := -D_GNU_SOURCE -DPC_VERSION='"$(VERSION)"' -DPC_GIT_REV='"$(GIT_REV)"' \
               -Isrc -I$(LLHTTP_INC) $(PKG_CFLAGS)
CFLAGS      ?=
ALL_CFLAGS  := -std=c11 $(OPT) $(WARN) $(SANFLAGS) -MMD -MP $(CFLAGS)
LDFLAGS     ?=

LIB_SRCS    := $(filter-out src/cli/main.c,$(sort $(wildcard src/*/*.c)))
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LLHTTP_OBJS := $(BUILD)/obj/llhttp/llhttp.o $(BUILD)/obj/llhttp/api.o $(BUILD)/obj/llhttp/http.o
LIB         := $(BUILD)/libportcullis.a
BIN         := $(BUILD)/portcullis

UNIT_SRCS   := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
UNIT_HELPER := $(wildcard tests/unit/helpers/*.c)

FUZZ_SRCS   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BUILD  := build-fuzz
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

BENCH_SRCS  := $(sort $(wildcard bench/*.c))
BENCH_BINS  := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

TOOL_SRCS   := $(sort $(wildcard tests/tools/*.c))
TOOL_BINS   := $(TOOL_SRCS:tests/%.c=$(BUILD)/tests/%)

.PHONY: all unit fuzz fuzz-replay format clean bench-bins test-tools
all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

# llhttp is generated code: build it in strict mode and without our warning set.
$(BUILD)/obj/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) -std=c11 $(OPT) $(SANFLAGS) -DLLHTTP_STRICT_MODE=1 -I$(LLHTTP_INC) -w -c $< -o $@

$(LIB): $(LIB_OBJS) $(LLHTTP_OBJS)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)ar rcs $@ $^

# The revision the binary reports: main.o is rebuilt whenever it changes.
$(BUILD)/revision: FORCE
	@mkdir -p $(dir $@)
	@echo "$(VERSION) $(GIT_REV)" | cmp -s - $@ || echo "$(VERSION) $(GIT_REV)" > $@

$(BUILD)/obj/src/cli/main.o: $(BUILD)/revision

.PHONY: FORCE
FORCE:

$(BIN): $(BUILD)/obj/src/cli/main.o $(LIB)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(UNIT_HELPER) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(UNIT_HELPER) $(LIB) \
	    $(shell pkg-config --libs cmocka) $(PKG_LIBS)

# C micro-benchmarks under bench/ link the library like the binary does.
$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

bench-bins: $(BENCH_BINS)

# Test-only drivers under tests/tools/ link the library like the binary does.
$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  TOOL    $@"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

test-tools: $(TOOL_BINS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; ./$$t; done

# libFuzzer targets: clang with the fuzzer, address and undefined sanitizers.
FUZZ_CC     ?= clang
FUZZ_FLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 $(CPPFLAGS) -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
	    -Wno-unused-command-line-argument -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/obj/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
	    -DLLHTTP_STRICT_MODE=1 -I$(LLHTTP_INC) -w -c $< -o $@

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS) $(LLHTTP_OBJS:$(BUILD)/%=$(FUZZ_BUILD)/%)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ $^ $(PKG_LIBS)

# Keep fuzz objects between builds; make would otherwise delete them as intermediates.
.SECONDARY: $(FUZZ_LIB_OBJS)

fuzz: $(FUZZ_BINS)

fuzz-replay: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do n=$$(basename $$f); \
	    echo "== $$n"; ./$$f -runs=0 tests/fuzz/corpus/$$n; done

format:
	clang-format -i $(wildcard src/*/*.[ch] tests/unit/*/*.[ch] tests/fuzz/*.c tests/tools/*.c)

clean:
	rm -rf build build-san $(FUZZ_BUILD)

-include $(LIB_OBJS:.o=.d) $(BUILD)/obj/src/cli/main.d $(FUZZ_LIB_OBJS:.o=.d)
