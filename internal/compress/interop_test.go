package compress

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The tests in this file decode our output with decoders that share no code
// with this package. They skip when a tool is missing, unless CI=true or
// HYDRANT_REQUIRE_TOOLS=1, when they fail instead. Debian packages:
// gzip, unzip, python3, python3-snappy, default-jdk-headless, libsnappy-java.

// toolsRequired reports whether a missing tool fails the test run.
func toolsRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv("HYDRANT_REQUIRE_TOOLS") == "1"
}

// missingTool skips tb, or fails it when tools are required.
func missingTool(tb testing.TB, reason string) {
	tb.Helper()
	if toolsRequired() {
		tb.Fatalf("independent decoder unavailable: %s (required because CI=true or HYDRANT_REQUIRE_TOOLS=1)", reason)
	}
	tb.Skipf("independent decoder unavailable: %s; set HYDRANT_REQUIRE_TOOLS=1 to make this a failure", reason)
}

// lookTool returns the path of the command name from Debian package pkg.
func lookTool(tb testing.TB, name, pkg string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missingTool(tb, fmt.Sprintf("%s not on PATH (Debian package %s)", name, pkg))
	}
	return path
}

// pythonWith returns a Python 3 interpreter that can import module. Debian's
// python3-snappy installs for /usr/bin/python3, which a pyenv python3 earlier
// on PATH does not see, so /usr/bin/python3 is tried first.
func pythonWith(tb testing.TB, module, pkg string) string {
	tb.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, py := range candidates {
		if exec.Command(py, "-c", "import "+module).Run() == nil {
			return py
		}
	}
	missingTool(tb, fmt.Sprintf("no python3 can import %s (Debian package %s, for /usr/bin/python3)", module, pkg))
	return ""
}

// run runs a decoder command with stdin from file in and returns its stdout.
func run(tb testing.TB, in string, name string, args ...string) []byte {
	tb.Helper()
	cmd := exec.Command(name, args...)
	if in != "" {
		f, err := os.Open(in)
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %v: %v\n%s", name, args, err, stderr.Bytes())
	}
	return out
}

func TestIndependentDecoders(t *testing.T) {
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	javaDir, javaCodec := t.TempDir(), "" // snappy-java, compiled on first use
	decoders := []struct {
		name   string
		format Format
		// decode returns the content of the object stored in file path.
		decode func(t *testing.T, path string) []byte
	}{
		{"gzip -dc", Gzip, func(t *testing.T, path string) []byte {
			return run(t, path, lookTool(t, "gzip", "gzip"), "-dc")
		}},
		{"gzip -dc parallel blocks", Gzip, func(t *testing.T, path string) []byte {
			return run(t, path, lookTool(t, "gzip", "gzip"), "-dc")
		}},
		{"unzip -p", Zip, func(t *testing.T, path string) []byte {
			unzip := lookTool(t, "unzip", "unzip")
			run(t, "", unzip, "-tq", path) // CRC check of every entry
			return run(t, "", unzip, "-p", path)
		}},
		{"python zipfile", Zip, func(t *testing.T, path string) []byte {
			py := pythonWith(t, "zipfile", "python3")
			return run(t, "", py, filepath.Join(testdata, "zip_check.py"), path, uuidName)
		}},
		{"python-snappy xerial", Snappy, func(t *testing.T, path string) []byte {
			py := pythonWith(t, "snappy", "python3-snappy")
			return run(t, path, py, filepath.Join(testdata, "xerial_decode.py"))
		}},
		{"snappy-java SnappyInputStream", Snappy, func(t *testing.T, path string) []byte {
			if javaCodec == "" {
				javaCodec = snappyJava(t, testdata, javaDir)
			}
			return run(t, path, javaCodec, "decode")
		}},
		{"python-snappy hadoop_snappy", HadoopSnappy, func(t *testing.T, path string) []byte {
			py := pythonWith(t, "snappy.hadoop_snappy", "python3-snappy")
			return run(t, path, py, filepath.Join(testdata, "hadoop_decode.py"))
		}},
	}
	for _, d := range decoders {
		for _, in := range testInputs() {
			t.Run(d.name+"/"+in.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "object"+d.format.Extension())
				cfg := Config{}
				if strings.HasSuffix(d.name, "parallel blocks") {
					cfg.Concurrency = 4
				}
				if err := os.WriteFile(path, encode(t, d.format, cfg, in.data, recordSizes(13)), 0o600); err != nil {
					t.Fatal(err)
				}
				sameBytes(t, d.decode(t, path), in.data)
			})
		}
	}
}

// TestIndependentDecodersReject makes sure the decoders above can fail: a
// flipped byte in a snappy block, or a wrong framing, must not decode.
func TestIndependentDecodersReject(t *testing.T) {
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	data := logLines(100000, 17)
	tests := []struct {
		name   string
		format Format // how the object is written
		script string // which decoder reads it
		module string
	}{
		{"hadoop object as xerial", HadoopSnappy, "xerial_decode.py", "snappy"},
		{"xerial object as hadoop", Snappy, "hadoop_decode.py", "snappy.hadoop_snappy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			py := pythonWith(t, tt.module, "python3-snappy")
			path := filepath.Join(t.TempDir(), "object")
			if err := os.WriteFile(path, encode(t, tt.format, Config{}, data, whole), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(py, filepath.Join(testdata, tt.script))
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd.Stdin = f
			if out, err := cmd.Output(); err == nil && bytes.Equal(out, data) {
				t.Errorf("%s decoded the wrong format", tt.script)
			}
		})
	}
}

// snappyJavaJar is where Debian's libsnappy-java installs snappy-java.
const snappyJavaJar = "/usr/share/java/snappy-java.jar"

// snappyJava compiles testdata/SnappyJavaCodec.java into dir and returns a
// command that runs it; its arguments follow.
func snappyJava(tb testing.TB, testdata, dir string) string {
	tb.Helper()
	java := lookTool(tb, "java", "default-jdk-headless")
	javac := lookTool(tb, "javac", "default-jdk-headless")
	if _, err := os.Stat(snappyJavaJar); err != nil {
		missingTool(tb, snappyJavaJar+" missing (Debian package libsnappy-java)")
	}
	run(tb, "", javac, "-d", dir, "-cp", snappyJavaJar, filepath.Join(testdata, "SnappyJavaCodec.java"))
	script := filepath.Join(dir, "snappy-java")
	body := fmt.Sprintf("#!/bin/sh\nexec %q -cp %q SnappyJavaCodec \"$@\"\n", java, snappyJavaJar+":"+dir)
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		tb.Fatal(err)
	}
	return script
}

// TestReaderReadsSnappyJava decodes, with NewReader, objects that snappy-java
// wrote: the reference xerial stream and its Hadoop-compatible framing.
func TestReaderReadsSnappyJava(t *testing.T) {
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	codec := snappyJava(t, testdata, t.TempDir())
	modes := []struct {
		mode   string
		format Format
	}{
		{"encode", Snappy},
		{"encode-hadoop", HadoopSnappy},
	}
	for _, m := range modes {
		for _, in := range testInputs() {
			t.Run(m.mode+"/"+in.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "input")
				if err := os.WriteFile(path, in.data, 0o600); err != nil {
					t.Fatal(err)
				}
				sameBytes(t, decode(t, m.format, run(t, path, codec, m.mode)), in.data)
			})
		}
	}
}
