# taskstate — developer entry points.  `make help` lists the targets.
#
# Everything is installed inside the repository: the Python tools, the API package (api/python), the
# server and the Python client into .venv/ (editable), buf (pinned in tools/buf/package-lock.json)
# into .tools/.  Nothing global.
# Each tool set has its own stamp, and each target names only the ones it uses: `make lint` needs
# .venv and buf, never the Go and Rust code generators (minutes to build on a fresh clone).
#
# Extending:
#   - another language's tests: add a `test-<lang>` target and append it to TEST_TARGETS;
#   - another language's generated code: add its directory to GENERATED_DIRS (drift check);
#   - a service for tests: its script tools/services/<name>.sh (start|stop PORT DIR), a <NAME>_PORT
#     line and its TASKSTATE_TEST_<NAME>_URL below; services-up/-down run every script.

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS   += --no-print-directory

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
VBIN   := $(VENV)/bin
# Stamp of a complete .venv; rebuilt when any of these inputs change.
VENV_STAMP  := $(VENV)/.taskstate-installed
VENV_INPUTS := requirements-dev.txt api/python/pyproject.toml clients/python/pyproject.toml \
               clients/python-mcp/pyproject.toml \
               server/pyproject.toml
# The pip that installs .venv: recent enough to show a progress bar while it installs.
PIP_PIN     := pip==26.3

TOOLS      := .tools
BUF_SPEC   := tools/buf
BUF        := $(TOOLS)/node_modules/.bin/buf
BUF_STAMP  := $(TOOLS)/.buf-installed

# `make run` settings (the server also reads TASKSTATE_* environment variables).
STORE  ?= sqlite:///./taskstate.db
LISTEN ?= 127.0.0.1:50051
RUN_ARGS ?=

# Go code generators (installed into .tools/go/bin, pinned; the stamp names the versions).
GO                   ?= go
GO_BIN               := $(abspath $(TOOLS))/go/bin
GO_TOOLS_STAMP       := $(TOOLS)/go/.installed-go-1.36.12-grpc-1.6.2
PROTOC_GEN_GO        := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC   := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

# Rust code generators (installed into .tools/cargo/bin, pinned; the stamp names the versions).
CARGO_ROOT         := $(abspath $(TOOLS))/cargo
CARGO_TOOLS_STAMP  := $(TOOLS)/cargo/.installed-prost-0.5.0-tonic-0.5.0
RUST_GENERATORS    := protoc-gen-prost@0.5.0 protoc-gen-tonic@0.5.0

# Java: Maven with a project-local repository (.tools/m2); the code generators are fetched from
# Maven Central into .tools/java (pinned; the stamp names the versions): protoc itself (grpcio-tools'
# protoc has no Java generator) and protoc-gen-grpc-java, matching clients/java/pom.xml.
MVN              ?= mvn
MVN_FLAGS        := -B -ntp -Dstyle.color=never -Dmaven.repo.local=$(abspath $(TOOLS))/m2
JAVA_TOOLS       := $(abspath $(TOOLS))/java
JAVA_PLATFORM    ?= linux-x86_64
JAVA_TOOLS_STAMP := $(TOOLS)/java/.installed-protoc-4.35.1-grpc-1.83.1

# TypeScript client dependencies (protoc-gen-es lives there too).
TS_DIR   := clients/typescript
TS_STAMP := $(TS_DIR)/node_modules/.taskstate-installed
# The TypeScript MCP adapter links the client (file:../typescript), so it needs the client's dist/.
TS_MCP_DIR   := clients/typescript-mcp
TS_MCP_STAMP := $(TS_MCP_DIR)/node_modules/.taskstate-installed

# Directories holding generated code; `check-generated` fails if generation changes them.
GENERATED_DIRS := api/python/src/taskstate clients/go/gen $(TS_DIR)/src/gen clients/rust/src/gen \
                  clients/java/src/main/generated

# Every test suite `make test` runs, with Redis and DynamoDB Local up.
TEST_TARGETS := test-python test-go test-ts test-rust test-java
PYTEST_ARGS ?=

# Services for the shared-store tests (one script each in tools/services/), on loopback ports
# (<NAME>_PORT); their files live under .tools/services.
SERVICES      := $(sort $(basename $(notdir $(wildcard tools/services/*.sh))))
SERVICES_DIR  := $(abspath $(TOOLS))/services
REDIS_PORT    ?= 6390
DYNAMODB_PORT ?= 8009
export TASKSTATE_TEST_STORES            ?= memory,sqlite,redis,dynamodb
export TASKSTATE_TEST_REDIS_URL         ?= redis://127.0.0.1:$(REDIS_PORT)/0
export TASKSTATE_TEST_DYNAMODB_URL      ?= dynamodb://taskstate-test?region=us-east-1&endpoint=http://127.0.0.1:$(DYNAMODB_PORT)&timeout=10
# The tests restart the DynamoDB Local run from here between modules (it slows down as it fills).
export TASKSTATE_TEST_DYNAMODB_SERVICE  ?= $(SERVICES_DIR)/dynamodb

MYPY_PATHS := api/python/src server/src clients/python/src clients/python-mcp/src bench

BENCH_ARGS ?=

PIP_FLAGS := --disable-pip-version-check --no-input
NPM_FLAGS := --no-audit --no-fund --loglevel=error

.PHONY: help setup venv tools buf generators ts-deps run test test-suites $(TEST_TARGETS) \
        generate check-generated breaking baseline lint format dist bench fault-leases \
        services-up services-down clean distclean

help: ## Show this help
	@echo "taskstate make targets:"
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: STORE=$(STORE) LISTEN=$(LISTEN) RUN_ARGS= PYTEST_ARGS= BENCH_ARGS="

# ---------------------------------------------------------------------------------------------
# Setup

setup: venv tools ## Create .venv (dev tools, api, server, client); buf, Go/Rust generators, TS deps

# One stamp per tool set:
#   venv        .venv: dev tools (ruff, mypy, pytest, hadolint, build), api, client, server[all]
#   buf         buf (lint, breaking, generate)
#   generators  Go and Rust protoc plugins (generate only)
#   ts-deps     TypeScript client's node_modules (generate: protoc-gen-es; TS tests; dist)
venv: $(VENV_STAMP) ## Create .venv: dev tools, the API package, the Python client, the server
buf: $(BUF_STAMP)
generators: $(GO_TOOLS_STAMP) $(CARGO_TOOLS_STAMP) $(JAVA_TOOLS_STAMP)
ts-deps: $(TS_STAMP) $(TS_MCP_STAMP)
tools: buf generators ts-deps ## Install buf, the Go/Rust generators and the TS client's deps

# The server is installed with [all]: the tests cover every store (a user's base install has only
# memory and SQLite; Redis and DynamoDB are extras).  pip runs without --quiet: the first install
# takes about a minute, and its own lines are the progress report.
$(VENV_STAMP): $(VENV_INPUTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "taskstate needs Python >= 3.11")'
	@if [ ! -x $(VPY) ]; then \
	  echo ">> creating $(VENV) with $$($(PYTHON) --version 2>&1)"; $(PYTHON) -m venv $(VENV); fi
	@echo ">> installing the server and its dependencies into $(VENV)" \
	  "(about a minute on a first run)..."
	@$(VPY) -m pip install $(PIP_FLAGS) --quiet '$(PIP_PIN)'
	@$(VPY) -m pip install $(PIP_FLAGS) --progress-bar on \
	  -r requirements-dev.txt -e api/python -e clients/python -e clients/python-mcp -e 'server[all]'
	@touch $@
	@echo ">> $(VENV) is ready"

$(CARGO_TOOLS_STAMP):
	@echo ">> installing Rust code generators into $(CARGO_ROOT)"
	@cargo install --quiet --locked --root $(CARGO_ROOT) $(RUST_GENERATORS)
	@touch $@

$(JAVA_TOOLS_STAMP):
	@echo ">> fetching the Java code generators into $(JAVA_TOOLS)"
	@mkdir -p $(JAVA_TOOLS)
	@for a in com.google.protobuf:protoc:4.35.1 io.grpc:protoc-gen-grpc-java:1.83.1; do \
	  $(MVN) $(MVN_FLAGS) -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
	    -Dartifact=$$a:exe:$(JAVA_PLATFORM) -DoutputDirectory=$(JAVA_TOOLS); done
	@ln -sf protoc-4.35.1-$(JAVA_PLATFORM).exe $(JAVA_TOOLS)/protoc
	@ln -sf protoc-gen-grpc-java-1.83.1-$(JAVA_PLATFORM).exe $(JAVA_TOOLS)/protoc-gen-grpc-java
	@chmod +x $(JAVA_TOOLS)/*.exe
	@touch $@

$(GO_TOOLS_STAMP):
	@echo ">> installing Go code generators into $(GO_BIN)"
	@mkdir -p $(GO_BIN)
	@GOBIN=$(GO_BIN) $(GO) install $(PROTOC_GEN_GO)
	@GOBIN=$(GO_BIN) $(GO) install $(PROTOC_GEN_GO_GRPC)
	@touch $@

$(TS_STAMP): $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	@echo ">> installing TypeScript client dependencies"
	@npm ci --prefix $(TS_DIR) --ignore-scripts $(NPM_FLAGS)
	@touch $@

$(TS_MCP_STAMP): $(TS_STAMP) $(TS_MCP_DIR)/package.json $(TS_MCP_DIR)/package-lock.json
	@echo ">> installing the TypeScript MCP adapter's dependencies (and building the client it links)"
	@npm ci --prefix $(TS_MCP_DIR) --ignore-scripts $(NPM_FLAGS)
	@cd $(TS_DIR) && npm run --silent build:lib
	@touch $@

$(BUF_STAMP): $(BUF_SPEC)/package.json $(BUF_SPEC)/package-lock.json
	@echo ">> installing buf into $(TOOLS)"
	@command -v npm >/dev/null || { echo "npm is required to install buf (Node >= 18)" >&2; exit 1; }
	@mkdir -p $(TOOLS)
	@cp $(BUF_SPEC)/package.json $(BUF_SPEC)/package-lock.json $(TOOLS)/
	@npm ci --prefix $(TOOLS) $(NPM_FLAGS)
	@$(BUF) --version >/dev/null
	@touch $@

# ---------------------------------------------------------------------------------------------
# Run

run: venv ## Run the server (STORE=..., LISTEN=..., RUN_ARGS=...)
	exec $(VBIN)/taskstate-server --store '$(STORE)' --listen '$(LISTEN)' $(RUN_ARGS)

# ---------------------------------------------------------------------------------------------
# Tests

# The tests need the .venv server and the TypeScript client's deps; code generators are for
# `make generate` only.
test: venv ts-deps ## Run every test suite (starts Redis and DynamoDB Local, stops them after)
	@$(MAKE) services-up
	@rc=0; $(MAKE) test-suites || rc=$$?; $(MAKE) services-down; exit $$rc

test-suites: $(TEST_TARGETS)

test-go: venv ## Go client: go vet + go test (needs the .venv server)
	@echo ">> go vet, go test (clients/go)"
	@cd clients/go && $(GO) vet ./... && $(GO) test ./...
	@cd tests/conformance/drivers/go && $(GO) vet ./... && $(GO) test ./...

test-ts: venv ts-deps ## TypeScript client: strict tsc + node --test (needs the .venv server)
	@echo ">> tsc, node --test (clients/typescript)"
	@cd $(TS_DIR) && npm run --silent typecheck && npm test --silent
	@echo ">> tsc, node --test (clients/typescript-mcp)"
	@cd $(TS_MCP_DIR) && npm run --silent typecheck && npm test --silent

test-rust: venv ## Rust client: clippy -D warnings + cargo test (needs the .venv server)
	@echo ">> cargo clippy, cargo test (clients/rust)"
	@cd clients/rust && cargo clippy --quiet --all-targets -- -D warnings && cargo test --quiet
	@echo ">> cargo clippy, cargo test (tests/conformance/drivers/rust)"
	@tests/conformance/drivers/rust/build && cd tests/conformance/drivers/rust && cargo test --quiet --target-dir ../../../../clients/rust/target

test-java: venv ## Java client: mvn verify (javac -Xlint, JUnit 5; needs the .venv server)
	@echo ">> mvn verify (clients/java)"
	@cd clients/java && $(MVN) $(MVN_FLAGS) verify

test-python: venv ts-deps ## Run the Python test suite (tests/; PYTEST_ARGS=...)
	@echo ">> pytest"
	@$(VBIN)/pytest $(PYTEST_ARGS) || { rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5)" >&2; fi; exit $$rc; }

# The lease fault test (tests/replicas/test_replicas_leases.py, also part of `make test`)
# FAULT_RUNS times in a row per shared store of TASKSTATE_TEST_STORES: pass count and time per run
# (min/median/max); every run's output in build/repeat-tests/STORE-N.log.
FAULT_RUNS ?= 20
FAULT_TEST := tests/replicas/test_replicas_leases.py

fault-leases: venv ## Lease fault test FAULT_RUNS (20) times per shared store (starts the services)
	@$(MAKE) services-up
	@rc=0; $(VPY) tools/repeat_tests.py --runs $(FAULT_RUNS) --stores '$(TASKSTATE_TEST_STORES)' \
	  $(FAULT_TEST) $(PYTEST_ARGS) || rc=$$?; $(MAKE) services-down; exit $$rc

# ---------------------------------------------------------------------------------------------
# Code generation

generate: venv tools ## Regenerate code from proto/ (buf generate)
	@echo ">> buf generate"
	@# buf.gen.yaml has `clean: false` (its Python output shares api/python/src with the
	@# hand-written package files), so remove the previous outputs here: a message or file
	@# dropped from the proto must not leave a stale module behind.
	@find api/python/src/taskstate -type f \( -name '*_pb2.py' -o -name '*_pb2.pyi' \
	  -o -name '*_pb2_grpc.py' -o -name '*_pb2_grpc.pyi' \) -delete
	@find clients/go/gen -type f -name '*.pb.go' -delete
	@find clients/rust/src/gen -type f -name '*.rs' -delete
	@$(BUF) generate
	@$(BUF) generate --template buf.gen.ts.yaml
	@$(BUF) generate --template buf.gen.java.yaml

check-generated: generate ## Fail if the committed generated code differs from `make generate`
	@echo ">> checking generated code is up to date"
	@if ! git diff --exit-code --stat -- $(GENERATED_DIRS); then \
	  echo "generated code is out of date: run 'make generate' and commit the result" >&2; exit 1; fi
	@untracked="$$(git ls-files --others --exclude-standard -- $(GENERATED_DIRS))"; \
	if [ -n "$$untracked" ]; then echo "$$untracked"; \
	  echo "generation produced files that are not committed: commit them" >&2; exit 1; fi

# The proto must stay wire- and source-compatible with the committed baseline image.
BASELINE := tools/buf/baseline.binpb

breaking: buf ## Fail if proto/ breaks compatibility with the baseline (buf breaking, FILE)
	@echo ">> buf breaking against $(BASELINE)"
	@$(BUF) breaking --against $(BASELINE)

baseline: buf ## Accept the current proto as the compatibility baseline
	@$(BUF) build -o $(BASELINE)

# ---------------------------------------------------------------------------------------------
# Lint

lint: venv buf ## buf lint, ruff check + format check, mypy, hadolint
	@echo ">> buf lint"
	@$(BUF) lint
	@echo ">> ruff check"
	@$(VBIN)/ruff check --quiet .
	@echo ">> ruff format --check"
	@$(VBIN)/ruff format --check --quiet .
	@echo ">> mypy"
	@$(VBIN)/mypy $(MYPY_PATHS)
	@echo ">> hadolint"
	@$(VBIN)/hadolint Dockerfile

format: venv ## Apply ruff's fixes and formatting
	@$(VBIN)/ruff check --fix --quiet .
	@$(VBIN)/ruff format --quiet .

# ---------------------------------------------------------------------------------------------
# Distribution

DIST := dist

# Everything a release publishes, built from the work tree into dist/: the Python sdists and
# wheels of taskstate-api, -client and -server (isolated builds, as PyPI users' pip would), the
# npm tarball, the crate.
dist: venv ts-deps ## Build dist/: Python wheels + sdists, the npm tarball, the Rust crate, the Java jar
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@echo ">> Python: taskstate-api, taskstate-client, taskstate-mcp and taskstate-server (sdist + wheel)"
	@$(VPY) -m build --quiet --outdir $(DIST) api/python
	@$(VPY) -m build --quiet --outdir $(DIST) clients/python
	@$(VPY) -m build --quiet --outdir $(DIST) clients/python-mcp
	@$(VPY) -m build --quiet --outdir $(DIST) server
	@echo ">> npm pack (clients/typescript)"
	@cd $(TS_DIR) && npm pack --pack-destination $(abspath $(DIST)) $(NPM_FLAGS) >/dev/null
	@echo ">> cargo package (clients/rust)"
	@rm -f clients/rust/target/package/*.crate
	@cd clients/rust && cargo package --quiet --allow-dirty
	@cp clients/rust/target/package/*.crate $(DIST)/
	@echo ">> mvn package (clients/java)"
	@cd clients/java && $(MVN) $(MVN_FLAGS) -q -DskipTests package
	@jar=$$(ls clients/java/target/taskstate-client-*.jar) && cp "$$jar" $(DIST)/ && \
	  cp clients/java/pom.xml "$(DIST)/$$(basename "$$jar" .jar).pom"
	@ls -l $(DIST)

# ---------------------------------------------------------------------------------------------
# Benchmarks

bench: venv ## Benchmark a real server per store (TASKSTATE_TEST_STORES; starts the services)
	@# Fresh services: DynamoDB Local slows down with every record it has ever stored.
	@$(MAKE) services-down
	@$(MAKE) services-up
	@rc=0; $(VPY) bench/bench_server.py --stores $(TASKSTATE_TEST_STORES) $(BENCH_ARGS) || rc=$$?; \
	  $(MAKE) services-down; exit $$rc

# ---------------------------------------------------------------------------------------------
# Services: Debian's redis-server and AWS's DynamoDB Local, on loopback ports

# A service's port is <NAME>_PORT (REDIS_PORT, DYNAMODB_PORT); unset, its script's default.
service_port = $($(shell echo '$(1)' | tr 'a-z-' 'A-Z_')_PORT)

services-up: ## Start the test services (Redis, DynamoDB Local: tools/services/*.sh)
	@$(foreach s,$(SERVICES),tools/services/$(s).sh start '$(call service_port,$(s))' $(SERVICES_DIR)/$(s) && ) true

services-down: ## Stop them
	@rc=0; $(foreach s,$(SERVICES),tools/services/$(s).sh stop '$(call service_port,$(s))' $(SERVICES_DIR)/$(s) || rc=1; ) exit $$rc

# ---------------------------------------------------------------------------------------------
# Cleaning

clean: ## Remove caches and build artefacts (keeps .venv, .tools and taskstate.db)
	@find . -path ./.venv -prune -o -path ./.tools -prune -o -path ./.git -prune -o \
	  \( -name __pycache__ -o -name .pytest_cache -o -name .mypy_cache -o -name .ruff_cache \) \
	  -type d -print0 | xargs -0 rm -rf
	@rm -rf build dist
	@rm -rf tests/conformance/drivers/go/bin tests/conformance/drivers/typescript/out tests/conformance/drivers/typescript/node_modules

distclean: clean ## Also remove .venv, .tools and the default SQLite database
	@rm -rf $(VENV) $(TOOLS) taskstate.db taskstate.db-wal taskstate.db-shm
