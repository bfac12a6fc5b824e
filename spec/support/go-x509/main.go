// x509check parses PEM certificates with Go's crypto/x509, the parser kube-apiserver's aggregator uses, and
// optionally verifies a chain the way a Go TLS client does. Standard library only.
//
//	x509check [-roots ca.pem] [-dns name] [-usage server|client|any] cert.pem...
//
// Every CERTIFICATE block of every file must parse (x509.ParseCertificate); with -roots, the first certificate of
// each file must verify against the roots with the file's other certificates as intermediates. Prints one JSON line
// per certificate; exits 1 when anything fails.
package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
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

func main() {
	rootsFile := flag.String("roots", "", "PEM bundle of trusted roots; verify the first certificate of each file")
	dnsName := flag.String("dns", "", "DNS name the verified certificate must be valid for")
	usage := flag.String("usage", "any", "extended key usage to verify: server, client or any")
	flag.Parse()
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
		eku := map[string][]x509.ExtKeyUsage{
			"server": {x509.ExtKeyUsageServerAuth},
			"client": {x509.ExtKeyUsageClientAuth},
			"any":    {x509.ExtKeyUsageAny},
		}[*usage]
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

func fail(err error) {
	fmt.Fprintln(os.Stderr, "x509check:", err)
	os.Exit(2)
}
