// Command fileserver serves a directory with Go's net/http file server,
// which sends regular files with sendfile(2) on Linux. The demo runs it as
// one of its real sendfile callers.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	root := flag.String("root", ".", "directory to serve")
	flag.Parse()

	server := &http.Server{
		Addr:              *addr,
		Handler:           http.FileServer(http.Dir(*root)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("serving %s on http://%s", *root, *addr)
	log.Fatal(server.ListenAndServe())
}
