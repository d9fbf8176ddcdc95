import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { uploadProgress } from '../../../../shared/host/progress.js';
import { silentLog } from '../../../../shared/log.js';

describe('upload progress', () => {
  it('says every so often how much has gone, and passes every byte through', async () => {
    const lines: string[] = [];
    const session = {
      label: 'deploy@web-1',
      log: { ...silentLog, info: (l: string) => lines.push(l) },
    };
    const source = Readable.from(
      (async function* () {
        for (let i = 0; i < 6; i++) {
          await sleep(30);
          yield Buffer.alloc(1024 * 1024, i);
        }
      })(),
    );
    const chunks: Buffer[] = [];
    for await (const chunk of uploadProgress(session, source, 'uploading v3', 50)) {
      chunks.push(chunk as Buffer);
    }
    expect(Buffer.concat(chunks).length).toBe(6 * 1024 * 1024);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line).toMatch(
        /^host deploy@web-1: uploading v3: [0-9.]+ MiB sent \([0-9.]+ [KM]iB\/s\)$/,
      );
    }
  });
});
