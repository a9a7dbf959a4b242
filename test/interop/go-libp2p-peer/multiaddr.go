package main

// Binary multiaddrs (multiaddr spec) for identify: encode a TCP address, decode what a
// js-libp2p node advertises into the text form.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
)

const (
	codeIP4 = 4
	codeTCP = 6
	codeIP6 = 41
	codeP2P = 421
)

func tcpMultiaddr(addr net.Addr) []byte {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil
	}
	var b []byte
	if ip4 := tcp.IP.To4(); ip4 != nil {
		b = append(appendVarint(b, codeIP4), ip4...)
	} else {
		b = append(appendVarint(b, codeIP6), tcp.IP.To16()...)
	}
	b = appendVarint(b, codeTCP)
	return binary.BigEndian.AppendUint16(b, uint16(tcp.Port))
}

// multiaddrString knows the protocols a TCP node on loopback advertises.
func multiaddrString(b []byte) (string, error) {
	s := ""
	for len(b) > 0 {
		code, n := binary.Uvarint(b)
		if n <= 0 {
			return "", errors.New("multiaddr: bad protocol code")
		}
		b = b[n:]
		switch code {
		case codeIP4, codeIP6:
			size, name := 4, "ip4"
			if code == codeIP6 {
				size, name = 16, "ip6"
			}
			if len(b) < size {
				return "", errors.New("multiaddr: truncated address")
			}
			s += "/" + name + "/" + net.IP(b[:size]).String()
			b = b[size:]
		case codeTCP:
			if len(b) < 2 {
				return "", errors.New("multiaddr: truncated port")
			}
			s += "/tcp/" + strconv.Itoa(int(binary.BigEndian.Uint16(b)))
			b = b[2:]
		case codeP2P:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return "", errors.New("multiaddr: truncated peer id")
			}
			s += "/p2p/" + base58(b[n:n+int(l)])
			b = b[n+int(l):]
		default:
			return "", fmt.Errorf("multiaddr: protocol code %d not supported by this peer", code)
		}
	}
	return s, nil
}
