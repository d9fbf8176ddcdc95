import { describe, expect, it } from 'vitest';
import { parseRepository, repositoryFromRemote } from '../../../cli/src/git-remote.js';
import { ghHostname } from '../../../cli/src/token.js';

describe('the repository of a git remote', () => {
  it.each([
    ['https://github.com/acme/shop.git', 'acme/shop'],
    ['https://github.com/acme/shop', 'acme/shop'],
    ['https://github.com/acme/shop/', 'acme/shop'],
    ['https://x-access-token:ghs_abc@github.com/acme/shop.git', 'acme/shop'],
    ['git@github.com:acme/shop.git', 'acme/shop'],
    ['git@github.com:acme/my.app', 'acme/my.app'],
    ['ssh://git@github.com/acme/shop.git', 'acme/shop'],
    ['ssh://git@ssh.github.com:443/acme/shop.git', 'acme/shop'],
    ['git://github.com/acme/shop.git', 'acme/shop'],
    ['https://octo.ghe.com/acme/shop.git\n', 'acme/shop'],
  ])('%s is %s', (url, expected) => {
    const repository = repositoryFromRemote(url);
    expect(repository && `${repository.owner}/${repository.repo}`).toBe(expected);
  });

  it.each([
    'https://github.com/acme',
    'https://github.com/acme/shop/tree/main',
    'file:///srv/git/shop.git',
    '/srv/git/shop.git',
    'git@github.com:/acme/shop.git',
    'https://github.com/-acme/shop',
    'https://github.com/acme/..',
  ])('%s names no repository', (url) => {
    expect(repositoryFromRemote(url)).toBeUndefined();
  });

  it('--repo takes owner/name only', () => {
    expect(parseRepository('acme/shop')).toEqual({ owner: 'acme', repo: 'shop' });
    for (const text of ['acme', 'acme/shop/x', '/shop', 'acme/', 'ac me/shop']) {
      expect(parseRepository(text)).toBeUndefined();
    }
  });
});

describe('the host gh keeps a token for', () => {
  it.each([
    ['https://api.github.com', 'github.com'],
    ['https://api.octo.ghe.com', 'octo.ghe.com'],
    ['http://127.0.0.1:8080', '127.0.0.1'],
  ])('%s is %s', (apiUrl, host) => {
    expect(ghHostname(apiUrl)).toBe(host);
  });
});
