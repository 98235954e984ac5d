#!/usr/bin/env bash
# What make images adds to the FROM scratch dpihub image besides the static
# binaries, written under $1 (deploy/docker/root, kept out of git):
#
#   usr/bin/git, its shared libraries and the dynamic loader: the node runs
#     the git command line (only builtins: rev-parse, log, cat-file,
#     patch-id, merge-file, ...), and a scratch image has none;
#   tmp: the node's and git's temporary files;
#   srv/forks: a sample upstream and a fork of it per country (ma, ph, lk),
#     with <cc>.json, the --forks file of each site. Morocco's fork carries
#     a fix; Sri Lanka cherry-picked it (-x) earlier; the Philippines has
#     not got it. The smoke test publishes the fix at ma's site.
set -euo pipefail
out=$(realpath -m "$1")
rm -rf "$out"
mkdir -p "$out/usr/bin" "$out/tmp" "$out/srv/forks"
chmod 1777 "$out/tmp"

git=$(command -v git) || { echo "siteroot: git is needed (apt-get install git)" >&2; exit 1; }
cp -L "$git" "$out/usr/bin/git"
for lib in $(ldd "$git" | grep -o '/[^ ]*'); do
	mkdir -p "$out$(dirname "$lib")"
	cp -L "$lib" "$out$lib"
done

# Fixed names and dates: the same commits on every build.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="dpihub sample" GIT_AUTHOR_EMAIL=sample@dpihub.invalid
export GIT_COMMITTER_NAME="dpihub sample" GIT_COMMITTER_EMAIL=sample@dpihub.invalid
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
forks=$out/srv/forks
src=id-repository-core/src/main/java/io/mosip/idrepository/core/util/DocumentUtil.java
g() { git -C "$@"; }

mkdir -p "$forks/upstream/$(dirname "$src")"
g "$forks/upstream" init -q -b main
cat > "$forks/upstream/$src" <<'JAVA'
package io.mosip.idrepository.core.util;

import java.util.ArrayList;
import java.util.List;

public final class DocumentUtil {

    private DocumentUtil() {
    }

    /** Replaces the documents of an identity with the updated ones. */
    public static List<Document> updateDocuments(List<Document> current, List<Document> updated) {
        List<Document> result = new ArrayList<>(current);
        for (Document doc : updated) {
            result.removeIf(d -> d.getCategory().equals(doc.getCategory()));
            result.add(doc);
        }
        return result;
    }
}
JAVA
g "$forks/upstream" add .
g "$forks/upstream" commit -q -m "Initial import of the identity repository"

for cc in ma ph lk; do
	# The clone's origin is where the site's image holds the upstream.
	git clone -q "$forks/upstream" "$forks/$cc"
	g "$forks/$cc" remote set-url origin file:///srv/forks/upstream
	g "$forks/$cc" checkout -q -b "release-$cc"
	mkdir -p "$forks/$cc/config"
	printf 'country=%s\n' "$cc" > "$forks/$cc/config/$cc.properties"
	g "$forks/$cc" add .
	g "$forks/$cc" commit -q -m "Configure the $cc deployment"
	cat > "$forks/$cc.json" <<JSON
[{"project": "mosip-id-repository", "upstream": "file:///srv/forks/upstream", "dir": "/srv/forks/$cc", "branch": "release-$cc"}]
JSON
done
sed -i 's|        List<Document> result = new ArrayList<>(current);|        if (updated == null) {\n            return current == null ? new ArrayList<>() : new ArrayList<>(current);\n        }\n        List<Document> result = current == null ? new ArrayList<>() : new ArrayList<>(current);|' "$forks/ma/$src"
g "$forks/ma" commit -q -a -m "Handle a missing documents list in updateDocuments"
g "$forks/lk" fetch -q "$forks/ma" release-ma
g "$forks/lk" cherry-pick -x FETCH_HEAD >/dev/null
