package repository

import (
	"fmt"
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
// EncodeAll/DecodeAll calls.
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
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
	dec, err := sharedDecoder()
	if err != nil {
		return nil, err
	}
	return &codec{enc: enc, dec: dec}, nil
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
