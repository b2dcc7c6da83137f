package rclone

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the parsed form of an rclone: location and its options.
type Config struct {
	// Remote is what rclone serves, "remote:path" or a local path.
	Remote string
	// Program is the rclone binary (rclone.program).
	Program string
	// Args are the arguments before Remote (rclone.args), split as a
	// shell would split them.
	Args string
	// Connections limits concurrent requests (rclone.connections).
	Connections int
	// Timeout bounds the wait for rclone to answer its first request
	// (rclone.timeout).
	Timeout time.Duration
}

// Defaults as restic's.
const (
	DefaultProgram     = "rclone"
	DefaultArgs        = "serve restic --stdio --b2-hard-delete"
	DefaultConnections = 5
	DefaultTimeout     = time.Minute
)

// OptionHelp documents the -o options SetOption takes.
var OptionHelp = map[string]string{
	"program":     "path to rclone (default: " + DefaultProgram + ")",
	"args":        "arguments for running rclone (default: " + DefaultArgs + ")",
	"connections": "set a limit for the number of concurrent connections (default: 5)",
	"timeout":     "set a timeout limit to wait for rclone to establish a connection (default: 1m)",
}

// ParseConfig parses rclone:REMOTE:PATH (or rclone:PATH).
func ParseConfig(location string) (Config, error) {
	remote, ok := strings.CutPrefix(location, "rclone:")
	if !ok {
		return Config{}, fmt.Errorf("invalid rclone location %q: no rclone: prefix", location)
	}
	if remote == "" {
		return Config{}, errors.New("invalid rclone location: want rclone:REMOTE:PATH")
	}
	if strings.ContainsAny(remote, "\x00\n") {
		return Config{}, fmt.Errorf("invalid rclone location %q: control characters", location)
	}
	return Config{Remote: remote, Program: DefaultProgram, Args: DefaultArgs, Connections: DefaultConnections, Timeout: DefaultTimeout}, nil
}

// SetOption applies one -o option, its key without the "rclone." prefix.
func (c *Config) SetOption(key, value string) error {
	switch key {
	case "program":
		if value == "" {
			return errors.New("invalid option rclone.program: empty")
		}
		c.Program = value
	case "args":
		if _, err := SplitArgs(value); err != nil {
			return fmt.Errorf("invalid option rclone.args=%q: %w", value, err)
		}
		c.Args = value
	case "connections":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 128 {
			return fmt.Errorf("invalid option rclone.connections=%q: want a number from 1 to 128", value)
		}
		c.Connections = n
	case "timeout":
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			return fmt.Errorf("invalid option rclone.timeout=%q: want a duration such as 1m", value)
		}
		c.Timeout = d
	default:
		return fmt.Errorf("unknown option rclone.%s (rclone has: args, connections, program, timeout)", key)
	}
	return nil
}

// SplitArgs splits s at spaces outside single or double quotes; a
// backslash outside single quotes takes the next character literally.
func SplitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote byte
	escaped := false
	// Byte by byte: the special characters are ASCII, and an argument
	// that is not UTF-8 (a path) must pass unchanged.
	for i := 0; i < len(s); i++ {
		r := s[i]
		switch {
		case escaped:
			cur.WriteByte(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteByte(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, errors.New("unterminated quote or escape")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
