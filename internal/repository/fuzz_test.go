package repository_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/google/go-cmp/cmp"
)

// validKeyFile writes a key file with AddKey and returns its stored bytes.
func validKeyFile(f *testing.F) []byte {
	f.Helper()
	master, err := crypto.NewRandomKey()
	if err != nil {
		f.Fatalf("NewRandomKey() = %v, want nil", err)
	}
	be := mem.New()
	kid, err := repository.AddKey(f.Context(), be, "secret", "user", "host", master, cheapParams(f))
	if err != nil {
		f.Fatalf("AddKey() = %v, want nil", err)
	}
	raw, err := backend.LoadAll(f.Context(), be, backend.Handle{Type: backend.KeyFile, Name: kid.String()})
	if err != nil {
		f.Fatalf("LoadAll(key) = %v, want nil", err)
	}
	return raw
}

// editJSON decodes a JSON object, lets edit change it and encodes it again.
func editJSON(f *testing.F, raw []byte, edit func(m map[string]any)) []byte {
	f.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		f.Fatalf("json.Unmarshal(%s) = %v, want nil", raw, err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		f.Fatalf("json.Marshal() = %v, want nil", err)
	}
	return out
}

func FuzzDecodeKeyFile(f *testing.F) {
	valid := validKeyFile(f)
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(valid[:len(valid)-1])
	for _, edit := range []func(m map[string]any){
		func(m map[string]any) { m["kdf"] = "pbkdf2" },
		func(m map[string]any) { delete(m, "kdf") },
		func(m map[string]any) { m["salt"] = base64.StdEncoding.EncodeToString(make([]byte, 32)) },
		func(m map[string]any) { m["salt"] = "not base64!" },
		func(m map[string]any) { m["N"] = 3 },
		func(m map[string]any) { m["N"] = 0 },
		func(m map[string]any) { m["N"] = -1024 },
		func(m map[string]any) { m["N"] = 1 << 40 },
		func(m map[string]any) { m["N"] = 1e300 },
		func(m map[string]any) { m["N"] = 2; m["r"] = 1; m["p"] = 1 },
		func(m map[string]any) { m["r"] = 0 },
		func(m map[string]any) { m["p"] = 1 << 30 },
		func(m map[string]any) { delete(m, "data") },
		func(m map[string]any) { m["data"] = base64.StdEncoding.EncodeToString(make([]byte, 31)) },
		func(m map[string]any) { m["data"] = base64.StdEncoding.EncodeToString(make([]byte, 32)) },
		func(m map[string]any) { m["created"] = "yesterday" },
	} {
		f.Add(editJSON(f, valid, edit))
	}
	for _, s := range []string{`null`, `[]`, `{}`, `""`, `{"kdf":"scrypt"}`, "\x00\xff", ``} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, raw []byte) {
		kf, err := repository.DecodeKeyFile(raw)
		if err != nil {
			if kf != nil {
				t.Errorf("DecodeKeyFile() = (%+v, %v), want nil key file with the error", kf, err)
			}
			if !errors.Is(err, repository.ErrInvalidData) {
				t.Errorf("DecodeKeyFile() = %v, want an error matching ErrInvalidData", err)
			}
			return
		}
		if kf.KDF != "scrypt" {
			t.Errorf("DecodeKeyFile().KDF = %q, want scrypt", kf.KDF)
		}
		if len(kf.Salt) != crypto.SaltSize {
			t.Errorf("DecodeKeyFile().Salt has %d bytes, want %d", len(kf.Salt), crypto.SaltSize)
		}
		if err := (crypto.Params{N: kf.N, R: kf.R, P: kf.P}).Validate(); err != nil {
			t.Errorf("DecodeKeyFile() accepted N=%d r=%d p=%d: %v", kf.N, kf.R, kf.P, err)
		}
		if len(kf.Data) < crypto.Overhead {
			t.Errorf("DecodeKeyFile().Data has %d bytes, want at least %d", len(kf.Data), crypto.Overhead)
		}
		// Validate bounds N·r and p·r by 2^24, so this product cannot
		// overflow. Bounding p as well keeps p·N·r work cheap.
		if kf.N*kf.R*kf.P > 1<<14 {
			return
		}
		key, err := kf.Unlock("x")
		if (key == nil) == (err == nil) {
			t.Errorf("Unlock() = (%v, %v), want exactly one of key and error", key != nil, err)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	cfg, err := repository.NewConfig(2, testPol)
	if err != nil {
		f.Fatalf("NewConfig() = %v, want nil", err)
	}
	valid, err := json.Marshal(cfg)
	if err != nil {
		f.Fatalf("json.Marshal(config) = %v, want nil", err)
	}
	f.Add(valid)
	const goodID = "5a0ef1e3a5e8b2c3c3dd2b27b6b0a8b0d0e6e3f1c4b7a9d2e8f0a1b2c3d4e5f6"
	config := func(version any, rid, pol string) []byte {
		return fmt.Appendf(nil, `{"version":%v,"id":%q,"chunker_polynomial":%q}`, version, rid, pol)
	}
	good := testPol.String()
	for _, seed := range [][]byte{
		config(1, goodID, good),
		config(0, goodID, good),
		config(3, goodID, good),
		config(-1, goodID, good),
		config(2.5, goodID, good),
		config(2, "abc", good),
		config(2, goodID+"00", good),
		config(2, "zz"+goodID[2:], good),
		config(2, goodID, "0"),
		config(2, goodID, "1"),
		config(2, goodID, "ffffffffffffffff"),
		config(2, goodID, "10000000000000000"),
		config(2, goodID, "20000000000002"), // x^53 + x: degree 53, divisible by x
		config(2, goodID, "-1"),
		config(2, goodID, "0x3da3358b4dc173"),
		[]byte(`{"version":2,"id":"` + goodID + `","chunker_polynomial":3da3358b4dc173}`),
		[]byte(`{"version":2,"id":"` + goodID + `","chunker_polynomial":null}`),
		[]byte(`{}`),
		[]byte(`null`),
		[]byte(`[]`),
		[]byte("\x00garbage{"),
		valid[:len(valid)-1],
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, plain []byte) {
		cfg, err := repository.ParseConfig(plain)
		if err != nil {
			if !errors.Is(err, repository.ErrInvalidData) {
				t.Errorf("ParseConfig() = %v, want an error matching ErrInvalidData", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("ParseConfig() = %+v, which fails Validate: %v", cfg, err)
		}
		again, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("json.Marshal(%+v) = %v, want nil", cfg, err)
		}
		back, err := repository.ParseConfig(again)
		if err != nil {
			t.Fatalf("ParseConfig(%s) = %v, want nil (re-encoded accepted config)", again, err)
		}
		if diff := cmp.Diff(cfg, back); diff != "" {
			t.Errorf("config changed by an encode/decode round trip (-first +second):\n%s", diff)
		}
	})
}
