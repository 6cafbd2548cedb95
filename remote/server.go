package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// ServerOptions configure an embedded NATS server (signet serve
// --nats-listen).
type ServerOptions struct {
	Listen string // HOST:PORT
	Dir    string // JetStream's file storage (the workspace's nats/)
	// NKeys are the public user keys allowed to connect (`signet worker
	// nkey` makes one). Without them only loopback listening is allowed,
	// with no authentication.
	NKeys   []string
	TLSCert string // with TLSKey: clients must speak TLS
	TLSKey  string
}

// Server is an embedded NATS server with JetStream on.
type Server struct {
	ns    *server.Server
	owner nkeys.KeyPair // the owner's own user, when NKeys are required
}

// Serve starts the embedded server and waits until it accepts
// connections.
func Serve(o ServerOptions) (*Server, error) {
	host, portText, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: want HOST:PORT: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("--nats-listen %q: port %q is not a number from 0 to 65535", o.Listen, portText)
	}
	if len(o.NKeys) == 0 && !loopback(host) {
		return nil, fmt.Errorf("--nats-listen %s is reachable from other machines: give the workers' public keys with --nats-nkeys FILE (`signet worker nkey` makes a key pair), or listen on 127.0.0.1", o.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT // the server's 0 is its default port, 4222
	}
	opts := &server.Options{Host: host, Port: port, JetStream: true, StoreDir: o.Dir, NoSigs: true, NoLog: true,
		ServerName: "signet-owner", MaxPayload: 8 << 20}
	s := &Server{}
	if len(o.NKeys) > 0 {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, fmt.Errorf("making the owner's NATS key: %w", err)
		}
		pub, _ := kp.PublicKey()
		s.owner = kp
		for _, k := range append([]string{pub}, o.NKeys...) {
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: k})
		}
	}
	if o.TLSCert != "" || o.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--nats-tls-cert %s / --nats-tls-key %s: %w", o.TLSCert, o.TLSKey, err)
		}
		opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		opts.TLS = true
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("starting the NATS server on %s: %w", o.Listen, err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("the NATS server on %s did not start (is the port taken?)", o.Listen)
	}
	s.ns = ns
	return s, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL is where workers join: nats://HOST:PORT (tls:// with TLS).
func (s *Server) URL() string {
	// The server says tls:// itself when it has a certificate.
	return s.ns.ClientURL()
}

// Connect is the owner's own connection, in process.
func (s *Server) Connect() (*nats.Conn, error) {
	opts := []nats.Option{nats.InProcessServer(s.ns), nats.Name("signet owner"), nats.MaxReconnects(-1)}
	if s.owner != nil {
		pub, _ := s.owner.PublicKey()
		opts = append(opts, nats.Nkey(pub, s.owner.Sign))
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the embedded NATS server: %w", err)
	}
	return nc, nil
}

// Close stops the server.
func (s *Server) Close() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// ClientOptions say how to reach a NATS server from outside it.
type ClientOptions struct {
	URL   string
	Name  string // the connection's name, as the server's monitoring shows it
	Creds string // a NATS credentials file (JWT and seed)
	NKey  string // a file holding a user nkey seed (`signet worker nkey`)
	CA    string // PEM roots for a server with a private certificate
	// Wait: a server that is not up yet is waited for (a pool started
	// before its owner), not an error.
	Wait bool
}

// Dial connects to a NATS server, reconnecting for as long as the
// connection lives.
func Dial(ctx context.Context, o ClientOptions) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(o.Name), nats.MaxReconnects(-1), nats.ReconnectWait(500 * time.Millisecond), nats.RetryOnFailedConnect(o.Wait)}
	if o.Creds != "" && o.NKey != "" {
		return nil, errors.New("give --creds or --nkey, not both")
	}
	if o.Creds != "" {
		if _, err := os.Stat(o.Creds); err != nil {
			return nil, fmt.Errorf("--creds: %w", err)
		}
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.NKey != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKey)
		if err != nil {
			return nil, fmt.Errorf("--nkey %s: %w", o.NKey, err)
		}
		opts = append(opts, opt)
	}
	if o.CA != "" {
		pem, err := os.ReadFile(o.CA)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", o.CA)
		}
		opts = append(opts, nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", o.URL, err)
	}
	return nc, nil
}

// NewUserKey makes a user nkey pair: the seed (for the worker's --nkey
// file) and the public key (for the owner's --nats-nkeys file).
func NewUserKey() (seed []byte, public string, err error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, "", err
	}
	if seed, err = kp.Seed(); err != nil {
		return nil, "", err
	}
	public, err = kp.PublicKey()
	return seed, public, err
}

// ReadNKeys reads public user keys, one per line ('#' starts a comment),
// naming the file and line of one that is not a user's public key.
func ReadNKeys(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--nats-nkeys: %w", err)
	}
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !nkeys.IsValidPublicUserKey(line) {
			return nil, fmt.Errorf("%s:%d: %q is not a NATS user public key (U...; a seed SU... stays with the worker)", path, n, line)
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no public key in it", path)
	}
	return keys, nil
}
