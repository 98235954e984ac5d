package bus

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/sign"
)

// codecEvent is a signed event whose data is replaced by data.
func codecEvent(t testing.TB, data []byte) event.Event {
	t.Helper()
	p, _ := events.Sample(events.TypeFixAssessed)
	e, err := events.New(events.Source{Country: "ma", Service: "node"}, "mosip-id-repository", p)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := sign.GenerateKey("ma")
	s, _ := sign.NewSigner(k)
	if err := s.Sign(&e); err != nil {
		t.Fatal(err)
	}
	if data != nil {
		e.DataEncoded = data
	}
	return e
}

func TestTheFastEncodingIsByteForByteJSONMarshal(t *testing.T) {
	cases := []struct {
		name string
		data string // "" keeps the sample's
		ext  any    // an extra extension, if not nil
		fast bool   // whether the fast path is expected to be taken
	}{
		{name: "a typical event takes the fast path", fast: true},
		{name: "HTML characters in the data are escaped", data: `{"a":"<b>&</b>"}`},
		{name: "U+2028 in the data is escaped", data: "{\"a\":\"x\u2028y\"}"},
		{name: "whitespace in the data is compacted", data: "{ \"a\" :\n [1, 2] }"},
		{name: "escaped quotes and backslashes are kept", data: `{"a\"b":"c\\","d":"\"}"}`, fast: true},
		{name: "a non-string extension takes the slow path", ext: int32(7)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var data []byte
			if tc.data != "" {
				data = []byte(tc.data)
			}
			e := codecEvent(t, data)
			if tc.ext != nil {
				e.SetExtension("extra", tc.ext)
			}
			want, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := marshalEvent(e, true)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("marshalEvent:\n%s\njson.Marshal:\n%s", got, want)
			}
			raw, _ := e.MarshalJSON()
			_, plain := plainSize(e)
			if fast := plain && sign.CompactAndSafe(raw); fast != tc.fast {
				t.Errorf("fast path taken: %v, want %v", fast, tc.fast)
			}
		})
	}
}

func TestInvalidDataIsRefusedAsByJSONMarshal(t *testing.T) {
	e := codecEvent(t, []byte(`{"a":`))
	if _, err := json.Marshal(e); err == nil {
		t.Fatal("json.Marshal accepted invalid data")
	}
	if _, err := marshalEvent(e, false); err == nil {
		t.Fatal("marshalEvent accepted invalid data it was not told was valid")
	}
}

// FuzzEventCodec: marshalEvent equals json.Marshal for any valid JSON data,
// and unmarshalEvent equals json.Unmarshal for any input.
func FuzzEventCodec(f *testing.F) {
	e := codecEvent(f, nil)
	msg, _ := json.Marshal(e)
	f.Add(e.DataEncoded)
	f.Add([]byte(`{"a":"<&>","b":[1,2.5e3,null,true]}`))
	f.Add([]byte("  {\"x\":\"\u2028\\\"\"}\n"))
	f.Add(msg)
	f.Add(append([]byte(" \t"), msg...))
	f.Add([]byte(`{"specversion":"1.0","id":`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want event.Event
		wantErr := json.Unmarshal(b, &want)
		got, gotErr := unmarshalEvent(b)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("json.Unmarshal error %v, unmarshalEvent error %v", wantErr, gotErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("unmarshalEvent %v, json.Unmarshal %v", got, want)
		}
		if !json.Valid(b) {
			return
		}
		ev := e.Clone()
		ev.DataEncoded = bytes.Clone(b)
		wantB, wantErr := json.Marshal(ev)
		gotB, gotErr := marshalEvent(ev, true)
		if (wantErr == nil) != (gotErr == nil) || !bytes.Equal(gotB, wantB) {
			t.Fatalf("marshalEvent %q (%v), json.Marshal %q (%v)", gotB, gotErr, wantB, wantErr)
		}
	})
}
