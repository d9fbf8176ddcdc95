import { Transform, type Readable } from 'node:stream';
import { formatBytes } from '../markdown.js';
import type { HostSession } from './session.js';

/** How often a long upload says how far it got. */
const EVERY_MS = 5000;

/**
 * Passes a stream through, saying in the host's log every few seconds how much of it has gone
 * to the host: a large upload is not silent until it ends.
 */
export function uploadProgress(
  session: Pick<HostSession, 'log' | 'label'>,
  stream: Readable,
  what: string,
  everyMs = EVERY_MS,
): Readable {
  let sent = 0;
  const started = Date.now();
  let last = started;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      const now = Date.now();
      if (now - last >= everyMs) {
        last = now;
        const rate = sent / ((now - started) / 1000);
        session.log.info(
          `host ${session.label}: ${what}: ${formatBytes(sent)} sent (${formatBytes(rate)}/s)`,
        );
      }
      done(null, chunk);
    },
  });
  stream.once('error', (error) => counter.destroy(error));
  // The host stopped reading (tar failed): the source goes too.
  counter.once('close', () => stream.destroy());
  return stream.pipe(counter);
}
