import { once } from 'node:events';
import type { Header, Pack } from 'tar-stream';

/** What tar-stream's pack takes: a name and any other header fields. */
export type TarHeader = Partial<Header> & Pick<Header, 'name'>;
import type { EntryKind } from './rules.js';

/** The only modes a bundle carries: no setuid, no group or world write, no owner quirks. */
export function entryMode(kind: EntryKind, executable: boolean): number {
  if (kind === 'directory') return 0o755;
  if (kind === 'symlink') return 0o777;
  return executable ? 0o755 : 0o644;
}

/** A normalised tar header: uid/gid 0, no user or group names, `/` after a directory's name. */
export function tarHeader(
  entry: { path: string; kind: EntryKind; size: number; executable: boolean; linkTarget?: string },
  mtime: Date,
): TarHeader {
  return {
    name: entry.kind === 'directory' ? `${entry.path}/` : entry.path,
    type: entry.kind,
    mode: entryMode(entry.kind, entry.executable),
    uid: 0,
    gid: 0,
    size: entry.kind === 'file' ? entry.size : 0,
    mtime,
    ...(entry.kind === 'symlink' ? { linkname: entry.linkTarget ?? '' } : {}),
  };
}

/** Adds one entry to a tar-stream pack and resolves once the pack has taken all of it. */
export async function addTarEntry(
  pack: Pack,
  header: TarHeader,
  content?: Buffer | AsyncIterable<Buffer>,
): Promise<void> {
  let settle: (error?: Error | null) => void = () => undefined;
  const taken = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  if (content === undefined || Buffer.isBuffer(content)) {
    if (content === undefined) pack.entry(header, settle);
    else pack.entry(header, content, settle);
    return taken;
  }
  // A failed entry settles `taken` with the error; until then this only keeps it handled.
  taken.catch(() => undefined);
  const sink = pack.entry(header, settle);
  // A pack destroyed mid-entry destroys the entry with the same error, which `taken` carries.
  sink.on('error', () => undefined);
  for await (const chunk of content) {
    if (!sink.write(chunk)) await Promise.race([once(sink, 'drain'), taken]);
  }
  sink.end(undefined);
  return taken;
}
