// A small WHIP/WHEP endpoint on pion/webrtc v3 (Debian golang-github-pion-webrtc.v3-dev), the
// second WebRTC stack natscope's offer is tested against (the first is aiortc). POST /whip or
// /whep with an SDP offer gets 201 Created, the answer (gathering complete) and a Location;
// DELETE of that Location ends the session. Events go to -events, one JSON object a line.
//
// Build in GOPATH mode (Debian's sources are a GOPATH tree):
//   mkdir -p $DIR/src/whipserver && cp main.go $DIR/src/whipserver/
//   GOPATH=$DIR:/usr/share/gocode GO111MODULE=off go build -o pion-whip-server whipserver
// (imported as github.com/pion/webrtc: in GOPATH mode its /v3 path does not resolve)
//   pion-whip-server -addr 127.0.0.1:0 -ice-ip 127.0.0.1 -events FILE
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc"
)

var (
	eventsPath = flag.String("events", "", "event log (JSON lines)")
	addr       = flag.String("addr", "127.0.0.1:0", "HTTP listen address")
	iceIP      = flag.String("ice-ip", "127.0.0.1", "the only address ICE gathers on")
	logMu      sync.Mutex
	sessionsMu sync.Mutex
	sessions   = map[string]*webrtc.PeerConnection{}
	counter    = 0
)

func event(kind string, fields map[string]interface{}) {
	if fields == nil {
		fields = map[string]interface{}{}
	}
	fields["event"] = kind
	fields["t"] = float64(time.Now().UnixNano()) / 1e9
	line, _ := json.Marshal(fields)
	logMu.Lock()
	defer logMu.Unlock()
	f, err := os.OpenFile(*eventsPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(line, '\n'))
}

func newPeer(kind string) (*webrtc.PeerConnection, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	s := webrtc.SettingEngine{}
	want := net.ParseIP(*iceIP)
	s.SetIPFilter(func(ip net.IP) bool { return ip.Equal(want) })
	s.SetIncludeLoopbackCandidate(want.IsLoopback())
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	if kind == "whep" {
		// Something to send to a viewer (nothing is ever written to the tracks).
		video, err := webrtc.NewTrackLocalStaticSample(
			webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "pion")
		if err != nil {
			return nil, err
		}
		audio, err := webrtc.NewTrackLocalStaticSample(
			webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pion")
		if err != nil {
			return nil, err
		}
		if _, err := pc.AddTrack(audio); err != nil {
			return nil, err
		}
		if _, err := pc.AddTrack(video); err != nil {
			return nil, err
		}
	}
	return pc, nil
}

func post(w http.ResponseWriter, r *http.Request, kind string) {
	if ct := strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]); ct != "application/sdp" {
		http.Error(w, "offer must be application/sdp", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	event("offer", map[string]interface{}{"kind": kind, "sdp": string(body)})
	pc, err := newPeer(kind)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sessionsMu.Lock()
	counter++
	id := fmt.Sprintf("p%d", counter)
	sessions[id] = pc
	sessionsMu.Unlock()
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		event("ice", map[string]interface{}{"session": id, "state": s.String()})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		event("connection", map[string]interface{}{"session": id, "state": s.String()})
		// connected means ICE and DTLS are both connected.
		if s == webrtc.PeerConnectionStateConnected {
			event("dtls", map[string]interface{}{"session": id, "state": "connected"})
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(body)}); err != nil {
		event("refused", map[string]interface{}{"detail": err.Error()})
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	}
	sdp := pc.LocalDescription().SDP
	event("answered", map[string]interface{}{"session": id, "kind": kind, "sdp": sdp})
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/session/"+id)
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, sdp)
}

func main() {
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("/whip", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			post(w, r, "whip")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/whep", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			post(w, r, "whep")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/session/", func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/session/")
		sessionsMu.Lock()
		pc := sessions[id]
		delete(sessions, id)
		sessionsMu.Unlock()
		if r.Method != http.MethodDelete || pc == nil {
			http.NotFound(w, r)
			return
		}
		event("delete", map[string]interface{}{"session": id})
		pc.Close()
		w.WriteHeader(http.StatusOK)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	event("listening", map[string]interface{}{"port": ln.Addr().(*net.TCPAddr).Port})
	http.Serve(ln, mux)
}
