# Signet: the two commands of the README are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/signet
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/signet-dspy/signet/cmd.Version=$(VERSION)
# Where `make run` keeps its demo workspace (override: make run WORKSPACE=/some/dir).
WORKSPACE ?= $(CURDIR)/.signet-demo
FUZZTIME ?= 5s

.PHONY: build run test vet cross venv tools unit pytest fuzz bench clean generate-check

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) .

# Everything on its embedded defaults: the Python environment and the local
# LM (first time: a few minutes), the demo workspace, one demo program run on
# the local model.
run: venv
	$(BIN) --workspace $(WORKSPACE) demo
	$(BIN) --workspace $(WORKSPACE) program list
	$(BIN) --workspace $(WORKSPACE) dataset list
	$(BIN) --workspace $(WORKSPACE) run qa --input question="What is the capital of France?"
	@# On a terminal, then open the workbench on the same workspace (q quits).
	@if [ -t 0 ] && [ -t 1 ]; then $(BIN) --workspace $(WORKSPACE); fi

test: vet cross venv unit pytest fuzz

vet:
	$(GO) mod download
	$(GO) vet ./...

# Signet runs on Linux and macOS: every package must build for darwin/arm64
# and linux/arm64 too (vet type-checks the tests as well).
cross:
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=linux GOARCH=arm64 $(GO) build ./...

# The workers' Python environment (dspy and its pinned dependencies), made by
# the real `signet setup`; a second run reuses it.
venv: build
	$(BIN) setup

# tmux, for the workbench's end-to-end tests (CI runs as root on Debian).
tools:
	command -v tmux >/dev/null || (apt-get update && apt-get install -y tmux)

# Go tests run against real Python workers and drive the workbench in tmux;
# SIGNET_REQUIRE_PYTHON and SIGNET_REQUIRE_TMUX turn the skips they would take
# without an interpreter or tmux into failures.
unit: venv tools
	SIGNET_PYTHON="$$($(BIN) setup --quiet --print-python)" SIGNET_REQUIRE_PYTHON=1 SIGNET_REQUIRE_TMUX=1 $(GO) test -race -count=1 -timeout 30m ./...

pytest: venv
	cd bridge/worker && "$$(../../$(BIN) setup --quiet --print-python)" -m pytest -q -p no:cacheprovider

# A short pass of every fuzz target (go test takes one -fuzz target at a time).
# On a loaded machine Go's fuzzer can end a pass with "context deadline
# exceeded" and no failing input (its workers did not stop in time): that
# pass is run once more; a real finding writes its input to testdata and fails.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg > /tmp/signet-fuzz.log 2>&1 || \
	    { grep -q 'context deadline exceeded' /tmp/signet-fuzz.log && ! grep -q 'Failing input written' /tmp/signet-fuzz.log && \
	      echo "fuzz $$pkg $$t: the fuzzer's workers did not stop in time; once more" && \
	      $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg > /tmp/signet-fuzz.log 2>&1; } || \
	    { cat /tmp/signet-fuzz.log; exit 1; }; \
	  done; \
	done

bench: venv
	SIGNET_PYTHON="$$($(BIN) setup --quiet --print-python)" $(GO) test -run='^$$' -bench=. -benchtime=1x -timeout=60m ./...

# The GraphQL API's generated code (api/graphql) is what gqlgen makes of its
# schema: regenerate it and fail on any difference.
generate-check:
	$(GO) generate ./api/graphql
	git diff --exit-code -- api/graphql

clean:
	rm -rf bin
