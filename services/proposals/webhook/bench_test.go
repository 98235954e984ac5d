package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/services/proposals/webhook"
)

// BenchmarkFanOut delivers 50×b.N proposal events to 100 receivers
// subscribed to the same project (real nats-server, real HTTP on
// loopback, the default client) and reports deliveries a second, the
// latency from publishing an event to a receiver getting it, and the CPU
// each delivery cost the whole process. In "burst" the events are
// published at once, so the rate is the most the dispatcher delivers and
// the latency includes the time an event waits behind the ones before it;
// in "steady" one event is published every 20 ms, 5,000 deliveries a
// second, and the latency is that of each delivery at that rate.
//
//	go test -run '^$' -bench FanOut -benchtime 1x ./webhook
func BenchmarkFanOut(b *testing.B) {
	b.Run("burst", func(b *testing.B) { fanOut(b, 0) })
	b.Run("steady_5000_per_s", func(b *testing.B) { fanOut(b, 20*time.Millisecond) })
}

func fanOut(b *testing.B, every time.Duration) {
	const receivers = 100
	h := newHub(b)
	d := h.dispatcher(b, webhook.Config{})

	evs := make([]event.Event, 50*b.N)
	index := make(map[string]int, len(evs))
	for i := range evs {
		evs[i] = h.proposal(b, "ma", project)
		index[evs[i].ID()] = i
	}
	published := make([]atomic.Int64, len(evs)) // unix nanoseconds
	total := int64(receivers * len(evs))
	var (
		got  atomic.Int64
		done = make(chan struct{})
		mu   sync.Mutex
		lats = make([]time.Duration, 0, total)
	)
	receive := func(w http.ResponseWriter, r *http.Request) {
		if webhook.Handshake(w, r, "dpihub") {
			return
		}
		body, err := io.ReadAll(r.Body)
		at := time.Now()
		var e struct {
			ID string `json:"id"`
		}
		if err != nil || json.Unmarshal(body, &e) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		lat := at.Sub(time.Unix(0, published[index[e.ID]].Load()))
		mu.Lock()
		lats = append(lats, lat)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		if got.Add(1) == total {
			close(done)
		}
	}
	for range receivers {
		srv := httptest.NewServer(http.HandlerFunc(receive))
		b.Cleanup(srv.Close)
		subscribe(b, d, project, srv.URL)
	}

	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	tick := time.NewTicker(max(every, time.Nanosecond))
	defer tick.Stop()
	for i, e := range evs {
		if every > 0 && i > 0 {
			<-tick.C
		}
		published[i].Store(time.Now().UnixNano())
		if _, err := h.pubs["ma"].Publish(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d deliveries in 5 minutes", got.Load(), total)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()

	slices.Sort(lats)
	ms := func(q float64) float64 { return float64(lats[int(q*float64(len(lats)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(float64(total)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(ms(0.50), "p50_ms")
	b.ReportMetric(ms(0.99), "p99_ms")
	// The CPU the whole process (server, dispatcher, receivers) spent on
	// each delivery, and how many cores it kept busy: below 2 on this
	// 2-core machine, something else was running.
	b.ReportMetric(float64(cpu/time.Microsecond)/float64(total), "cpu_us/delivery")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cpu_cores")
}
