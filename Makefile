# sesmtp: `make demo` runs the main job against a local IAM endpoint,
# `make test` runs every test. Both need only Go.
SHELL       := bash
.SHELLFLAGS := -o pipefail -c
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 60s

.PHONY: build test test-full test-moto test-external lint bench fuzz demo docs clean

build:
	$(GO) build -o bin/sesmtp .
	$(GO) build -o bin/iam-local ./cmd/iam-local
	$(GO) build -o bin/smtp-local ./cmd/smtp-local

# The suites that print their counts ("fault matrix: N cases, N held",
# "kill matrix: ...", "concurrency: ...", "escalation matrix: N attempts,
# N denied; M flows, M allowed", "store escalation matrix: ..."); they run
# apart, verbosely, so the lines show.
MATRICES := ^(TestFaultMatrix|TestKillMatrix|TestConcurrentRuns|TestEscalationMatrix|TestStoreEscalationMatrix)$$

# Every test; the kill matrix is sampled (every journal step, --verify and
# every IAM call that changes something). The matrices spend most of their
# time waiting (injected latency, killed processes), so they run beside the
# rest of the suite, their output kept until the rest has printed.
test:
	@m="$$(mktemp)"; trap 'rm -f "$$m"' EXIT; \
	$(GO) test -race -count=1 -run '$(MATRICES)' -v ./cli >"$$m" 2>&1 & pid=$$!; \
	$(GO) test -race -count=1 -skip '$(MATRICES)' ./...; rc=$$?; \
	wait $$pid; mrc=$$?; \
	grep -vE '^(=== (RUN|PAUSE|CONT|NAME)|\s*--- PASS)' "$$m"; \
	[ $$rc -eq 0 ] && [ $$mrc -eq 0 ]

# test, with the whole kill matrix (a kill after every IAM call, reads too).
test-full:
	SESMTP_FULL_MATRIX=1 $(MAKE) test

# The suite against another IAM endpoint (SESMTP_TEST_IAM_ENDPOINT), started
# on a free port on 127.0.0.1 and stopped afterwards: moto's server, if
# python3 can import moto (else it says so and passes), or bin/iam-local
# lacking what moto lacks. Tests that need the local endpoint skip, saying why.
test-moto:
	GO=$(GO) ./scripts/test-external.sh moto

test-external:
	GO=$(GO) ./scripts/test-external.sh iam-local


lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Each fuzz target for $(FUZZTIME); not part of CI.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzPasswords$$' -fuzztime $(FUZZTIME) ./derive
	$(GO) test -run '^$$' -fuzz '^FuzzCheckRegion$$' -fuzztime $(FUZZTIME) ./derive
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./credfile
	$(GO) test -run '^$$' -fuzz '^FuzzParseManifest$$' -fuzztime $(FUZZTIME) ./batch
	$(GO) test -run '^$$' -fuzz '^FuzzParseTag$$' -fuzztime $(FUZZTIME) ./provision
	$(GO) test -run '^$$' -fuzz '^FuzzParseTarget$$' -fuzztime $(FUZZTIME) ./store

demo: build
	./scripts/demo.sh

# Regenerate docs/reference.md from the CLI definitions.
docs:
	$(GO) test -run '^TestReferenceDocUpToDate$$' -update-docs ./cli

clean:
	rm -rf bin
