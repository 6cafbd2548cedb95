package cmd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/remote"
)

// natsFlags are serve's flags for the NATS job queue (issue 21).
type natsFlags struct {
	listen, url, nkeys, tlsCert, tlsKey, creds, nkey, ca, code string
	ackWait                                                    time.Duration
}

func (n *natsFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&n.listen, "nats-listen", "", "run an embedded NATS server (JetStream, storage in the workspace) on `HOST:PORT` and put executions on its queue, which `signet worker --join` pools serve")
	f.StringVar(&n.url, "nats", "", "put executions on the queue of an existing NATS server or cluster at `URL` instead")
	f.StringVar(&n.nkeys, "nats-nkeys", "", "the embedded server lets in only these pools: a `FILE` of public nkeys, one per line (`signet worker nkey`); required off loopback")
	f.StringVar(&n.tlsCert, "nats-tls-cert", "", "the embedded server speaks TLS with this certificate `FILE` (with --nats-tls-key)")
	f.StringVar(&n.tlsKey, "nats-tls-key", "", "the private key `FILE` of --nats-tls-cert")
	f.StringVar(&n.creds, "nats-creds", "", "credentials `FILE` for --nats")
	f.StringVar(&n.nkey, "nats-nkey", "", "nkey seed `FILE` for --nats")
	f.StringVar(&n.ca, "nats-ca", "", "PEM roots `FILE` for --nats over TLS")
	f.StringVar(&n.code, "nats-code", string(remote.CodeShip), "how user code (custom modules, tools, metrics) reaches pools: ship (sent with each job, by content) or require (each pool has it in its --code-dir)")
	f.DurationVar(&n.ackWait, "nats-ack-wait", remote.DefaultAckWait, "a job a pool stops answering for this long goes to another pool")
}

// options are the owner's NATS options, nil when no queue is asked for.
func (n *natsFlags) options() (*owner.NATSOptions, error) {
	if n.listen == "" && n.url == "" {
		for flag, v := range map[string]string{"--nats-nkeys": n.nkeys, "--nats-tls-cert": n.tlsCert, "--nats-creds": n.creds, "--nats-nkey": n.nkey, "--nats-ca": n.ca} {
			if v != "" {
				return nil, usagef("serve: %s is for the NATS queue: give --nats-listen HOST:PORT or --nats URL too", flag)
			}
		}
		return nil, nil
	}
	if n.listen != "" && n.url != "" {
		return nil, usagef("serve: --nats-listen runs a NATS server and --nats joins one: give one of them")
	}
	if n.listen != "" && (n.creds != "" || n.nkey != "" || n.ca != "") {
		return nil, usagef("serve: --nats-creds, --nats-nkey and --nats-ca are for --nats URL; the embedded server takes --nats-nkeys and --nats-tls-cert")
	}
	if n.url != "" && (n.nkeys != "" || n.tlsCert != "" || n.tlsKey != "") {
		return nil, usagef("serve: --nats-nkeys and --nats-tls-cert are for the embedded server (--nats-listen)")
	}
	if (n.tlsCert == "") != (n.tlsKey == "") {
		return nil, usagef("serve: --nats-tls-cert and --nats-tls-key go together")
	}
	code, ok := remote.ParseCodeMode(n.code)
	if !ok {
		return nil, usagef("serve: --nats-code %q: want ship or require", n.code)
	}
	if n.ackWait < time.Second || n.ackWait > time.Hour {
		return nil, usagef("serve: --nats-ack-wait %s is out of range (1s to 1h)", n.ackWait)
	}
	return &owner.NATSOptions{Listen: n.listen, URL: n.url, NKeys: n.nkeys, TLSCert: n.tlsCert, TLSKey: n.tlsKey,
		Creds: n.creds, NKey: n.nkey, CA: n.ca, AckWait: n.ackWait, Code: code}, nil
}
