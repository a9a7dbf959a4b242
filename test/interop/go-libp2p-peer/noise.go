package main

// The libp2p Noise handshake (noise spec): Noise_XX_25519_ChaChaPoly_SHA256 with every message
// behind a 2-byte big-endian length. Messages 2 and 3 carry a NoiseHandshakePayload: the
// identity key, its signature over "noise-libp2p-static-key:" + the Noise static key, and the
// stream muxers for early negotiation (inlined-muxer-negotiation spec).

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/flynn/noise"
)

const (
	noiseProtocol    = "/noise"
	staticKeyPrefix  = "noise-libp2p-static-key:"
	maxNoiseMessage  = 65535
	noiseTagSize     = 16
	maxNoisePlainLen = maxNoiseMessage - noiseTagSize
)

var cipherSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashSHA256)

type remotePayload struct {
	peerID string
	muxers []string // empty: the remote does not negotiate the muxer early
}

func encodePayload(id identity, staticKey []byte, muxers []string) []byte {
	sig := ed25519.Sign(id.priv, append([]byte(staticKeyPrefix), staticKey...))
	b := appendBytesField(nil, 1, id.pubProto)
	b = appendBytesField(b, 2, sig)
	if len(muxers) > 0 {
		var ext []byte
		for _, m := range muxers {
			ext = appendStringField(ext, 2, m)
		}
		b = appendBytesField(b, 4, ext)
	}
	return b
}

func decodePayload(b, remoteStatic []byte) (remotePayload, error) {
	m, err := parseProto(b)
	if err != nil {
		return remotePayload{}, err
	}
	ext, err := parseProto(m.bytes(4))
	if err != nil {
		return remotePayload{}, err
	}
	key, sig, muxers := m.bytes(1), m.bytes(2), ext.strings(2)
	pub, err := decodePublicKey(key)
	if err != nil {
		return remotePayload{}, err
	}
	if !ed25519.Verify(pub, append([]byte(staticKeyPrefix), remoteStatic...), sig) {
		return remotePayload{}, errors.New("noise: bad signature over the static key")
	}
	return remotePayload{peerID: peerIDOf(key), muxers: muxers}, nil
}

func writeNoiseMessage(w io.Writer, msg []byte) error {
	if len(msg) > maxNoiseMessage {
		return errors.New("noise: message too long")
	}
	_, err := w.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
	return err
}

func readNoiseMessage(r io.Reader) ([]byte, error) {
	var length [2]byte
	if _, err := io.ReadFull(r, length[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(length[:]))
	_, err := io.ReadFull(r, msg)
	return msg, err
}

// handshake runs XX over conn (r reads it, with whatever multistream-select left buffered).
func handshake(conn net.Conn, r *bufio.Reader, id identity, initiator bool, muxers []string) (*secureConn, remotePayload, error) {
	static, err := noise.DH25519.GenerateKeypair(rand.Reader)
	if err != nil {
		return nil, remotePayload{}, err
	}
	hs, err := noise.NewHandshakeState(noise.Config{CipherSuite: cipherSuite, Random: rand.Reader, Pattern: noise.HandshakeXX, Initiator: initiator, StaticKeypair: static})
	if err != nil {
		return nil, remotePayload{}, err
	}
	var remote remotePayload
	var cs0, cs1 *noise.CipherState
	write := func(payload []byte) error {
		msg, c0, c1, err := hs.WriteMessage(nil, payload)
		if err != nil {
			return err
		}
		cs0, cs1 = c0, c1
		return writeNoiseMessage(conn, msg)
	}
	read := func() error {
		msg, err := readNoiseMessage(r)
		if err != nil {
			return err
		}
		got, c0, c1, err := hs.ReadMessage(nil, msg)
		if err != nil {
			return err
		}
		cs0, cs1 = c0, c1
		if len(got) > 0 {
			remote, err = decodePayload(got, hs.PeerStatic())
		}
		return err
	}
	payload := encodePayload(id, static.Public, muxers)
	// XX: -> e; <- e, ee, s, es + responder payload; -> s, se + initiator payload
	steps := []func() error{func() error { return write(nil) }, read, func() error { return write(payload) }}
	if !initiator {
		steps = []func() error{read, func() error { return write(payload) }, read}
	}
	for i, step := range steps {
		if err := step(); err != nil {
			return nil, remotePayload{}, fmt.Errorf("noise handshake message %d: %w", i+1, err)
		}
	}
	if remote.peerID == "" {
		return nil, remotePayload{}, errors.New("noise: the remote sent no identity")
	}
	sc := &secureConn{Conn: conn, r: r, send: cs0, recv: cs1}
	if !initiator {
		sc.send, sc.recv = cs1, cs0
	}
	return sc, remote, nil
}

// secureConn is the Noise transport as a net.Conn, for muxado and for multistream-select.
type secureConn struct {
	net.Conn
	r          io.Reader
	send, recv *noise.CipherState
	writeMu    sync.Mutex
	unread     []byte
}

func (c *secureConn) Read(p []byte) (int, error) {
	for len(c.unread) == 0 {
		msg, err := readNoiseMessage(c.r)
		if err != nil {
			return 0, err
		}
		if c.unread, err = c.recv.Decrypt(nil, nil, msg); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.unread)
	c.unread = c.unread[n:]
	return n, nil
}

func (c *secureConn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	written := 0
	for written < len(p) {
		end := written + maxNoisePlainLen
		if end > len(p) {
			end = len(p)
		}
		msg, err := c.send.Encrypt(nil, nil, p[written:end])
		if err != nil {
			return written, err
		}
		if err := writeNoiseMessage(c.Conn, msg); err != nil {
			return written, err
		}
		written = end
	}
	return written, nil
}
