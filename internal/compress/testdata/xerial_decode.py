"""Decode a xerial snappy-java stream from stdin to stdout.

Independent of Hydrant's Go code: parses the framing itself and decodes each
block with python-snappy (C++ libsnappy). Fails on any deviation.
"""
import struct
import sys

import snappy

data = sys.stdin.buffer.read()
if len(data) < 16:
    sys.exit("short header: %d bytes" % len(data))
if data[:8] != b"\x82SNAPPY\x00":
    sys.exit("bad magic %r" % data[:8])
version, compatible = struct.unpack(">ii", data[8:16])
if (version, compatible) != (1, 1):
    sys.exit("version %d compatible %d, want 1 1" % (version, compatible))
pos, out = 16, []
while pos < len(data):
    if pos + 4 > len(data):
        sys.exit("truncated block length at %d" % pos)
    (n,) = struct.unpack(">i", data[pos:pos + 4])
    pos += 4
    if n <= 0 or pos + n > len(data):
        sys.exit("bad block length %d at %d" % (n, pos - 4))
    out.append(snappy.uncompress(data[pos:pos + n]))
    pos += n
sys.stdout.buffer.write(b"".join(out))
