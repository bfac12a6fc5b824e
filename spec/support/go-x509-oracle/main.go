// The reference for the certificate fuzz specs: Go's own crypto/x509, as k8s.io/apiserver's x509 verifier calls it.
// One JSON request per stdin line ({leaf, intermediates, roots: base64 DER, now: ms}); one JSON answer per line:
// {ok} when Go parses every certificate the client sent and Verify(Roots, Intermediates, CurrentTime,
// KeyUsages=[clientAuth]) succeeds, else {error} with Go's text (a parse failure as crypto/tls words it).
package main

import (
	"bufio"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"time"
)

type request struct {
	Leaf          string   `json:"leaf"`
	Intermediates []string `json:"intermediates"`
	Roots         []string `json:"roots"`
	Now           int64    `json:"now"`
}

type answer struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func parse(b64 string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func verify(r request) answer {
	leaf, err := parse(r.Leaf)
	if err != nil {
		return answer{Error: "tls: failed to parse client certificate: " + err.Error()}
	}
	intermediates := x509.NewCertPool()
	for _, s := range r.Intermediates {
		c, err := parse(s)
		if err != nil {
			return answer{Error: "tls: failed to parse client certificate: " + err.Error()}
		}
		intermediates.AddCert(c)
	}
	roots := x509.NewCertPool()
	for _, s := range r.Roots {
		c, err := parse(s)
		if err != nil {
			return answer{Error: "root does not parse: " + err.Error()}
		}
		roots.AddCert(c)
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   time.UnixMilli(r.Now),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return answer{Error: err.Error()}
	}
	return answer{OK: true}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var r request
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			_ = out.Encode(answer{Error: "bad request: " + err.Error()})
			continue
		}
		_ = out.Encode(verify(r))
	}
}
