package media

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// Network is the part of the router's WebRTC set-up that depends on where it
// runs. Start from [DefaultNetwork] or [LoopbackNetwork] and adjust fields.
type Network struct {
	// ICEServers are the STUN and TURN servers the router's PeerConnections
	// use. A host with a public address needs none.
	ICEServers []webrtc.ICEServer
	// NetworkTypes are the candidate types gathered.
	NetworkTypes []webrtc.NetworkType
	// LoopbackOnly gathers loopback candidates, which pion leaves out by
	// default, and nothing else: for tests and machines without another
	// interface.
	LoopbackOnly bool
	// MulticastDNS resolves participants' mDNS (".local") candidates, which
	// browsers send on a LAN. The router never advertises mDNS names itself.
	MulticastDNS bool
	// NAT1To1IPs are the public addresses of a host behind a one-to-one NAT
	// (a cloud VM), advertised as host candidates in place of the local
	// addresses.
	NAT1To1IPs []string
	// PortMin and PortMax bound the UDP ports gathered; zero for any.
	PortMin, PortMax uint16
	// DisconnectedTimeout, FailedTimeout and KeepaliveInterval set how soon
	// a participant who vanished without closing is noticed: ICE reports
	// disconnected after DisconnectedTimeout without traffic and failed
	// FailedTimeout later, and the router then closes the PeerConnection.
	// Zero means pion's default (5 s, 25 s and 2 s).
	DisconnectedTimeout, FailedTimeout, KeepaliveInterval time.Duration
}

// DefaultNetwork is the set-up for a real host: UDP over IPv4 and IPv6 on
// every interface but loopback, participants' mDNS candidates resolved, no
// STUN server (add one, or NAT1To1IPs, behind a NAT).
func DefaultNetwork() Network {
	return Network{
		NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6},
		MulticastDNS: true,
	}
}

// LoopbackNetwork is the set-up for tests and loopback-only machines: UDP
// over IPv4 on 127.0.0.1 only, no mDNS, no STUN.
func LoopbackNetwork() Network {
	return Network{
		NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4},
		LoopbackOnly: true,
	}
}

// SettingEngine returns a pion SettingEngine configured for n.
func (n Network) SettingEngine() (webrtc.SettingEngine, error) {
	var se webrtc.SettingEngine
	se.SetNetworkTypes(n.NetworkTypes)
	if n.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	if n.MulticastDNS {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeQueryOnly)
	} else {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if len(n.NAT1To1IPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: n.NAT1To1IPs,
			AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace}); err != nil {
			return se, fmt.Errorf("media: NAT1To1IPs %v: %w", n.NAT1To1IPs, err)
		}
	}
	if n.DisconnectedTimeout != 0 || n.FailedTimeout != 0 || n.KeepaliveInterval != 0 {
		or := func(d, def time.Duration) time.Duration {
			if d == 0 {
				return def
			}
			return d
		}
		se.SetICETimeouts(or(n.DisconnectedTimeout, 5*time.Second), or(n.FailedTimeout, 25*time.Second),
			or(n.KeepaliveInterval, 2*time.Second))
	}
	if n.PortMin != 0 || n.PortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(n.PortMin, n.PortMax); err != nil {
			return se, fmt.Errorf("media: port range %d-%d: %w", n.PortMin, n.PortMax, err)
		}
	}
	return se, nil
}

// API returns a pion API for n with gavel's codecs ([Codecs]) and pion's
// default interceptors (NACK, RTCP reports, TWCC). The router makes its
// PeerConnections with it; a Go participant can use it too.
func (n Network) API() (*webrtc.API, error) {
	se, err := n.SettingEngine()
	if err != nil {
		return nil, err
	}
	m := &webrtc.MediaEngine{}
	for _, c := range Codecs() {
		if err := m.RegisterCodec(c, kindOf(c.MimeType)); err != nil {
			return nil, fmt.Errorf("media: register %s: %w", c.MimeType, err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, fmt.Errorf("media: interceptors: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(ir)), nil
}

// Codecs returns the codecs the router negotiates: Opus for audio and VP8
// for video, which every browser supports. One codec per kind means every
// source of a participant's track can feed the same forwarded track.
func Codecs() []webrtc.RTPCodecParameters {
	videoFeedback := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	return []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000,
			Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: videoFeedback}, PayloadType: 96},
	}
}

func kindOf(mimeType string) webrtc.RTPCodecType {
	if strings.HasPrefix(mimeType, "audio/") {
		return webrtc.RTPCodecTypeAudio
	}
	return webrtc.RTPCodecTypeVideo
}
