package repository

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Compression is the --compression setting for data blobs.
type Compression uint8

// Compression modes, mapped to zstd levels as restic does.
const (
	CompressionAuto Compression = iota
	CompressionOff
	CompressionFastest
	CompressionBetter
	CompressionMax
)

// ParseCompression parses auto|off|fastest|better|max.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "auto", "":
		return CompressionAuto, nil
	case "off":
		return CompressionOff, nil
	case "fastest":
		return CompressionFastest, nil
	case "better":
		return CompressionBetter, nil
	case "max":
		return CompressionMax, nil
	}
	return 0, fmt.Errorf("invalid compression mode %q (want auto, off, fastest, better or max)", s)
}

func (c Compression) String() string {
	return [...]string{"auto", "off", "fastest", "better", "max"}[c]
}

func (c Compression) level() zstd.EncoderLevel {
	switch c {
	case CompressionFastest:
		return zstd.SpeedFastest
	case CompressionBetter:
		return zstd.SpeedBetterCompression
	case CompressionMax:
		return zstd.SpeedBestCompression
	}
	return zstd.SpeedDefault
}

// codec holds one zstd encoder and decoder; both are safe for concurrent
// EncodeAll/DecodeAll calls. probe is a fastest-level encoder used to
// guess, from samples, whether a large blob compresses at all.
type codec struct {
	enc   *zstd.Encoder
	probe *zstd.Encoder
	dec   *zstd.Decoder
}

func newCodec(c Compression) (*codec, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(c.level()),
		zstd.WithEncoderCRC(false),
		zstd.WithWindowSize(512*1024),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	probe, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderCRC(false),
		zstd.WithWindowSize(64*1024),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	dec, err := sharedDecoder()
	if err != nil {
		return nil, err
	}
	return &codec{enc: enc, probe: probe, dec: dec}, nil
}

// Sampling parameters of worthCompressing.
const (
	probeMinSize    = 4 << 10   // smaller blobs are always compressed
	probeZstdSize   = 256 << 10 // from here on, samples are compressed
	probeMaxSamples = 4
	probeSize       = 16 << 10
	entropySample   = 8 << 10
	// maxEntropy is the byte entropy (bits per byte) above which a small
	// blob counts as incompressible; random bytes give about 7.98 on 8 KiB.
	maxEntropy = 7.5
)

// worthCompressing guesses whether compressing src pays. Random data
// (already compressed media, archives, encrypted files) is common and
// costs as much CPU to compress as everything else a backup does, for
// nothing. Large blobs: a few samples are compressed at the fastest level
// and must shrink by 2 %. Small blobs, where a zstd call costs more than
// its input: the byte entropy of a sample must be below maxEntropy. Tiny
// blobs are always compressed.
func (c *codec) worthCompressing(src []byte, scratch []byte) bool {
	switch {
	case len(src) < probeMinSize:
		return true
	case len(src) < probeZstdSize:
		return entropy(src[:min(len(src), entropySample)]) < maxEntropy
	}
	step := (len(src) - probeSize) / (probeMaxSamples - 1)
	in, out := 0, 0
	for i := range probeMaxSamples {
		sample := src[i*step : i*step+probeSize]
		scratch = c.probe.EncodeAll(sample, scratch[:0])
		in += len(sample)
		out += len(scratch)
	}
	return out*100 < in*98
}

// entropy returns the Shannon entropy of b's byte distribution in bits per
// byte.
func entropy(b []byte) float64 {
	var counts [256]int
	for _, v := range b {
		counts[v]++
	}
	n := float64(len(b))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

var (
	decOnce sync.Once
	decoder *zstd.Decoder
	decErr  error
)

// sharedDecoder returns one process-wide decoder; DecodeAll is concurrent
// safe and the decoder's buffers are worth sharing.
func sharedDecoder() (*zstd.Decoder, error) {
	decOnce.Do(func() {
		decoder, decErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(16<<30),
		)
	})
	return decoder, decErr
}

// compress appends the zstd frame of src to dst.
func (c *codec) compress(dst, src []byte) []byte { return c.enc.EncodeAll(src, dst) }

// decompress appends the decoded frame to dst. Bad bytes give ErrInvalidData.
func (c *codec) decompress(dst, src []byte) ([]byte, error) {
	out, err := c.dec.DecodeAll(src, dst)
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", ErrInvalidData, err)
	}
	return out, nil
}
