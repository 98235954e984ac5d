package bus_test

import (
	"encoding/json"
	"errors"
	"net/textproto"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
)

// FuzzDecode: any message, in either mode, decodes into a valid CloudEvent
// or is refused with ErrNotCloudEvent; never a panic. headers is
// "Name: value" lines.
func FuzzDecode(f *testing.F) {
	e, err := events.New(events.Source{Country: "ma", Service: "node"}, "mosip-id-repository",
		&events.ProposalEndorsed{ProposalID: "lk-2026-07"})
	if err != nil {
		f.Fatal(err)
	}
	structured, _ := json.Marshal(e)
	bin := bus.EncodeBinary("dpi.ma.proposal.endorsed.mosip-id-repository", e)
	var hb strings.Builder
	for k, vs := range bin.Header {
		hb.WriteString(k + ": " + vs[0] + "\n")
	}
	f.Add("Content-Type: application/cloudevents+json\n", structured)
	f.Add(hb.String(), bin.Data)
	f.Add("ce-specversion: 1.0\nce-id: %zz\n", []byte("{}"))
	f.Add("Content-Type: application/cloudevents-batch+json\n", []byte("[]"))
	f.Add("", []byte("plain text"))
	f.Fuzz(func(t *testing.T, headers string, data []byte) {
		h := nats.Header{}
		for _, line := range strings.Split(headers, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			h.Add(textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k)), strings.TrimSpace(v))
		}
		ev, err := bus.Decode(h, data)
		if err != nil {
			if !errors.Is(err, bus.ErrNotCloudEvent) {
				t.Fatalf("error does not wrap ErrNotCloudEvent: %v", err)
			}
			return
		}
		if verr := ev.Validate(); verr != nil {
			t.Fatalf("decoded an invalid CloudEvent: %v", verr)
		}
	})
}
