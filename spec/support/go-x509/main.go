// x509check runs Go's crypto/x509, the parser and verifier kube-apiserver (its aggregator as a TLS client, its
// delegated x509 authenticator as a TLS server) uses, on the project's certificates. Standard library only.
//
// File mode:
//
//	x509check [-roots ca.pem] [-dns name] [-usage server|client|any] cert.pem...
//
// Every CERTIFICATE block of every file must parse (x509.ParseCertificate); with -roots, the first certificate of
// each file must verify against the roots with the file's other certificates as intermediates. Prints one JSON line
// per certificate; exits 1 when anything fails.
//
// Batch mode:
//
//	x509check -batch
//
// One JSON request per stdin line ({leaf, intermediates, roots: base64 DER, now: ms, dns, usage (default client)});
// one JSON answer per line: {ok} when Go parses every certificate sent and Verify(Roots, Intermediates,
// CurrentTime, DNSName, KeyUsages) succeeds, else {error} with Go's text (a parse failure of the leaf or an
// intermediate as crypto/tls words it).
package main

import (
	"bufio"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"time"
)

type result struct {
	File    string `json:"file"`
	Index   int    `json:"index"`
	Subject string `json:"subject,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
	Serial  string `json:"serial,omitempty"`
	IsCA    bool   `json:"isCA"`
	Error   string `json:"error,omitempty"`
	Verify  string `json:"verify,omitempty"`
}

type request struct {
	Leaf          string   `json:"leaf"`
	Intermediates []string `json:"intermediates"`
	Roots         []string `json:"roots"`
	Now           int64    `json:"now"`
	DNS           string   `json:"dns"`
	Usage         string   `json:"usage"`
}

type answer struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

var usages = map[string][]x509.ExtKeyUsage{
	"server": {x509.ExtKeyUsageServerAuth},
	"client": {x509.ExtKeyUsageClientAuth},
	"any":    {x509.ExtKeyUsageAny},
}

func main() {
	batch := flag.Bool("batch", false, "answer JSON verification requests read from stdin, one per line")
	rootsFile := flag.String("roots", "", "PEM bundle of trusted roots; verify the first certificate of each file")
	dnsName := flag.String("dns", "", "DNS name the verified certificate must be valid for")
	usage := flag.String("usage", "any", "extended key usage to verify: server, client or any")
	flag.Parse()
	if *batch {
		serveBatch()
		return
	}
	eku, known := usages[*usage]
	if !known {
		fail(fmt.Errorf("-usage %q: want server, client or any", *usage))
	}
	ok := true
	out := json.NewEncoder(os.Stdout)

	var roots *x509.CertPool
	if *rootsFile != "" {
		data, err := os.ReadFile(*rootsFile)
		if err != nil {
			fail(err)
		}
		roots = x509.NewCertPool()
		for _, c := range parseAll(*rootsFile, data, out, &ok) {
			roots.AddCert(c)
		}
	}
	if flag.NArg() == 0 {
		fail(fmt.Errorf("no certificate files given"))
	}
	for _, file := range flag.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fail(err)
		}
		certs := parseAll(file, data, out, &ok)
		if roots == nil || len(certs) == 0 {
			continue
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		r := result{File: file, Index: 0, Subject: certs[0].Subject.String(), IsCA: certs[0].IsCA, Verify: "ok"}
		if _, err := certs[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, DNSName: *dnsName, KeyUsages: eku,
		}); err != nil {
			r.Verify = "error"
			r.Error = err.Error()
			ok = false
		}
		_ = out.Encode(r)
	}
	if !ok {
		os.Exit(1)
	}
}

// parseAll parses every CERTIFICATE block with x509.ParseCertificate, reporting each.
func parseAll(file string, data []byte, out *json.Encoder, ok *bool) []*x509.Certificate {
	var certs []*x509.Certificate
	index := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		r := result{File: file, Index: index}
		index++
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			r.Error = err.Error()
			*ok = false
		} else {
			r.Subject, r.Issuer, r.Serial, r.IsCA = c.Subject.String(), c.Issuer.String(), c.SerialNumber.String(), c.IsCA
			certs = append(certs, c)
		}
		_ = out.Encode(r)
	}
	if index == 0 {
		_ = out.Encode(result{File: file, Error: "no CERTIFICATE block"})
		*ok = false
	}
	return certs
}

func serveBatch() {
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

func parseBase64(b64 string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// pool parses each certificate into a pool; prefix words a parse failure.
func pool(certs []string, prefix string) (*x509.CertPool, *answer) {
	p := x509.NewCertPool()
	for _, s := range certs {
		c, err := parseBase64(s)
		if err != nil {
			return nil, &answer{Error: prefix + err.Error()}
		}
		p.AddCert(c)
	}
	return p, nil
}

func verify(r request) answer {
	const peerParse = "tls: failed to parse client certificate: "
	leaf, err := parseBase64(r.Leaf)
	if err != nil {
		return answer{Error: peerParse + err.Error()}
	}
	intermediates, bad := pool(r.Intermediates, peerParse)
	if bad != nil {
		return *bad
	}
	roots, bad := pool(r.Roots, "root does not parse: ")
	if bad != nil {
		return *bad
	}
	usage := r.Usage
	if usage == "" {
		usage = "client"
	}
	eku, known := usages[usage]
	if !known {
		return answer{Error: fmt.Sprintf("bad request: usage %q: want server, client or any", usage)}
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   time.UnixMilli(r.Now),
		DNSName:       r.DNS,
		KeyUsages:     eku,
	})
	if err != nil {
		return answer{Error: err.Error()}
	}
	return answer{OK: true}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "x509check:", err)
	os.Exit(2)
}
