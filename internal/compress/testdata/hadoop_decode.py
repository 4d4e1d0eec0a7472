"""Decode a Hadoop snappy (BlockCompressorStream) stream from stdin to stdout.

Independent of Hydrant's Go code. Decodes twice and requires both to agree:
with python-snappy's own hadoop_snappy.StreamDecompressor, and with a strict
parse of the framing (block uncompressed length, then chunks whose decoded
lengths add up to it) that decodes chunks with C++ libsnappy.
"""
import struct
import sys

import snappy
from snappy import hadoop_snappy

data = sys.stdin.buffer.read()

d = hadoop_snappy.StreamDecompressor()
lib = d.decompress(data) + d.flush()

pos, out = 0, []
while pos < len(data):
    if pos + 4 > len(data):
        sys.exit("truncated block length at %d" % pos)
    (want,) = struct.unpack(">I", data[pos:pos + 4])
    pos += 4
    got = 0
    while got < want:
        if pos + 4 > len(data):
            sys.exit("truncated chunk length at %d" % pos)
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        pos += 4
        if pos + n > len(data):
            sys.exit("truncated chunk at %d: %d bytes" % (pos, n))
        chunk = snappy.uncompress(data[pos:pos + n])
        pos += n
        got += len(chunk)
        out.append(chunk)
    if got != want:
        sys.exit("block declares %d bytes, chunks hold %d" % (want, got))
strict = b"".join(out)
if strict != lib:
    sys.exit("hadoop_snappy module and strict parse disagree")
sys.stdout.buffer.write(strict)
