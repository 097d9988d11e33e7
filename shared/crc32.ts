// CRC-32 (IEEE) over the char codes of an ASCII string. Kept in plain JS so that the token format
// can be checked in a browser as well as on the server.
const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

export function crc32(ascii: string): number {
  let crc = -1;
  for (let i = 0; i < ascii.length; i++) {
    crc = (TABLE[(crc ^ ascii.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ -1) >>> 0;
}
