package service_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/node/internal/gittest"
	"github.com/dpihub/dpihub/services/node/service"
)

// request sends method path with body to the node's API, with token as
// its bearer token when not empty, and returns the status and the body.
func request(t *testing.T, s *service.Service, method, path, token, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.Addr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// fixesPublished counts the fix.published events of Morocco in DPI.
func fixesPublished(t *testing.T, cfg service.Config) uint64 {
	t.Helper()
	st, err := cfg.Bus.JetStream().Stream(context.Background(), bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter("dpi.ma.fix.published.>"))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// TestTheAttackOnTheNodeAPIIsStopped replays what an attacker did: a POST
// of {"repo":"<any path>","commit":"HEAD"} published a commit of an
// unrelated repository, signed with Morocco's key, to every country.
func TestTheAttackOnTheNodeAPIIsStopped(t *testing.T) {
	cfg := oneNode(t)
	core, logs := observer.New(zap.InfoLevel)
	cfg.Logger = zap.New(core)
	cfg.HTTPAddr = "127.0.0.1:0"
	s, err := service.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	token := tokenOf(t, s)

	g := gittest.New(t)
	unrelated := g.Init()
	g.Commit(unrelated, "Somebody else's work", map[string]string{"secret.txt": "not Morocco's\n"})
	attack := `{"project":"` + project + `","repo":"` + unrelated + `","commit":"HEAD"}`

	t.Run("without the token the API changes nothing", func(t *testing.T) {
		for _, tok := range []string{"", "guessed-" + token[8:]} {
			status, h, body := request(t, s, "POST", "/api/v1/fixes", tok, attack)
			if status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("status %d, WWW-Authenticate %q: %s", status, h.Get("WWW-Authenticate"), body)
			}
		}
	})
	t.Run("with the token, a repository that is no registered fork is refused without its path", func(t *testing.T) {
		status, _, body := request(t, s, "POST", "/api/v1/fixes", token, attack)
		var p problem.Problem
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if status != http.StatusBadRequest || p.Type != problem.TypeInvalid || strings.Contains(string(body), unrelated) {
			t.Fatalf("status %d: %s", status, body)
		}
	})
	if n := fixesPublished(t, cfg); n != 0 {
		t.Fatalf("%d fix.published of Morocco in %s", n, bus.Stream)
	}
	t.Run("a fork in a directory that is no repository is refused without its path", func(t *testing.T) {
		secret := t.TempDir() + "/private-place"
		status, _, body := request(t, s, "POST", "/api/v1/forks", token,
			`{"project":"`+project+`","upstream":"file:///u","dir":"`+secret+`","branch":"other"}`)
		if status != http.StatusBadRequest || strings.Contains(string(body), "private-place") || strings.Contains(string(body), os.TempDir()) {
			t.Fatalf("status %d: %s", status, body)
		}
	})
	t.Run("the registered fork's commit is published, reads stay open", func(t *testing.T) {
		if status, _, body := request(t, s, "POST", "/api/v1/fixes", token, `{"project":"`+project+`","commit":"HEAD"}`); status != http.StatusCreated {
			t.Fatalf("status %d: %s", status, body)
		}
		if status, _, body := request(t, s, "GET", "/api/v1/forks", "", ""); status != http.StatusOK {
			t.Fatalf("GET forks: %d %s", status, body)
		}
	})

	t.Run("the log says where the token is, never the token", func(t *testing.T) {
		var made, listening bool
		for _, e := range logs.All() {
			line, _ := json.Marshal(e.ContextMap())
			if strings.Contains(e.Message+string(line), token) {
				t.Fatalf("the log shows the token: %s %s", e.Message, line)
			}
			made = made || e.Message == "node API token made" && e.ContextMap()["token_file"] == cfg.TokenFile
			listening = listening || e.Message == "node API listening" && e.ContextMap()["token_file"] == cfg.TokenFile &&
				strings.Contains(e.ContextMap()["auth"].(string), "Authorization: Bearer")
		}
		if !made || !listening {
			t.Fatalf("the log does not say where the token is (made %v, listening %v)", made, listening)
		}
		if fi, err := os.Stat(cfg.TokenFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("token file: %v, %v", fi.Mode(), err)
		}
	})
	t.Run("a restart keeps the token", func(t *testing.T) {
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		s2, err := service.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close(context.Background())
		if got := tokenOf(t, s2); got != token {
			t.Fatal("the token changed on restart")
		}
		if status, _, body := request(t, s2, "POST", "/api/v1/refresh", token, ""); status != http.StatusNoContent {
			t.Fatalf("refresh with the kept token: %d %s", status, body)
		}
	})
}

func TestAnAPIBeyondLoopbackIsWarnedAbout(t *testing.T) {
	for _, tt := range []struct {
		addr string
		warn bool
	}{{"127.0.0.1:0", false}, {"[::1]:0", false}, {"0.0.0.0:0", true}} {
		t.Run(tt.addr, func(t *testing.T) {
			cfg := oneNode(t)
			core, logs := observer.New(zap.WarnLevel)
			cfg.Logger, cfg.HTTPAddr = zap.New(core), tt.addr
			s, err := service.Start(context.Background(), cfg)
			if err != nil {
				if tt.addr == "[::1]:0" {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			warned := logs.FilterMessageSnippet("beyond loopback").Len() == 1
			if warned != tt.warn {
				t.Fatalf("listening on %s: warned %v, want %v", s.Addr(), warned, tt.warn)
			}
		})
	}
}
