// Command libp2p-peer is a minimal libp2p peer for the libp2p-muxado interop tests. It is this
// project's own small peer, written from the libp2p specs, not go-libp2p: TCP,
// multistream-select 1.0, Noise XX with the libp2p handshake payload and early muxer
// negotiation (github.com/flynn/noise, the Noise library go-libp2p uses), muxado through Go's
// reference library (github.com/inconshreveable/muxado), identify, ping, and the test
// protocols of protocols.go.
//
// It is built in GOPATH mode from Debian packages only; see ../build-go-peer.sh.
//
//	-mode listen  accept one TCP connection (the Noise responder, muxado server)
//	-mode dial    dial -addr (the Noise initiator, muxado client), optionally checking -peer
//
// It serves one connection and exits when it ends. Commands arrive as JSON lines on stdin
// (commands.go); events leave as JSON lines on stdout, each with "event" and "ms".
// Exit status: 0 the connection ran and ended, 1 the -timeout watchdog fired, 2 setup failed
// (flags, dial, handshake).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/inconshreveable/muxado"
)

const muxadoProtocol = "/muxado/1.0.0"

var (
	flagMode    = flag.String("mode", "", "listen | dial (required)")
	flagAddr    = flag.String("addr", "127.0.0.1:0", "dial: host:port to dial; listen: where to listen")
	flagPeer    = flag.String("peer", "", "dial: the peer ID the remote must prove (empty: any)")
	flagEarly   = flag.Bool("early", true, "offer the muxer inside the Noise handshake; false: only by multistream-select after it")
	flagAgent   = flag.String("agent", "libp2p-muxado-interop-go-peer/1.0 (minimal peer on Go muxado, not go-libp2p)", "identify agentVersion")
	flagTimeout = flag.Duration("timeout", 60*time.Second, "whole-process watchdog")
)

func exit(code int, reason string) {
	emit(ev{"event": "exit", "code": code, "reason": reason})
	os.Exit(code)
}

func main() {
	flag.Parse()
	time.AfterFunc(*flagTimeout, func() { exit(1, "timeout") })
	id, err := newIdentity()
	if err != nil {
		exit(2, err.Error())
	}
	var conn net.Conn
	var listenAddr net.Addr
	switch *flagMode {
	case "listen":
		ln, err := net.Listen("tcp", *flagAddr)
		if err != nil {
			exit(2, err.Error())
		}
		listenAddr = ln.Addr()
		emit(ev{"event": "listening", "port": ln.Addr().(*net.TCPAddr).Port, "peerId": id.peerID})
		conn, err = ln.Accept()
		ln.Close()
		if err != nil {
			exit(2, err.Error())
		}
	case "dial":
		if conn, err = net.Dial("tcp", *flagAddr); err != nil {
			exit(2, err.Error())
		}
	default:
		exit(2, "-mode must be listen or dial")
	}
	initiator := *flagMode == "dial"
	sess, info, err := upgrade(conn, id, initiator)
	if err != nil {
		exit(2, "upgrade: "+err.Error())
	}
	info["event"], info["peerId"] = "connected", id.peerID
	emit(info)
	p := &peer{id: id, sess: sess, conn: conn, listenAddr: listenAddr}
	go p.acceptLoop()
	go p.runCommands(os.Stdin)
	code, err, _ := sess.Wait()
	emit(ev{"event": "session-end", "code": code, "error": errStr(err)})
	exit(0, "session ended")
}

// upgrade secures conn with Noise and starts muxado on it, choosing the muxer early when both
// sides offered one, else by multistream-select. info says how it went.
func upgrade(conn net.Conn, id identity, initiator bool) (muxado.Session, ev, error) {
	r := bufio.NewReader(conn)
	var err error
	if initiator {
		_, err = selectProtocol(conn, r, []string{noiseProtocol})
	} else {
		_, _, err = answerProposals(conn, r, []string{noiseProtocol})
	}
	if err != nil {
		return nil, nil, err
	}
	var offered []string
	if *flagEarly {
		offered = []string{muxadoProtocol}
	}
	sc, remote, err := handshake(conn, r, id, initiator, offered)
	if err != nil {
		return nil, nil, err
	}
	if *flagPeer != "" && remote.peerID != *flagPeer {
		return nil, nil, fmt.Errorf("the remote is %s, not %s", remote.peerID, *flagPeer)
	}
	info := ev{"remotePeer": remote.peerID, "remoteMuxers": remote.muxers}
	muxConn := &bufferedConn{Conn: sc, r: bufio.NewReader(sc)}
	var muxer string
	if len(offered) > 0 && len(remote.muxers) > 0 {
		initiatorList, responderList := offered, remote.muxers
		if !initiator {
			initiatorList, responderList = remote.muxers, offered
		}
		// the first item of the initiator's list that the responder supports
		for _, m := range initiatorList {
			if contains(responderList, m) {
				muxer = m
				break
			}
		}
		if muxer == "" {
			return nil, nil, fmt.Errorf("no common muxer in %v and %v", offered, remote.muxers)
		}
		info["negotiation"] = "early"
	} else {
		var proposals []string
		if initiator {
			proposals = []string{muxadoProtocol}
			muxer, err = selectProtocol(muxConn, muxConn.r, proposals)
		} else {
			muxer, proposals, err = answerProposals(muxConn, muxConn.r, []string{muxadoProtocol})
		}
		if err != nil {
			return nil, nil, err
		}
		info["negotiation"], info["proposals"] = "multistream-select", proposals
	}
	info["muxer"] = muxer
	if initiator {
		return muxado.Client(muxConn), info, nil
	}
	return muxado.Server(muxConn), info, nil
}

// bufferedConn reads through r, which may hold bytes read ahead during multistream-select.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
