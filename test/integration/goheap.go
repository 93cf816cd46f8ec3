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

// allocPage is small enough for the compiler to inline: its blocks are
// charged to it inlined into allocInlined, and called through a function
// value (never inlined) from allocCalled. pprof -top labels it
// "(partial-inline)".
func allocPage() []byte { return make([]byte, 1<<16) }

var page = allocPage

//go:noinline
func allocInlined() {
	for i := 0; i < 20; i++ {
		keep = append(keep, allocPage())
	}
}

//go:noinline
func allocCalled() {
	for i := 0; i < 20; i++ {
		keep = append(keep, page())
	}
}

func main() {
	runtime.MemProfileRate = 4096
	allocSmall()
	allocBig()
	allocInlined()
	allocCalled()
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
