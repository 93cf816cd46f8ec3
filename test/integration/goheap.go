// SPDX-License-Identifier: MIT
// goheap: writes a heap profile the way Go programs do (runtime/pprof), for
// checking that heapprof reads Go's profiles like go tool pprof does.
// usage: go run goheap.go OUT.pb.gz
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

var keep [][]byte

//go:noinline
func allocSmall() {
	for i := 0; i < 100000; i++ {
		keep = append(keep, make([]byte, 64+i%200))
	}
}

//go:noinline
func allocBig() {
	for i := 0; i < 50; i++ {
		keep = append(keep, make([]byte, 1<<20))
	}
}

func main() {
	runtime.MemProfileRate = 4096
	allocSmall()
	allocBig()
	runtime.GC()
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		panic(err)
	}
	f.Close()
	runtime.KeepAlive(keep)
}
