// A Go web app on the standard library alone: the go buildpack builds it with `go install`
// (no module to download) and runs the binary, bin/hello-go, as `web` in a native dyno.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// boot tells one start of the process from another (restarts, rollbacks).
var boot = strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(os.Getpid())

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		log.Fatal("PORT is not set")
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		log.Printf("hello-go: %s %s", r.Method, r.URL.Path)
		name := os.Getenv("GREETING_NAME")
		if name == "" {
			name = "world"
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Hello, %s, from Go!\n", name)
	})
	http.HandleFunc("/dyno", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"dyno": os.Getenv("DYNO"), "host": host, "pid": os.Getpid(), "go": runtime.Version()})
	})
	http.HandleFunc("/boot", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, boot)
	})
	server := &http.Server{Addr: ":" + port}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		server.Close()
	}()
	log.Printf("hello-go listening on %s", port)
	if err := server.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
