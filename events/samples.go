package events

import (
	"time"

	"github.com/dpihub/dpihub/events/minhash"
)

// Sample returns a realistic example payload of event type typ, and false
// for a type that is not in the catalog.
//
// The samples tell one small story about the MOSIP ID repository
// (project mosip-id-repository) across Morocco (ma), the Philippines (ph)
// and Sri Lanka (lk): commit ids and patch-ids look real, and the patch-id
// of the FixPublished sample is the one git patch-id --stable prints for its
// diff. Docs, the AsyncAPI examples, the demo and tests use them; every
// sample is valid against its type's JSON Schema. Each call returns a fresh
// value (a value type, not a pointer), so callers may modify it.
func Sample(typ string) (Payload, bool) {
	switch typ {
	case TypeForkRegistered:
		return ForkRegistered{
			Upstream: "https://github.com/mosip/id-repository",
			Fork:     "https://git.ospo.gov.ma/mosip/id-repository",
			Branch:   "ma/release-1.2.0",
			Platform: "MOSIP",
		}, true
	case TypeForkSnapshot:
		return ForkSnapshot{
			Branch:    "ma/release-1.2.0",
			Head:      "9c1e5f2a7b3d4c8e0f6a1b2c3d4e5f60718293a4",
			MergeBase: "0b7d2e94c1a35f86e2d40c9b7a1f3e5d8c6b4a21",
			Ahead:     3,
			Behind:    12,
			PatchIDs: []string{
				"d251063b58516672bf7a420593c3ae1ded6b15a7",
				"5e0a9c3f1b7d24e86a0c4f2b9d1e3a5c7f8b6d40",
				"a13f6c8e2d9b04f75c1a3e6d8b2f4a0c9e7d5b13",
			},
			MinHash:        minhash.Sign(minhash.DiffShingles(sampleDiff)).Values(),
			MinHashVersion: minhash.Version,
			Files: []string{
				"id-repository/id-repository-identity-service/src/main/java/io/mosip/idrepository/identity/service/impl/IdRepoServiceImpl.java",
				"id-repository/id-repository-identity-service/src/main/resources/application-local.properties",
			},
			TakenAt: time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC),
		}, true
	case TypeForkDuplicateDetected:
		return ForkDuplicateDetected{
			A:              ForkRef{Country: "ma", Branch: "ma/release-1.2.0"},
			B:              ForkRef{Country: "lk", Branch: "lk-prod"},
			Similarity:     0.93,
			Jaccard:        0.91,
			SharedPatchIDs: 2,
			Files: []string{
				"id-repository/id-repository-identity-service/src/main/java/io/mosip/idrepository/identity/service/impl/IdRepoServiceImpl.java",
			},
			Suggestion: "ma and lk carry the same 2 changes to IdRepoServiceImpl.java; propose them upstream to mosip/id-repository together.",
		}, true
	case TypeFixPublished:
		return FixPublished{
			FixID:   "ma-fix-0042",
			Title:   "Handle a missing documents list in updateDocuments",
			Message: "An update request without documents made updateDocuments throw a\nNullPointerException, so the whole identity update failed.\n\nFixes: MOSIP-31873",
			Author:  Person{Name: "Salma Bennani", Email: "s.bennani@ospo.gov.ma"},
			Commit:  "4e1b7c9a2f0d83e5b6a17c4d9e02f3b8a5c6d7e1",
			// The upstream release-1.2.0 head the Moroccan fork is based on.
			UpstreamBase: "0b7d2e94c1a35f86e2d40c9b7a1f3e5d8c6b4a21",
			PatchID:      "d251063b58516672bf7a420593c3ae1ded6b15a7",
			Files:        []string{sampleFile},
			Diff:         sampleDiff,
			References:   &References{Fixes: []string{"MOSIP-31873"}},
		}, true
	case TypeFixAssessed:
		return FixAssessed{
			FixID:     "ma-fix-0042",
			PatchID:   "d251063b58516672bf7a420593c3ae1ded6b15a7",
			Verdict:   VerdictPresent,
			PresentAs: "7f3a91c04be25d6e8a1f09c3d7b4e6a2c58f1d09",
			How:       "patch-id",
			Branch:    "ph-philsys-1.2.0",
			Head:      "e4c2a8f61d0b3975a2c6e8f0b1d3a5c7e9f2b4d6",
		}, true
	case TypeFixAdopted:
		return FixAdopted{
			FixID:   "ma-fix-0042",
			PatchID: "d251063b58516672bf7a420593c3ae1ded6b15a7",
			Commit:  "c08d5e2b7a914f63e0b1d2c3a4f5e6d7c8b9a0f1",
			Branch:  "lk-prod",
		}, true
	case TypeFixDuplicateDetected:
		return FixDuplicateDetected{
			A:          FixRef{Country: "ma", FixID: "ma-fix-0042"},
			B:          FixRef{Country: "lk", FixID: "lk-fix-0107"},
			Similarity: 0.88,
			Jaccard:    0.86,
		}, true
	case TypeProposalSubmitted:
		return ProposalSubmitted{
			ProposalID: "ma-prop-0007",
			Title:      "Support Arabic and French name transliteration in demographic search",
			Body:       "## Need\n\nResidents are registered with their names in Arabic script, but partner services search in Latin script, so lookups miss.\n\n## Proposal\n\nStore a transliterated name next to the original and index both for demographic search.",
			Labels:     []string{"demographics", "i18n"},
		}, true
	case TypeProposalEndorsed:
		return ProposalEndorsed{
			ProposalID: "ma-prop-0007",
			Comment:    "We need the same for Sinhala and Tamil names; a pluggable transliterator would serve us both.",
		}, true
	case TypeProposalObjected:
		return ProposalObjected{
			ProposalID: "ma-prop-0007",
			Reason:     "Storing a second name form doubles the personal data kept per resident; we would prefer transliteration at query time.",
		}, true
	case TypeProposalCommented:
		return ProposalCommented{
			ProposalID: "ma-prop-0007",
			Comment:    "Could the transliteration tables be shipped as configuration rather than code?",
		}, true
	case TypeProposalStatusChanged:
		return ProposalStatusChanged{
			ProposalID: "ma-prop-0007",
			From:       ProposalOpen,
			To:         ProposalAccepted,
			Reason:     "Accepted by the MOSIP technical committee for the 1.3.0 roadmap.",
		}, true
	case TypeProposalDuplicateDetected:
		return ProposalDuplicateDetected{
			A:          ProposalRef{Country: "ma", ProposalID: "ma-prop-0007"},
			B:          ProposalRef{Country: "lk", ProposalID: "lk-prop-0003"},
			Similarity: 0.81,
		}, true
	case TypeNodeHeartbeat:
		return NodeHeartbeat{
			Version:   "v0.1.0",
			StartedAt: time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC),
			Services:  []string{"node"},
			Forks:     2,
		}, true
	}
	return nil, false
}

// SampleSource returns the source that may send the sample of typ under
// the authority table (Authorize): Morocco publishes the fix and the
// proposal and announces its fork; the Philippines assesses the fix and
// objects to and comments on the proposal; Sri Lanka adopts the fix and
// endorses the proposal; the hub's governance service accepts it and its
// dedup service reports the duplicates. ok is false for a type that is
// not in the catalog.
func SampleSource(typ string) (src Source, ok bool) {
	switch typ {
	case TypeForkRegistered, TypeForkSnapshot, TypeFixPublished, TypeProposalSubmitted, TypeNodeHeartbeat:
		return Source{Country: "ma", Service: "node"}, true
	case TypeFixAssessed, TypeProposalObjected, TypeProposalCommented:
		return Source{Country: "ph", Service: "node"}, true
	case TypeFixAdopted, TypeProposalEndorsed:
		return Source{Country: "lk", Service: "node"}, true
	case TypeProposalStatusChanged:
		return hubSource(ServiceProposals), true
	case TypeForkDuplicateDetected, TypeFixDuplicateDetected, TypeProposalDuplicateDetected:
		return hubSource(ServiceDedup), true
	}
	return Source{}, false
}

const sampleFile = "id-repository/id-repository-identity-service/src/main/java/io/mosip/idrepository/identity/service/impl/IdRepoServiceImpl.java"

// sampleDiff is the diff of the FixPublished sample; git patch-id --stable
// prints d251063b58516672bf7a420593c3ae1ded6b15a7 for it.
const sampleDiff = `diff --git a/` + sampleFile + ` b/` + sampleFile + `
index 3f9c2a1..8b7d4e0 100644
--- a/` + sampleFile + `
+++ b/` + sampleFile + `
@@ -412,7 +412,7 @@ public class IdRepoServiceImpl implements IdRepoService<IdRequestDTO, Uin> {
 	private void updateDocuments(Uin uinObject, IdRequestDTO request) throws IdRepoAppException {
 		List<DocumentsDTO> documents = request.getRequest().getDocuments();
-		if (!documents.isEmpty()) {
+		if (documents != null && !documents.isEmpty()) {
 			documents.stream().filter(doc -> identityObject.containsKey(doc.getCategory()))
 					.forEach(doc -> addDocuments(uinObject, doc));
 		}
`
