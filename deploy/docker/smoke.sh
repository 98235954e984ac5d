#!/usr/bin/env bash
# The compose smoke test (.ci/run): the whole docker-compose.yml on this
# machine. Installs Debian's docker.io and docker-compose when missing,
# starts dockerd when none answers (there is no systemd), builds the
# images, brings the stack up, waits until every service is healthy,
# publishes a fix at ma's site and waits until the hub's feed API shows it
# and ph's and lk's sites hold it; then takes the stack down. Any failure
# ends it with a non-zero exit and says what failed.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "compose smoke: FAILED: $*" >&2; exit 1; }

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v curl >/dev/null 2>&1 || need+=(curl)
if ((${#need[@]})); then
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || fail "${need[*]} needed (apt-get install ${need[*]}, as root)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need[@]}"
fi
started=""
if ! docker info >/dev/null 2>&1; then
	log=$(mktemp /tmp/dpihub-dockerd.XXXXXX.log)
	dockerd >"$log" 2>&1 &
	started=$!
	for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
	docker info >/dev/null 2>&1 || { tail -20 "$log" >&2; fail "the Docker engine did not start (log above: $log)"; }
fi
cleanup() {
	docker-compose down -v --remove-orphans >/dev/null 2>&1 || true
	rm -f deploy/local/smoke-fix.json
	if [ -n "$started" ]; then kill "$started" 2>/dev/null || true; wait "$started" 2>/dev/null || true; fi
}
trap cleanup EXIT

make images
docker-compose down -v --remove-orphans >/dev/null 2>&1 || true
docker-compose up -d || { docker-compose ps; docker-compose logs --tail 30; fail "docker-compose up"; }

services=(hub-1 hub-2 hub-3 site-ma site-ph site-lk feed)
healthy() {
	for s in "${services[@]}"; do
		id=$(docker-compose ps -q "$s")
		[ "$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)" = healthy ] || return 1
	done
}
for _ in $(seq 150); do healthy && break; sleep 2; done
healthy || { docker-compose ps; docker-compose logs --tail 30; fail "not every service healthy within 5 minutes"; }
[ "$(docker inspect -f '{{.State.ExitCode}}' "$(docker-compose ps -q streams)")" = 0 ] || { docker-compose logs streams; fail "deploy streams"; }
echo "compose smoke: every service healthy"

id="ma-fix-smoke-$(date +%s)"
cat > deploy/local/smoke-fix.json <<JSON
{"fix_id":"$id","title":"Smoke: fix the NPE in the ID repository","author":{"name":"A. Dev","email":"dev@ospo.gov.ma"},
 "commit":"9c1e5f2a7b3d4c8e0f6a1b2c3d4e5f60718293a4","upstream_base":"e4c2a8f61d0b3975a2c6e8f0b1d3a5c7e9f2b4d6",
 "patch_id":"d251063b58516672bf7a420593c3ae1ded6b15a7","files":["src/Main.java"],
 "diff":"diff --git a/src/Main.java b/src/Main.java\n--- a/src/Main.java\n+++ b/src/Main.java\n@@ -1 +1 @@\n-a\n+b\n"}
JSON
# ma's node publishes at its site (as the site's admin: the site's own authority).
docker-compose exec -T site-ma /dpihub publish --server nats://127.0.0.1:4222 --creds /data/auth/creds/admin.creds \
	--key /etc/dpihub/keys/ma.key --type org.dpihub.fix.published.v1 --project mosip-id-repository --service node \
	/etc/dpihub/smoke-fix.json || fail "publish at ma's site"

events() { curl -fsS "http://127.0.0.1:$1/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("events", 0))'; }
seen=""
for _ in $(seq 90); do
	if curl -fsS 'http://127.0.0.1:8080/api/v1/events?country=ma' | grep -q "$id" &&
		[ "$(events 8302)" -ge 1 ] && [ "$(events 8303)" -ge 1 ]; then seen=1; break; fi
	sleep 2
done
[ -n "$seen" ] || { docker-compose logs --tail 30; fail "the fix published at ma's site did not reach the hub's feed and ph's and lk's sites within 3 minutes"; }
echo "compose smoke: the fix published at ma's site is in the hub's feed API and at ph's and lk's sites"
