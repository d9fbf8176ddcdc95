import { createHash, randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitHubClient } from '../../../shared/github.js';
import { downloadAsset, sendAsset } from '../../../shared/ledger/assets.js';
import type { Log } from '../../../shared/log.js';
import { startGitHub, type GitHubEmulator } from '../../emulator/index.js';

v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let github: GitHubEmulator;

beforeAll(async () => {
  github = await startGitHub();
});

afterAll(async () => {
  await github?.stop();
});

describe('a release asset downloaded', () => {
  it('arrives whole though the Response it came in was collected before its first byte was read', async () => {
    const repository = { owner: 'acme', repo: 'assets' };
    github.createRepository('acme/assets');
    // The client the actions use: its retry and throttling plugins answer a few turns later.
    const log = { info: () => undefined, warning: () => undefined } as unknown as Log;
    const client = gitHubClient({ token: github.token, apiUrl: github.apiUrl, log });
    const { data: release } = await client.rest.repos.createRelease({
      ...repository,
      tag_name: 'v1',
      draft: true,
    });
    const bytes = randomBytes(100_000);
    const asset = await sendAsset(client, release.upload_url, {
      name: 'release.json',
      contentType: 'application/octet-stream',
      body: { bytes },
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    });
    // Octokit hands on the body alone; between its answer and the first read, a collection
    // and a turn for what it queued (fetch cancels the body of a Response collected unread).
    client.hook.after('request', async () => {
      collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 20));
    });
    for (let attempt = 0; attempt < 3; attempt++) {
      const downloaded = await downloadAsset(client, repository, asset.id);
      expect(downloaded.length).toBe(bytes.length);
      expect(downloaded.equals(bytes)).toBe(true);
    }
  });
});
