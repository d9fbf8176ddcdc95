import { gzipSync, zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { INDEX_HEADER } from '../../../../shared/bundle/file-index.js';
import {
  ArrivingOutput,
  decompressedOutput,
  MAX_REPORT_BYTES,
  MAX_UNREAD,
  readBaseCheck,
} from '../../../../shared/host/base-report.js';

/*
 * The base check's report is read as it is decompressed, never held whole (an index of a large
 * release is megabytes): however the bytes are cut, the same lines and paths come out, and a
 * report that is not whole is no report.
 */

const nonce = 'c0ffee';
const index = [
  INDEX_HEADER,
  `app.js\tf\t644\t3\t${'a'.repeat(64)}\t-`,
  `café/menü.txt\tf\t644\t5\t${'b'.repeat(64)}\t-`,
  `lib\td\t755\t0\t-\t-`,
];
const report = `${index.join('\n')}\n${nonce} unverified\ncafé/menü.txt\n${nonce} end\n`;

async function read(pieces: Iterable<Buffer> | AsyncIterable<Buffer>) {
  const lines: string[] = [];
  const unverified = await readBaseCheck(pieces, nonce, { index: (line) => lines.push(line) });
  return { lines, unverified };
}

describe('the base check report', () => {
  it('gives the same lines and paths wherever its bytes are cut, inside a character too', async () => {
    const bytes = Buffer.from(report);
    expect(bytes.length).toBeGreaterThan(report.length);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const got = await read([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(got.lines, `cut at ${cut}`).toEqual(index);
      expect(got.unverified, `cut at ${cut}`).toEqual(new Set(['café/menü.txt']));
    }
    const byteByByte = [...bytes].map((byte) => Buffer.from([byte]));
    expect((await read(byteByByte)).unverified).toEqual(new Set(['café/menü.txt']));
  });

  it('reads what the host compressed, zstd in several frames or gzip, as it decompresses', async () => {
    const bytes = Buffer.from(report);
    const frames = Buffer.concat([
      zstdCompressSync(bytes.subarray(0, 50)),
      zstdCompressSync(bytes.subarray(50)),
    ]);
    for (const [decompressor, stdout] of [
      ['zstd', frames],
      ['gzip', gzipSync(bytes)],
      [undefined, bytes],
    ] as const) {
      const got = await read(decompressedOutput(stdout, decompressor));
      expect(got.lines, String(decompressor)).toEqual(index);
      expect(got.unverified, String(decompressor)).toEqual(new Set(['café/menü.txt']));
      // As it arrives from the host: in pieces, each a few bytes, with time between them.
      async function* arriving(): AsyncGenerator<Buffer> {
        for (let at = 0; at < stdout.length; at += 7) {
          await new Promise((resolve) => setImmediate(resolve));
          yield stdout.subarray(at, at + 7);
        }
      }
      const streamed = await read(decompressedOutput(arriving(), decompressor));
      expect(streamed, `${String(decompressor)}, as it arrives`).toEqual(got);
    }
  });

  it('is no report when cut short, followed by more, or when its index does not end a line', async () => {
    const whole = await read([Buffer.from(report)]);
    expect(whole.unverified).toBeDefined();
    for (const broken of [
      report.slice(0, -1),
      report.slice(0, report.indexOf(`${nonce} end`)),
      report.slice(0, report.indexOf(`${nonce} unverified`)),
      `${report}more\n`,
      `${report}more`,
      report.replace(`\n${nonce} unverified`, `${nonce} unverified`),
      report.replaceAll(nonce, 'another'),
      '',
    ]) {
      expect(
        (await read([Buffer.from(broken)])).unverified,
        JSON.stringify(broken),
      ).toBeUndefined();
    }
  });

  it('stops reading a host output that cannot be a report: a line too long, or too much of it', async () => {
    let pulled = 0;
    function* endless(piece: Buffer): Generator<Buffer> {
      for (;;) {
        pulled++;
        yield piece;
      }
    }
    // No newline at all: no line of a report is a megabyte long.
    expect((await read(endless(Buffer.alloc(1024 * 1024, 'a')))).unverified).toBeUndefined();
    expect(pulled).toBe(1);
    // Well-formed lines without end: read up to the limit and no further.
    pulled = 0;
    const line = `${'x'.repeat(4000)}\tf\t644\t1\t${'c'.repeat(64)}\t-\n`;
    const lines = Buffer.from(`${INDEX_HEADER}\n${line.repeat(256)}`);
    let seen = 0;
    expect(await readBaseCheck(endless(lines), nonce, { index: () => seen++ })).toBeUndefined();
    expect(seen).toBeGreaterThan(100_000);
    expect(pulled).toBe(Math.floor(MAX_REPORT_BYTES / lines.length) + 1);
  });

  it('keeps what arrives for its reader only up to a bound, and nothing once the reader is done', async () => {
    const bytes = Buffer.from(report);
    // Read as it arrives: the same report.
    const arriving = new ArrivingOutput();
    const reading = read(arriving);
    for (let at = 0; at < bytes.length; at += 5) {
      arriving.push(bytes.subarray(at, at + 5));
      await new Promise((resolve) => setImmediate(resolve));
    }
    arriving.end();
    expect((await reading).unverified).toEqual(new Set(['café/menü.txt']));

    // A host that writes faster than the runner reads: past the bound, the output ends there.
    const flooded = new ArrivingOutput();
    const piece = Buffer.alloc(1024 * 1024, 'x');
    for (let n = 0; n < 40; n++) flooded.push(piece);
    expect(flooded.unread).toBe(MAX_UNREAD);
    let chunks = 0;
    for await (const chunk of flooded) chunks += chunk.length > 0 ? 1 : 0;
    expect(chunks).toBe(MAX_UNREAD / piece.length);

    // Once its reader stops (no report can follow a line this long), what arrives is dropped.
    const refused = new ArrivingOutput();
    const stopped = read(refused);
    refused.push(piece);
    expect((await stopped).unverified).toBeUndefined();
    refused.stop();
    for (let n = 0; n < 40; n++) refused.push(piece);
    expect(refused.unread).toBe(0);
  });
});
