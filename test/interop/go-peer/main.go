// Command muxado-peer is the Go side of the libp2p-muxado interop tests.
//
// It is built in GOPATH mode against the Debian package
// golang-github-inconshreveable-muxado-dev (muxado v1, commit f693c7e); see
// ../build-go-peer.sh. It uses only the standard library and muxado.
//
// # Roles
//
//	-mode listen  TCP listener, muxado server role (even stream ids from 2).
//	              Serves -sessions K connections (default 1), concurrently,
//	              then exits.
//	-mode dial    TCP dialer, muxado client role (odd stream ids from 3).
//
// Whatever the mode, every stream the remote opens is echoed: copied from the
// stream back into it until EOF, then stream.Close(). Streams this side opens
// (-streams, -halfclose-test, -hold) work identically in both modes.
//
// # Test pattern
//
// Byte k of the stream with index i is byte((i*31 + k) & 0xff), where i is the
// 0-based position of the stream in open order (the streams are opened one
// after another, so ids increase with i) and k is the byte offset within the
// stream. The extra -hold stream uses index N (= -streams).
//
// # Output
//
// One JSON object per line on stdout, written with a single write(2) each (so
// nothing is buffered). Every object has "event" and "ms" (milliseconds since
// start); session-scoped events also carry "sid", the 0-based session number
// of this process. Diagnostics go to stderr. Exit status: 0 all checks passed,
// 1 a check failed, 2 usage or setup error (bad flags, dial/listen failure).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/inconshreveable/muxado"
	"github.com/inconshreveable/muxado/proto"
	"github.com/inconshreveable/muxado/proto/frame"
)

// ---------------------------------------------------------------------------
// flags

var (
	flagMode        = flag.String("mode", "", "listen | dial (required)")
	flagAddr        = flag.String("addr", "", "host:port; listen default 127.0.0.1:0 (port 0 = pick one, printed in the listening event)")
	flagSessions    = flag.Int("sessions", 1, "listen mode: number of connections to serve (concurrently) before exiting")
	flagStreams     = flag.Int("streams", 0, "open N streams from this side (any mode), write -bytes of the pattern on each, HalfClose, verify the echo")
	flagBytes       = flag.Int("bytes", 0, "bytes written on each -streams stream")
	flagRounds      = flag.Int("rounds", 1, "run the -streams batch this many times, one after another, on the same session")
	flagReadSize    = flag.Int("read-size", 32*1024, "bytes per Read() on every stream (echoes and checks); Go muxado sends one WNDINC per Read, so small reads mean many WNDINCs, some after the remote has closed")
	flagType        = flag.Uint("type", 0, "stream type for the streams this side opens (SYN TYPE flag when != 0)")
	flagPriority    = flag.Uint("priority", 0, "stream priority for the streams this side opens (SYN PRIORITY flag when != 0; ignored by muxado)")
	flagHalfClose   = flag.Bool("halfclose-test", false, "open one stream, send \"ping\" in a single DATA|FIN frame, read until EOF, report it (halfclose-result)")
	flagHalfExpect  = flag.String("halfclose-expect", "ping", "what -halfclose-test must read back for ok=true")
	flagHold        = flag.Duration("hold", 0, "after the streams finish, idle the session this long, then echo-check 1000 bytes on one more stream")
	flagGoAway      = flag.Bool("goaway", false, "after this side's streams complete, send GoAway(NoError) and keep the session open for -goaway-wait")
	flagGoAwayWait  = flag.Duration("goaway-wait", 2*time.Second, "how long to keep the session open after -goaway")
	flagCloseAfter  = flag.Duration("close-after", 0, "call session Close() this long after the session starts, whatever is in flight (implies -allow-errors)")
	flagEnd         = flag.String("end", "auto", "after this side's work: close (session Close()), kill (drop TCP, no GOAWAY), wait (until the remote ends the session); auto = close if this side had work, else wait")
	flagNoHeartbeat = flag.Bool("no-heartbeat", false, "build the session with proto.NewSession and no extensions: no heartbeat stream, remote heartbeat SYNs get RST 4")
	flagAllowErrors = flag.Bool("allow-errors", false, "stream errors (not data mismatches) do not fail the exit status")
	flagTimeout     = flag.Duration("timeout", 0, "whole-process watchdog; on expiry print timeout + exit(ok=false) and exit 1 (0 = none)")
)

const holdBytes = 1000

// ---------------------------------------------------------------------------
// JSON event output: events.go

// ---------------------------------------------------------------------------
// failure accounting

var (
	failMu   sync.Mutex
	failures []string
)

func fail(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	log.Printf("FAIL: %s", msg)
	failMu.Lock()
	failures = append(failures, msg)
	failMu.Unlock()
}

func allowErrors() bool { return *flagAllowErrors || *flagCloseAfter > 0 }

func exit(ok bool, code int) {
	failMu.Lock()
	f := append([]string{}, failures...)
	failMu.Unlock()
	emit(ev{"event": "exit", "ok": ok, "failures": f})
	os.Exit(code)
}

// ---------------------------------------------------------------------------
// session adapter: the public muxado API (heartbeat on) or proto (no extensions)

type peerStream interface {
	io.ReadWriteCloser
	HalfClose([]byte) (int, error)
}

type peerSession interface {
	open(priority, streamType uint32) (s peerStream, id uint32, err error)
	accept() (s peerStream, id uint32, streamType uint32, err error)
	goAway(code uint32) error
	close() error
	kill() error
	wait() (code uint32, err error, debug []byte)
}

// pubSession wraps muxado.Client / muxado.Server (default heartbeat extension).
type pubSession struct{ s muxado.Session }

func (p pubSession) open(prio, typ uint32) (peerStream, uint32, error) {
	st, err := p.s.OpenStream(muxado.StreamPriority(prio), muxado.StreamType(typ), false)
	if err != nil {
		return nil, 0, err
	}
	return st, uint32(st.Id()), nil
}

func (p pubSession) accept() (peerStream, uint32, uint32, error) {
	st, err := p.s.Accept() // st is a non-nil adaptor around nil on error
	if err != nil {
		return nil, 0, 0, err
	}
	return st, uint32(st.Id()), uint32(st.StreamType()), nil
}

func (p pubSession) goAway(code uint32) error { return p.s.GoAway(muxado.ErrorCode(code), nil) }
func (p pubSession) close() error             { return p.s.Close() }
func (p pubSession) kill() error              { return p.s.Kill() }
func (p pubSession) wait() (uint32, error, []byte) {
	c, err, d := p.s.Wait()
	return uint32(c), err, d
}

// protoSession wraps proto.NewSession(conn, proto.NewStream, isClient, nil).
type protoSession struct{ s proto.ISession }

func (p protoSession) open(prio, typ uint32) (peerStream, uint32, error) {
	st, err := p.s.OpenStream(frame.StreamPriority(prio), frame.StreamType(typ), false)
	if err != nil {
		return nil, 0, err
	}
	return st, uint32(st.Id()), nil
}

func (p protoSession) accept() (peerStream, uint32, uint32, error) {
	st, err := p.s.Accept()
	if err != nil {
		return nil, 0, 0, err
	}
	return st, uint32(st.Id()), uint32(st.StreamType()), nil
}

func (p protoSession) goAway(code uint32) error { return p.s.GoAway(frame.ErrorCode(code), nil) }
func (p protoSession) close() error             { return p.s.Close() }
func (p protoSession) kill() error              { return p.s.Kill() }
func (p protoSession) wait() (uint32, error, []byte) {
	c, err, d := p.s.Wait()
	return uint32(c), err, d
}

func newSession(conn net.Conn, isClient bool) peerSession {
	if *flagNoHeartbeat {
		return protoSession{proto.NewSession(conn, proto.NewStream, isClient, nil)}
	}
	if isClient {
		return pubSession{muxado.Client(conn)}
	}
	return pubSession{muxado.Server(conn)}
}

// ---------------------------------------------------------------------------
// pattern

// fillPattern fills buf with the bytes at offsets off..off+len(buf)-1 of the
// stream with index idx: byte k = (idx*31 + k) & 0xff.
func fillPattern(buf []byte, idx, off int) {
	base := idx*31 + off
	for j := range buf {
		buf[j] = byte((base + j) & 0xff)
	}
}

// ---------------------------------------------------------------------------
// one session

type session struct {
	sid  int
	role string
	conn net.Conn
	s    peerSession
	done chan struct{} // closed after Wait() returned and session-end was emitted

	acceptWG sync.WaitGroup
}

func (ss *session) ev(e ev) ev { e["sid"] = ss.sid; return e }

// echo serves one accepted stream: copy everything back until EOF, then Close().
func (ss *session) echo(st peerStream, id, typ uint32) {
	defer ss.acceptWG.Done()
	n, err := echoCopy(st)
	st.Close()
	ok := err == nil
	end := "eof"
	if !ok {
		end = "error"
		if !allowErrors() {
			fail("sid %d accepted stream %d: echo error after %d bytes: %v", ss.sid, id, n, err)
		}
	}
	emit(ss.ev(ev{"event": "stream-done", "direction": "accepted", "id": id, "type": typ,
		"bytes": n, "ok": ok, "end": end, "error": errStr(err)}))
}

func (ss *session) acceptLoop() {
	for {
		st, id, typ, err := ss.s.accept()
		if err != nil {
			log.Printf("sid %d: accept loop ends: %v", ss.sid, err)
			return
		}
		emit(ss.ev(ev{"event": "accepted", "id": id, "type": typ}))
		ss.acceptWG.Add(1)
		go ss.echo(st, id, typ)
	}
}

// echoCopy copies st back into itself until EOF with Reads of -read-size
// bytes. What it read goes back once a Read returns less than it asked for
// (nothing more is waiting), 32 KiB are gathered, or at EOF: 1-byte reads do
// not also mean one 1-byte DATA frame per read.
func echoCopy(st peerStream) (int64, error) {
	out := bufio.NewWriterSize(st, 32*1024)
	buf := make([]byte, *flagReadSize)
	var n int64
	for {
		r, err := st.Read(buf)
		if r > 0 {
			if _, werr := out.Write(buf[:r]); werr != nil {
				return n, werr
			}
			n += int64(r)
			if r < len(buf) {
				if ferr := out.Flush(); ferr != nil {
					return n, ferr
				}
			}
		}
		if err == io.EOF {
			return n, out.Flush()
		}
		if err != nil {
			return n, err
		}
	}
}

type streamResult struct {
	ok       bool
	mismatch bool
}

// checkStream writes n pattern bytes (index idx) on st, HalfCloses it, and
// concurrently reads the echo until EOF, comparing it with what was sent.
// Afterwards it calls Close() (like any Go app would; this sends a second,
// empty FIN frame: docs/protocol.md B5).
func (ss *session) checkStream(st peerStream, id uint32, idx, n int, tag string) streamResult {
	t0 := time.Now()
	var (
		wg     sync.WaitGroup
		werr   error
		sent   int
		rerr   error
		got    int
		badOff = -1
	)
	wg.Add(2)
	go func() { // writer
		defer wg.Done()
		buf := make([]byte, 32*1024)
		for sent < n {
			c := len(buf)
			if n-sent < c {
				c = n - sent
			}
			fillPattern(buf[:c], idx, sent)
			w, err := st.Write(buf[:c])
			sent += w
			if err != nil {
				werr = fmt.Errorf("write: %v", err)
				return
			}
		}
		if _, err := st.HalfClose(nil); err != nil {
			werr = fmt.Errorf("halfclose: %v", err)
		}
	}()
	go func() { // reader
		defer wg.Done()
		buf := make([]byte, *flagReadSize)
		exp := make([]byte, *flagReadSize)
		for {
			r, err := st.Read(buf)
			if r > 0 {
				if badOff < 0 {
					fillPattern(exp[:r], idx, got)
					if got+r > n {
						badOff = n
					} else if !bytes.Equal(buf[:r], exp[:r]) {
						for j := 0; j < r; j++ {
							if buf[j] != exp[j] {
								badOff = got + j
								break
							}
						}
					}
				}
				got += r
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				rerr = fmt.Errorf("read: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	st.Close()

	res := streamResult{}
	var err error
	switch {
	case badOff >= 0:
		res.mismatch = true
		err = fmt.Errorf("echo mismatch at offset %d (received %d of %d bytes)", badOff, got, n)
	case werr != nil:
		err = werr
	case rerr != nil:
		err = rerr
	case got != n:
		err = fmt.Errorf("short echo: received %d of %d bytes", got, n)
	}
	res.ok = err == nil
	if res.mismatch || (err != nil && !allowErrors()) {
		fail("sid %d %s stream %d (index %d): %v", ss.sid, tag, id, idx, err)
	}
	emit(ss.ev(ev{"event": "stream-done", "direction": "opened", "id": id, "index": idx, "tag": tag,
		"sent": sent, "bytes": got, "ok": res.ok, "mismatch": res.mismatch, "error": errStr(err),
		"elapsedMs": time.Since(t0).Milliseconds()}))
	return res
}

// openStream opens one stream with the configured priority/type and emits "opened".
func (ss *session) openStream(idx int, tag string) (peerStream, uint32, error) {
	st, id, err := ss.s.open(uint32(*flagPriority), uint32(*flagType))
	if err != nil {
		if !allowErrors() {
			fail("sid %d: open %s stream (index %d): %v", ss.sid, tag, idx, err)
		}
		emit(ss.ev(ev{"event": "open-failed", "index": idx, "tag": tag, "error": err.Error()}))
		return nil, 0, err
	}
	emit(ss.ev(ev{"event": "opened", "id": id, "index": idx, "tag": tag, "type": *flagType}))
	return st, id, nil
}

// runStreams: -streams N -bytes M. All N streams are opened one after another
// first (so index order == id order), then driven concurrently.
func (ss *session) runStreams() {
	n := *flagStreams
	t0 := time.Now()
	type opened struct {
		st peerStream
		id uint32
	}
	strs := make([]opened, 0, n)
	for i := 0; i < n; i++ {
		st, id, err := ss.openStream(i, "data")
		if err != nil {
			break
		}
		strs = append(strs, opened{st, id})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	okCount := 0
	for i, o := range strs {
		wg.Add(1)
		go func(i int, o opened) {
			defer wg.Done()
			if ss.checkStream(o.st, o.id, i, *flagBytes, "data").ok {
				mu.Lock()
				okCount++
				mu.Unlock()
			}
		}(i, o)
	}
	wg.Wait()
	emit(ss.ev(ev{"event": "streams-done", "count": n, "okCount": okCount, "ok": okCount == n,
		"bytesPerStream": *flagBytes, "elapsedMs": time.Since(t0).Milliseconds()}))
}

// runHalfClose: -halfclose-test. Opens one stream and sends "ping" together
// with FIN in ONE frame (HalfClose([]byte("ping")) = DATA|FIN "ping"), so the
// remote has necessarily received our FIN before it writes anything back.
// Then it reads everything the remote sends until EOF (the remote's FIN) and
// reports it. ok = no error and what was read == -halfclose-expect ("ping",
// i.e. what an echo peer sends back). This checks that a half-closed (by us)
// stream still carries data in the other direction, and that the remote's FIN
// ends it.
func (ss *session) runHalfClose() {
	st, id, err := ss.openStream(0, "halfclose")
	if err != nil {
		emit(ss.ev(ev{"event": "halfclose-result", "ok": false, "error": err.Error()}))
		return
	}
	var rerr error
	_, werr := st.HalfClose([]byte("ping"))
	var got []byte
	if werr == nil {
		got, rerr = io.ReadAll(st)
	}
	st.Close()
	err = werr
	if err == nil {
		err = rerr
	}
	ok := err == nil && string(got) == *flagHalfExpect
	if !ok {
		fail("sid %d halfclose-test stream %d: read %q (want %q), err=%v", ss.sid, id, got, *flagHalfExpect, err)
	}
	emit(ss.ev(ev{"event": "halfclose-result", "id": id, "sent": "ping", "received": string(got),
		"bytes": len(got), "expected": *flagHalfExpect, "ok": ok, "error": errStr(err)}))
}

// runHold: -hold D. Idle for D (only heartbeats on the wire), then echo-check
// holdBytes on a fresh stream with index N.
func (ss *session) runHold() {
	emit(ss.ev(ev{"event": "hold-start", "duration": flagHold.String()}))
	select {
	case <-ss.done:
		fail("sid %d: session died during -hold", ss.sid)
		emit(ss.ev(ev{"event": "hold-failed", "error": "session ended during hold"}))
		return
	case <-time.After(*flagHold):
	}
	idx := *flagStreams
	st, id, err := ss.openStream(idx, "hold")
	if err != nil {
		fail("sid %d: hold stream open: %v", ss.sid, err)
		emit(ss.ev(ev{"event": "hold-failed", "error": err.Error()}))
		return
	}
	res := ss.checkStream(st, id, idx, holdBytes, "hold")
	if res.ok {
		emit(ss.ev(ev{"event": "hold-ok", "id": id, "held": flagHold.String(), "bytes": holdBytes}))
	} else {
		fail("sid %d: hold stream %d failed", ss.sid, id)
		emit(ss.ev(ev{"event": "hold-failed", "id": id, "error": "echo check after hold failed"}))
	}
}

func (ss *session) run() {
	emit(ss.ev(ev{"event": "session", "role": ss.role, "heartbeat": !*flagNoHeartbeat,
		"local": ss.conn.LocalAddr().String(), "remote": ss.conn.RemoteAddr().String()}))

	// session end watcher: the only Wait() caller.
	go func() {
		code, err, debug := ss.s.wait()
		emit(ss.ev(ev{"event": "session-end", "code": code, "error": errStr(err), "remoteDebug": string(debug)}))
		close(ss.done)
	}()
	go ss.acceptLoop()

	if *flagCloseAfter > 0 {
		time.AfterFunc(*flagCloseAfter, func() {
			emit(ss.ev(ev{"event": "close-called", "reason": "close-after"}))
			ss.s.close()
		})
	}

	hadWork := false
	if *flagStreams > 0 {
		hadWork = true
		for round := 0; round < *flagRounds; round++ {
			ss.runStreams()
		}
	}
	if *flagHalfClose {
		hadWork = true
		ss.runHalfClose()
	}
	if *flagHold > 0 {
		hadWork = true
		ss.runHold()
	}
	if *flagGoAway {
		hadWork = true
		err := ss.s.goAway(0)
		emit(ss.ev(ev{"event": "goaway-sent", "code": 0, "ok": err == nil, "error": errStr(err)}))
		alive := true
		select {
		case <-ss.done:
			alive = false
		case <-time.After(*flagGoAwayWait):
		}
		// Informational only: Go<->Go, the receiver of a Go GOAWAY swallows
		// the next 8 bytes (docs/protocol.md B1) and dies at the next frame.
		emit(ss.ev(ev{"event": "goaway-done", "sessionAlive": alive}))
	}

	end := *flagEnd
	if end == "auto" {
		end = "wait"
		if hadWork && *flagCloseAfter == 0 {
			end = "close"
		}
	}
	select {
	case <-ss.done:
	default:
		switch end {
		case "close":
			emit(ss.ev(ev{"event": "close-called", "reason": "end"}))
			ss.s.close()
		case "kill":
			emit(ss.ev(ev{"event": "kill-called", "reason": "end"}))
			ss.s.kill()
		}
	}
	<-ss.done
	ss.acceptWG.Wait() // all echo goroutines have reported
}

// ---------------------------------------------------------------------------

func main() {
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("muxado-peer: ")
	flag.Parse()

	usage := func(msg string) {
		emit(ev{"event": "error", "error": msg})
		fmt.Fprintln(os.Stderr, msg)
		flag.Usage()
		exit(false, 2)
	}
	switch *flagEnd {
	case "auto", "close", "kill", "wait":
	default:
		usage("-end must be auto|close|kill|wait")
	}
	if *flagStreams < 0 || *flagBytes < 0 || *flagSessions < 1 || *flagRounds < 1 || *flagReadSize < 1 {
		usage("-streams/-bytes must be >= 0, -sessions, -rounds and -read-size >= 1")
	}
	if *flagType > 0xFFFFFFFF || *flagPriority > 0x7FFFFFFF {
		usage("-type must fit in 32 bits, -priority in 31 bits")
	}
	if *flagTimeout > 0 {
		time.AfterFunc(*flagTimeout, func() {
			fail("timeout after %s", *flagTimeout)
			emit(ev{"event": "timeout", "after": flagTimeout.String()})
			exit(false, 1)
		})
	}

	switch *flagMode {
	case "listen":
		addr := *flagAddr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			emit(ev{"event": "error", "error": err.Error()})
			exit(false, 2)
		}
		_, portStr, _ := net.SplitHostPort(l.Addr().String())
		port, _ := strconv.Atoi(portStr)
		emit(ev{"event": "listening", "port": port, "addr": l.Addr().String()})
		var wg sync.WaitGroup
		for i := 0; i < *flagSessions; i++ {
			conn, err := l.Accept()
			if err != nil {
				fail("accept: %v", err)
				break
			}
			log.Printf("sid %d: connection from %s", i, conn.RemoteAddr())
			ss := &session{sid: i, role: "server", conn: conn, s: newSession(conn, false), done: make(chan struct{})}
			wg.Add(1)
			go func() { defer wg.Done(); ss.run() }()
		}
		l.Close()
		wg.Wait()
	case "dial":
		if *flagAddr == "" {
			usage("-addr is required in dial mode")
		}
		conn, err := net.Dial("tcp", *flagAddr)
		if err != nil {
			emit(ev{"event": "error", "error": err.Error()})
			exit(false, 2)
		}
		ss := &session{sid: 0, role: "client", conn: conn, s: newSession(conn, true), done: make(chan struct{})}
		ss.run()
	default:
		usage("-mode must be listen or dial")
	}

	failMu.Lock()
	ok := len(failures) == 0
	failMu.Unlock()
	if ok {
		exit(true, 0)
	}
	exit(false, 1)
}
