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

.PHONY: all build test dev bench lint fmt vet fuzz-smoke ci clean web web-test

all: build

# The web console (web/, TypeScript + Vite) into web/dist, which the
# control plane embeds. npm ci installs exactly package-lock.json, again
# only when the lock file changes (npm ci writes node_modules/.package-lock.json).
web: web/node_modules/.package-lock.json
	cd web && npm run build

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund

# The console's component tests (Vitest, in jsdom).
web-test: web
	cd web && npm test

# Builds every main package under cmd/ (node, proxy, controlplane: those
# that exist) into bin/, the control plane with the console embedded.
build: web
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

# The README's test command: lint, the console's build and component
# tests, then every package's tests (e2e's console test drives the built
# console in chromium).
ci: lint web-test test

clean:
	rm -rf $(BIN)
