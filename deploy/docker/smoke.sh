#!/usr/bin/env bash
# The compose smoke test (.ci/run): the whole docker-compose.yml on this
# machine. Installs Debian's docker.io and docker-compose when missing,
# starts dockerd when none answers (there is no systemd), builds the
# images, brings the stack up, waits until every service is healthy
# (the proposals and dedup services too, which answer their APIs),
# publishes the fix in ma's sample fork at ma's site and waits until the
# hub's feed API shows it assessed by ph and lk (each site's node assesses
# it against its own fork); then takes the stack down. Any failure
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
	if [ -n "$started" ]; then kill "$started" 2>/dev/null || true; wait "$started" 2>/dev/null || true; fi
}
trap cleanup EXIT

make images
docker-compose down -v --remove-orphans >/dev/null 2>&1 || true
docker-compose up -d || { docker-compose ps; docker-compose logs --tail 30; fail "docker-compose up"; }

services=(hub-1 hub-2 hub-3 site-ma site-ph site-lk feed proposals dedup)
healthy() {
	for s in "${services[@]}"; do
		id=$(docker-compose ps -q "$s")
		[ "$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)" = healthy ] || return 1
	done
}
for _ in $(seq 150); do healthy && break; sleep 2; done
healthy || { docker-compose ps; docker-compose logs --tail 30; fail "not every service healthy within 5 minutes"; }
[ "$(docker inspect -f '{{.State.ExitCode}}' "$(docker-compose ps -q streams)")" = 0 ] || { docker-compose logs streams; fail "deploy streams"; }
echo "compose smoke: every service healthy: ${services[*]}"
# The proposals and dedup services answer their APIs from the hub's stream.
curl -fsS http://127.0.0.1:8082/api/v1/governance/rules/mosip-id-repository >/dev/null || fail "the proposals service's API"
curl -fsS http://127.0.0.1:8083/healthz >/dev/null || fail "the dedup service's /healthz"

# ma's node publishes the fix in its fork (the image's sample forks,
# deploy/docker/siteroot.sh) at its site, as the site's admin (the site's
# own authority), exactly as the node does.
out=$(docker-compose exec -T site-ma /dpihub fix publish --server nats://127.0.0.1:4222 --creds /data/auth/creds/admin.creds \
	--key /etc/dpihub/keys/ma.key --project mosip-id-repository --repo /srv/forks/ma --branch release-ma release-ma) ||
	fail "publish at ma's site"
echo "compose smoke: $out"
id=$(sed -n 's/^published fix \([^ ]*\) .*/\1/p' <<<"$out")
[ -n "$id" ] || fail "no fix id in: $out"

# ph's and lk's nodes receive it at their sites, assess it against their
# forks, and their verdicts reach the hub's feed.
verdicts() {
	curl -fsS "http://127.0.0.1:8080/api/v1/fixes/$id" 2>/dev/null | python3 -c '
import json, sys
print(" ".join(sorted(a["country"] + "=" + a["verdict"] for a in json.load(sys.stdin).get("assessments") or [])))' 2>/dev/null || true
}
got=""
for _ in $(seq 90); do
	got=$(verdicts)
	[[ " $got" == *" lk="* && " $got" == *" ph="* ]] && break
	sleep 2
done
[[ " $got" == *" lk="* && " $got" == *" ph="* ]] || {
	docker-compose logs --tail 40
	fail "the hub's feed API did not show fix $id assessed by ph and lk within 3 minutes (assessments: ${got:-none})"
}
echo "compose smoke: the fix $id published at ma's site is in the hub's feed API, assessed: $got"

# The dedup service read the sites' fork snapshots from the hub's stream.
for _ in $(seq 30); do
	curl -fsS http://127.0.0.1:8083/api/v1/dedup/projects 2>/dev/null | grep -q mosip-id-repository && break
	sleep 2
done
curl -fsS http://127.0.0.1:8083/api/v1/dedup/projects | grep -q mosip-id-repository ||
	{ docker-compose logs --tail 30 dedup; fail "the dedup service did not see the sites' forks of mosip-id-repository within a minute"; }
echo "compose smoke: the dedup service's API: $(curl -fsS http://127.0.0.1:8083/api/v1/dedup/projects)"
