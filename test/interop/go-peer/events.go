package main

// JSON event output, shared by both Go peers: go-libp2p-peer/events.go is a link to this file.

import (
	"encoding/json"
	"log"
	"os"
	"sync"
	"time"
)

var (
	outMu sync.Mutex
	start = time.Now()
)

type ev map[string]interface{}

// emit writes one JSON line, with "ms" since start, in a single write: nothing waits in a buffer.
func emit(e ev) {
	e["ms"] = time.Since(start).Milliseconds()
	b, err := json.Marshal(e)
	if err != nil {
		log.Printf("json: %v", err)
		return
	}
	outMu.Lock()
	os.Stdout.Write(append(b, '\n'))
	outMu.Unlock()
}

func errStr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
