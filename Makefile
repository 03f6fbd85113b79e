# sesmtp: `make demo` runs the main job against a local IAM endpoint,
# `make test` runs every test. Both need only Go.
SHELL       := bash
.SHELLFLAGS := -o pipefail -c
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 60s

.PHONY: build test lint bench fuzz demo docs clean

build:
	$(GO) build -o bin/sesmtp .
	$(GO) build -o bin/iam-local ./cmd/iam-local
	$(GO) build -o bin/smtp-local ./cmd/smtp-local

# Every test; the fault matrix runs apart, verbosely, so that its
# "fault matrix: N cases, N held" line shows.
test:
	$(GO) test -race -count=1 -skip '^TestFaultMatrix$$' ./...
	$(GO) test -race -count=1 -run '^TestFaultMatrix$$' -v ./cli | grep -vE '^(=== (RUN|PAUSE|CONT)|\s*--- PASS)'


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
