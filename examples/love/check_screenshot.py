#!/usr/bin/env python3
"""Checks a screenshot of the LÖVE demo (examples/love/run_test.sh):

    python3 check_screenshot.py SHOT.png PICTURE.png BARS

- every one of the BARS bars is full: BARS horizontal runs of main.lua's
  DONE colour, all at the same x and of the same length, and no pixel of
  the empty track, a running bar or a failed bar anywhere;
- PICTURE is drawn whole and unscaled, pixel for pixel.

PNGs are decoded here with zlib alone (8-bit RGB or RGBA, not interlaced).
"""
import struct
import sys
import zlib

# main.lua's colours.
DONE = (0x3C, 0xB3, 0x70)
TRACK = (0x30, 0x33, 0x3D)
RUNNING = (0x45, 0x85, 0xE6)
FAILED = (0xDC, 0x42, 0x42)


def decode_png(path):
    """(width, height, rows): each row a bytes of RGB triples."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path + ": not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = header
    assert depth == 8 and ctype in (2, 6) and interlace == 0, "%s: unsupported PNG %r" % (path, header)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    if bpp == 4:  # drop alpha
        rows = [bytes(b for i, b in enumerate(row) if i % 4 != 3) for row in rows]
    return width, height, rows


def runs(row, colour, min_len):
    """[(x0, x1)]: the runs of `colour` in a row at least min_len pixels long."""
    found, x, width = [], 0, len(row) // 3
    while x < width:
        if tuple(row[3 * x:3 * x + 3]) == colour:
            x0 = x
            while x < width and tuple(row[3 * x:3 * x + 3]) == colour:
                x += 1
            if x - x0 >= min_len:
                found.append((x0, x))
        else:
            x += 1
    return found


def main():
    shot, picture, bars = sys.argv[1], sys.argv[2], int(sys.argv[3])
    width, height, rows = decode_png(shot)
    problems = []

    for name, colour in (("empty track", TRACK), ("running bar", RUNNING), ("failed bar", FAILED)):
        pixel = bytes(colour)
        hits = [y for y, row in enumerate(rows) if any(row[i:i + 3] == pixel for i in range(0, len(row), 3))]
        if hits:
            problems.append("%s colour %02x%02x%02x on rows %s" % (name, *colour, hits[:5]))

    # Bars: groups of consecutive rows holding one long DONE run.
    groups, extents, last = 0, set(), None
    for y, row in enumerate(rows):
        found = runs(row, DONE, 100)
        if found:
            extents.update(found)
            if last != y - 1:
                groups += 1
            last = y
    if groups != bars or len(extents) != 1:
        problems.append("expected %d full bars, found %d (runs %s)" % (bars, groups, sorted(extents)[:5]))

    # The picture, found by its first row, then compared row by row.
    pw, ph, prows = decode_png(picture)
    at = None
    for y in range(height - ph + 1):
        x = rows[y].find(prows[0])
        while x != -1 and x % 3:
            x = rows[y].find(prows[0], x + 1)
        if x != -1 and all(rows[y + j][x:x + 3 * pw] == prows[j] for j in range(ph)):
            at = (x // 3, y)
            break
    if at is None:
        problems.append("the picture (%dx%d) is not drawn pixel for pixel" % (pw, ph))

    for p in problems:
        print("FAIL: " + p)
    if problems:
        sys.exit(1)
    print("screenshot %dx%d: %d full bars at x %d..%d, the picture at %s" % (
        width, height, groups, *sorted(extents)[0], at))


if __name__ == "__main__":
    main()
