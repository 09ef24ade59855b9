# Keyfleet's developer entry points. `make ci` is the test command that
# .ci/run (and so CI) runs; everything here works from a fresh clone.

GO ?= go
BIN := bin
TEST_TIMEOUT ?= 30m
TESTFLAGS ?=
FUZZTIME ?= 5s

# What `make dev` runs: the whole platform in one process (embedded
# Postgres, control plane on :8080, node host, proxy on :6379).
DEV_CMD = $(BIN)/controlplane --dev

# Go sources outside generated or third-party trees.
GOFILES = $(shell find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' -not -path './.keyfleet/*')

.PHONY: all build test dev bench lint fmt vet fuzz-smoke ci clean

all: build

# Builds every main package under cmd/ (node, proxy, controlplane: those
# that exist) into bin/.
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

test:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

dev: build
	$(DEV_CMD)

bench:
	bash bench/run.sh

lint: fmt vet

fmt:
	@out="$$(gofmt -l $(GOFILES))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Runs each Fuzz* target for FUZZTIME: a smoke test that the corpus and a
# few seconds of mutation do not crash anything, not a fuzzing campaign.
fuzz-smoke:
	@set -e; \
	for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | sed 's/^func //' | sort -u); do \
	    echo "== fuzz $$dir $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$dir; \
	  done; \
	done

# The README's test command: lint, then every package's tests.
ci: lint test

clean:
	rm -rf $(BIN)
