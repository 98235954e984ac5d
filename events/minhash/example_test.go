package minhash_test

import (
	"fmt"

	"github.com/dpihub/dpihub/events/minhash"
)

// Two forks that made the same fix, one with other indentation and one more
// line, and a third fork that did something else.
func Example() {
	ma := minhash.DiffShingles(`diff --git a/src/enrol.c b/src/enrol.c
--- a/src/enrol.c
+++ b/src/enrol.c
@@ -10,4 +10,6 @@ int enrol(struct person *p)
 {
-	if (p->photo == NULL)
+	if (p == NULL || p->photo == NULL)
+		return -EINVAL;
+	if (p->photo->size > MAX_PHOTO)
 		return -EINVAL;
`)
	lk := minhash.DiffShingles(`@@ -10,4 +10,7 @@ int enrol(struct person *p)
 {
-    if (p->photo == NULL)
+    if (p == NULL || p->photo == NULL)
+        return -EINVAL;
+    if (p->photo->size > MAX_PHOTO)
+        log_warn("photo too large");
         return -EINVAL;
`)
	ph := minhash.DiffShingles(`@@ -1,2 +1,2 @@
-#define MAX_PHOTO 65536
+#define MAX_PHOTO 131072
`)
	fmt.Printf("exact Jaccard ma/lk %.2f, ma/ph %.2f\n", minhash.Jaccard(ma, lk), minhash.Jaccard(ma, ph))

	ix := minhash.NewIndex(0.5)
	ix.Add("ma/release-1.2", minhash.Sign(ma))
	ix.Add("lk/main", minhash.Sign(lk))
	ix.Add("ph/main", minhash.Sign(ph))
	for _, p := range ix.Pairs() {
		fmt.Printf("%s and %s: %.2f\n", p.A, p.B, p.Similarity)
	}
	// Output:
	// exact Jaccard ma/lk 0.78, ma/ph 0.00
	// lk/main and ma/release-1.2: 0.80
}
