import { describe, expect, it } from 'vitest';
import {
  changeSummary,
  chainTo,
  serializeManifest,
  type Manifest,
} from '../../../shared/manifest.js';
import { BODY_LIMIT, releaseNotes } from '../../../shared/release/notes.js';

const SHA = 'c'.repeat(40);
const DIGEST = `sha256:${'d'.repeat(64)}`;

function manifest(id: string, vars: Record<string, string>, previous?: Manifest): Manifest {
  const made: Manifest = {
    schemaVersion: 1,
    app: 'shop',
    environment: 'production',
    id,
    created: '2025-01-01T00:00:00Z',
    actor: 'octocat',
    run: { id: 1, attempt: 1, url: 'https://github.com/acme/shop/actions/runs/1' },
    build: {
      sha: SHA,
      digest: DIGEST,
      size: 1024,
      compression: 'zstd',
      artifact: { id: 1, name: `shop-${SHA}.tar.zst` },
    },
    config: { vars, secrets: null },
    previous: previous ? chainTo({ manifest: previous, bytes: serializeManifest(previous) }) : null,
    changes: '',
  };
  made.changes = changeSummary(previous, made);
  return made;
}

describe('the release body', () => {
  it('names the build’s commit (the tag points elsewhere) and shows changed values', () => {
    const v1 = manifest('v1', { PORT: '8080' });
    const v2 = manifest('v2', { PORT: '9090' }, v1);
    const body = releaseNotes({
      tag: 'shop/production/v2',
      manifest: v2,
      previous: v1,
      digest: DIGEST,
    });
    expect(body).toContain(`\`${SHA}\``);
    expect(body).toContain('~ PORT "8080" -> "9090"');
  });

  it('stays within GitHub’s 125,000 characters, summarising and pointing at release.json', () => {
    const big = (n: number) =>
      Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`KEY_${i}`, `${n}`.repeat(60)]));
    const v1 = manifest('v1', big(1));
    const v2 = manifest('v2', big(2), v1);
    const body = releaseNotes({
      tag: 'shop/production/v2',
      manifest: v2,
      previous: v1,
      digest: DIGEST,
    });
    expect(body.length).toBeLessThanOrEqual(BODY_LIMIT);
    expect(BODY_LIMIT).toBeLessThan(125_000);
    expect(body).toContain('Too long to show here: the values are in release.json.');
    expect(body).toContain('and 2950 more');
    expect(body).toContain(`\`${SHA}\``);
    expect(body).toContain('release-id: v2');
  });
});
