import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  appName,
  environmentName,
  parseHost,
  releaseId,
  releaseNumber,
  releaseSelector,
  releaseTag,
  shellQuote,
} from '../../../shared/names.js';

describe('names', () => {
  it('accepts ordinary app and environment names', () => {
    for (const name of ['shop', 'my-app', 'api.v2', 'A_1']) expect(appName.parse(name)).toBe(name);
    for (const name of ['production', 'pr-12', 'eu.staging']) {
      expect(environmentName.parse(name)).toBe(name);
    }
  });

  it('refuses names that could escape a path, a tag or a shell word', () => {
    for (const bad of [
      '',
      '-rf',
      '../x',
      'a/b',
      'a b',
      '$(id)',
      "a'b",
      'a..b',
      'x.lock',
      '.hidden',
    ]) {
      expect(appName.safeParse(bad).success, bad).toBe(false);
      expect(environmentName.safeParse(bad).success, bad).toBe(false);
    }
  });

  it('numbers v<N> IDs only', () => {
    expect(releaseNumber('v12')).toBe(12);
    expect(releaseNumber('v0')).toBeUndefined();
    expect(releaseNumber('v012')).toBeUndefined();
    expect(releaseNumber('hotfix-1')).toBeUndefined();
  });

  it('selects latest, previous or an ID', () => {
    for (const ok of ['latest', 'previous', 'v3', 'hotfix-1']) {
      expect(releaseSelector.safeParse(ok).success).toBe(true);
    }
    expect(releaseSelector.safeParse('v3; rm -rf /').success).toBe(false);
  });

  it('never takes a selector, or a name a host keeps for a release being received, as an ID', () => {
    for (const reserved of ['latest', 'previous', 'v3.tmp']) {
      const result = releaseId.safeParse(reserved);
      expect(result.success, reserved).toBe(false);
      expect(result.error?.issues[0]?.message).toBe(
        `expected a release ID other than 'latest' and 'previous' (they select a release), not ending in .tmp, got "${reserved}"`,
      );
    }
    for (const ok of ['v3', 'latest-fix', 'previously', 'v3.tmp.1']) {
      expect(releaseId.safeParse(ok).success, ok).toBe(true);
    }
    expect(releaseSelector.safeParse('v3.tmp').error?.issues[0]?.message).toBe(
      'expected latest, previous or a release ID (like v12), got "v3.tmp"',
    );
  });

  it('builds and reads release tags', () => {
    expect(releaseTag('shop', 'production', 'v7')).toBe('shop/production/v7');
  });
});

describe('parseHost', () => {
  it('reads local and user@host[:port]', () => {
    expect(parseHost('local')).toEqual({ kind: 'local', label: 'local' });
    expect(parseHost('deploy@web-1.example.com')).toEqual({
      kind: 'ssh',
      user: 'deploy',
      host: 'web-1.example.com',
      port: 22,
      label: 'deploy@web-1.example.com',
    });
    expect(parseHost('deploy@127.0.0.1:2222')).toMatchObject({ host: '127.0.0.1', port: 2222 });
    expect(parseHost('deploy@[::1]:2200')).toMatchObject({ host: '::1', port: 2200 });
  });

  it('refuses lines that are not hosts', () => {
    for (const bad of [
      'web-1',
      'deploy@',
      'deploy@host:0',
      'deploy@host:70000',
      '-oProxyCommand=x@host',
      'deploy@host;id',
      'deploy@-host',
      'de ploy@host',
    ]) {
      expect(parseHost(bad), bad).toBeUndefined();
    }
  });
});

describe('shellQuote', () => {
  it('passes any string through sh as one argument, unchanged', () => {
    const values = [
      `it's`,
      '$(touch /tmp/pwned)',
      '`id`',
      'a b\nc',
      '\\$HOME',
      '"',
      "''",
      'ünïcødé',
    ];
    for (const value of values) {
      const echoed = execFileSync('sh', ['-c', `printf %s ${shellQuote(value)}`], {
        encoding: 'utf8',
      });
      expect(echoed).toBe(value);
    }
  });

  it('refuses NUL', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});
