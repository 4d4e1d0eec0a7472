"""Extract the single entry of a ZIP object (path in argv[1]) to stdout.

Independent of Hydrant's Go code (Python's zipfile). Requires exactly one
deflated, streamed (data descriptor) entry whose name matches argv[2], and a
clean CRC check.
"""
import re
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as z:
    infos = z.infolist()
    if len(infos) != 1:
        sys.exit("%d entries, want 1" % len(infos))
    info = infos[0]
    if not re.fullmatch(sys.argv[2], info.filename):
        sys.exit("entry name %r does not match %r" % (info.filename, sys.argv[2]))
    if info.compress_type != zipfile.ZIP_DEFLATED:
        sys.exit("method %d, want deflate" % info.compress_type)
    if not info.flag_bits & 0x08:
        sys.exit("no data descriptor flag: flags %#x" % info.flag_bits)
    bad = z.testzip()
    if bad is not None:
        sys.exit("bad CRC in %r" % bad)
    sys.stdout.buffer.write(z.read(info))
