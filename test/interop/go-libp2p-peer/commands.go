package main

// Commands from the test, one JSON object per line on stdin: {"id": 1, "cmd": "ping", ...}.
// Each runs in its own goroutine and ends with {"event": "result", "id": 1, "ok": ...}.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

type command struct {
	ID    int    `json:"id"`
	Cmd   string `json:"cmd"`
	Count int    `json:"count"` // ping: round trips; echo: concurrent streams
	Bytes int    `json:"bytes"` // echo: per stream; halfclose: sent
	// echo: bytes per Read() of the answer (0: read it all at once). Go muxado sends a WNDINC
	// per Read(), many of them after the remote closed the stream
	ReadSize int `json:"readSize"`
}

func (p *peer) runCommands(in io.Reader) {
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		var c command
		if err := json.Unmarshal(lines.Bytes(), &c); err != nil {
			emit(ev{"event": "result", "ok": false, "error": "bad command: " + err.Error()})
			continue
		}
		go p.run(c)
	}
}

func (p *peer) run(c command) {
	result := ev{}
	var err error
	switch c.Cmd {
	case "identify":
		err = p.identify(result)
	case "ping":
		err = p.ping(c.Count, result)
	case "echo":
		err = p.echo(c.Count, c.Bytes, c.ReadSize, result)
	case "halfclose":
		err = p.halfClose(c.Bytes)
	case "expect-reset":
		err = p.expectReset(result)
	case "hangup":
		// the result first: closing the connection ends the session, and main exits
		emit(ev{"event": "result", "id": c.ID, "cmd": c.Cmd, "ok": true, "error": ""})
		// drop the TCP connection under the muxer: no GOAWAY, no FIN on any stream
		p.conn.Close()
		exit(0, "hung up")
	default:
		err = fmt.Errorf("unknown command %q", c.Cmd)
	}
	result["event"], result["id"], result["cmd"] = "result", c.ID, c.Cmd
	result["ok"], result["error"] = err == nil, errStr(err)
	emit(result)
}

// identify asks the remote who it is and reports what it said.
func (p *peer) identify(result ev) error {
	st, err := p.open(identifyProtocol)
	if err != nil {
		return err
	}
	msg, err := readDelimited(st.r, 64*1024)
	finish(st)
	if err != nil {
		return err
	}
	m, err := parseProto(msg)
	if err != nil {
		return err
	}
	listenAddrs := []string{}
	for _, f := range m[2] {
		addr, err := multiaddrString(f.bytes)
		if err != nil {
			return err
		}
		listenAddrs = append(listenAddrs, addr)
	}
	observed, err := multiaddrString(m.bytes(4))
	if err != nil {
		return err
	}
	result["publicKeyPeerId"] = peerIDOf(m.bytes(1))
	result["listenAddrs"], result["observedAddr"] = listenAddrs, observed
	result["protocols"] = m.strings(3)
	result["protocolVersion"], result["agentVersion"] = string(m.bytes(5)), string(m.bytes(6))
	return nil
}

// ping sends count random 32-byte pings on one stream and checks every echo.
func (p *peer) ping(count int, result ev) error {
	st, err := p.open(pingProtocol)
	if err != nil {
		return err
	}
	defer finish(st)
	rtts := []float64{}
	sent, got := make([]byte, pingSize), make([]byte, pingSize)
	for i := 0; i < count; i++ {
		rand.Read(sent)
		t0 := time.Now()
		if _, err := st.Write(sent); err != nil {
			return err
		}
		if _, err := io.ReadFull(st, got); err != nil {
			return err
		}
		if !bytes.Equal(sent, got) {
			return fmt.Errorf("ping %d: the echo differs", i)
		}
		rtts = append(rtts, float64(time.Since(t0).Microseconds())/1000)
	}
	result["rtts"] = rtts
	return nil
}

// echo opens count streams at once; each sends its pattern (byte k of stream i is
// (i*31 + k) & 0xff), half-closes, and checks that the same bytes come back before the FIN.
func (p *peer) echo(count, size, readSize int, result ev) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := []string{}
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := p.echoOne(i, size, readSize); err != nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("stream %d: %v", i, err))
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	result["failures"] = failures
	if len(failures) > 0 {
		return fmt.Errorf("%d of %d streams failed", len(failures), count)
	}
	return nil
}

func (p *peer) echoOne(index, size, readSize int) error {
	st, err := p.open(echoProtocol)
	if err != nil {
		return err
	}
	want := make([]byte, size)
	for k := range want {
		want[k] = byte((index*31 + k) & 0xff)
	}
	go func() {
		st.Write(want)
		st.HalfClose(nil)
	}()
	got, err := readAllIn(st, readSize)
	if err != nil {
		return fmt.Errorf("after %d bytes: %v", len(got), err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("got %d bytes back, not the %d sent", len(got), size)
	}
	return nil
}

// readAllIn reads st to EOF in Reads of at most readSize bytes (all at once when 0): what
// multistream-select's reader buffered, then the muxado stream itself, one WNDINC per Read.
func readAllIn(st stream, readSize int) ([]byte, error) {
	if readSize <= 0 {
		return io.ReadAll(st)
	}
	buffered, _ := st.r.Peek(st.r.Buffered())
	r := io.MultiReader(bytes.NewReader(append([]byte{}, buffered...)), st.Stream)
	st.r.Discard(len(buffered))
	var all []byte
	buf := make([]byte, readSize)
	for {
		n, err := r.Read(buf)
		all = append(all, buf[:n]...)
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return all, err
		}
	}
}

// halfClose sends size bytes and its FIN, then expects the remote's answer after that FIN:
// the hex SHA-256 of what it read (the JS side of sha256Protocol).
func (p *peer) halfClose(size int) error {
	st, err := p.open(sha256Protocol)
	if err != nil {
		return err
	}
	data := make([]byte, size)
	rand.Read(data)
	if _, err := st.HalfClose(data); err != nil {
		return err
	}
	answer, err := io.ReadAll(st)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if want := hex.EncodeToString(sum[:]); string(answer) != want {
		return fmt.Errorf("answer %q, want %q", answer, want)
	}
	return nil
}

// expectReset opens a stream to the remote's abort protocol, which resets every stream at its
// first byte, and expects that reset to fail the read.
func (p *peer) expectReset(result ev) error {
	st, err := p.open(abortProtocol)
	if err != nil {
		return err
	}
	if _, err := st.Write([]byte{1}); err != nil {
		return err
	}
	if _, err = io.ReadAll(st); err == nil {
		return errors.New("the stream ended without a reset")
	}
	result["readError"] = err.Error()
	return nil
}
