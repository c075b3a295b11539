package gavelserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/gavelserver"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/internal/natscluster"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/relay"
)

const waitLimit = 20 * time.Second

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParseConfig(t *testing.T) {
	c, err := gavelserver.ParseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := gavelserver.Config{Listen: "127.0.0.1:8080", DataDir: "gavel-data", Dev: true, ClusterWait: gavelserver.DefaultClusterWait}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}

	secret := strings.Repeat("s", ws.MinKeySize)
	c, err = gavelserver.ParseConfig([]string{"-listen", "0.0.0.0:9000", "-media-ports", "50000-50100"},
		env(map[string]string{"GAVEL_LISTEN": "127.0.0.1:1", "GAVEL_DATA": "/var/lib/gavel", "GAVEL_SECRET": secret,
			"GAVEL_MEDIA_IP": "203.0.113.7", "GAVEL_LOG_JSON": "true"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want = gavelserver.Config{Listen: "0.0.0.0:9000", DataDir: "/var/lib/gavel", Secret: []byte(secret),
		MediaIP: "203.0.113.7", MediaPortMin: 50000, MediaPortMax: 50100, LogJSON: true, ClusterWait: gavelserver.DefaultClusterWait}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("flags over variables (-want +got):\n%s", diff)
	}
}

// TestParseClusterConfig: the README's cluster commands, and the same
// through variables; a node joining by URL gets a name of its own.
func TestParseClusterConfig(t *testing.T) {
	routes := []string{"nats://127.0.0.1:6223", "nats://127.0.0.1:6224", "nats://127.0.0.1:6225"}
	c, err := gavelserver.ParseConfig([]string{"-name", "n1", "-listen", "127.0.0.1:8081", "-nats-listen", "127.0.0.1:4223",
		"-cluster-listen", "127.0.0.1:6223", "-routes", strings.Join(routes, ",")}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := gavelserver.Config{Listen: "127.0.0.1:8081", DataDir: filepath.Join("gavel-data", "n1"), Dev: true, Node: "n1",
		NATSListen: "127.0.0.1:4223", ClusterListen: "127.0.0.1:6223", Routes: routes, ClusterWait: gavelserver.DefaultClusterWait}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
	c, err = gavelserver.ParseConfig(nil, env(map[string]string{"GAVEL_NAME": "n1", "GAVEL_LISTEN": "127.0.0.1:8081",
		"GAVEL_NATS_LISTEN": "127.0.0.1:4223", "GAVEL_CLUSTER_LISTEN": "127.0.0.1:6223", "GAVEL_ROUTES": strings.Join(routes, ","),
		"GAVEL_DATA": "/var/lib/gavel", "GAVEL_REPLICAS": "3", "GAVEL_CLUSTER_WAIT": "5m"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want.DataDir, want.Replicas, want.ClusterWait = "/var/lib/gavel", 3, 5*time.Minute
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}

	c, err = gavelserver.ParseConfig([]string{"-nats", "nats://127.0.0.1:4223,nats://127.0.0.1:4224"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	other, err := gavelserver.ParseConfig([]string{"-nats", "nats://127.0.0.1:4223"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Node == "" || c.Node == other.Node || c.DataDir != "gavel-data" {
		t.Errorf("joining by URL: node %q and %q, data %q; want two names and the default data", c.Node, other.Node, c.DataDir)
	}
}

func TestParsePresets(t *testing.T) {
	ps, err := gavelserver.ParsePresets([]byte(`{"moderator":{"disable_participant_audio":true,"pin_participant":false},"viewer":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(core.Presets{"moderator": {DisableParticipantAudio: true}, "viewer": {}}, ps); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		``, `[]`, `{}`, `{"host":true}`, `{"host":{"mute_everyone":true}}`, `{"host":{"pin_participant":"yes"}}`,
		`{"host":{},"host":{}}`, `{"host":{"pin_participant":true,"pin_participant":true}}`, `{"":{}}`,
		`{"host":{"pin_participant":{"x":true}}}`, `{"host":{}} {}`,
	} {
		if _, err := gavelserver.ParsePresets([]byte(bad)); err == nil {
			t.Errorf("ParsePresets(%s): no error", bad)
		}
	}
}

// run runs gavelserver.Run with args and variables, and returns its status
// and what it wrote to stderr.
func run(t *testing.T, args []string, vars map[string]string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	code := gavelserver.Run(ctx, args, env(vars), &stdout, &stderr)
	return code, stderr.String()
}

// TestBadConfigurationExits2: each mistake stops gavel at start with one
// line that says what is wrong, and status 2.
func TestBadConfigurationExits2(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.json")
	if err := os.WriteFile(unknown, []byte(`{"host":{"kick_everyone":true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	// A port nothing listens on, for a NATS server that is not there.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := "nats://" + free.Addr().String()
	free.Close()

	base := []string{"-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "data")}
	for _, c := range []struct {
		name string
		args []string
		vars map[string]string
		says string
	}{
		{"unreadable presets file", []string{"-presets", filepath.Join(dir, "missing.json")}, nil, "missing.json"},
		{"unknown permission", []string{"-presets", unknown}, nil, `unknown permission "kick_everyone"`},
		{"port in use", []string{"-listen", taken.Addr().String()}, nil, "address already in use"},
		{"unreachable NATS", []string{"-nats", nowhere}, nil, nowhere},
		{"short secret", nil, map[string]string{"GAVEL_SECRET": "short"}, "GAVEL_SECRET has 5 bytes"},
		{"bad port range", []string{"-media-ports", "9-1"}, nil, "-media-ports"},
		{"bad media address", []string{"-media-ip", "example.com"}, nil, "-media-ip"},
		{"bad dev", []string{"-dev=maybe"}, nil, "-dev"},
		{"bad GAVEL_DEV", nil, map[string]string{"GAVEL_DEV": "maybe"}, "-dev"},
		{"unknown flag", []string{"-colour"}, nil, "colour"},
		{"routes alone", []string{"-name", "n1", "-routes", "nats://127.0.0.1:6223"}, nil, "-routes needs -cluster-listen"},
		{"cluster without a name", []string{"-cluster-listen", "127.0.0.1:0"}, nil, "-cluster-listen needs -name"},
		{"bad name", []string{"-name", "n 1"}, nil, `-name "n 1"`},
		{"bad route", []string{"-name", "n1", "-cluster-listen", "127.0.0.1:0", "-routes", "127.0.0.1:6223"}, nil, "want nats://host:port"},
		{"replicas without a cluster", []string{"-replicas", "3"}, nil, "-replicas 3 needs a cluster"},
		{"too many replicas", []string{"-name", "n1", "-cluster-listen", "127.0.0.1:0", "-replicas", "7"}, nil, "-replicas 7"},
		{"bad GAVEL_REPLICAS", nil, map[string]string{"GAVEL_REPLICAS": "three"}, "GAVEL_REPLICAS"},
		{"bad GAVEL_CLUSTER_WAIT", nil, map[string]string{"GAVEL_CLUSTER_WAIT": "soon"}, "GAVEL_CLUSTER_WAIT"},
		{"a cluster and a URL", []string{"-nats", nowhere, "-name", "n1", "-cluster-listen", "127.0.0.1:0"}, nil, "-nats joins a running one"},
		{"bad cluster address", []string{"-name", "n1", "-cluster-listen", "6223"}, nil, "-cluster-listen"},
		// Routes to servers that never start: no leader, ever.
		{"a cluster that does not form", []string{"-name", "n1", "-cluster-listen", "127.0.0.1:0", "-routes", nowhere,
			"-cluster-wait", "1s"}, nil, "JetStream cannot keep 3 copies of the logs after 1s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string(nil), base...), c.args...)
			code, stderr := run(t, args, c.vars)
			if code != 2 {
				t.Errorf("status %d, want 2; stderr:\n%s", code, stderr)
			}
			last := strings.TrimSpace(stderr)
			if i := strings.LastIndexByte(last, '\n'); i >= 0 {
				last = last[i+1:]
			}
			if !strings.Contains(last, c.says) || !strings.HasPrefix(last, "gavel: bad configuration") {
				t.Errorf("last line %q, want one that says %q", last, c.says)
			}
		})
	}
}

func startServer(t *testing.T, cfg gavelserver.Config) *gavelserver.Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := gavelserver.Start(ctx, cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestServesPageSDKAndHealth(t *testing.T) {
	s := startServer(t, gavelserver.Config{Dev: true})
	for _, c := range []struct{ path, typ, has string }{
		{"", "text/html", `<script type="module" src="/app.js">`},
		{"gavel.js", "text/javascript", "export class GavelClient"},
		{"gavel.d.ts", "text/plain", "export declare class GavelClient"},
		{"app.js", "text/javascript", `from "/gavel.js"`},
		{"app.css", "text/css", ".tile"},
		{"healthz", "text/plain", "ok"},
	} {
		res, body := get(t, s.URL()+c.path)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), c.typ) || !strings.Contains(body, c.has) {
			t.Errorf("/%s: %d %q, body has %q: %v", c.path, res.StatusCode, res.Header.Get("Content-Type"), c.has,
				strings.Contains(body, c.has))
		}
	}
	if res, _ := get(t, s.URL()+"nothing"); res.StatusCode != 404 {
		t.Errorf("/nothing: %d, want 404", res.StatusCode)
	}
}

func devToken(t *testing.T, h http.Handler, remote, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/dev/token", strings.NewReader(body))
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestDevToken: the dev endpoint mints a token the websocket accepts, for
// loopback clients only; without Dev it is not there.
func TestDevToken(t *testing.T) {
	s := startServer(t, gavelserver.Config{Dev: true})
	rec := devToken(t, s.Handler(), "127.0.0.1:5000", `{"room":"r1","name":"Ada","preset":"host"}`)
	if rec.Code != 200 {
		t.Fatalf("dev token: %d %s", rec.Code, rec.Body)
	}
	var got struct{ Token, Participant, Room string }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	tok, err := ws.VerifyToken(s.Secret(), got.Token, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Session != "r1" || tok.Preset != "host" || tok.Participant != got.Participant || got.Room != "r1" {
		t.Errorf("token %+v, answer %+v", tok, got)
	}

	for _, c := range []struct {
		remote, body string
		code         int
	}{
		{"192.0.2.1:5000", `{"room":"r1","name":"Ada","preset":"host"}`, http.StatusForbidden},
		{"[::1]:5000", `{"room":"r1","name":"Ada","preset":"boss"}`, http.StatusBadRequest},
		{"127.0.0.1:5000", `{"room":"","name":"Ada","preset":"host"}`, http.StatusBadRequest},
		{"127.0.0.1:5000", `{"room":"r1","name":"","preset":"host"}`, http.StatusBadRequest},
		{"127.0.0.1:5000", `{"room":"r1","name":"Ada","preset":"host","admin":true}`, http.StatusBadRequest},
		{"127.0.0.1:5000", `not json`, http.StatusBadRequest},
	} {
		if rec := devToken(t, s.Handler(), c.remote, c.body); rec.Code != c.code {
			t.Errorf("from %s, %s: %d, want %d", c.remote, c.body, rec.Code, c.code)
		}
	}

	off := startServer(t, gavelserver.Config{})
	if rec := devToken(t, off.Handler(), "127.0.0.1:5000", `{"room":"r1","name":"Ada","preset":"host"}`); rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("dev token without Dev: %d", rec.Code)
	}
}

func wsURL(s *gavelserver.Server) string {
	return "ws" + strings.TrimPrefix(s.URL(), "http") + "gavel"
}

// TestCloseSaysGoodbyeAndKeepsTheLog: closing the server says goodbye
// shutdown to the clients; a server started again on the same data
// directory has the sessions as they were.
func TestCloseSaysGoodbyeAndKeepsTheLog(t *testing.T) {
	dir := t.TempDir()
	secret := bytes.Repeat([]byte("k"), ws.MinKeySize)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := gavelserver.Start(ctx, gavelserver.Config{Listen: "127.0.0.1:0", DataDir: dir, Secret: secret}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ws.MintToken(secret, ws.Token{Session: "r1", Participant: "ada", Preset: "host", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reasons []wire.Reason
	m, err := client.Dial(ctx, wsURL(s), tok, client.WithName("Ada"), client.WithMedia(true, false), client.WithMaxReconnects(0),
		client.WithSetup(func(m *client.Meeting) {
			m.OnConnectionUpdate(func(u client.ConnectionUpdate) {
				mu.Lock()
				reasons = append(reasons, u.Reason)
				mu.Unlock()
			})
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-ctx.Done():
		t.Fatal("the client did not notice the server closing")
	}
	mu.Lock()
	if !containsReason(reasons, wire.ReasonShutdown) {
		t.Errorf("connection updates %v, want a goodbye shutdown", reasons)
	}
	mu.Unlock()

	s2, err := gavelserver.Start(ctx, gavelserver.Config{Listen: "127.0.0.1:0", DataDir: dir, Secret: secret}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close(ctx)
	st, _, err := s2.Manager().Watch(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := st.Participant("ada"); !ok || !p.AudioEnabled {
		t.Errorf("after a restart: %+v, want ada joined with audio", st.Snapshot())
	}
}

func containsReason(rs []wire.Reason, r wire.Reason) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for Run's writes and the test's reads.
// Each write signals wrote (made by the test, if it waits on writes).
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.wrote <- struct{}{}:
	default: // a signal is already waiting; the reader reads it all
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestRun: gavel prints the URL to open, serves, and stops with status 0
// when its context ends (SIGINT, SIGTERM in cmd/gavel).
func TestRun(t *testing.T) {
	stdout, stderr := syncBuffer{wrote: make(chan struct{}, 1)}, syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- gavelserver.Run(ctx, []string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-log-json"}, env(nil), &stdout, &stderr)
	}()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	var url string
	for url == "" {
		select {
		case <-stdout.wrote:
		case <-deadline.C:
			cancel()
			t.Fatalf("no URL printed; stderr:\n%s", stderr.String())
		}
		if out := stdout.String(); strings.Contains(out, "http://") {
			url = strings.Fields(out[strings.Index(out, "http://"):])[0]
			url = strings.TrimSuffix(url, ":")
		}
	}
	if res, body := get(t, url+"healthz"); res.StatusCode != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", res.StatusCode, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("status %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after its context ended")
	}
	if !strings.Contains(stderr.String(), `"msg":"no GAVEL_SECRET`) {
		t.Errorf("no JSON log line about the random key:\n%s", stderr.String())
	}

}

// TestExternalNATS: with NATSURL the logs go to that server, and the data
// directory is not used.
func TestExternalNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ns := natscluster.StartOne(t)
	unused := filepath.Join(t.TempDir(), "unused")
	s := startServer(t, gavelserver.Config{NATSURL: ns.ClientURL(), DataDir: unused})
	if _, err := s.Manager().Submit(ctx, "r1", core.Command{ID: "1", Type: core.Join, Actor: "ada", Name: "Ada", Preset: "host"}); err != nil {
		t.Fatal(err)
	}
	// Another instance on the same server sees the session.
	other := startServer(t, gavelserver.Config{NATSURL: ns.ClientURL(), DataDir: unused})
	st, _, err := other.Manager().Watch(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Joined("ada") {
		t.Errorf("another instance on the same NATS server: %+v, want ada joined", st.Snapshot())
	}
	if _, err := os.Stat(unused); !os.IsNotExist(err) {
		t.Errorf("the data directory was used: %v", err)
	}
}

// TestNodes: servers with Config.Node on one NATS server see each other
// as the nodes of the media homes; a server that closes leaves them. A
// node serves the media of the sessions homed at it.
func TestNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ns := natscluster.StartOne(t) // stopped after the servers started after it
	cfg := gavelserver.Config{NATSURL: ns.ClientURL(), Node: "node-1", RelayOptions: []relay.Option{relay.WithTTL(time.Second)}}
	one := startServer(t, cfg)
	if got := one.Relay().Nodes(); !slices.Equal(got, []string{"node-1"}) {
		t.Fatalf("node-1 alone sees %v", got)
	}
	cfg.Node = "node-2"
	two := startServer(t, cfg)
	mediatest.WaitUntil(t, "node-1 seeing node-2", func() bool { return slices.Equal(one.Relay().Nodes(), []string{"node-1", "node-2"}) })
	if err := two.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mediatest.WaitUntil(t, "node-1 seeing node-2 leave", func() bool { return slices.Equal(one.Relay().Nodes(), []string{"node-1"}) })

	// node-1 is every session's home now: media_connect gets an offer.
	tok, err := ws.MintToken(one.Secret(), ws.Token{Session: "r1", Participant: "ada", Preset: "host", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.Dial(ctx, wsURL(one)+"?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	for _, f := range [][]byte{wire.AppendCommand(nil, core.Command{ID: "j", Type: core.Join, Name: "Ada"}), wire.AppendMediaConnect(nil)} {
		if err := c.Write(ctx, websocket.MessageText, f); err != nil {
			t.Fatal(err)
		}
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f, err := wire.DecodeFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == wire.TypeMediaClosed {
			t.Fatalf("media_connect: %+v", f.Media)
		}
		if f.Type == wire.TypeSignal && f.Signal.Description != nil {
			break // the offer
		}
	}
	if _, ok := one.Hub().Router("r1"); !ok {
		t.Error("no router for r1 at node-1")
	}
}
