package sftp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"

	"github.com/cairn-backup/cairn/internal/backend"
)

// splitCommand splits a command line into words the way a shell would for
// simple cases: blanks separate words, single quotes keep everything
// literally, double quotes keep everything but backslash escapes of
// \ " $ and `, and a backslash outside quotes escapes the next character.
// Nothing is expanded.
func splitCommand(line string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\\':
			if i+1 >= len(line) {
				return nil, errors.New("command ends in a backslash")
			}
			i++
			cur.WriteByte(line[i])
			inWord = true
		case ch == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated ' in command")
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '"':
			inWord = true
			closed := false
			for i++; i < len(line); i++ {
				c := line[i]
				if c == '"' {
					closed = true
					break
				}
				if c == '\\' && i+1 < len(line) && strings.IndexByte("\\\"$`", line[i+1]) >= 0 {
					i++
					c = line[i]
				}
				cur.WriteByte(c)
			}
			if !closed {
				return nil, errors.New(`unterminated " in command`)
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}

// startCommand runs cfg.Command and speaks SFTP over its stdin and stdout.
// Its stderr goes to ours, so that ssh can report problems. Cancelling ctx
// before the session is up kills the command.
func startCommand(ctx context.Context, cfg Config) (*session, error) {
	args, err := splitCommand(cfg.Command)
	if err != nil {
		return nil, backend.Permanent(fmt.Errorf("sftp: command: %w", err))
	}
	cmd := exec.Command(args[0], args[1:]...)
	// Its own process group, so that Ctrl-C at the terminal reaches only
	// cairn, which can then still remove its lock through the command
	// before closing it. The price: ssh cannot prompt on the terminal, so
	// it must log in with keys or an agent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Our own pipes rather than cmd.StdinPipe/StdoutPipe, so that Wait
	// does not close them under the SFTP client's feet.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sftp: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_, _ = inR.Close(), inW.Close()
		return nil, fmt.Errorf("sftp: %w", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, os.Stderr
	err = cmd.Start()
	_, _ = inR.Close(), outW.Close()
	if err != nil {
		_, _ = inW.Close(), outR.Close()
		return nil, backend.Permanent(fmt.Errorf("sftp: start command %q: %w", args[0], err))
	}

	exited := make(chan struct{})
	var waitErr error // written before exited is closed
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	// exitStatus reports how the command ended, if it has within grace.
	exitStatus := func(grace time.Duration) error {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-exited:
			if waitErr == nil {
				return errors.New("ssh command exited with status 0")
			}
			return fmt.Errorf("ssh command exited: %v", waitErr)
		case <-t.C:
			return nil
		}
	}
	kill := func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
		}
		<-exited
	}

	stop := context.AfterFunc(ctx, kill)
	client, err := sftp.NewClientPipe(outR, inW, clientOptions()...)
	stop()
	if err != nil {
		kill()
		_, _ = inW.Close(), outR.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if why := exitStatus(time.Second); why != nil {
			return nil, fmt.Errorf("sftp: start session with %q: %w", cfg.Command, why)
		}
		return nil, fmt.Errorf("sftp: start session with %q: %w", cfg.Command, err)
	}
	s := newSession([]*sftp.Client{client}, func() error {
		kill()
		_ = outR.Close()
		// The client's reader closes our end of stdin when it sees the
		// end of stdout, so "already closed" here is expected.
		_ = client.Close()
		return nil
	})
	s.cause = func() error { return exitStatus(time.Second) }
	return s, nil
}
