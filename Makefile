# dpihub: make demo · make test · make bench · make fuzz · make lint
#
# go test does not cross modules with ./... in a go.work workspace, so every
# target walks the modules that go.work lists.

SHELL      := bash
MODULES    := $(shell go list -m -f '{{.Dir}}' 2>/dev/null)
FUZZTIME   ?= 60s
BENCHTIME  ?= 1x
BENCHCOUNT ?= 1
# The nats-server release the multi-site deployment is tested with
# (services/hub/deploy.NATSServerVersion), built from the module proxy.
NATS_SERVER_VERSION := v2.15.2

.PHONY: demo test test-deps bench fuzz lint build images

demo:
	go run ./services/hub/cmd/dpihub demo

build:
	mkdir -p bin && go build -buildvcs=auto -o bin/dpihub ./services/hub/cmd/dpihub

# The deployment tests (services/hub/deploy) run real nats-server
# processes of the pinned release, which test-deps builds into bin/.
# The page tests drive real headless Chromium, and the example verifier
# runs in Python with the cryptography package: without them the tests
# would fail. make test installs Debian's chromium and python3-cryptography
# when it can (root with apt-get) and otherwise stops, naming what is
# missing.
test: test-deps
	@set -e; for m in $(MODULES); do \
	  echo "== $$m"; \
	  (cd $$m && go vet ./... && go test -race -count=1 ./...); \
	done

# Benchmarks that compare us with a reference side by side in one run.
bench:
	@set -e; for m in $(MODULES); do \
	  echo "== $$m"; \
	  (cd $$m && go test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) ./...); \
	done

# Every fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
fuzz:
	@set -e; for m in $(MODULES); do \
	  for pkg in $$(cd $$m && go list ./...); do \
	    dir=$$(cd $$m && go list -f '{{.Dir}}' $$pkg); \
	    for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	      echo "== $$pkg $$f"; \
	      (cd $$m && go test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg); \
	    done; \
	  done; \
	done

lint:
	@test -z "$$(gofmt -l $(MODULES))" || { gofmt -l $(MODULES); echo "gofmt needed"; exit 1; }
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done

test-deps:
	@command -v git >/dev/null || { echo "make test needs git"; exit 1; }
	@bin/nats-server --version 2>/dev/null | grep -q -- '$(NATS_SERVER_VERSION)$$' || { \
	  echo "== installing nats-server $(NATS_SERVER_VERSION) into bin/ for the deployment tests"; \
	  GOBIN="$(CURDIR)/bin" go install github.com/nats-io/nats-server/v2@$(NATS_SERVER_VERSION); }
	@[ "$$(id -u)" = 0 ] || { echo "make test needs root: the deployment tests make network namespaces (ip netns) to cut a site's link"; exit 1; }
	@command -v ip >/dev/null || { \
	  if command -v apt-get >/dev/null; then \
	    echo "== installing iproute2 for the deployment tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2; \
	  else \
	    echo "make test needs ip (iproute2) for the deployment tests' network namespaces"; exit 1; \
	  fi; }
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== installing chromium for the page tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else \
	    echo "make test needs Chromium for the page tests: apt-get install chromium (Debian's package)"; exit 1; \
	  fi; }
	@{ python3 -c 'import cryptography.hazmat.primitives.asymmetric.ed25519' || /usr/bin/python3 -c 'import cryptography.hazmat.primitives.asymmetric.ed25519'; } 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== installing python3-cryptography for the example verifier"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-cryptography; \
	  else \
	    echo "make test needs python3 with cryptography for the example verifier: apt-get install python3-cryptography (Debian's package)"; exit 1; \
	  fi; }

# Images for docker-compose.yml, FROM scratch: static binaries built here
# (no registry needed), and deploy/local, the deployment of ma, ph and lk
# that docker-compose.yml mounts (made once: keys and credentials are
# kept; rm -rf deploy/local to start again).
IMAGE_BIN := deploy/docker/bin
images: deploy/local
	mkdir -p $(IMAGE_BIN)
	CGO_ENABLED=0 go build -o $(IMAGE_BIN)/dpihub ./services/hub/cmd/dpihub
	CGO_ENABLED=0 go build -o $(IMAGE_BIN)/feed ./services/feed/cmd/feed
	CGO_ENABLED=0 GOBIN="$(CURDIR)/$(IMAGE_BIN)" go install github.com/nats-io/nats-server/v2@$(NATS_SERVER_VERSION)
	bash deploy/docker/siteroot.sh deploy/docker/root
	docker build -q -t dpihub/nats-server:$(NATS_SERVER_VERSION) -f deploy/docker/nats.Dockerfile deploy/docker
	docker build -q -t dpihub/dpihub:latest -f deploy/docker/dpihub.Dockerfile deploy/docker

deploy/local:
	rm -rf deploy/local.tmp
	go run ./services/hub/cmd/dpihub deploy init --countries ma,ph,lk --out deploy/local.tmp
	for c in ma ph lk hub; do go run ./services/hub/cmd/dpihub keys gen --country $$c --dir deploy/local.tmp/keys >/dev/null; done
	cd deploy/local.tmp/keys && for c in ma ph lk hub; do ln -s $$c-*.key $$c.key; done
	mv deploy/local.tmp deploy/local
