// Just enough of PNG (ISO/IEC 15948) to check a browser's screenshot: the IHDR size and the
// pixels of an 8-bit RGB or RGBA image without interlace, with the five scanline filters undone.
import { inflateSync } from 'node:zlib';

export interface Png {
  width: number;
  height: number;
  /** Bytes per pixel: 3 (RGB) or 4 (RGBA). */
  channels: number;
  /** Rows of width × channels bytes, unfiltered. */
  pixels: Buffer;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunks(file: Buffer): { type: string; data: Buffer }[] {
  if (!file.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file');
  const list: { type: string; data: Buffer }[] = [];
  for (let at = 8; at + 8 <= file.length; ) {
    const length = file.readUInt32BE(at);
    list.push({ type: file.toString('latin1', at + 4, at + 8), data: file.subarray(at + 8, at + 8 + length) });
    at += 12 + length; // length, type, data, CRC
  }
  return list;
}

/** Width and height from the IHDR chunk, which comes first. */
export function pngSize(file: Buffer): { width: number; height: number } {
  const [header] = chunks(file);
  if (header?.type !== 'IHDR') throw new Error('PNG without IHDR first');
  return { width: header.data.readUInt32BE(0), height: header.data.readUInt32BE(4) };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function decodePng(file: Buffer): Png {
  const list = chunks(file);
  const { width, height } = pngSize(file);
  const header = list[0].data;
  const [depth, colour, interlace] = [header[8], header[9], header[12]];
  if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) {
    throw new Error(`PNG depth ${depth}, colour type ${colour}, interlace ${interlace}: only 8-bit RGB(A), not interlaced`);
  }
  const channels = colour === 6 ? 4 : 3;
  const data = inflateSync(Buffer.concat(list.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = data[y * (stride + 1)];
    const line = data.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? pixels[row + x - channels] : 0;
      const up = y > 0 ? pixels[row - stride + x] : 0;
      const upLeft = y > 0 && x >= channels ? pixels[row - stride + x - channels] : 0;
      const predictor = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter];
      if (predictor === undefined) throw new Error(`PNG row ${y} has filter type ${filter}`);
      pixels[row + x] = (line[x] + predictor) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** How many pixels are within `tolerance` of "#rrggbb" in every channel. */
export function countColour(png: Png, hex: string, tolerance = 2): number {
  const target = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let count = 0;
  for (let at = 0; at < png.pixels.length; at += png.channels) {
    if (target.every((value, c) => Math.abs(png.pixels[at + c] - value) <= tolerance)) count++;
  }
  return count;
}
