// Command devnats runs an embedded NATS server with JetStream for machines without a
// nats-server binary. scripts/deps.sh falls back to it; nothing in production uses it.
package main

import "flag"
import "log"
import "net"
import "os"
import "os/signal"
import "strconv"
import "syscall"

import "github.com/nats-io/nats-server/v2/server"

func main() {
	addr := flag.String("addr", "127.0.0.1:4222", "listen address")
	store := flag.String("store", os.TempDir()+"/devnats", "JetStream store directory")
	flag.Parse()
	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("devnats: -addr: %v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		log.Fatalf("devnats: -addr port: %v", err)
	}
	srv, err := server.NewServer(&server.Options{Host: host, Port: port, JetStream: true, StoreDir: *store})
	if err != nil {
		log.Fatalf("devnats: %v", err)
	}
	srv.ConfigureLogger()
	go srv.Start()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	srv.Shutdown()
}
