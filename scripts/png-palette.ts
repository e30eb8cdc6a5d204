// Rewrites a screenshot as an 8-bit palette PNG (a third of the size or less): the 256 most frequent
// colours, every other pixel mapped to the nearest of them. A workbench screenshot is mostly flat
// colours plus anti-aliased text, which this keeps well. Reads only what Chromium writes (8-bit RGB or
// RGBA, not interlaced); returns undefined for anything else, and the caller keeps the original.
import { crc32, deflateSync, inflateSync } from "node:zlib";

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface Rgb {
  width: number;
  height: number;
  /** width*height packed 0xRRGGBB (alpha dropped: screenshots are opaque). */
  pixels: Uint32Array;
}

function decode(png: Buffer): Rgb | undefined {
  if (!png.subarray(0, 8).equals(SIGNATURE)) return undefined;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, color, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || interlace !== 0 || (color !== 2 && color !== 6)) return undefined;
      channels = color === 2 ? 3 : 4;
    } else if (type === "IDAT") idat.push(data);
    at += 12 + len;
  }
  if (!channels) return undefined;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const rows = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const out = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? (rows[out + x - channels] ?? 0) : 0;
      const b = y > 0 ? (rows[out - stride + x] ?? 0) : 0;
      const c = y > 0 && x >= channels ? (rows[out - stride + x - channels] ?? 0) : 0;
      const v = raw[src + x] ?? 0;
      let p: number;
      if (filter === 0) p = v;
      else if (filter === 1) p = v + a;
      else if (filter === 2) p = v + b;
      else if (filter === 3) p = v + ((a + b) >> 1);
      else if (filter === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        p = v + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      } else return undefined;
      rows[out + x] = p & 0xff;
    }
  }
  const pixels = new Uint32Array(width * height);
  for (let i = 0; i < pixels.length; i++) {
    const o = i * channels;
    pixels[i] = ((rows[o] ?? 0) << 16) | ((rows[o + 1] ?? 0) << 8) | (rows[o + 2] ?? 0);
  }
  return { width, height, pixels };
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

export function toPalettePng(png: Buffer): Buffer | undefined {
  const img = decode(png);
  if (!img) return undefined;
  const counts = new Map<number, number>();
  for (const p of img.pixels) counts.set(p, (counts.get(p) ?? 0) + 1);
  const palette = [...counts.entries()]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 256)
    .map(([c]) => c);
  const index = new Map<number, number>(palette.map((c, i) => [c, i]));
  const nearest = (c: number): number => {
    let best = 0;
    let bestD = Number.POSITIVE_INFINITY;
    for (let i = 0; i < palette.length; i++) {
      const q = palette[i] ?? 0;
      const dr = ((c >> 16) & 0xff) - ((q >> 16) & 0xff);
      const dg = ((c >> 8) & 0xff) - ((q >> 8) & 0xff);
      const db = (c & 0xff) - (q & 0xff);
      const d = 3 * dr * dr + 4 * dg * dg + 2 * db * db;
      if (d < bestD) [best, bestD] = [i, d];
    }
    index.set(c, best);
    return best;
  };
  const { width, height } = img;
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const c = img.pixels[y * width + x] ?? 0;
      raw[y * (width + 1) + 1 + x] = index.get(c) ?? nearest(c);
    }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8);
  const plte = Buffer.alloc(palette.length * 3);
  for (const [i, c] of palette.entries()) plte.set([(c >> 16) & 0xff, (c >> 8) & 0xff, c & 0xff], i * 3);
  return Buffer.concat([SIGNATURE, chunk("IHDR", ihdr), chunk("PLTE", plte), chunk("IDAT", deflateSync(raw, { level: 9 })), chunk("IEND", Buffer.alloc(0))]);
}
