package gavelserver

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/relay"
)

// Config is what a gavel server is made of. ParseConfig fills it from flags
// and GAVEL_* environment variables; tests fill it directly.
type Config struct {
	// Listen is the HTTP address (default 127.0.0.1:8080; port 0 for any).
	Listen string
	// DataDir keeps the embedded NATS server's JetStream (every session's
	// log); unused with NATSURL.
	DataDir string
	// NATSURL, if set, is a NATS server or cluster to keep the logs in
	// instead of the embedded server (URLs comma separated).
	NATSURL string
	// NATSListen is the address the embedded NATS server takes clients of
	// other processes on (gavel nodes joining it with NATSURL); empty is
	// 127.0.0.1 and any free port.
	NATSListen string
	// ClusterListen, if set, makes the embedded NATS server one of a
	// cluster: it takes the other servers' routes on this address and
	// connects to Routes. It needs Node, which names the server.
	ClusterListen string
	// Routes are the other cluster servers' route URLs
	// (nats://host:port; this node's own may be among them).
	Routes []string
	// Replicas is how many copies the cluster keeps of the logs, the
	// snapshots and the media relay's registry; 0 is
	// DefaultClusterReplicas with ClusterListen, as many as the stream
	// has with NATSURL (so that a node joining never changes it), else 1.
	Replicas int
	// ClusterWait bounds how long Start waits for a clustered JetStream
	// (ClusterListen, or Replicas above 1) to take the logs: for the other
	// nodes to start, a leader to be elected. 0 is DefaultClusterWait.
	ClusterWait time.Duration
	// Secret is the token key, at least ws.MinKeySize bytes; empty makes a
	// random one at start (tokens then die with the process).
	Secret []byte
	// Presets are the presets of new sessions (default DefaultPresets).
	Presets core.Presets
	// Dev serves /dev/token, which mints a token for a name and preset
	// typed into the page, to loopback clients only.
	Dev bool
	// MediaIP is the address announced in ICE candidates (a host behind a
	// one-to-one NAT); empty announces the host's own addresses, or
	// 127.0.0.1 only when Listen is a loopback address.
	MediaIP string
	// MediaPortMin and MediaPortMax bound the UDP ports of the media
	// connections; zero for any.
	MediaPortMin, MediaPortMax uint16
	// LogJSON writes the log as JSON lines instead of text.
	LogJSON bool
	// WSOptions are more options of the websocket server, for embedders
	// and tests (ws.WithCommandRate, say); no flag sets them.
	WSOptions []ws.Option
	// Node, if set, names this server among several gavel nodes that share
	// one NATS server or cluster ([A-Za-z0-9_-], 1 to 64 bytes, unique and
	// the same across restarts): the embedded NATS server's name, and the
	// media relay's node. Each session's media then has one home node
	// among the live ones, and the media of a participant whose socket is
	// on another node is relayed to it (transport/ws/wsmedia/relay).
	// Empty (a single node), this server is every session's home.
	Node string
	// RelayOptions are more options of the media relay, with Node
	// (relay.WithTTL, relay.WithReplicas).
	RelayOptions []relay.Option
	// SecretGenerated is set when Secret was made at start.
	SecretGenerated bool
}

// DefaultClusterWait is how long Start waits for a clustered JetStream by
// default: long enough to start the other nodes by hand.
const DefaultClusterWait = time.Minute

// DefaultClusterReplicas is Config.Replicas with ClusterListen: a log
// that survives the loss of any one of three servers.
const DefaultClusterReplicas = 3

// DefaultPresets are host, with every host control, and attendee, with none.
func DefaultPresets() core.Presets {
	return core.Presets{
		"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
		"attendee": {},
	}
}

// ErrConfig is matched by every error of ParseConfig and Start that comes
// from the configuration (or the environment it names: a port in use, an
// unreachable NATS server): cmd/gavel exits with status 2 on it.
var ErrConfig = errors.New("gavel: bad configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// ParseConfig reads the command line (without the program name) and the
// environment through getenv. A flag wins over its variable.
func ParseConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("gavel", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // a mistake is one line (ErrConfig), -help the whole usage
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	listen := fs.String("listen", env("GAVEL_LISTEN", "127.0.0.1:8080"), "HTTP `address` to serve the page, the websocket and /healthz on (GAVEL_LISTEN)")
	data := fs.String("data", env("GAVEL_DATA", "gavel-data"), "`directory` of the embedded NATS JetStream that keeps the session logs (GAVEL_DATA)")
	natsURL := fs.String("nats", env("GAVEL_NATS", ""), "use the NATS server or cluster at `URL`s (comma separated) instead of the embedded server; the media relay is then on (GAVEL_NATS)")
	name := fs.String("name", env("GAVEL_NAME", ""), "this node's `name` among gavel nodes, unique and the same across restarts: the embedded NATS server's and the media relay's; with -nats, default the host name and a random suffix (GAVEL_NAME)")
	natsListen := fs.String("nats-listen", env("GAVEL_NATS_LISTEN", ""), "`address` the embedded NATS server takes clients on, for gavel nodes that join with -nats (GAVEL_NATS_LISTEN; default 127.0.0.1, any port)")
	clusterListen := fs.String("cluster-listen", env("GAVEL_CLUSTER_LISTEN", ""), "`address` the embedded NATS server takes routes from the other cluster nodes on: makes this node one of a cluster, with -name, and -data defaults to gavel-data/NAME (GAVEL_CLUSTER_LISTEN)")
	routes := fs.String("routes", env("GAVEL_ROUTES", ""), "the other cluster nodes' route `URL`s, comma separated, as nats://127.0.0.1:6223 (GAVEL_ROUTES)")
	replicas := fs.Int("replicas", 0, "copies of each log the cluster keeps (GAVEL_REPLICAS; default 3 with -cluster-listen, with -nats as many as the logs have, else 1)")
	clusterWait := fs.Duration("cluster-wait", DefaultClusterWait, "how long start waits for the cluster's JetStream: the other nodes to start (GAVEL_CLUSTER_WAIT)")
	presets := fs.String("presets", env("GAVEL_PRESETS", ""), "JSON `file` of presets (GAVEL_PRESETS; default host with every host control, attendee with none)")
	dev := &devFlag{v: env("GAVEL_DEV", "auto")}
	fs.Var(dev, "dev", "serve /dev/token, which mints tokens for the page, to loopback clients: true, false, or auto: on when listening on loopback (GAVEL_DEV)")
	mediaIP := fs.String("media-ip", env("GAVEL_MEDIA_IP", ""), "`address` to announce in ICE candidates (GAVEL_MEDIA_IP)")
	mediaPorts := fs.String("media-ports", env("GAVEL_MEDIA_PORTS", ""), "UDP port `range` for media, as 50000-50100 (GAVEL_MEDIA_PORTS)")
	jsonDefault, err := strconv.ParseBool(env("GAVEL_LOG_JSON", "false"))
	if err != nil {
		return Config{}, configErr("GAVEL_LOG_JSON %q: want true or false", getenv("GAVEL_LOG_JSON"))
	}
	logJSON := fs.Bool("log-json", jsonDefault, "log JSON lines instead of text (GAVEL_LOG_JSON)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(usage, "usage: gavel [flags]\n\nServes gavel: the meeting page, the SDK, the websocket endpoint with media.\nThe token key comes from GAVEL_SECRET (at least %d bytes).\n\n", ws.MinKeySize)
			fs.SetOutput(usage)
			fs.PrintDefaults()
			return Config{}, err
		}
		return Config{}, configErr("%v", err)
	}
	if fs.NArg() > 0 {
		return Config{}, configErr("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// A number or a duration from a variable is parsed only where its flag
	// is not given: a bad variable the command line overrides is no error.
	if v := getenv("GAVEL_REPLICAS"); v != "" && !set["replicas"] {
		if *replicas, err = strconv.Atoi(v); err != nil || *replicas < 0 {
			return Config{}, configErr("GAVEL_REPLICAS %q: want a number from 1 to 5", v)
		}
	}
	if v := getenv("GAVEL_CLUSTER_WAIT"); v != "" && !set["cluster-wait"] {
		if *clusterWait, err = time.ParseDuration(v); err != nil {
			return Config{}, configErr("GAVEL_CLUSTER_WAIT %q: want a duration, as 1m", v)
		}
	}

	c := Config{Listen: *listen, DataDir: *data, NATSURL: *natsURL, MediaIP: *mediaIP, LogJSON: *logJSON,
		Node: *name, NATSListen: *natsListen, ClusterListen: *clusterListen, Replicas: *replicas, ClusterWait: *clusterWait}
	if *routes != "" {
		c.Routes = strings.Split(*routes, ",")
	}
	if c.ClusterListen != "" && !set["data"] && getenv("GAVEL_DATA") == "" {
		c.DataDir = filepath.Join(c.DataDir, c.Node) // three nodes on one machine, one directory each
	}
	if c.NATSURL != "" && c.Node == "" {
		c.Node = defaultNodeName()
	}
	if err := c.checkCluster(); err != nil {
		return Config{}, err
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return Config{}, configErr("-listen %q: %v", c.Listen, err)
	}
	switch dev.v {
	case "auto":
		c.Dev = isLoopback(host)
	default:
		if c.Dev, err = strconv.ParseBool(dev.v); err != nil {
			return Config{}, configErr("-dev %q: want true, false or auto", dev.v)
		}
	}
	if c.MediaIP != "" && net.ParseIP(c.MediaIP) == nil {
		return Config{}, configErr("-media-ip %q is not an IP address", c.MediaIP)
	}
	if *mediaPorts != "" {
		if c.MediaPortMin, c.MediaPortMax, err = parsePorts(*mediaPorts); err != nil {
			return Config{}, configErr("-media-ports %q: %v", *mediaPorts, err)
		}
	}
	if *presets != "" {
		b, err := os.ReadFile(*presets)
		if err != nil {
			return Config{}, configErr("presets: %v", err)
		}
		if c.Presets, err = ParsePresets(b); err != nil {
			return Config{}, configErr("presets %s: %v", *presets, err)
		}
	}
	if s := getenv("GAVEL_SECRET"); s != "" {
		if len(s) < ws.MinKeySize {
			return Config{}, configErr("GAVEL_SECRET has %d bytes, want at least %d", len(s), ws.MinKeySize)
		}
		c.Secret = []byte(s)
	}
	return c, nil
}

// defaultNodeName is a node name for a gavel joining NATS by URL without
// -name: the host's name and a random suffix, unique among the nodes.
func defaultNodeName() string {
	host, _ := os.Hostname()
	var b strings.Builder
	for _, r := range host {
		if b.Len() == 48 {
			break
		}
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		b.WriteString("gavel")
	}
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	return fmt.Sprintf("%s-%x", b.String(), rnd)
}

// checkCluster checks the cluster settings together; Start calls it for
// a Config filled by hand.
func (c Config) checkCluster() error {
	switch {
	case c.NATSURL != "" && c.ClusterListen != "":
		return configErr("-cluster-listen is for the embedded NATS server; -nats joins a running one")
	case c.NATSURL != "" && c.NATSListen != "":
		return configErr("-nats-listen is for the embedded NATS server; -nats joins a running one")
	case len(c.Routes) > 0 && c.ClusterListen == "":
		return configErr("-routes needs -cluster-listen: the address this node takes the others' routes on")
	case c.ClusterListen != "" && c.Node == "":
		return configErr("-cluster-listen needs -name: each node of a cluster has its own, the same across restarts")
	case c.Node != "" && !relay.ValidNode(c.Node):
		return configErr("-name %q: want [A-Za-z0-9_-], 1 to 64 bytes", c.Node)
	case c.Replicas < 0 || c.Replicas > 5:
		return configErr("-replicas %d: want 1 to 5", c.Replicas)
	case c.Replicas > 1 && c.NATSURL == "" && c.ClusterListen == "":
		return configErr("-replicas %d needs a cluster: -cluster-listen and -routes, or -nats", c.Replicas)
	case c.ClusterWait < 0:
		return configErr("-cluster-wait %v: want a positive duration", c.ClusterWait)
	}
	for _, a := range []struct{ flag, addr string }{{"-nats-listen", c.NATSListen}, {"-cluster-listen", c.ClusterListen}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return configErr("%s %q: %v", a.flag, a.addr, err)
		}
	}
	for _, r := range c.Routes {
		if u, err := url.Parse(r); err != nil || (u.Scheme != "nats" && u.Scheme != "nats-route") || u.Port() == "" {
			return configErr("-routes: %q: want nats://host:port", r)
		}
	}
	return nil
}

// devFlag is -dev: a boolean flag (-dev alone is true) that may also be
// auto.
type devFlag struct{ v string }

func (f *devFlag) String() string {
	if f == nil {
		return ""
	}
	return f.v
}

func (f *devFlag) Set(s string) error {
	if _, err := strconv.ParseBool(s); err != nil && s != "auto" {
		return errors.New("want true, false or auto")
	}
	f.v = s
	return nil
}

func (f *devFlag) IsBoolFlag() bool { return true }

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func parsePorts(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, errors.New("want LOW-HIGH")
	}
	l, err1 := strconv.ParseUint(a, 10, 16)
	h, err2 := strconv.ParseUint(b, 10, 16)
	if err1 != nil || err2 != nil || l == 0 || l > h {
		return 0, 0, errors.New("want LOW-HIGH, 1 ≤ LOW ≤ HIGH ≤ 65535")
	}
	return uint16(l), uint16(h), nil
}

// ParsePresets reads a presets file: a JSON object from preset name to an
// object of permissions (those of SPEC §1, each true or false). Unlike a
// session log, which ignores unknown fields, a configuration file names
// only known permissions, once each: a typo would otherwise quietly grant
// nothing.
func ParsePresets(b []byte) (core.Presets, error) {
	known := make(map[string]bool)
	var all map[string]bool
	if err := json.Unmarshal(events.AppendPermissions(nil, core.Permissions{DisableParticipantAudio: true,
		DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true}), &all); err != nil {
		return nil, err
	}
	for name := range all {
		known[name] = true
	}
	d := json.NewDecoder(bytes.NewReader(b))
	objects := 0
	seen := map[string]bool{}
	var preset string
	var inner map[string]bool
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				objects++
				if objects > 2 || (objects == 2 && preset == "") {
					return nil, errors.New("want an object of objects of permissions")
				}
				inner = map[string]bool{}
			case '}':
				if objects == 2 {
					preset = ""
				}
				objects--
			default:
				return nil, fmt.Errorf("unexpected %v", t)
			}
		case string:
			switch {
			case objects == 1 && preset == "":
				if seen[t] {
					return nil, fmt.Errorf("preset %q given twice", t)
				}
				if t == "" {
					return nil, errors.New("a preset with no name")
				}
				seen[t], preset = true, t
			case objects == 2:
				if !known[t] {
					return nil, fmt.Errorf("preset %q: unknown permission %q", preset, t)
				}
				if inner[t] {
					return nil, fmt.Errorf("preset %q: permission %q given twice", preset, t)
				}
				inner[t] = true
				v, err := d.Token()
				if _, ok := v.(bool); err != nil || !ok {
					return nil, fmt.Errorf("preset %q: %q must be true or false", preset, t)
				}
			default:
				return nil, fmt.Errorf("preset %q: want an object of permissions", preset)
			}
		default:
			return nil, fmt.Errorf("unexpected %v", t)
		}
	}
	ps, err := events.DecodePresets(b)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, errors.New("no presets")
	}
	return ps, nil
}

// randomSecret is a token key for this process only.
func randomSecret() []byte {
	b := make([]byte, ws.MinKeySize)
	_, _ = rand.Read(b) // never fails: crypto/rand panics rather
	return b
}
