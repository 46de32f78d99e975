# schakel - build, test and demo.
#
#   make demo    build (installing missing Debian packages) and run the pipeline
#   make test    build and run every test; ends with "N passed, N failed"
#
# Everything is built under build/.  The binary finds its adapters and
# schemas through the paths compiled in below, which `make install` rewrites;
# $SCHAKEL_ADAPTER_DIR and $SCHAKEL_SCHEMA_DIR override them at run time.

CC      ?= gcc
PREFIX  ?= /usr/local
B       := build

PKGS    := libxml-2.0 xmlsec1-openssl openssl sqlite3 libpq jansson inih libevent libevent_openssl libcurl
# Debian packages that the build and the tests need (see `make deps`).
DEBS    := build-essential pkg-config libxml2-dev libxml2-utils libxmlsec1-dev \
           xmlsec1 libssl-dev openssl libsqlite3-dev sqlite3 libpq-dev libcurl4-openssl-dev \
           libevent-dev libjansson-dev libcsv-dev libinih-dev libcmocka-dev valgrind time curl \
           clang libclang-rt-14-dev clang-tidy cppcheck

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) -fPIC -Isrc \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(EXTRA_CFLAGS)
# libcurl is not linked: src/fetch.c loads it when the first fetcher is made.
LINK_PKGS := $(filter-out libcurl,$(PKGS))
LIBS    = $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null) -ldl -lm -pthread
LDFLAGS ?=

# `make V=1` shows the full commands.
ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @echo '  $(1)' $(2)
endif

SCHEMA_DIR  ?= $(CURDIR)/schemas
ADAPTER_DIR ?= $(CURDIR)/$(B)/adapters
DATA_DIR_SHARE ?= $(CURDIR)/tests/fixtures
MKCERTS ?= $(CURDIR)/certs/mkcerts.sh
PATHS   = -DSCHAKEL_SCHEMA_DIR='"$(SCHEMA_DIR)"' \
          -DSCHAKEL_ADAPTER_DIR='"$(ADAPTER_DIR)"' \
          -DSCHAKEL_SAMPLE_DIR='"$(DATA_DIR_SHARE)"' \
          -DSCHAKEL_MKCERTS='"$(MKCERTS)"'

SRC     := $(wildcard src/*.c)
OBJ     := $(SRC:src/%.c=$(B)/obj/%.o)
# The faces that end the process or print are not in the library tests link.
LIBOBJ  := $(filter-out $(B)/obj/main.o $(B)/obj/demo.o,$(OBJ))

ADAPTERS := $(notdir $(wildcard adapters/*))
ADAPTER_SO := $(ADAPTERS:%=$(B)/adapters/%.so)
adapter_src = $(wildcard adapters/$(1)/*.c)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
ADAPTER_TEST_SRC := $(wildcard adapters/*/tests/test_*.c)
ADAPTER_TEST_BIN := $(foreach t,$(ADAPTER_TEST_SRC),$(B)/tests/$(notdir $(t:.c=)))

.PHONY: all deps test-deps demo test test-sqlite test-pg test-pg-e2e unit e2e clean install check-deps asan valgrind lint fuzz bench torture

all: check-deps $(B)/schakel $(ADAPTER_SO)

# Installs the Debian packages that are missing (needs root; CI and a fresh
# machine run as root).  Without root it says which ones to install.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null || exit 1; \
	  else echo "missing Debian packages (run as root: apt-get install$$missing)"; exit 1; fi; \
	fi

# What only the tests need: JSON and DOM checks, a headless browser for the
# operator page and the analyst's page, Node.js for the checks that use npm
# packages.  `make test` installs them (as root) like `make deps`, and the
# npm packages of tests/node/package-lock.json with `npm ci` (when the lock
# is newer than what is installed).  postgresql-15: the PostgreSQL tests
# (tests/pg/) start a cluster of their own with its initdb and pg_ctl.
TEST_DEBS := jq python3 chromium nodejs postgresql-15
NODE_DIR := tests/node

test-deps:
	@$(MAKE) --no-print-directory deps DEBS="$(TEST_DEBS)"
	@command -v npm >/dev/null || $(MAKE) --no-print-directory deps DEBS=npm
	@[ $(NODE_DIR)/node_modules/.package-lock.json -nt $(NODE_DIR)/package-lock.json ] || \
	  (cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || \
	  { echo "npm ci in $(NODE_DIR) failed"; exit 1; }

check-deps:
	@pkg-config --exists $(PKGS) && [ -f /usr/include/csv.h ] && [ -f /usr/include/cmocka.h ] \
	  && command -v xmlsec1 >/dev/null || $(MAKE) --no-print-directory deps

$(B)/obj/%.o: src/%.c $(wildcard src/*.h) | $(B)/obj
	$(call quiet,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(PATHS) -c -o $@ $<

$(B)/schakel: $(OBJ)
	$(call quiet,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -rdynamic -o $@ $^ $(LIBS)

$(B)/obj $(B)/adapters $(B)/tests:
	@mkdir -p $@

# Unit tests: one cmocka program per module, linked with the library objects.
$(B)/tests/test_%: tests/unit/test_%.c $(LIBOBJ) tests/unit/testutil.h | $(B)/tests
	$(call quiet,TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(PATHS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIBOBJ) $(LIBS) -lcmocka

# Each adapter: its module, and its test program linked with its own
# sources (no loader involved).
define adapter_rules
$(B)/adapters/$(1).so: $(call adapter_src,$(1)) $(wildcard adapters/$(1)/*.h) src/adapter.h src/bsnlike.h | $(B)/adapters
	$$(call quiet,ADAPTER,$$@)
	$$(Q)$$(CC) $$(ALL_CFLAGS) -shared -fvisibility=hidden $$(LDFLAGS) -o $$@ $(call adapter_src,$(1)) \
	  $$(ADAPTER_LIBS)

$(B)/tests/test_adapter_$(1): adapters/$(1)/tests/test_adapter_$(1).c $(call adapter_src,$(1)) | $(B)/tests
	$$(call quiet,TEST,$$@)
	$$(Q)$$(CC) $$(ALL_CFLAGS) $$(PATHS) -Iadapters/$(1) -Itests/unit $$(LDFLAGS) -o $$@ $$^ \
	  $$(ADAPTER_LIBS) -lcmocka
endef
ADAPTER_LIBS = $(shell pkg-config --libs libxml-2.0 jansson 2>/dev/null) -lcsv
$(foreach a,$(ADAPTERS),$(eval $(call adapter_rules,$(a))))

# Test servers and tools the end-to-end tests start.
TOOLS := $(B)/tests/testsource
$(B)/tests/testsource: tests/tools/testsource.c $(LIBOBJ) | $(B)/tests
	$(call quiet,TOOL,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(PATHS) $(LDFLAGS) -o $@ $< $(LIBOBJ) $(LIBS)

unit: all $(UNIT_BIN) $(ADAPTER_TEST_BIN) $(TOOLS)

# `make test` runs both backends' tests and ends with one "N passed, N
# failed" line; test-sqlite runs the unit tests and tests/e2e/ (SQLite),
# test-pg the tests of the PostgreSQL backend (tests/pg/, each starting a
# throw-away cluster).  test-pg-e2e runs every script of tests/e2e/ on the
# PostgreSQL store (SCHAKEL_TEST_STORE=postgresql, tests/e2e/lib.sh): not
# yet part of test or test-pg, as most of them still fail there (issue 15);
# once they pass, test and test-pg add E2E_STORES="sqlite postgresql".
test: unit test-deps
	@E2E_DIRS="tests/e2e tests/pg" tests/run.sh $(UNIT_BIN) $(ADAPTER_TEST_BIN)

test-sqlite: unit test-deps
	@E2E_DIRS=tests/e2e tests/run.sh $(UNIT_BIN) $(ADAPTER_TEST_BIN)

test-pg: unit test-deps
	@E2E_DIRS=tests/pg tests/run.sh

test-pg-e2e: unit test-deps
	@E2E_DIRS=tests/e2e E2E_STORES=postgresql tests/run.sh

# Hardening (docs/hardening.md): the whole suite under ASan+UBSan+LSan in a
# build of its own, the unit tests under valgrind, libFuzzer targets, and
# static analysis.
asan:
	@tests/sanitizers/asan.sh

valgrind: unit
	@tests/sanitizers/valgrind.sh $(UNIT_BIN) $(ADAPTER_TEST_BIN)

lint:
	@tests/lint.sh

# Every allocation of an ingest made to fail in turn (tests/torture/).  Not
# part of `make test`: it still finds crashes inside libxml2 2.9.14 and
# partial stores after an adapter's own out-of-memory (docs/hardening.md).
torture: unit
	@tests/torture/torture.sh

FUZZ_SECONDS ?= 60
fuzz:
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

# Benchmarks (docs/performance.md): timings are measured here, never asserted.
bench: all
	@bench/run.sh

demo: all
	@$(B)/schakel demo

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/schakel/adapters \
	  $(DESTDIR)$(PREFIX)/share/schakel/schemas $(DESTDIR)$(PREFIX)/share/schakel/samples
	$(MAKE) clean-obj
	$(MAKE) SCHEMA_DIR=$(PREFIX)/share/schakel/schemas ADAPTER_DIR=$(PREFIX)/lib/schakel/adapters \
	  DATA_DIR_SHARE=$(PREFIX)/share/schakel/samples MKCERTS=$(PREFIX)/share/schakel/mkcerts.sh all
	install -m 755 $(B)/schakel $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(ADAPTER_SO) $(DESTDIR)$(PREFIX)/lib/schakel/adapters/
	install -m 644 schemas/*.xsd schemas/*.sql $(DESTDIR)$(PREFIX)/share/schakel/schemas/
	install -d $(DESTDIR)$(PREFIX)/share/schakel/schemas/pg
	install -m 644 schemas/pg/*.sql $(DESTDIR)$(PREFIX)/share/schakel/schemas/pg/
	install -m 755 certs/mkcerts.sh $(DESTDIR)$(PREFIX)/share/schakel/
	install -m 644 tests/fixtures/*.xml tests/fixtures/*.csv tests/fixtures/*.json \
	  $(DESTDIR)$(PREFIX)/share/schakel/samples/

clean-obj:
	rm -rf $(B)/obj

clean:
	rm -rf $(B)
