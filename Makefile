# vfio-migctl — drive VFIO device migration (protocol v2) from the shell.
#
#   make              build build/vfio-migctl
#   make check        install what is missing, then unit, CLI and VM tests
#   make demo         boot the test VM and save | resume between two devices
#   make install      PREFIX=/usr/local DESTDIR=

VERSION := 0.1.0

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
WERROR ?= -Werror
PKGS := json-c libxxhash libnl-3.0 smartcols

B := build
# The distribution's CPPFLAGS and LDFLAGS (hardening) come through as given.
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wformat=2 \
	-Wmissing-prototypes -Wstrict-prototypes $(WERROR) \
	-DMIGCTL_VERSION='"$(VERSION)"' -Isrc/lib -Isrc/shared \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(CPPFLAGS) $(CFLAGS) -MMD -MP
LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -pthread

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-7s %s\n'
endif

SHARED_SRCS := $(wildcard src/shared/*.c)
LIB_SRCS := $(wildcard src/lib/*.c)
CLI_SRCS := $(wildcard src/cli/*.c)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)

SHARED_OBJS := $(SHARED_SRCS:%.c=$(B)/%.o)
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(B)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)

all: $(B)/vfio-migctl

# Without the -dev packages the first error would be a missing json-c/json.h:
# name the missing Debian packages and the command that installs them.
DEB_json-c := libjson-c-dev
DEB_libxxhash := libxxhash-dev
DEB_libnl-3.0 := libnl-3-dev
DEB_smartcols := libsmartcols-dev
ifeq ($(filter clean deps check demo uninstall,$(MAKECMDGOALS)),)
ifeq ($(shell command -v $(PKG_CONFIG)),)
$(error missing build dependencies: pkg-config; install them with: tests/deps.sh build)
endif
MISSING_PKGS := $(strip $(foreach p,$(PKGS),$(if $(shell $(PKG_CONFIG) --exists $(p) && echo y),,$(or $(DEB_$(p)),$(p)))))
ifneq ($(MISSING_PKGS),)
$(error missing build dependencies: $(MISSING_PKGS); install them with: tests/deps.sh build)
endif
endif

$(B)/%.o: %.c
	$(quiet) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The core and the generic helpers it shares with the front end
$(B)/libmigctl.a: $(LIB_OBJS) $(SHARED_OBJS)
	$(quiet) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/vfio-migctl: $(CLI_OBJS) $(B)/libmigctl.a
	$(quiet) LD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/unit/%: tests/unit/%.c $(B)/libmigctl.a
	$(quiet) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $^ $(LDLIBS)

# ---- tests

deps:
	$(Q)tests/deps.sh build test vm

check-unit: $(UNIT_BINS)
	$(Q)tests/unit/run.sh $(UNIT_BINS)

check-cli: $(B)/vfio-migctl $(B)/mkstreams
	$(Q)MIGCTL=$(CURDIR)/$(B)/vfio-migctl bats --tap tests/cli

# The same sources and warnings with clang: both compilers stay clean
CLANG ?= clang-14
check-clang:
	$(quiet) CLANG "src/*/*.c"
	$(Q)for f in $(SHARED_SRCS) $(LIB_SRCS) $(CLI_SRCS); do \
		$(CLANG) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -fsyntax-only $$f || exit 1; \
	done

# The tree as .clang-format lays it out: a file it would change fails
CLANG_FORMAT ?= clang-format-14
check-format:
	$(quiet) FORMAT "src/*/*.[ch]"
	$(Q)$(CLANG_FORMAT) --dry-run --Werror $(SHARED_SRCS) $(LIB_SRCS) $(CLI_SRCS) \
		$(wildcard src/*/*.h)

# The benchmarks are built, never run (figures only: make bench)
check: deps
	$(Q)$(MAKE) --no-print-directory all $(B)/bench/bench-native $(B)/bench/bench-stream
	$(Q)$(MAKE) --no-print-directory check-format
	$(Q)$(MAKE) --no-print-directory check-clang
	$(Q)$(MAKE) --no-print-directory check-unit
	$(Q)$(MAKE) --no-print-directory check-fuzz
	$(Q)$(MAKE) --no-print-directory check-cli
	$(Q)$(MAKE) --no-print-directory check-vm
	$(Q)$(MAKE) --no-print-directory check-torture

include tests/vm/vm.mk
include tests/vm/migsim/migsim.mk
include tests/fuzz/fuzz.mk
include tests/bench/bench.mk
include tests/vm/torture/torture.mk

# The committed sample streams of the CLI tests, made again byte for byte
$(B)/mkstreams: tests/cli/fixtures/mkstreams.c $(B)/libmigctl.a
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fixture-streams: $(B)/mkstreams
	$(Q)$< tests/cli/fixtures/streams

# ---- install

install: $(B)/vfio-migctl
	install -D -m 0755 $(B)/vfio-migctl $(DESTDIR)$(BINDIR)/vfio-migctl
	install -D -m 0644 man/vfio-migctl.1 $(DESTDIR)$(MANDIR)/man1/vfio-migctl.1
	install -D -m 0644 man/vfio-migctl-stream.5 $(DESTDIR)$(MANDIR)/man5/vfio-migctl-stream.5
	install -D -m 0644 completions/vfio-migctl.bash $(DESTDIR)$(BASHCOMPDIR)/vfio-migctl
	install -D -m 0644 completions/_vfio-migctl $(DESTDIR)$(ZSHCOMPDIR)/_vfio-migctl
	install -D -m 0644 completions/vfio-migctl.fish $(DESTDIR)$(FISHCOMPDIR)/vfio-migctl.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vfio-migctl $(DESTDIR)$(MANDIR)/man1/vfio-migctl.1 \
		$(DESTDIR)$(MANDIR)/man5/vfio-migctl-stream.5 \
		$(DESTDIR)$(BASHCOMPDIR)/vfio-migctl $(DESTDIR)$(ZSHCOMPDIR)/_vfio-migctl \
		$(DESTDIR)$(FISHCOMPDIR)/vfio-migctl.fish

clean:
	rm -rf $(B)

.PHONY: all deps check check-format check-clang check-unit check-cli fixture-streams install uninstall clean
.DELETE_ON_ERROR:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
