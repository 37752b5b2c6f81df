# One entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run up down status test lint guard fmt ci smoke build release migrate bench-ratelimit bench-token-methods

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-16s %s\n",$$1,$$2}'

run: ## build and run the whole stack behind the ingress on :8080 (Ctrl-C stops it)
	scripts/stack.sh run

up: ## start the stack in the background
	scripts/stack.sh up

down: ## stop the background stack
	scripts/stack.sh down

status: ## show what the stack runs
	scripts/stack.sh status

test: ## every test: unit, integration (real PostgreSQL and Redis), interop checks
	scripts/test.sh

lint: ## rustfmt check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

guard: ## the workspace's shape: no import cycles, layers, file sizes, dependencies, licences, rustdoc
	scripts/guard.sh

fmt: ## format the code
	cargo fmt --all

smoke: ## bring the stack up (debug build), check every service through the ingress, stop it
	scripts/smoke.sh

ci: lint guard test smoke ## what .ci/run runs

build: ## debug build of everything
	cargo build --workspace

release: ## optimized service binaries
	cargo build --release --bins

bench-ratelimit: ## measure the cost of one Redis rate-limit check (docs/BENCHMARKS.md)
	cargo run --release -p platform --example ratelimit_bench

bench-token-methods: ## private_key_jwt, DPoP and token exchange tokens/s against client secrets (docs/BENCHMARKS.md)
	load-tests/token-methods.sh
