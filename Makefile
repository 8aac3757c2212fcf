# auth-manager — developer entry points. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
BIN     := bin/auth-manager
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PKGS    := ./...
# The Go client is a module of its own (client/go.mod): ./... from the root does not
# reach it, so test and lint run it there too.
CLIENT  := client

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: dev
dev: stack-up .env ## run the service on :8000 against the local stack (PostgreSQL + Keycloak dev realm)
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/auth-manager serve

.env:
	cp deploy/dev.env .env
	@echo "wrote .env from deploy/dev.env (dev-only values)"

.PHONY: test
test: stack-up ## bring the stack up if needed, then run every test (race detector, integration included), the client module's too
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	cd $(CLIENT) && $(GO) test -race -count=1 ./...

.PHONY: test-short
test-short: ## unit tests only (no stack needed)
	$(GO) test -race -short -count=1 $(PKGS)
	cd $(CLIENT) && $(GO) test -race -short -count=1 ./...

.PHONY: resilience
resilience: stack-up ## fault tests as real processes: replicas, Keycloak/PostgreSQL outages, crash during rotation (stops Keycloak!)
	$(GO) test -tags resilience -count=1 -p 1 -timeout 15m -v -run . ./internal/resilience/ 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)'

.PHONY: fuzz
fuzz: ## run every Go fuzz target for FUZZTIME each (default 20s)
	scripts/fuzz.sh

.PHONY: cover
cover: stack-up ## coverage report: coverage.html and the total
	$(GO) test -count=1 -timeout 20m -coverpkg=./internal/... -coverprofile=coverage.out $(PKGS)
	$(GO) tool cover -html=coverage.out -o coverage.html
	@$(GO) tool cover -func=coverage.out | tail -1

.PHONY: lint
lint: api-check ## gofmt check, go vet, staticcheck (pinned in go.mod) here and in client/ (whose go.mod must be tidy), and the OpenAPI 3 document valid (kin-openapi) and up to date
	@out=$$(gofmt -l api client cmd deploy internal migrations); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)
	staticcheck=$$($(GO) tool -n staticcheck) && cd $(CLIENT) && $(GO) mod tidy -diff && $(GO) vet ./... && $$staticcheck ./...

.PHONY: config-docs
config-docs: ## regenerate docs/configuration.md from internal/config (the env struct's tags and reference.go)
	$(GO) test ./internal/config -run '^TestConfigurationReference$$' -count=1 -update

.PHONY: format
format: ## gofmt -w
	gofmt -w api client cmd deploy internal migrations

.PHONY: build
build: ## build bin/auth-manager (static, version stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/auth-manager

.PHONY: migrate
migrate: .env ## apply migrations to DATABASE_URL (from .env or the environment)
	$(GO) run ./cmd/auth-manager migrate up

.PHONY: stack-up
stack-up: ## start local PostgreSQL, PgBouncer (transaction mode, :6432) + Keycloak (idempotent; installs what is missing)
	scripts/stack.sh up

.PHONY: stack-down
stack-down: ## stop what stack-up started
	scripts/stack.sh down

.PHONY: stack-status
stack-status: ## show the local stack's state
	scripts/stack.sh status

# --- deploy ---

# Release images are tagged with the version without git's "v" (tag v1.0.0 → 1.0.0), as
# the Helm chart's appVersion names them.
IMAGE_REPO ?= ghcr.io/auth-manager/auth-manager
IMAGE ?= $(IMAGE_REPO):$(VERSION:v%=%)

.PHONY: image
image: ## build the container image IMAGE (default auth-manager:VERSION); needs a Docker engine
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(COMMIT) -t $(IMAGE) .

.PHONY: deploy-check
deploy-check: ## offline checks of Dockerfile, docker-compose.yml and the Helm chart (installs tools once)
	scripts/check-deploy.sh

.PHONY: replicas
replicas: stack-up ## start 3 service processes on 127.0.0.1:8001-8003 against the local stack
	scripts/replicas.sh up

.PHONY: replicas-down
replicas-down: ## stop what `make replicas` started
	scripts/replicas.sh down

# --- API docs ---

.PHONY: api
api: ## regenerate api/openapi.{json,yaml} (OpenAPI 3.0.3) via swag's api/swagger.{json,yaml}; refresh the vendored Swagger UI and ReDoc (npm)
	scripts/api-gen.sh all

.PHONY: api-check
api-check: ## fail when the committed api/ documents are not what the annotations generate, or openapi.json is not valid OpenAPI 3
	scripts/api-gen.sh check

.PHONY: docs-check
docs-check: stack-up ## headless Chromium on /docs and /redoc: every operation listed, Try it out on /health shows 200, nothing loaded from outside
	scripts/docs-check.sh

.PHONY: fuzz-api
fuzz-api: stack-up ## schemathesis against the service and api/openapi.json: no 5xx, no undocumented status, no answer off the spec (~2 min)
	scripts/fuzz-api.sh

# --- bench ---

BENCH_FLAGS ?=
SCALE_FLAGS ?=
PROFILE_PATHS := introspect/access-token-cache-hit introspect/validate-token jwt/access-token-cache-hit jwt/validate-token \
                 nocache/access-token-stored nocache/access-token-refresh

.PHONY: bench
bench: stack-up ## load benchmarks and the service-level objectives against baselines (A, A′, BC) measured in the same run, shared and pinned to CPUs (~10 min): docs/BENCHMARKS.md, one line per objective on stdout
	$(GO) run ./cmd/loadgen $(BENCH_FLAGS)

.PHONY: bench-scale
bench-scale: stack-up ## refresh grants per row with 1, 3 and 10 replicas on one database, and cache hits and GET /v1/tokens while Keycloak takes 2 s (~5 min): Markdown on stdout for docs/BENCHMARKS.md
	$(GO) run ./cmd/loadgen scale $(SCALE_FLAGS)

.PHONY: bench-profile
bench-profile: stack-up ## CPU and allocation profiles of the cache-hit, validate and refresh paths, in-process: allocs/op, bin/pprof/*.pprof and the top of each
	@mkdir -p bin/pprof
	$(GO) test -c -o bin/pprof/app.test ./internal/app
	@for p in $(PROFILE_PATHS); do \
	  n=$${p//\//-}; echo "== $$p"; \
	  bin/pprof/app.test -test.run '^$$' -test.bench "HotPath/$$p\$$" -test.benchtime 3s \
	    -test.cpuprofile bin/pprof/$$n.pprof -test.memprofile bin/pprof/$$n.mem.pprof | grep '^Benchmark'; \
	  $(GO) tool pprof -top -cum -nodecount 25 bin/pprof/app.test bin/pprof/$$n.pprof 2>/dev/null | tail -n +5; \
	  echo "-- allocations (objects) by function"; \
	  $(GO) tool pprof -top -sample_index=alloc_objects -nodecount 15 bin/pprof/app.test bin/pprof/$$n.mem.pprof 2>/dev/null | tail -n +6; \
	done

# --- database work against a large vault ---

VAULT_SCALE_FLAGS ?=

.PHONY: bench-vault-scale
bench-vault-scale: stack-up ## database work against a large vault (1 M rows; -rows to change): EXPLAIN (ANALYZE, BUFFERS) of every periodic, start-up and background statement before and after migration 8, access-token p50/p99 on a cache miss (-miss-only for that step alone), keep-alive rows/s and rate against a fake Keycloak; Markdown on stdout (~10 min)
	$(GO) run ./cmd/loadgen vault-scale $(VAULT_SCALE_FLAGS)
