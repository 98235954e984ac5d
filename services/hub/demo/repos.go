package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The sample upstream: a small slice of a MOSIP-like identity repository.
const documentUtil = `package io.mosip.idrepository.core.util;

import java.util.ArrayList;
import java.util.List;

/**
 * Helpers for the documents attached to an identity.
 */
public final class DocumentUtil {

    private DocumentUtil() {
    }

    /**
     * Replaces the documents of an identity with the updated ones.
     */
    public static List<Document> updateDocuments(List<Document> current, List<Document> updated) {
        List<Document> result = new ArrayList<>(current);
        for (Document doc : updated) {
            result.removeIf(d -> d.getCategory().equals(doc.getCategory()));
            result.add(doc);
        }
        return result;
    }

    /**
     * Counts the documents of one category.
     */
    public static int count(List<Document> docs, String category) {
        int n = 0;
        for (Document d : docs) {
            if (d.getCategory().equals(category)) {
                n++;
            }
        }
        return n;
    }
}
`

const fixedDocumentUtil = `package io.mosip.idrepository.core.util;

import java.util.ArrayList;
import java.util.List;

/**
 * Helpers for the documents attached to an identity.
 */
public final class DocumentUtil {

    private DocumentUtil() {
    }

    /**
     * Replaces the documents of an identity with the updated ones.
     */
    public static List<Document> updateDocuments(List<Document> current, List<Document> updated) {
        if (updated == null) {
            return current == null ? new ArrayList<>() : new ArrayList<>(current);
        }
        List<Document> result = current == null ? new ArrayList<>() : new ArrayList<>(current);
        for (Document doc : updated) {
            result.removeIf(d -> d.getCategory().equals(doc.getCategory()));
            result.add(doc);
        }
        return result;
    }

    /**
     * Counts the documents of one category.
     */
    public static int count(List<Document> docs, String category) {
        int n = 0;
        for (Document d : docs) {
            if (d.getCategory().equals(category)) {
                n++;
            }
        }
        return n;
    }
}
`

const docPath = "id-repository-core/src/main/java/io/mosip/idrepository/core/util/DocumentUtil.java"

// repos are the demo's git repositories: a sample upstream and one fork
// per country, each a clone with its own release branch.
type repos struct {
	upstream string
	forks    map[string]string // country -> fork dir
	fix      string            // the fix commit in Morocco's fork
}

// makeRepos builds the repositories under dir. Morocco's fork carries the
// fix; Sri Lanka cherry-picked it earlier (with -x); the Philippines has
// not got it.
func makeRepos(ctx context.Context, dir string) (*repos, error) {
	r := &repos{upstream: filepath.Join(dir, "upstream"), forks: map[string]string{}}
	g := func(wd string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = wd
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=dpihub demo", "GIT_AUTHOR_EMAIL=demo@dpihub.invalid",
			"GIT_COMMITTER_NAME=dpihub demo", "GIT_COMMITTER_EMAIL=demo@dpihub.invalid")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return strings.TrimSpace(string(out)), nil
	}
	write := func(repo, name, body string) error {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(body), 0o644)
	}
	steps := []func() error{
		func() error { return os.MkdirAll(r.upstream, 0o755) },
		func() error { _, err := g(r.upstream, "init", "-q", "-b", "main"); return err },
		func() error { return write(r.upstream, docPath, documentUtil) },
		func() error {
			return write(r.upstream, "README.md", "# id-repository (sample)\n\nA small slice of an identity repository for the dpihub demo.\n")
		},
		func() error { _, err := g(r.upstream, "add", "."); return err },
		func() error {
			_, err := g(r.upstream, "commit", "-q", "-m", "Initial import of the identity repository")
			return err
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	for _, c := range Countries {
		fork := filepath.Join(dir, c.Code)
		r.forks[c.Code] = fork
		if _, err := g(dir, "clone", "-q", r.upstream, fork); err != nil {
			return nil, err
		}
		if _, err := g(fork, "checkout", "-q", "-b", "release-"+c.Code); err != nil {
			return nil, err
		}
		// Each country configures its deployment in a file of its own.
		if err := write(fork, "config/"+c.Code+".properties", "country="+c.Code+"\nmosip.idrepo.country-name="+c.Name+"\n"); err != nil {
			return nil, err
		}
		if _, err := g(fork, "add", "."); err != nil {
			return nil, err
		}
		if _, err := g(fork, "commit", "-q", "-m", "Configure the "+c.Name+" deployment"); err != nil {
			return nil, err
		}
	}
	// Morocco and Sri Lanka each wrote the same audit trail of identity
	// updates, apart: the dedup service finds their forks largely the
	// same, and the change an upstream candidate.
	for _, cc := range []string{"ma", "lk"} {
		if err := write(r.forks[cc], auditPath, auditTrail); err != nil {
			return nil, err
		}
		if _, err := g(r.forks[cc], "add", "."); err != nil {
			return nil, err
		}
		if _, err := g(r.forks[cc], "commit", "-q", "-m", "Keep an audit trail of identity updates"); err != nil {
			return nil, err
		}
	}
	ma := r.forks["ma"]
	if err := write(ma, docPath, fixedDocumentUtil); err != nil {
		return nil, err
	}
	if _, err := g(ma, "commit", "-q", "-a", "-m", "Handle a missing documents list in updateDocuments\n\nAn update without documents threw a NullPointerException and failed\nthe whole identity update.\n\nFixes: MOSIP-31754"); err != nil {
		return nil, err
	}
	fix, err := g(ma, "rev-parse", "HEAD")
	if err != nil {
		return nil, err
	}
	r.fix = fix
	lk := r.forks["lk"]
	if _, err := g(lk, "fetch", "-q", ma, "release-ma"); err != nil {
		return nil, err
	}
	if _, err := g(lk, "cherry-pick", "-x", fix); err != nil {
		return nil, err
	}
	return r, nil
}

const auditPath = "id-repository/id-repository-identity-service/src/main/java/io/mosip/idrepository/identity/audit/IdentityAuditTrail.java"

// auditTrail is the change Morocco and Sri Lanka both made.
const auditTrail = `package io.mosip.idrepository.identity.audit;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * Keeps who changed which identity, when and why, so that an operator can
 * answer a resident's question about their record.
 */
public final class IdentityAuditTrail {

	public enum Action { CREATE, UPDATE, DEACTIVATE, REACTIVATE, DOCUMENT_ADDED, DOCUMENT_REMOVED }

	public static final class Entry {
		private final String uinHash;
		private final Action action;
		private final String operatorId;
		private final String reason;
		private final Instant at;

		Entry(String uinHash, Action action, String operatorId, String reason, Instant at) {
			this.uinHash = Objects.requireNonNull(uinHash, "uinHash");
			this.action = Objects.requireNonNull(action, "action");
			this.operatorId = Objects.requireNonNull(operatorId, "operatorId");
			this.reason = reason == null ? "" : reason;
			this.at = Objects.requireNonNull(at, "at");
		}

		public String uinHash() { return uinHash; }
		public Action action() { return action; }
		public String operatorId() { return operatorId; }
		public String reason() { return reason; }
		public Instant at() { return at; }
	}

	private final List<Entry> entries = new ArrayList<>();

	public synchronized void record(String uinHash, Action action, String operatorId, String reason) {
		entries.add(new Entry(uinHash, action, operatorId, reason, Instant.now()));
	}

	public synchronized List<Entry> of(String uinHash) {
		List<Entry> out = new ArrayList<>();
		for (Entry e : entries) {
			if (e.uinHash().equals(uinHash)) {
				out.add(e);
			}
		}
		return Collections.unmodifiableList(out);
	}

	public synchronized int size() {
		return entries.size();
	}
}
`
