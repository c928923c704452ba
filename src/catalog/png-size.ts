const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngFacts {
  width: number;
  height: number;
  /** Colour type 4 or 6 (grey/RGB with alpha) or a tRNS chunk: the catalogs prefer transparent logos. */
  hasAlpha: boolean;
}

/** Width, height and transparency of a PNG from its IHDR chunk (PNG spec §11.2.2), or null when it is not a PNG. */
export function readPng(bytes: Buffer): PngFacts | null {
  if (bytes.length < 33 || !bytes.subarray(0, 8).equals(SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR') return null;
  const colourType = bytes[25]!;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), hasAlpha: colourType === 4 || colourType === 6 || bytes.includes('tRNS', 33, 'latin1') };
}
