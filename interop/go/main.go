// peernet-interop: a go-libp2p peer that joins a peernet network, for the interop test
// (test/peer/interop.test.ts) and as a worked example of docs/interop.md. It speaks what a
// peernet peer speaks (TCP, Noise, Yamux, identify, ping, Kademlia on /peernet/<network>/kad/1.0.0,
// a pre-shared key when given one) and mirrors peernet's record validator and selector.
//
// It prints one JSON line {"event":"started","peerId":...,"addrs":[...]} and then answers
// one JSON command a line on stdin with one JSON line on stdout, in order:
//
//	{"cmd":"connect","addr":"/ip4/.../p2p/..."}
//	{"cmd":"ping","peer":"12D3Koo..."}
//	{"cmd":"put","key":"k","value":"v","timestamp":1700000000000}   (timestamp optional: now)
//	{"cmd":"get","key":"k"}
//	{"cmd":"provide","key":"k"}
//	{"cmd":"providers","key":"k"}
//	{"cmd":"peers"}
//
// Every answer has "ok"; a failed command has "error" and the program goes on.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

// Namespace is the DHT key prefix of peernet records: /peernet/<user key>.
const Namespace = "peernet"

const (
	maxKeyBytes    = 256
	maxValueBytes  = 64 * 1024
	envelopeV1     = 1
	header         = 9
	maxClockSkewMs = 5 * 60 * 1000
)

// DHTPrefix is the kad-dht protocol prefix of a network: kad-dht appends /kad/1.0.0.
func DHTPrefix(network string) protocol.ID { return protocol.ID("/peernet/" + network) }

// RecordKey is the DHT key of a user key.
func RecordKey(key string) string { return "/" + Namespace + "/" + key }

// ProviderCid is the provider key of a user key: CIDv1, raw codec, sha2-256 of the key's bytes.
func ProviderCid(key string) (cid.Cid, error) {
	h, err := mh.Sum([]byte(key), mh.SHA2_256, -1)
	if err != nil {
		return cid.Undef, err
	}
	return cid.NewCidV1(cid.Raw, h), nil
}

// Seal wraps a value in peernet's envelope: [0x01][8-byte big-endian ms timestamp][value].
func Seal(value []byte, timestampMs uint64) []byte {
	out := make([]byte, header+len(value))
	out[0] = envelopeV1
	binary.BigEndian.PutUint64(out[1:header], timestampMs)
	copy(out[header:], value)
	return out
}

// Open unwraps a sealed value.
func Open(sealed []byte) (timestampMs uint64, value []byte, err error) {
	if len(sealed) <= header || sealed[0] != envelopeV1 {
		return 0, nil, errors.New("not a peernet record envelope")
	}
	return binary.BigEndian.Uint64(sealed[1:header]), sealed[header:], nil
}

// Validator mirrors peer/dht/keys.ts: a printable key of 1..256 UTF-8 bytes under /peernet/, an
// envelope holding 1..64 KiB, dated no more than 5 minutes ahead of this clock; the newest
// timestamp wins, equal timestamps are ordered by the sealed bytes (larger wins).
type Validator struct{}

func (Validator) Validate(dhtKey string, sealed []byte) error {
	prefix := "/" + Namespace + "/"
	if !strings.HasPrefix(dhtKey, prefix) || len(dhtKey) == len(prefix) {
		return errors.New("not a /peernet/ key")
	}
	key := dhtKey[len(prefix):]
	if !utf8.ValidString(key) {
		return errors.New("key is not valid Unicode")
	}
	if len(key) > maxKeyBytes {
		return fmt.Errorf("key is %d bytes, the limit is %d", len(key), maxKeyBytes)
	}
	for _, r := range key {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return errors.New("key contains control characters")
		}
	}
	ts, value, err := Open(sealed)
	if err != nil {
		return err
	}
	if len(value) > maxValueBytes {
		return fmt.Errorf("value is %d bytes, the limit is %d", len(value), maxValueBytes)
	}
	if now := uint64(time.Now().UnixMilli()); ts > now+maxClockSkewMs {
		return fmt.Errorf("record dated %d ms ahead of this peer's clock", ts-now)
	}
	return nil
}

func (Validator) Select(_ string, records [][]byte) (int, error) {
	best := -1
	for i, r := range records {
		if _, _, err := Open(r); err != nil {
			continue
		}
		if best < 0 || compareSealed(r, records[best]) > 0 {
			best = i
		}
	}
	if best < 0 {
		return 0, errors.New("no valid record")
	}
	return best, nil
}

func compareSealed(a, b []byte) int {
	ta, _, _ := Open(a)
	tb, _, _ := Open(b)
	if ta != tb {
		if ta < tb {
			return -1
		}
		return 1
	}
	return bytes.Compare(a, b)
}

type command struct {
	Cmd       string `json:"cmd"`
	Addr      string `json:"addr"`
	Peer      string `json:"peer"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	Timestamp uint64 `json:"timestamp"`
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var listen, bootstrap multiFlag
	network := flag.String("network", "default", "peernet network name")
	swarmKeyFile := flag.String("swarm-key-file", "", "a /key/swarm/psk/1.0.0/ file: join a private network")
	timeout := flag.Duration("timeout", 20*time.Second, "deadline of each command")
	flag.Var(&listen, "listen", "multiaddr to listen on (repeatable; default /ip4/127.0.0.1/tcp/0)")
	flag.Var(&bootstrap, "bootstrap", "multiaddr with /p2p/<peerId> to connect to at start (repeatable)")
	flag.Parse()
	if len(listen) == 0 {
		listen = multiFlag{"/ip4/127.0.0.1/tcp/0"}
	}
	if err := run(*network, *swarmKeyFile, listen, bootstrap, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "peernet-interop:", err)
		os.Exit(2)
	}
}

func run(network, swarmKeyFile string, listen, bootstrap []string, timeout time.Duration) error {
	opts := []libp2p.Option{
		libp2p.ListenAddrStrings(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.Ping(true),
	}
	if swarmKeyFile != "" {
		f, err := os.Open(swarmKeyFile)
		if err != nil {
			return fmt.Errorf("--swarm-key-file: %w", err)
		}
		psk, err := pnet.DecodeV1PSK(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--swarm-key-file: %w", err)
		}
		opts = append(opts, libp2p.PrivateNetwork(psk))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return err
	}
	defer h.Close()
	ctx := context.Background()
	kad, err := dht.New(h,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(DHTPrefix(network)),
		dht.NamespacedValidator(Namespace, Validator{}),
	)
	if err != nil {
		return err
	}
	defer kad.Close()

	out := json.NewEncoder(os.Stdout)
	for _, b := range bootstrap {
		if err := connect(ctx, h, b, timeout); err != nil {
			return fmt.Errorf("--bootstrap %s: %w", b, err)
		}
	}
	addrs := []string{}
	for _, a := range h.Addrs() {
		addrs = append(addrs, a.String()+"/p2p/"+h.ID().String())
	}
	_ = out.Encode(map[string]any{"event": "started", "peerId": h.ID().String(), "addrs": addrs})

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var c command
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			_ = out.Encode(map[string]any{"ok": false, "error": "bad command: " + err.Error()})
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		res, err := handle(cctx, h, kad, c, timeout)
		cancel()
		if err != nil {
			_ = out.Encode(map[string]any{"ok": false, "cmd": c.Cmd, "error": err.Error()})
			continue
		}
		res["ok"] = true
		res["cmd"] = c.Cmd
		_ = out.Encode(res)
	}
	return nil
}

func connect(ctx context.Context, h host.Host, addr string, timeout time.Duration) error {
	m, err := multiaddr.NewMultiaddr(addr)
	if err != nil {
		return err
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return h.Connect(cctx, *ai)
}

func handle(ctx context.Context, h host.Host, kad *dht.IpfsDHT, c command, timeout time.Duration) (map[string]any, error) {
	switch c.Cmd {
	case "connect":
		if err := connect(ctx, h, c.Addr, timeout); err != nil {
			return nil, err
		}
		return map[string]any{}, nil
	case "ping":
		id, err := peer.Decode(c.Peer)
		if err != nil {
			return nil, err
		}
		r := <-ping.Ping(ctx, h, id)
		if r.Error != nil {
			return nil, r.Error
		}
		return map[string]any{"rttMs": float64(r.RTT.Microseconds()) / 1000}, nil
	case "put":
		ts := c.Timestamp
		if ts == 0 {
			ts = uint64(time.Now().UnixMilli())
		}
		if err := kad.PutValue(ctx, RecordKey(c.Key), Seal([]byte(c.Value), ts)); err != nil {
			return nil, err
		}
		return map[string]any{"timestamp": ts}, nil
	case "get":
		sealed, err := kad.GetValue(ctx, RecordKey(c.Key))
		if err != nil {
			return nil, err
		}
		ts, value, err := Open(sealed)
		if err != nil {
			return nil, err
		}
		return map[string]any{"value": string(value), "timestamp": ts}, nil
	case "provide":
		k, err := ProviderCid(c.Key)
		if err != nil {
			return nil, err
		}
		if err := kad.Provide(ctx, k, true); err != nil {
			return nil, err
		}
		return map[string]any{"cid": k.String()}, nil
	case "providers":
		k, err := ProviderCid(c.Key)
		if err != nil {
			return nil, err
		}
		ids := []string{}
		for ai := range kad.FindProvidersAsync(ctx, k, 20) {
			ids = append(ids, ai.ID.String())
		}
		return map[string]any{"providers": ids, "cid": k.String()}, nil
	case "peers":
		ids := []string{}
		for _, p := range h.Network().Peers() {
			ids = append(ids, p.String())
		}
		return map[string]any{"peers": ids, "routingTable": kad.RoutingTable().Size()}, nil
	}
	return nil, fmt.Errorf("unknown command %q", c.Cmd)
}
