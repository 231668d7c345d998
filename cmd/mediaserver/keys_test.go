package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		t.Helper()
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkixName("app"), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{write("pkcs1.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)), write("pkcs8.pem", "PRIVATE KEY", pkcs8)} {
		k, err := loadPrivateKey(f)
		if err != nil || !k.Equal(key) {
			t.Errorf("loadPrivateKey(%s): %v", filepath.Base(f), err)
		}
	}
	for _, f := range []string{write("pkix.pem", "PUBLIC KEY", pubDER), write("pkcs1pub.pem", "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key.PublicKey)), write("cert.pem", "CERTIFICATE", cert)} {
		k, err := loadPublicKey(f)
		if err != nil || !k.Equal(&key.PublicKey) {
			t.Errorf("loadPublicKey(%s): %v", filepath.Base(f), err)
		}
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	garbage := filepath.Join(dir, "garbage.pem")
	_ = os.WriteFile(garbage, []byte("not pem"), 0o600)
	for _, f := range []string{write("ec.pem", "PRIVATE KEY", ecDER), garbage, filepath.Join(dir, "missing.pem")} {
		if _, err := loadPrivateKey(f); err == nil {
			t.Errorf("loadPrivateKey(%s) accepted", filepath.Base(f))
		}
	}
	for _, f := range []string{write("ecpub.pem", "PUBLIC KEY", ecPub), garbage} {
		if _, err := loadPublicKey(f); err == nil {
			t.Errorf("loadPublicKey(%s) accepted", filepath.Base(f))
		}
	}
}

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
