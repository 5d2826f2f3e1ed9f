# sendfile-otel: build, test and demo targets. `make help` lists them.

GO        ?= go
BUILD_DIR ?= build
BINARY    := $(BUILD_DIR)/sendfile-otel
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: help generate generate-check build callers test test-deploy vet jaeger demo bench vmtest clean

help: ## List the targets.
	@awk -F':.*## ' '/^[a-z-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

generate: ## Rebuild the BPF objects and their Go bindings with clang and bpf2go.
	cd bpf && $(GO) generate ./...

generate-check: generate ## Fail when the committed BPF objects differ from a fresh build.
	@git diff --exit-code --stat -- bpf/ || { echo "bpf/: generated files are stale: run 'make generate' and commit the result" >&2; exit 1; }

build: ## Build the agent as a static binary in build/.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) ./cmd/sendfile-otel

callers: ## Build the 32-bit test callers of test/callers into build/callers.
	test/vm/build-callers.sh

vet: ## Run go vet on every module.
	$(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./bpf/

test: vet test-deploy ## Run every test; the privileged ones need root.
	$(GO) test -count=1 -timeout 30m ./...

test-deploy: ## Check the deployment files: compose, collector, Kubernetes, Grafana (no Docker needed).
	cd deploy/test && $(GO) vet ./... && $(GO) test -count=1 ./...

jaeger: ## Build the local Jaeger from deploy/local (cached outside the repository).
	deploy/local/build-jaeger.sh >/dev/null

demo: build ## Build the agent and a local Jaeger, trace real downloads for DEMO_SECONDS (default 20), print a report; needs root.
	@echo "== building Jaeger v1.75.0 from source (about 5 minutes the first time, cached after)"
	@jaeger=$$(deploy/local/build-jaeger.sh | tail -n 1) && \
		$(GO) build -o build/demo/demo ./internal/demo && \
		exec build/demo/demo -agent $(BINARY) -jaeger "$$jaeger"

bench: ## Measure the agent against untraced runs and bpftrace and write docs/benchmarks.md (root, bpftrace, nginx; about 8 minutes).
	cd test/bench && ./run.sh

vmtest: ## Run the privileged suite on Debian 6.1 and 6.12 kernels under qemu in every attach mode, and on the host; writes docs/kernel-matrix.md (root, about 5 to 10 minutes).
	test/vm/run.sh

clean: ## Remove build output.
	rm -rf $(BUILD_DIR)
