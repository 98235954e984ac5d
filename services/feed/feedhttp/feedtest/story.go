// Package feedtest holds what the feed's tests share: the demo story as
// events, and a real headless Chromium for page tests.
package feedtest

import (
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
)

// Project is the upstream project most of the story is about.
const Project = "mosip-id-repository"

// Project2 is a second project, so the matrix has a choice.
const Project2 = "mosip-registration"

// Step is one event of the story and the time it arrived at the hub.
type Step struct {
	Event    event.Event
	Received time.Time
}

// Story is the demo's story as events, in stream order, starting at base:
// Morocco (ma), the Philippines (ph) and Sri Lanka (lk) run nodes, and
// Kenya (ke) joins late and objects. It has
//
//   - fix ma-fix-0042 of mosip-id-repository: ph applies, lk present (as a
//     cherry-pick), ke conflicts (file and hunk), adopted by ph;
//   - fix lk-fix-0107: ma applies, ph conflicts, ke pending;
//   - fix ph-fix-0013 of mosip-registration: ma not-applicable, lk applies;
//   - proposal lk-2026-07 with two endorsements (ma, ph) and one objection
//     (ke); proposal ma-prop-0007 endorsed by lk, commented by ph, accepted
//     by the hub's governance service;
//   - a fork duplicate (ma and lk, 93 %) and a fix duplicate;
//   - heartbeats: ma, ph and lk recent (at base+3h), ke only at base.
//
// Every event passes events.Validate and events.Authorize (its sender may
// send it). Events are not signed: sign them to publish them.
func Story(base time.Time) ([]Step, error) {
	base = base.UTC()
	b := &builder{base: base, ids: storyIDs}
	fix := sample[events.FixPublished](events.TypeFixPublished)
	ma, ph, lk, ke := node("ma"), node("ph"), node("lk"), node("ke")
	hub := events.Source{Country: events.HubCountry, Service: events.ServiceDedup}
	governance := events.Source{Country: events.HubCountry, Service: events.ServiceProposals}

	b.add(ke, "", 0, &events.NodeHeartbeat{Version: "v0.1.0", StartedAt: base.Add(-time.Hour), Services: []string{"node"}, Forks: 1})
	b.add(ma, Project, 1*time.Minute, sampleP[events.ForkRegistered](events.TypeForkRegistered))
	b.add(ph, Project, 2*time.Minute, &events.ForkRegistered{Upstream: "https://github.com/mosip/id-repository", Fork: "https://git.philsys.gov.ph/mosip/id-repository", Branch: "release-1.2.0-ph", Platform: "MOSIP"})
	b.add(lk, Project, 3*time.Minute, &events.ForkRegistered{Upstream: "https://github.com/mosip/id-repository", Fork: "https://gitlab.icta.lk/sldi/id-repository", Branch: "lk-prod", Platform: "MOSIP"})
	b.add(ke, Project, 4*time.Minute, &events.ForkRegistered{Upstream: "https://github.com/mosip/id-repository", Fork: "https://git.maisha.go.ke/mosip/id-repository", Branch: "ke-main", Platform: "MOSIP"})

	// Morocco's fix travels.
	t := 10 * time.Minute
	b.add(ma, Project, t, &fix)
	b.add(ph, Project, t+800*time.Millisecond, &events.FixAssessed{FixID: fix.FixID, PatchID: fix.PatchID, Verdict: events.VerdictApplies, Branch: "release-1.2.0-ph", Head: "3f1c0a9d2b7e4c6a8f0e1d2c3b4a59687766554a"})
	b.add(lk, Project, t+1100*time.Millisecond, &events.FixAssessed{FixID: fix.FixID, PatchID: fix.PatchID, Verdict: events.VerdictPresent, PresentAs: "9a8b7c6d5e4f30211f0e9d8c7b6a594837261504", How: events.HowPatchID, Branch: "lk-prod", Head: "0b1c2d3e4f5061728394a5b6c7d8e9f00112233a"})
	f := false
	b.add(ke, Project, t+2400*time.Millisecond, &events.FixAssessed{FixID: fix.FixID, PatchID: fix.PatchID, Verdict: events.VerdictConflicts,
		Conflicts:     []events.Conflict{{File: fix.Files[0], Hunk: 1, Reason: "context does not match at line 412"}},
		ThreeWayClean: &f, Branch: "ke-main", Head: "77aa0c3e5b19d2f4e6a8c0b2d4f6a8c0e2b4d6f8"})
	b.add(ph, Project, 25*time.Minute, &events.FixAdopted{FixID: fix.FixID, PatchID: fix.PatchID, Commit: "c08d5e2b7a914f63e0b1d2c3a4f5e6d7c8b9a0f1", Branch: "release-1.2.0-ph"})

	// Sri Lanka's fix.
	t = 40 * time.Minute
	lkFile := "id-repository/id-repository-identity-service/src/main/java/io/mosip/idrepository/identity/helper/IdRepoServiceHelper.java"
	b.add(lk, Project, t, &events.FixPublished{FixID: "lk-fix-0107", Title: "Reject enrolment packets with an empty biometrics section",
		Message: "Packets whose biometrics section was present but empty passed validation and failed later in the\nbiometric SDK with an opaque error.",
		Author:  events.Person{Name: "Nadeesha Perera", Email: "nadeesha@icta.lk"}, Commit: "5d2e8f1a3c4b6d7e9f0a1b2c3d4e5f6a7b8c9d0e",
		UpstreamBase: "0b7d2e94c1a35f86e2d40c9b7a1f3e5d8c6b4a21", PatchID: "8e41c2a9b07d3f5e6c1a2b3d4e5f60718293a4b5",
		Files: []string{lkFile}, Diff: "diff --git a/" + lkFile + " b/" + lkFile + "\n",
		References: &events.References{CVEs: []string{"CVE-2025-31337"}}})
	b.add(ma, Project, t+900*time.Millisecond, &events.FixAssessed{FixID: "lk-fix-0107", PatchID: "8e41c2a9b07d3f5e6c1a2b3d4e5f60718293a4b5", Verdict: events.VerdictApplies, Branch: "ma/release-1.2.0", Head: "9c1e5f2a7b3d4c8e0f6a1b2c3d4e5f60718293a4"})
	b.add(ph, Project, t+1300*time.Millisecond, &events.FixAssessed{FixID: "lk-fix-0107", PatchID: "8e41c2a9b07d3f5e6c1a2b3d4e5f60718293a4b5", Verdict: events.VerdictConflicts,
		Conflicts: []events.Conflict{{File: lkFile, Hunk: 2, Reason: "the fork renamed validateBiometrics"}}, Branch: "release-1.2.0-ph", Head: "3f1c0a9d2b7e4c6a8f0e1d2c3b4a59687766554a"})

	// Proposals.
	t = 60 * time.Minute
	b.add(lk, Project, t, &events.ProposalSubmitted{ProposalID: "lk-2026-07", Title: "Offline biometric authentication for rural enrolment centres",
		Body: "Enrolment centres with intermittent links need local 1:1 matching, with results synchronised when the link returns.", Labels: []string{"biometrics", "offline"}})
	b.add(ma, Project, t+5*time.Minute, &events.ProposalEndorsed{ProposalID: "lk-2026-07", Comment: "Same need in the Atlas regions."})
	b.add(ph, Project, t+7*time.Minute, &events.ProposalEndorsed{ProposalID: "lk-2026-07"})
	b.add(ke, Project, t+9*time.Minute, &events.ProposalObjected{ProposalID: "lk-2026-07", Reason: "Keeping biometric templates on enrolment laptops widens the attack surface; we prefer a signed offline token."})
	b.add(ma, Project, t+12*time.Minute, sampleP[events.ProposalSubmitted](events.TypeProposalSubmitted))
	b.add(lk, Project, t+14*time.Minute, sampleP[events.ProposalEndorsed](events.TypeProposalEndorsed))
	b.add(ph, Project, t+15*time.Minute, sampleP[events.ProposalCommented](events.TypeProposalCommented))
	b.add(governance, Project, t+40*time.Minute, sampleP[events.ProposalStatusChanged](events.TypeProposalStatusChanged))

	// The dedup service.
	t = 110 * time.Minute
	b.add(hub, Project, t, sampleP[events.ForkDuplicateDetected](events.TypeForkDuplicateDetected))
	b.add(hub, Project, t+time.Minute, &events.FixDuplicateDetected{A: events.FixRef{Country: "ma", FixID: "ma-fix-0042"}, B: events.FixRef{Country: "lk", FixID: "lk-fix-0107"}, Similarity: 0.41, Jaccard: 0.38})

	// A fix of another project.
	t = 150 * time.Minute
	regFile := "registration/registration-services/src/main/java/io/mosip/registration/service/sync/impl/PacketUploadServiceImpl.java"
	b.add(ph, Project2, t, &events.FixPublished{FixID: "ph-fix-0013", Title: "Retry packet upload after a 503 from the registration processor",
		Author: events.Person{Name: "Miguel Santos", Email: "m.santos@philsys.gov.ph"}, Commit: "2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e1b3d5f7a9c",
		UpstreamBase: "6a1f0e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7", PatchID: "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c",
		Files: []string{regFile}, Diff: "diff --git a/" + regFile + " b/" + regFile + "\n"})
	b.add(ma, Project2, t+700*time.Millisecond, &events.FixAssessed{FixID: "ph-fix-0013", PatchID: "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c", Verdict: events.VerdictNotApplicable, Branch: "ma/release-1.2.0", Head: "9c1e5f2a7b3d4c8e0f6a1b2c3d4e5f60718293a4"})
	b.add(lk, Project2, t+1500*time.Millisecond, &events.FixAssessed{FixID: "ph-fix-0013", PatchID: "3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c", Verdict: events.VerdictApplies, Branch: "lk-prod", Head: "0b1c2d3e4f5061728394a5b6c7d8e9f00112233a"})

	// Heartbeats of the three running nodes.
	for i, n := range []events.Source{ma, ph, lk} {
		b.add(n, "", 180*time.Minute+time.Duration(i)*time.Second, &events.NodeHeartbeat{Version: "v0.1.0", StartedAt: base, Services: []string{"node"}, Forks: 1})
	}
	return b.steps, b.err
}

// The event ids of Story and Board: fixed, so that each is the same in
// every run (and so its digest), and apart, so that both fit in one
// store.
const (
	storyIDs = "0193a1b2-c3d4-7e5f-8a9b-%012d"
	boardIDs = "0193a1b2-c3d4-7e5f-9b0a-%012d"
)

type builder struct {
	base  time.Time
	ids   string // format of the event ids, with the step's number
	steps []Step
	err   error
	n     int
}

func (b *builder) add(src events.Source, project string, at time.Duration, p events.Payload) {
	if b.err != nil {
		return
	}
	b.n++
	when := b.base.Add(at)
	id := fmt.Sprintf(b.ids, b.n)
	e, err := events.New(src, project, p, events.WithID(id), events.WithTime(when))
	if err == nil {
		err = events.Authorize(e)
	}
	if err != nil {
		b.err = fmt.Errorf("story step %d (%s): %w", b.n, p.EventType(), err)
		return
	}
	b.steps = append(b.steps, Step{Event: e, Received: when.Add(time.Duration(150+37*b.n%400) * time.Millisecond)})
}

func node(cc string) events.Source { return events.Source{Country: cc, Service: "node"} }

func sample[T events.Payload](typ string) T {
	p, ok := events.Sample(typ)
	if !ok {
		panic("no sample for " + typ)
	}
	return p.(T)
}

func sampleP[T events.Payload](typ string) events.Payload {
	v := sample[T](typ)
	return any(&v).(events.Payload)
}
