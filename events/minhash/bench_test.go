package minhash_test

// Benchmarks of the fingerprint scheme. Each op does its whole sized work,
// so `go test -bench=. -benchtime=1x` (what make bench runs) already
// measures something; everything runs on one goroutine, so rates are per
// core. Metrics, with units that say what they are:
//
//	signatures/s, us/signature   Sign of 2,000-shingle sets
//	MB/s                         DiffShingles over a generated diff
//	build_ms                     Index.Add of every fork of the corpus
//	lsh_ms, brute_ms             all similar pairs of the corpus: Index.Pairs
//	                             vs every pair compared position by position
//	queries_ms                   Index.Similar once per fork
//	speedup, speedup_queries     brute_ms / lsh_ms, brute_ms / queries_ms
//	recall_at_0.7, precision     of Pairs, against exact Jaccard (corpus_test.go)
//	lsh_of_brute                 share of the brute force's pairs that Pairs finds
//	index_bytes/fork             Go heap growth (after GC) from building the index
//	index_bytes/fork_estimate    Index.MemoryBytes
//
// ns/op, B/op and allocs/op cover a whole op: for BenchmarkCorpus, the
// build, the memory measurement, the searches and the brute force.
// BenchmarkCorpus fails when recall, precision or memory miss their targets
// (0.95, 0.90, 1,024 bytes per fork); the speed-ups depend on the machine's
// load and are only reported.

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events/minhash"
)

var sinkSignature minhash.Signature

// BenchmarkSign signs 1,000 sets of 2,000 shingles per op.
func BenchmarkSign(b *testing.B) {
	var fresh freshElements
	sets := make([][]uint64, 1000)
	for i := range sets {
		sets[i] = make([]uint64, corpusSetSize)
		for j := range sets[i] {
			sets[i][j] = fresh.next()
		}
	}
	b.ResetTimer()
	for range b.N {
		for _, s := range sets {
			sinkSignature = minhash.Sign(s)
		}
	}
	n := float64(b.N * len(sets))
	b.ReportMetric(n/b.Elapsed().Seconds(), "signatures/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e6/n, "us/signature")
}

// BenchmarkDiffShingles shingles a generated diff of 200 files, 10 hunks
// each (2.6 MB).
func BenchmarkDiffShingles(b *testing.B) {
	var d strings.Builder
	for f := range 200 {
		fmt.Fprintf(&d, "diff --git a/src/f%d.java b/src/f%d.java\nindex 1111111..2222222 100644\n--- a/src/f%d.java\n+++ b/src/f%d.java\n", f, f, f, f)
		for h := range 10 {
			fmt.Fprintf(&d, "@@ -%d,14 +%d,14 @@ public class F%d {\n", 100*h+1, 100*h+1, f)
			for l := range 14 {
				line := fmt.Sprintf("        final String value%d = request.getParameter(\"field-%d-%d\");", l, f, h)
				switch l % 7 {
				case 3, 4:
					fmt.Fprintf(&d, "-%s\n+%s // checked\n", line, line)
				default:
					fmt.Fprintf(&d, " %s\n", line)
				}
			}
		}
	}
	diff := d.String()
	b.SetBytes(int64(len(diff)))
	b.ResetTimer()
	for range b.N {
		if len(minhash.DiffShingles(diff)) == 0 {
			b.Fatal("no shingles")
		}
	}
}

// BenchmarkCorpus indexes the 10,000 forks of the generated corpus
// (corpus_test.go) and finds every similar pair twice: through the index,
// and by brute force, comparing every pair of signatures position by
// position (50 million pairs, a plain loop over the two arrays, no copies,
// Similarity's counting rule). Both report the pairs whose estimated
// similarity is at least searchThreshold. The corpus and its exact
// similarities are made before the timer starts.
func BenchmarkCorpus(b *testing.B) {
	c := fullCorpus()
	truth := c.exactPairs(0.01)
	number := make(map[string]int32, len(c.ids))
	for i, id := range c.ids {
		number[id] = int32(i)
	}
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ids := make([]string, len(c.ids)) // the index's own, so counted
		for i, id := range c.ids {
			ids[i] = strings.Clone(id)
		}
		start := time.Now()
		ix := minhash.NewIndex(searchThreshold)
		for i, id := range ids {
			ix.Add(id, c.sigs[i])
		}
		build := time.Since(start)
		ids = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))

		start = time.Now()
		pairs := ix.Pairs()
		lsh := time.Since(start)

		start = time.Now()
		queried := 0
		for i, id := range c.ids {
			queried += len(ix.Similar(c.sigs[i], id))
		}
		queries := time.Since(start)

		start = time.Now()
		brute := bruteForce(c.sigs, searchThreshold)
		bruteT := time.Since(start)

		reported := make(map[pairKey]bool, len(pairs))
		for _, p := range pairs {
			reported[keyOf(number[p.A], number[p.B])] = true
		}
		if queried != 2*len(pairs) {
			b.Errorf("Similar for every fork found %d matches, Pairs %d pairs", queried, len(pairs))
		}
		inBrute := 0
		for _, k := range brute {
			if reported[k] {
				inBrute++
			}
		}
		recall, precision, _, _ := score(reported, truth)

		b.ReportMetric(float64(build.Microseconds())/1e3, "build_ms")
		b.ReportMetric(float64(lsh.Microseconds())/1e3, "lsh_ms")
		b.ReportMetric(float64(queries.Microseconds())/1e3, "queries_ms")
		b.ReportMetric(float64(bruteT.Microseconds())/1e3, "brute_ms")
		b.ReportMetric(bruteT.Seconds()/lsh.Seconds(), "speedup")
		b.ReportMetric(bruteT.Seconds()/queries.Seconds(), "speedup_queries")
		b.ReportMetric(recall, "recall_at_0.7")
		b.ReportMetric(precision, "precision")
		b.ReportMetric(float64(inBrute)/float64(len(brute)), "lsh_of_brute")
		b.ReportMetric(float64(len(pairs)), "pairs")
		b.ReportMetric(heap/float64(ix.Len()), "index_bytes/fork")
		b.ReportMetric(float64(ix.MemoryBytes())/float64(ix.Len()), "index_bytes/fork_estimate")
		runtime.KeepAlive(ix)

		// The targets that do not depend on the machine's load.
		if recall < 0.95 || precision < 0.90 {
			b.Errorf("recall %.3f (want >= 0.95), precision %.3f (want >= 0.90)", recall, precision)
		}
		if perFork := heap / float64(ix.Len()); perFork > 1024 {
			b.Errorf("the index takes %.0f bytes per fork, want <= 1024", perFork)
		}
	}
}

// bruteForce returns every pair of signatures whose estimated similarity is
// at least threshold, comparing all pairs.
func bruteForce(sigs []minhash.Signature, threshold float64) []pairKey {
	var out []pairKey
	for i := range sigs {
		a := &sigs[i]
		for j := i + 1; j < len(sigs); j++ {
			o := &sigs[j]
			n := 0
			for k := range a {
				if a[k] == o[k] && a[k] != ^uint32(0) {
					n++
				}
			}
			if float64(n)/minhash.K >= threshold {
				out = append(out, pairKey{int32(i), int32(j)})
			}
		}
	}
	return out
}
