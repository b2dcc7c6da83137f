package crypto_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/cairn-backup/cairn/internal/crypto"
)

func newKey(t testing.TB) *crypto.Key {
	t.Helper()
	k, err := crypto.NewRandomKey()
	if err != nil {
		t.Fatalf("NewRandomKey() = %v, want nil", err)
	}
	return k
}

// fixedKey returns the same key on every call, so that fuzz corpus entries
// stay valid across runs.
func fixedKey(t testing.TB) *crypto.Key {
	t.Helper()
	part := func(start, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(start + i)
		}
		return b
	}
	js := keyJSON(part(1, 32), part(33, 16), part(49, 16))
	var k crypto.Key
	if err := json.Unmarshal(js, &k); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil", js, err)
	}
	return &k
}

// keyJSON builds master key JSON from raw parts.
func keyJSON(encrypt, macK, macR []byte) []byte {
	enc := base64.StdEncoding.EncodeToString
	return fmt.Appendf(nil, `{"mac":{"k":%q,"r":%q},"encrypt":%q}`, enc(macK), enc(macR), enc(encrypt))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return b
}

func TestSealOpen(t *testing.T) {
	k := newKey(t)
	for _, size := range []int{0, 1, 15, 16, 17, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			plaintext := randomBytes(size)
			ciphertext := k.Seal(nil, plaintext)
			if len(ciphertext) != size+crypto.Overhead {
				t.Fatalf("len(Seal(%d bytes)) = %d, want %d", size, len(ciphertext), size+crypto.Overhead)
			}
			got, err := k.Open(nil, ciphertext)
			if err != nil {
				t.Fatalf("Open(Seal(%d bytes)) = %v, want nil", size, err)
			}
			if !bytes.Equal(got, plaintext) {
				t.Errorf("Open(Seal(%d bytes)) = %d different bytes, want the plaintext", size, len(got))
			}
		})
	}
}

func TestSealOpenAppend(t *testing.T) {
	k := newKey(t)
	plaintext := []byte("plaintext")
	prefix := []byte("prefix")
	ciphertext := k.Seal(slices.Clone(prefix), plaintext)
	if !bytes.HasPrefix(ciphertext, prefix) {
		t.Fatalf("Seal(%q, ...) = %q, want it to start with the prefix", prefix, ciphertext)
	}
	got, err := k.Open(slices.Clone(prefix), ciphertext[len(prefix):])
	if want := append(slices.Clone(prefix), plaintext...); err != nil || !bytes.Equal(got, want) {
		t.Errorf("Open(%q, ...) = %q, %v, want %q, nil", prefix, got, err, want)
	}
}

func TestSealFreshIV(t *testing.T) {
	k := newKey(t)
	a, b := k.Seal(nil, []byte("same")), k.Seal(nil, []byte("same"))
	if bytes.Equal(a[:16], b[:16]) {
		t.Errorf("two Seal calls used the same IV %x", a[:16])
	}
}

func TestOpenRejects(t *testing.T) {
	k := newKey(t)
	plaintext := randomBytes(100)
	sealed := k.Seal(nil, plaintext)
	modify := func(f func(b []byte) []byte) []byte { return f(slices.Clone(sealed)) }
	flip := func(i int) []byte {
		return modify(func(b []byte) []byte { b[i] ^= 0x01; return b })
	}
	tests := []struct {
		name       string
		key        *crypto.Key
		ciphertext []byte
	}{
		{"bit flipped in IV", k, flip(0)},
		{"bit flipped in last IV byte", k, flip(15)},
		{"bit flipped in ciphertext", k, flip(16 + 50)},
		{"bit flipped in MAC", k, flip(len(sealed) - 1)},
		{"truncated by one byte", k, sealed[:len(sealed)-1]},
		{"truncated to overhead", k, sealed[:crypto.Overhead]},
		{"shorter than overhead", k, sealed[:crypto.Overhead-1]},
		{"empty", k, []byte{}},
		{"nil", k, nil},
		{"all-zero IV", k, modify(func(b []byte) []byte { clear(b[:16]); return b })},
		{"appended byte", k, append(slices.Clone(sealed), 0)},
		{"wrong key", newKey(t), sealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.Open(nil, tt.ciphertext)
			if !errors.Is(err, crypto.ErrUnauthenticated) || got != nil {
				t.Errorf("Open(%d bytes) = %d bytes, %v, want nil, ErrUnauthenticated", len(tt.ciphertext), len(got), err)
			}
			in := slices.Clone(tt.ciphertext)
			got, err = tt.key.OpenInPlace(in)
			if !errors.Is(err, crypto.ErrUnauthenticated) || got != nil {
				t.Errorf("OpenInPlace(%d bytes) = %d bytes, %v, want nil, ErrUnauthenticated", len(tt.ciphertext), len(got), err)
			}
			if !bytes.Equal(in, tt.ciphertext) {
				t.Errorf("OpenInPlace(%d bytes) changed its input on error", len(tt.ciphertext))
			}
		})
	}
}

func TestOpenInPlace(t *testing.T) {
	k := newKey(t)
	for _, size := range []int{0, 1, 1000} {
		plaintext := randomBytes(size)
		buf := k.Seal(nil, plaintext)
		got, err := k.OpenInPlace(buf)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("OpenInPlace(Seal(%d bytes)) = %d bytes, %v, want the plaintext, nil", size, len(got), err)
		}
		if size > 0 && &got[0] != &buf[16] {
			t.Errorf("OpenInPlace(Seal(%d bytes)) returned a copy, want a sub-slice of its input", size)
		}
	}
}

func TestNewRandomKeyClampsR(t *testing.T) {
	k := newKey(t)
	r := k.MAC.R
	if r[3]&0xf0 != 0 || r[7]&0xf0 != 0 || r[11]&0xf0 != 0 || r[15]&0xf0 != 0 ||
		r[4]&0x03 != 0 || r[8]&0x03 != 0 || r[12]&0x03 != 0 {
		t.Errorf("NewRandomKey().MAC.R = %x, want it clamped", r)
	}
}

func TestUnclampedR(t *testing.T) {
	clamped := newKey(t)
	plaintext := []byte("sealed with clamped r")
	sealed := clamped.Seal(nil, plaintext)

	js, err := json.Marshal(clamped)
	if err != nil {
		t.Fatalf("json.Marshal(key) = %v, want nil", err)
	}
	var raw struct {
		MAC struct {
			K []byte `json:"k"`
			R []byte `json:"r"`
		} `json:"mac"`
		Encrypt []byte `json:"encrypt"`
	}
	if err := json.Unmarshal(js, &raw); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil", js, err)
	}
	for _, i := range []int{3, 7, 11, 15} {
		raw.MAC.R[i] |= 0xf0
	}
	for _, i := range []int{4, 8, 12} {
		raw.MAC.R[i] |= 0x03
	}
	var unclamped crypto.Key
	if err := json.Unmarshal(keyJSON(raw.Encrypt, raw.MAC.K, raw.MAC.R), &unclamped); err != nil {
		t.Fatalf("json.Unmarshal(unclamped key) = %v, want nil", err)
	}
	if unclamped.MAC.R == clamped.MAC.R {
		t.Fatalf("unclamped MAC.R = %x, want it to differ from %x", unclamped.MAC.R, clamped.MAC.R)
	}
	if got, err := unclamped.Open(nil, sealed); err != nil || !bytes.Equal(got, plaintext) {
		t.Errorf("unclamped.Open(clamped.Seal(%q)) = %q, %v, want %q, nil", plaintext, got, err, plaintext)
	}
	back := unclamped.Seal(nil, plaintext)
	if got, err := clamped.Open(nil, back); err != nil || !bytes.Equal(got, plaintext) {
		t.Errorf("clamped.Open(unclamped.Seal(%q)) = %q, %v, want %q, nil", plaintext, got, err, plaintext)
	}
}

func TestKeyJSON(t *testing.T) {
	k := newKey(t)
	js, err := json.Marshal(k)
	if err != nil {
		t.Fatalf("json.Marshal(key) = %v, want nil", err)
	}

	// The shape is restic's: {"mac":{"k":…,"r":…},"encrypt":…}, standard
	// base64 with padding.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil", js, err)
	}
	var mac map[string]string
	if err := json.Unmarshal(top["mac"], &mac); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil", top["mac"], err)
	}
	var encrypt string
	if err := json.Unmarshal(top["encrypt"], &encrypt); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil", top["encrypt"], err)
	}
	if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, []string{"encrypt", "mac"}) {
		t.Errorf("top-level keys of %s = %q, want [encrypt mac]", js, got)
	}
	if got := slices.Sorted(maps.Keys(mac)); !slices.Equal(got, []string{"k", "r"}) {
		t.Errorf("keys of mac in %s = %q, want [k r]", js, got)
	}
	for _, f := range []struct {
		name string
		got  string
		want []byte
	}{
		{"mac.k", mac["k"], k.MAC.K[:]},
		{"mac.r", mac["r"], k.MAC.R[:]},
		{"encrypt", encrypt, k.EncryptionKey[:]},
	} {
		if want := base64.StdEncoding.EncodeToString(f.want); f.got != want {
			t.Errorf("%s = %q, want %q", f.name, f.got, want)
		}
	}

	var back crypto.Key
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil", js, err)
	}
	if back.EncryptionKey != k.EncryptionKey || back.MAC != k.MAC {
		t.Errorf("json.Unmarshal(json.Marshal(key)) = %+v, want %+v", back.MAC, k.MAC)
	}
	if got, err := back.Open(nil, k.Seal(nil, []byte("x"))); err != nil || string(got) != "x" {
		t.Errorf("decoded key Open(Seal(%q)) = %q, %v, want %q, nil", "x", got, err, "x")
	}
}

func TestKeyUnmarshalJSONRejects(t *testing.T) {
	ok16, ok32 := randomBytes(16), randomBytes(32)
	tests := []struct {
		name string
		json string
	}{
		{"not JSON", `{`},
		{"not an object", `"key"`},
		{"empty object", `{}`},
		{"no mac", fmt.Sprintf(`{"encrypt":%q}`, base64.StdEncoding.EncodeToString(ok32))},
		{"bad base64", `{"mac":{"k":"!!!","r":"!!!"},"encrypt":"!!!"}`},
		{"short mac.k", string(keyJSON(ok32, ok16[:15], ok16))},
		{"long mac.r", string(keyJSON(ok32, ok16, append(slices.Clone(ok16), 1)))},
		{"short encrypt", string(keyJSON(ok32[:31], ok16, ok16))},
		{"long encrypt", string(keyJSON(append(slices.Clone(ok32), 1), ok16, ok16))},
		{"all-zero encrypt", string(keyJSON(make([]byte, 32), ok16, ok16))},
		{"all-zero mac.k", string(keyJSON(ok32, make([]byte, 16), ok16))},
		{"all-zero mac.r", string(keyJSON(ok32, ok16, make([]byte, 16)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var k crypto.Key
			if err := k.UnmarshalJSON([]byte(tt.json)); !errors.Is(err, crypto.ErrInvalidKey) {
				t.Errorf("UnmarshalJSON(%s) = %v, want ErrInvalidKey", tt.json, err)
			}
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	k := newKey(b)
	plaintext := randomBytes(1 << 20)
	buf := make([]byte, 0, len(plaintext)+crypto.Overhead)
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		buf = k.Seal(buf[:0], plaintext)
	}
}

// BenchmarkOpenInPlace includes a 1 MiB copy per iteration to restore the
// ciphertext that the previous iteration decrypted.
func BenchmarkOpenInPlace(b *testing.B) {
	k := newKey(b)
	sealed := k.Seal(nil, randomBytes(1<<20))
	buf := make([]byte, len(sealed))
	b.SetBytes(int64(len(sealed) - crypto.Overhead))
	for b.Loop() {
		copy(buf, sealed)
		if _, err := k.OpenInPlace(buf); err != nil {
			b.Fatalf("OpenInPlace() = %v, want nil", err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	k := fixedKey(f)
	for _, size := range []int{0, 1, 16, 100} {
		sealed := k.Seal(nil, randomBytes(size))
		f.Add(sealed)
		damaged := slices.Clone(sealed)
		damaged[len(damaged)/2] ^= 0x80
		f.Add(damaged)
	}
	f.Add([]byte{})
	f.Add(make([]byte, crypto.Overhead))
	f.Add(make([]byte, crypto.Overhead-1))

	f.Fuzz(func(t *testing.T, ciphertext []byte) {
		in := slices.Clone(ciphertext)
		got, err := k.Open(nil, ciphertext)
		if !bytes.Equal(in, ciphertext) {
			t.Fatalf("Open changed its input")
		}
		if err != nil {
			if !errors.Is(err, crypto.ErrUnauthenticated) || got != nil {
				t.Fatalf("Open(%d bytes) = %d bytes, %v, want nil, ErrUnauthenticated", len(ciphertext), len(got), err)
			}
		} else if len(got) != len(ciphertext)-crypto.Overhead {
			t.Fatalf("Open(%d bytes) = %d bytes, want %d", len(ciphertext), len(got), len(ciphertext)-crypto.Overhead)
		}

		inPlace, errInPlace := k.OpenInPlace(in)
		if (err == nil) != (errInPlace == nil) || !bytes.Equal(inPlace, got) {
			t.Fatalf("OpenInPlace(%d bytes) = %d bytes, %v, want Open's %d bytes, %v", len(ciphertext), len(inPlace), errInPlace, len(got), err)
		}
		if errInPlace != nil && !bytes.Equal(in, ciphertext) {
			t.Fatalf("OpenInPlace(%d bytes) changed its input on error", len(ciphertext))
		}
	})
}
