package main

// multistream-select 1.0 (connections spec): every message is a uvarint length, the text and a
// newline. Both sides send the header; the dialer proposes protocols one at a time, the
// listener echoes the one it accepts or answers "na".

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	multistreamHeader = "/multistream/1.0.0"
	notAvailable      = "na"
	maxMessageLength  = 1024
)

func encodeMessages(msgs ...string) []byte {
	var b []byte
	for _, m := range msgs {
		b = appendVarint(b, uint64(len(m)+1))
		b = append(append(b, m...), '\n')
	}
	return b
}

func readMessage(r *bufio.Reader) (string, error) {
	length, err := binary.ReadUvarint(r)
	if err != nil {
		return "", err
	}
	if length == 0 || length > maxMessageLength {
		return "", fmt.Errorf("multistream: message length %d", length)
	}
	buf := make([]byte, length)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	if buf[length-1] != '\n' {
		return "", errors.New("multistream: message without a trailing newline")
	}
	return string(buf[:length-1]), nil
}

func readHeader(r *bufio.Reader) error {
	header, err := readMessage(r)
	if err == nil && header != multistreamHeader {
		err = fmt.Errorf("multistream: unexpected header %q", header)
	}
	return err
}

// selectProtocol is the dialer side: the header and the first proposal go out together.
func selectProtocol(w io.Writer, r *bufio.Reader, protocols []string) (string, error) {
	if _, err := w.Write(encodeMessages(multistreamHeader, protocols[0])); err != nil {
		return "", err
	}
	if err := readHeader(r); err != nil {
		return "", err
	}
	for i, proposal := range protocols {
		if i > 0 {
			if _, err := w.Write(encodeMessages(proposal)); err != nil {
				return "", err
			}
		}
		answer, err := readMessage(r)
		if err != nil {
			return "", err
		}
		if answer == proposal {
			return proposal, nil
		}
		if answer != notAvailable {
			return "", fmt.Errorf("multistream: answer %q to %q", answer, proposal)
		}
	}
	return "", fmt.Errorf("multistream: the remote supports none of %v", protocols)
}

// answerProposals is the listener side; it returns the accepted protocol and every proposal.
func answerProposals(w io.Writer, r *bufio.Reader, supported []string) (string, []string, error) {
	if _, err := w.Write(encodeMessages(multistreamHeader)); err != nil {
		return "", nil, err
	}
	if err := readHeader(r); err != nil {
		return "", nil, err
	}
	var proposals []string
	for {
		proposal, err := readMessage(r)
		if err != nil {
			return "", proposals, err
		}
		proposals = append(proposals, proposal)
		answer := notAvailable
		if contains(supported, proposal) {
			answer = proposal
		}
		if _, err := w.Write(encodeMessages(answer)); err != nil {
			return "", proposals, err
		}
		if answer == proposal {
			return proposal, proposals, nil
		}
	}
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}
