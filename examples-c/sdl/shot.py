#!/usr/bin/env python3
"""Screenshots of the SDL2 demo, with the standard library only.

    shot.py png SHOT.bmp SHOT.png
        converts the BMP the demo saved (SDL_SaveBMP) to a PNG
    shot.py check SHOT.png LOG NAME=STATE...
        checks the bars the demo listed in LOG ("bar NAME STATE X Y W H",
        the inside of each bar) against the screenshot: exactly the NAMEs
        given, each in its STATE, and every pixel inside each bar in that
        state's colour: the bar is full, across its whole width
"""
import struct
import sys
import zlib

# The colours of examples-c/sdl/main.c (COL_DONE, COL_FAILED, COL_CANCELLED).
COLOURS = {"done": (60, 190, 90), "failed": (215, 60, 60), "cancelled": (225, 165, 40)}


def read_bmp(path):
    """(width, height, rows of RGB tuples, top row first) of a 24-bit BMP."""
    data = open(path, "rb").read()
    if data[:2] != b"BM":
        sys.exit(f"{path}: not a BMP")
    offset = struct.unpack_from("<I", data, 10)[0]
    width, height, _, bpp, compression = struct.unpack_from("<iiHHI", data, 18)
    if bpp != 24 or compression != 0:
        sys.exit(f"{path}: {bpp} bits per pixel, compression {compression}: not handled")
    stride = (width * 3 + 3) & ~3
    rows = []
    for y in range(abs(height)):
        start = offset + y * stride
        row = data[start:start + width * 3]
        rows.append([(row[i + 2], row[i + 1], row[i]) for i in range(0, len(row), 3)])
    if height > 0:  # bottom-up
        rows.reverse()
    return width, abs(height), rows


def write_png(path, width, height, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\0" + bytes(c for px in row for c in px) for row in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def read_png(path):
    """Reads the PNGs write_png makes (8-bit RGB, filter 0 on every row)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack_from(">IIBB", body)
            if (depth, colour) != (8, 2):
                sys.exit(f"{path}: not 8-bit RGB")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    rows = []
    for y in range(height):
        line = raw[y * stride:(y + 1) * stride]
        if line[0] != 0:
            sys.exit(f"{path}: row {y} uses PNG filter {line[0]}")
        rows.append([tuple(line[1 + 3 * x:4 + 3 * x]) for x in range(width)])
    return width, height, rows


def check(png, log, expected):
    width, height, rows = read_png(png)
    bars = {}
    for line in open(log):
        if line.startswith("bar "):
            _, name, state, *rect = line.split()
            bars[name] = (state, *map(int, rect))
    want = dict(e.split("=", 1) for e in expected)
    problems = []
    if set(bars) != set(want):
        problems.append(f"bars {sorted(bars)}, expected {sorted(want)}")
    for name, (state, x, y, w, h) in sorted(bars.items()):
        if name in want and state != want[name]:
            problems.append(f"{name}: state {state}, expected {want[name]}")
        colour = COLOURS.get(state)
        if colour is None:
            problems.append(f"{name}: state {state} is not an ended state")
            continue
        if w < 100 or h < 4 or x < 1 or y < 1 or x + w >= width or y + h >= height:
            problems.append(f"{name}: bar rectangle {x},{y} {w}x{h} outside the {width}x{height} image")
            continue
        wrong = sum(rows[py][px] != colour for py in range(y, y + h) for px in range(x, x + w))
        if wrong:
            problems.append(f"{name}: {wrong} of {w * h} pixels inside the bar are not {state} {colour}")
        # The border around it is not the bar's colour: the rectangle is the bar.
        edge = [rows[y - 1][x + w // 2], rows[y + h][x + w // 2], rows[y + h // 2][x - 1], rows[y + h // 2][x + w]]
        if colour in edge:
            problems.append(f"{name}: the bar's colour runs past its rectangle")
    for p in problems:
        print("screenshot:", p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"screenshot: {len(bars)} bars full, in their colours ({width}x{height})")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "png":
        width, height, rows = read_bmp(sys.argv[2])
        write_png(sys.argv[3], width, height, rows)
        if read_png(sys.argv[3])[2] != rows:
            sys.exit("png: the PNG does not read back as the BMP")
    elif len(sys.argv) >= 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
