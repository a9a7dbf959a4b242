package main

// The protocols this peer answers on streams the remote opens, and the stream helpers the
// commands share. Every inbound stream ends with a "stream-end" event.

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log"
	"net"

	"github.com/inconshreveable/muxado"
)

const (
	identifyProtocol = "/ipfs/id/1.0.0"
	pingProtocol     = "/ipfs/ping/1.0.0"
	// the echo protocol of test/e2e/helpers.ts (ECHO): echo until FIN, then FIN
	echoProtocol = "/e2e/echo/1.0.0"
	// read until FIN, then answer the hex SHA-256 of everything read, then FIN
	sha256Protocol = "/muxado-interop/sha256/1.0.0"
	// read one byte, then Close(): FIN, and the stream is forgotten, so later DATA gets
	// RST StreamClosed. Go muxado has no call that resets a stream.
	closeEarlyProtocol = "/muxado-interop/close-early/1.0.0"
	// served by the JS side: it resets each stream at its first byte
	abortProtocol   = "/muxado-interop/abort/1.0.0"
	pingSize        = 32
	identifyVersion = "ipfs/0.1.0"
)

var served = []string{identifyProtocol, pingProtocol, echoProtocol, sha256Protocol, closeEarlyProtocol}

type peer struct {
	id         identity
	sess       muxado.Session
	conn       net.Conn
	listenAddr net.Addr // nil when dialing: nothing to advertise
}

// stream is a muxado stream read through the buffer multistream-select filled.
type stream struct {
	muxado.Stream
	r *bufio.Reader
}

func (s stream) Read(p []byte) (int, error) { return s.r.Read(p) }

func (p *peer) acceptLoop() {
	for {
		st, err := p.sess.Accept()
		if err != nil {
			return
		}
		go p.serve(stream{st, bufio.NewReader(st)})
	}
}

func (p *peer) serve(st stream) {
	protocol, proposals, err := answerProposals(st, st.r, served)
	if err != nil {
		emit(ev{"event": "stream-end", "proposals": proposals, "error": errStr(err)})
		return
	}
	var n int64
	switch protocol {
	case identifyProtocol:
		err = writeDelimited(st, p.identifyMessage())
		n = finish(st)
	case pingProtocol, echoProtocol:
		n, err = io.Copy(st, st)
		st.HalfClose(nil)
	case sha256Protocol:
		h := sha256.New()
		if n, err = io.Copy(h, st); err == nil {
			_, err = st.HalfClose([]byte(hex.EncodeToString(h.Sum(nil))))
		}
	case closeEarlyProtocol:
		buf := make([]byte, 1)
		_, err = io.ReadFull(st, buf)
		st.Close()
	}
	emit(ev{"event": "stream-end", "protocol": protocol, "bytes": n, "error": errStr(err)})
}

// finish half-closes st and reads until the remote's FIN; it returns the bytes read.
func finish(st stream) int64 {
	if _, err := st.HalfClose(nil); err != nil {
		log.Printf("halfclose: %v", err)
	}
	n, _ := io.Copy(io.Discard, st)
	return n
}

// open opens a stream and selects protocol on it.
func (p *peer) open(protocol string) (stream, error) {
	st, err := p.sess.Open()
	if err != nil {
		return stream{}, err
	}
	s := stream{st, bufio.NewReader(st)}
	if _, err := selectProtocol(s, s.r, []string{protocol}); err != nil {
		st.Close()
		return stream{}, err
	}
	return s, nil
}

func (p *peer) identifyMessage() []byte {
	b := appendStringField(nil, 5, identifyVersion)
	b = appendStringField(b, 6, *flagAgent)
	b = appendBytesField(b, 1, p.id.pubProto)
	if p.listenAddr != nil {
		b = appendBytesField(b, 2, tcpMultiaddr(p.listenAddr))
	}
	b = appendBytesField(b, 4, tcpMultiaddr(p.conn.RemoteAddr()))
	for _, proto := range served {
		b = appendStringField(b, 3, proto)
	}
	return b
}

// writeDelimited writes a uvarint-length-prefixed message (identify's framing).
func writeDelimited(w io.Writer, msg []byte) error {
	_, err := w.Write(append(appendVarint(nil, uint64(len(msg))), msg...))
	return err
}

func readDelimited(r *bufio.Reader, max uint64) ([]byte, error) {
	length, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if length > max {
		return nil, io.ErrShortBuffer
	}
	msg := make([]byte, length)
	_, err = io.ReadFull(r, msg)
	return msg, err
}
