import { shellQuote as q } from '../../names.js';
import { parseHostTools, toolsCommands, type HostTools } from './tools.js';
import { READ_CURRENT, parseSections, section } from './root.js';

/** Lines of history read back: enough for `previous` and pruning. */
const HISTORY_TAIL = 1000;

/**
 * Reports the host's state in sections: the tools a transfer uses, current target, each release
 * with its manifest, the leftovers of interrupted deploys, the lock, the history tail and
 * whether tar is there.
 */
export function inspectScript(root: string, nonce: string): string {
  return [
    'set -u',
    section(nonce, 'tools'),
    ...toolsCommands(),
    `cd ${q(root)} 2>/dev/null || { ${section(nonce, 'absent')}; exit 0; }`,
    `if [ -d .deploy ] || [ -d releases ]; then ${section(nonce, 'deploy-root')}; fi`,
    section(nonce, 'current'),
    READ_CURRENT,
    `for d in releases/*; do`,
    `  [ -d "$d" ] && [ ! -h "$d" ] || continue`,
    `  ${section(nonce, 'release')}`,
    `  printf '%s' "\${d#releases/}"`,
    `  if [ -f "$d/.release/release.json" ]; then ${section(nonce, 'manifest')}; cat "$d/.release/release.json"; fi`,
    `  if [ -f "$d/.release/release.json.sig" ]; then ${section(nonce, 'signature')}; cat "$d/.release/release.json.sig"; fi`,
    `done`,
    `if [ -d .deploy/lock ]; then`,
    `  ${section(nonce, 'lock')}`,
    `  cat .deploy/lock/info 2>/dev/null`,
    `  ${section(nonce, 'lock-heartbeat')}`,
    `  cat .deploy/lock/heartbeat 2>/dev/null`,
    `fi`,
    section(nonce, 'now'),
    `date +%s`,
    section(nonce, 'history'),
    `tail -n ${HISTORY_TAIL} .deploy/history 2>/dev/null`,
    section(nonce, 'tar'),
    `command -v tar 2>/dev/null`,
    section(nonce, 'end'),
    '',
  ].join('\n');
}

export interface HostSnapshot {
  /** Whether the deploy root exists at all. */
  exists: boolean;
  /** Whether it holds a deploy (.deploy or releases): a directory destroy may remove. */
  deployRoot: boolean;
  /** The release `current` points to, when it points into releases/. */
  current: string | undefined;
  /** Complete releases (renamed into place), with their manifest and signature when present. */
  releases: { id: string; manifest: Buffer | undefined; signature: Buffer | undefined }[];
  /** Names under releases/ left by interrupted deploys (`*.tmp`). */
  leftovers: string[];
  lock: { info: string; heartbeat: number | undefined } | undefined;
  /** The host's clock, seconds since the epoch. */
  now: number | undefined;
  history: string;
  tar: boolean;
  /** What a transfer can use: a decompressor, a hash tool, stamps. */
  tools: HostTools;
}

/** Seconds since the epoch as a script printed them (`date +%s`), or undefined. */
export function seconds(text: string): number | undefined {
  const trimmed = text.trim();
  return /^[0-9]+$/.test(trimmed) ? Number(trimmed) : undefined;
}

/** The release ID a `current` link names: `releases/<id>`, relative or under the root. */
function currentRelease(target: string): string | undefined {
  const match = /(?:^|\/)releases\/([^/]+)\/?$/.exec(target);
  return match?.[1];
}

export function parseInspect(stdout: Buffer, nonce: string): HostSnapshot {
  const snapshot: HostSnapshot = {
    exists: true,
    deployRoot: false,
    current: undefined,
    releases: [],
    leftovers: [],
    lock: undefined,
    now: undefined,
    history: '',
    tar: false,
    tools: { decompressor: undefined, hash: undefined, stamps: false },
  };
  let ended = false;
  let lastRelease: HostSnapshot['releases'][number] | undefined;
  for (const { name, body } of parseSections(stdout, nonce)) {
    const text = body.toString('utf8');
    switch (name) {
      case 'tools':
        snapshot.tools = parseHostTools(text);
        break;
      case 'absent':
        snapshot.exists = false;
        ended = true;
        break;
      case 'deploy-root':
        snapshot.deployRoot = true;
        break;
      case 'current':
        snapshot.current = currentRelease(text.replace(/\n$/, ''));
        break;
      case 'release':
        lastRelease = text.endsWith('.tmp')
          ? undefined
          : { id: text, manifest: undefined, signature: undefined };
        if (lastRelease) snapshot.releases.push(lastRelease);
        else snapshot.leftovers.push(text);
        break;
      case 'manifest':
        if (lastRelease) lastRelease.manifest = body;
        break;
      case 'signature':
        if (lastRelease) lastRelease.signature = body;
        break;
      case 'lock':
        snapshot.lock = { info: text.trim(), heartbeat: undefined };
        break;
      case 'lock-heartbeat':
        if (snapshot.lock) snapshot.lock.heartbeat = seconds(text);
        break;
      case 'now':
        snapshot.now = seconds(text);
        break;
      case 'history':
        snapshot.history = text;
        break;
      case 'tar':
        snapshot.tar = text.trim() !== '';
        break;
      case 'end':
        ended = true;
        break;
    }
  }
  if (!ended) throw new Error('the host state report was cut short');
  return snapshot;
}
