package main

// Just enough protobuf for the libp2p messages this peer exchanges (Noise handshake payload,
// PublicKey, Identify): varints and length-delimited fields, hand-encoded.

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

func appendVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = appendVarint(b, uint64(field<<3|wireBytes))
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendStringField(b []byte, field int, v string) []byte {
	return appendBytesField(b, field, []byte(v))
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	b = appendVarint(b, uint64(field<<3|wireVarint))
	return appendVarint(b, v)
}

type pbField struct {
	varint uint64
	bytes  []byte // length-delimited fields only
}

// pbMessage holds a message's fields by number, repeated ones in wire order.
type pbMessage map[int][]pbField

// bytes is the last occurrence of a length-delimited field (protobuf: the last one wins).
func (m pbMessage) bytes(num int) []byte {
	if f := m[num]; len(f) > 0 {
		return f[len(f)-1].bytes
	}
	return nil
}

func (m pbMessage) varint(num int) uint64 {
	if f := m[num]; len(f) > 0 {
		return f[len(f)-1].varint
	}
	return 0
}

func (m pbMessage) strings(num int) []string {
	out := []string{}
	for _, f := range m[num] {
		out = append(out, string(f.bytes))
	}
	return out
}

// parseProto reads a message's fields. Fixed-width fields are skipped.
func parseProto(b []byte) (pbMessage, error) {
	m := pbMessage{}
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("protobuf: bad tag")
		}
		b = b[n:]
		var f pbField
		switch tag & 7 {
		case wireVarint:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, errors.New("protobuf: bad varint")
			}
			f.varint, b = v, b[n:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errors.New("protobuf: bad length")
			}
			f.bytes, b = b[n:n+int(l)], b[n+int(l):]
		case wireFixed64, wireFixed32:
			size := 8
			if tag&7 == wireFixed32 {
				size = 4
			}
			if len(b) < size {
				return nil, errors.New("protobuf: truncated fixed field")
			}
			b = b[size:]
			continue
		default:
			return nil, fmt.Errorf("protobuf: wire type %d", tag&7)
		}
		num := int(tag >> 3)
		m[num] = append(m[num], f)
	}
	return m, nil
}
