#!/usr/bin/env python3
"""Writes the LÖVE demo's sample files into DIR, the same bytes every time:

    python3 examples/love/sample_files.py DIR

hello.png (a small picture the game shows once it is downloaded), three
files of pseudo-random bytes, and SHA256SUMS (sha256sum's format).
"""
import hashlib
import math
import os
import random
import struct
import sys
import zlib

PNG_W, PNG_H = 192, 144


def picture():
    """Rows of RGB bytes: a sky gradient, a sun, two ranges of hills."""
    rows = []
    for y in range(PNG_H):
        row = bytearray()
        for x in range(PNG_W):
            t = y / PNG_H
            r, g, b = int(40 + 120 * t), int(90 + 110 * t), int(200 - 40 * t)  # sky
            if (x - 140) ** 2 + (y - 40) ** 2 <= 22 ** 2:
                r, g, b = 250, 200, 60                                        # sun
            if y > 92 + 14 * math.sin(x / 23.0):
                r, g, b = 60, 140, 80                                         # far hills
            if y > 110 + 10 * math.sin(x / 15.0 + 2):
                r, g, b = 30, 100, 50                                         # near hills
            row += bytes((r, g, b))
        rows.append(bytes(row))
    return rows


def png(rows):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", PNG_W, PNG_H, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    files = {"hello.png": png(picture())}
    for name, size in {"level1.pak": 1 << 20, "music.ogg": 2 << 20, "textures.bin": 3 << 20}.items():
        files[name] = random.Random(name).randbytes(size)
    sums = []
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        sums.append("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name))
    with open(os.path.join(out, "SHA256SUMS"), "w") as f:
        f.writelines(sums)


if __name__ == "__main__":
    main()
