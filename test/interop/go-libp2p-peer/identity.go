package main

// The peer's identity (libp2p peer-ids spec): an ed25519 key, its PublicKey protobuf, and the
// peer ID, the identity multihash of that protobuf written in base58btc ("12D3KooW...").

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"math/big"
)

const keyTypeEd25519 = 1

type identity struct {
	priv     ed25519.PrivateKey
	pubProto []byte // PublicKey{Type: Ed25519, Data: 32 bytes}
	peerID   string
}

func newIdentity() (identity, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return identity{}, err
	}
	pubProto := encodePublicKey(pub)
	return identity{priv: priv, pubProto: pubProto, peerID: peerIDOf(pubProto)}, nil
}

func encodePublicKey(pub ed25519.PublicKey) []byte {
	b := appendVarintField(nil, 1, keyTypeEd25519)
	return appendBytesField(b, 2, pub)
}

// decodePublicKey accepts ed25519 keys only: every js-libp2p node here uses them.
func decodePublicKey(b []byte) (ed25519.PublicKey, error) {
	m, err := parseProto(b)
	if err != nil {
		return nil, err
	}
	keyType, data := m.varint(1), m.bytes(2)
	if keyType != keyTypeEd25519 || len(data) != ed25519.PublicKeySize {
		return nil, errors.New("identity key is not an ed25519 key")
	}
	return ed25519.PublicKey(data), nil
}

// peerIDOf: keys of at most 42 bytes are inlined with the identity multihash (code 0x00).
func peerIDOf(pubProto []byte) string {
	mh := append([]byte{0x00, byte(len(pubProto))}, pubProto...)
	return base58(mh)
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func base58(b []byte) string {
	n := new(big.Int).SetBytes(b)
	radix, mod := big.NewInt(58), new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}
