/** `buf` without a UTF-8 character that its last bytes begin but do not finish. */
export function utf8Trim(buf: Buffer): Buffer {
  let i = buf.length - 1;
  while (i >= 0 && buf.length - i < 4 && (buf[i] & 0xc0) === 0x80) i--;
  if (i < 0) return buf;
  const lead = buf[i];
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return buf.length - i < need ? buf.subarray(0, i) : buf;
}

/** The longest prefix of `buf` of at most `max` bytes that does not cut a UTF-8 character in two. */
export function utf8Prefix(buf: Buffer, max: number): Buffer {
  return buf.length <= max ? buf : utf8Trim(buf.subarray(0, max));
}
