# Bulwark build. Non-recursive: sources are found by folder, so adding a file to a component
# (or a test to tests/unit, tests/kernel, tests/fuzz, e2e/) needs no edit here.
#
#   make            every binary, BPF object and skeleton
#   make test       deps, build, then the default test tiers (tests/run.sh; TIERS="node" runs the real-node tier); closing "N passed, N failed"
#   make vm-matrix  the kernel tier booted on each kernel of e2e/cluster/kernels.env (QEMU)
#   make demo       deps, build, then the demo on a local control plane (KEEP=1 leaves it up)
#   make deps       installs what the build and the tests need (idempotent)
#   make cluster-up / cluster-down   the local etcd + kube-apiserver (e2e/cluster/)
#   make cluster-vm-up / cluster-vm-down
#                   a real cluster: that control plane plus scheduler, controller-manager, and a
#                   node VM with kubelet, containerd, kube-proxy (e2e/node/; docs/real-node.md)
#   make images     OCI image layout tars of the agent, controller, webhook, launcher and the
#                   test workloads in build/images/ (images/build.sh; IMAGE_REPO, IMAGE_TAG)

SHELL := /bin/bash
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

BUILD ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

PKGS := libbpf libelf zlib libseccomp libcurl yaml-0.1 jansson libmicrohttpd gnutls
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Werror -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASE_CFLAGS = -std=gnu11 $(WARNINGS) -D_GNU_SOURCE -DBULWARK_VERSION='"$(VERSION)"' \
	-I. -Iinclude -Ilib -I$(BUILD)/gen $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -fstack-protector-strong
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDLIBS_ALL = $(PKG_LIBS) -lpthread -lm

# ---- sources -------------------------------------------------------------------------------
LIB_SRCS := $(wildcard lib/*.c lib/*/*.c)
# A component's C files are found one folder deep too (nodeagent/net/, controller/recordings/),
# so a new file or mechanism folder needs no edit here. A mechanism's kernel program sits next
# to its loader (nodeagent/net/net.bpf.c), as libbpf-tools does.
LAUNCH_SRCS := $(wildcard launch/*.c)
BPF_SRCS := $(wildcard nodeagent/*/*.bpf.c)
vpath %.bpf.c $(sort $(dir $(BPF_SRCS)))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
KERNEL_SRCS := $(wildcard tests/kernel/test_*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
E2E_HELPER_SRCS := $(wildcard e2e/harness/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
asan_obj = $(patsubst %.c,$(BUILD)/asan/%.o,$(1))
fuzz_obj = $(patsubst %.c,$(BUILD)/fuzz/%.o,$(1))

LIB := $(BUILD)/libbulwark.a
LIB_ASAN := $(BUILD)/asan/libbulwark.a
LIB_FUZZ := $(BUILD)/fuzz/libbulwark.a

BINS := $(BUILD)/bin/bulwark-controller $(BUILD)/bin/bulwark-webhook $(BUILD)/bin/bulwark-agent \
	$(BUILD)/bin/bulwark-launch $(BUILD)/bin/kubectl-bulwark
BPF_OBJS := $(patsubst %.bpf.c,$(BUILD)/bpf/%.bpf.o,$(notdir $(BPF_SRCS)))
SKELS := $(patsubst %.bpf.c,$(BUILD)/gen/%.skel.h,$(notdir $(BPF_SRCS)))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
UNIT_ASAN_BINS := $(patsubst tests/unit/%.c,$(BUILD)/asan/tests/unit/%,$(UNIT_SRCS))
KERNEL_BINS := $(patsubst tests/kernel/%.c,$(BUILD)/tests/kernel/%,$(KERNEL_SRCS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/bin/%,$(FUZZ_SRCS))
E2E_HELPER_BIN := $(if $(E2E_HELPER_SRCS),$(BUILD)/bin/bulwark-node-harness)

.PHONY: all deps test test-build demo vm-matrix cluster-up cluster-down cluster-vm-up cluster-vm-down \
	images format format-check clean \
	bench-network bench-seccomp bench-landlock bench-webhook bench-kube bench-controller \
	bench-exec bench-policy

# The web player for `kubectl bulwark replay --web` (recipe below); defined before `all:`
# because a rule's prerequisites are expanded when make reads it.
PLAYER_VERSION := 3.17.0
PLAYER_JS := $(BUILD)/share/asciinema-player/asciinema-player.min.js

all: $(BINS) $(BPF_OBJS) $(SKELS) $(E2E_HELPER_BIN) $(PLAYER_JS)

# ---- the web player for `kubectl bulwark replay --web`: from the npm registry, pinned, into
# the build tree (never a CDN at run time); kubectl-bulwark finds it at ../share/ next to it.
$(PLAYER_JS):
	@mkdir -p $(BUILD)/npm $(@D)
	npm install --prefix $(BUILD)/npm --no-audit --no-fund --no-save --silent \
		asciinema-player@$(PLAYER_VERSION)
	cp $(BUILD)/npm/node_modules/asciinema-player/dist/bundle/asciinema-player.css \
		$(BUILD)/npm/node_modules/asciinema-player/LICENSE $(@D)/
	cp $(BUILD)/npm/node_modules/asciinema-player/dist/bundle/asciinema-player.min.js $@

# ---- BPF: vmlinux.h from the running kernel's BTF, objects, skeletons -------------------------
# vmlinux.h is generated, not checked in: CO-RE relocates field offsets at load time, so the
# header only has to describe *a* recent kernel, and the build machine's BTF always does.
$(BUILD)/gen/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: %.bpf.c $(BUILD)/gen/vmlinux.h $(wildcard include/*.h nodeagent/*/*_abi.h)
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Iinclude \
		-I$(BUILD)/gen -c $< -o $@

$(BUILD)/gen/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

# ---- C objects: a normal, a sanitized and a fuzzing (clang) variant ---------------------------
$(BUILD)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/fuzz/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(filter-out -fstack-protector-strong,$(BASE_CFLAGS)) -Wno-unknown-warning-option \
		-fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(LIB): $(call obj,$(LIB_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(LIB_ASAN): $(call asan_obj,$(LIB_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(LIB_FUZZ): $(call fuzz_obj,$(LIB_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# ---- binaries ---------------------------------------------------------------------------------
# Each component's code other than main.c is an archive, so tests can link the component
# (say, the agent's network applier) without its main().
COMPONENTS := controller webhook nodeagent cli
comp_srcs = $(filter-out $(1)/main.c %.bpf.c,$(wildcard $(1)/*.c $(1)/*/*.c))
$(foreach c,$(COMPONENTS),$(eval $(BUILD)/lib$(c).a: $(call obj,$(call comp_srcs,$(c)))))
$(foreach c,$(COMPONENTS),$(eval $(BUILD)/asan/lib$(c).a: $(call asan_obj,$(call comp_srcs,$(c)))))
COMP_LIBS := $(foreach c,$(COMPONENTS),$(BUILD)/lib$(c).a)
COMP_LIBS_ASAN := $(foreach c,$(COMPONENTS),$(BUILD)/asan/lib$(c).a)
$(COMP_LIBS) $(COMP_LIBS_ASAN):
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/bulwark-controller: $(BUILD)/obj/controller/main.o $(BUILD)/libcontroller.a $(LIB)
$(BUILD)/bin/bulwark-webhook: $(BUILD)/obj/webhook/main.o $(BUILD)/libwebhook.a $(LIB)
$(BUILD)/bin/bulwark-agent: $(BUILD)/obj/nodeagent/main.o $(BUILD)/libnodeagent.a $(LIB)
$(BUILD)/bin/kubectl-bulwark: $(BUILD)/obj/cli/main.o $(BUILD)/libcli.a $(LIB)
$(BUILD)/bin/bulwark-node-harness: $(call obj,$(E2E_HELPER_SRCS)) $(COMP_LIBS) $(LIB)
$(BUILD)/bin/bulwark-controller $(BUILD)/bin/bulwark-webhook $(BUILD)/bin/bulwark-agent \
$(BUILD)/bin/kubectl-bulwark $(BUILD)/bin/bulwark-node-harness:
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_ALL)

# Single-file programs that e2e tests and benchmarks drive (e2e/tools/NAME.c -> build/e2e/NAME).
E2E_TOOL_SRCS := $(wildcard e2e/tools/*.c)
E2E_TOOLS := $(patsubst e2e/tools/%.c,$(BUILD)/e2e/%,$(E2E_TOOL_SRCS))
$(BUILD)/e2e/%: $(BUILD)/obj/e2e/tools/%.o $(COMP_LIBS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_ALL)

# The launcher runs inside arbitrary container images, so it is static and links only what it
# uses from the library.
$(BUILD)/bin/bulwark-launch: $(call obj,$(LAUNCH_SRCS)) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -static -o $@ $^ -ljansson -lpthread

# ---- tests ------------------------------------------------------------------------------------
$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(COMP_LIBS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS_ALL)
$(BUILD)/asan/tests/unit/%: $(BUILD)/asan/tests/unit/%.o $(COMP_LIBS_ASAN) $(LIB_ASAN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ -lcmocka $(LDLIBS_ALL)
# Unit tests of the node harness (tests/unit/test_harness_*.c) also link its code but main.c.
HARNESS_LIB_SRCS := $(filter-out e2e/harness/main.c,$(E2E_HELPER_SRCS))
$(BUILD)/libharness.a: $(call obj,$(HARNESS_LIB_SRCS))
$(BUILD)/asan/libharness.a: $(call asan_obj,$(HARNESS_LIB_SRCS))
$(BUILD)/libharness.a $(BUILD)/asan/libharness.a:
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/tests/unit/test_harness_%: $(BUILD)/obj/tests/unit/test_harness_%.o $(BUILD)/libharness.a $(COMP_LIBS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS_ALL)
$(BUILD)/asan/tests/unit/test_harness_%: $(BUILD)/asan/tests/unit/test_harness_%.o $(BUILD)/asan/libharness.a $(COMP_LIBS_ASAN) $(LIB_ASAN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ -lcmocka $(LDLIBS_ALL)
$(BUILD)/tests/kernel/%: $(BUILD)/obj/tests/kernel/%.o $(COMP_LIBS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS_ALL)
$(BUILD)/fuzz/bin/%: $(BUILD)/fuzz/tests/fuzz/%.o $(LIB_FUZZ)
	@mkdir -p $(@D)
	$(CLANG) -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS_ALL)
# Fuzz targets of the webhook's reviews (tests/fuzz/fuzz_admission_*.c) also link its code but
# main.c.
$(BUILD)/fuzz/libwebhook.a: $(call fuzz_obj,$(call comp_srcs,webhook))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/bin/fuzz_admission_%: $(BUILD)/fuzz/tests/fuzz/fuzz_admission_%.o $(BUILD)/fuzz/libwebhook.a $(LIB_FUZZ)
	@mkdir -p $(@D)
	$(CLANG) -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS_ALL)
# The recordings leg's parsers (agent request paths, controller stream headers) live in the
# agent's and the controller's code; their fuzz target links just those two files.
$(BUILD)/fuzz/bin/fuzz_agent_recordings: $(BUILD)/fuzz/tests/fuzz/fuzz_agent_recordings.o \
		$(call fuzz_obj,controller/recordings/agent_recordings.c nodeagent/exec/recordings_server.c) \
		$(LIB_FUZZ)
	@mkdir -p $(@D)
	$(CLANG) -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS_ALL)
# The map entries the network fuzz target checks against the compiler are the agent's.
$(BUILD)/fuzz/bin/fuzz_netpolicy: $(BUILD)/fuzz/tests/fuzz/fuzz_netpolicy.o \
		$(call fuzz_obj,nodeagent/net/net_entries.c) $(LIB_FUZZ)
	@mkdir -p $(@D)
	$(CLANG) -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS_ALL)
$(BUILD)/fuzz/bin/fuzz_container_state: $(BUILD)/fuzz/tests/fuzz/fuzz_container_state.o \
		$(call fuzz_obj,nodeagent/exec/container_name.c nodeagent/cgroup_path.c) $(LIB_FUZZ)
	@mkdir -p $(@D)
	$(CLANG) -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS_ALL)

# The CO-RE check (tests/core/; the core tier of tests/run.sh) needs libbpf only.
CORE_CHECK := $(BUILD)/tests/core/core_check
$(CORE_CHECK): $(BUILD)/obj/tests/core/core_check.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_ALL)

test-build: all $(E2E_TOOLS) $(UNIT_BINS) $(UNIT_ASAN_BINS) $(KERNEL_BINS) $(FUZZ_BINS) $(CORE_CHECK)

# ---- the two commands -------------------------------------------------------------------------
deps:
	@mk/deps.sh

test: deps
	@$(MAKE) --no-print-directory -j$$(nproc) test-build
	@$(if $(filter node,$(TIERS)),$(MAKE) --no-print-directory images,true)
	@BUILD=$(BUILD) tests/run.sh $(TIERS)

demo: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@BUILD=$(BUILD) demo/run.sh

# The kernel tier booted on every kernel of the matrix (e2e/cluster/kernels.env), one VM each.
vm-matrix: deps
	@$(MAKE) --no-print-directory -j$$(nproc) test-build
	@. e2e/cluster/kernels.env; rc=0; for k in $$KERNELS; do \
		BUILD=$(BUILD) tests/vm-kernel/run.sh $$k || rc=1; done; exit $$rc

# Every image from the binaries above and Debian packages (images/build.sh says what is in each).
images: $(BINS)
	@BUILD=$(BUILD) VERSION=$(VERSION) images/build.sh

cluster-up: deps
	@BUILD=$(BUILD) e2e/cluster/cluster.sh up
cluster-down:
	@BUILD=$(BUILD) e2e/cluster/cluster.sh down

cluster-vm-up: deps
	@BUILD=$(BUILD) e2e/node/node.sh up
cluster-vm-down:
	@BUILD=$(BUILD) e2e/node/node.sh down

# ---- style ------------------------------------------------------------------------------------
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRCS) && echo "format-check: $(words $(FORMAT_SRCS)) files clean"

clean:
	rm -rf $(BUILD)/obj $(BUILD)/asan $(BUILD)/fuzz $(BUILD)/tests $(BUILD)/bpf $(BUILD)/gen \
		$(BUILD)/e2e $(BUILD)/*.a $(BINS) $(BUILD)/bin/bulwark-node-harness

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# bench-NAME runs bench/NAME.sh after a build; each script prints ratios against a baseline
# measured in the same run and writes bench/results/NAME.json. A static pattern rule: make
# does not look up implicit rules for .PHONY targets.
$(filter bench-%,$(MAKECMDGOALS)): bench-%: deps
	@$(MAKE) --no-print-directory -j$$(nproc) test-build
	@BUILD=$(BUILD) bench/$*.sh
