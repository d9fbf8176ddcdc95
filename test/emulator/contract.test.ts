import { describe, expect, it } from 'vitest';
import { githubContract } from './contract.js';

const contract = githubContract();

function operationOf(method: string, path: string): string | undefined {
  const match = contract.match(method, path);
  return typeof match === 'object' ? match.operation.id : match;
}

describe('matching requests to GitHub operations', () => {
  it('prefers literal segments and lets refs and tags hold slashes', () => {
    expect(operationOf('GET', '/repos/a/b/releases/latest')).toBe('repos/get-latest-release');
    expect(operationOf('GET', '/repos/a/b/releases/7')).toBe('repos/get-release');
    expect(contract.match('GET', '/repos/a/b/releases/tags/shop/production/v1')).toMatchObject({
      operation: { id: 'repos/get-release-by-tag' },
      params: { tag: 'shop/production/v1' },
    });
    expect(contract.match('GET', '/repos/a/b/git/ref/tags%2Fshop%2Fv1')).toMatchObject({
      params: { ref: 'tags/shop/v1' },
    });
  });

  it('knows unknown routes and wrong methods', () => {
    expect(operationOf('GET', '/repos/a/b/releases/7/notes')).toBeUndefined();
    expect(operationOf('PUT', '/repos/a/b/releases')).toBe('method-not-allowed');
  });

  it('marks the upload operation as served by uploads.github.com only', () => {
    expect(contract.operation('repos/upload-release-asset')?.uploads).toBe(true);
    expect(contract.operation('repos/create-release')?.uploads).toBe(false);
  });
});

describe('checking requests and answers', () => {
  const create = contract.operation('repos/create-release');
  const matching = contract.operation('git/list-matching-refs');
  if (!create || !matching) throw new Error('the description lacks the release operations');

  it('names wrong types, unknown fields and unknown query parameters', () => {
    const { problems } = contract.checkRequest(
      create,
      { owner: 'a', repo: 'b' },
      new URLSearchParams('per_page=5'),
      { tag_name: 'v1', draft: 'yes', prerelase: true },
      true,
    );
    expect(problems).toEqual([
      { field: 'query.per_page', message: 'is not a parameter of this operation' },
      { field: 'body.draft', message: 'must be boolean' },
      { field: 'body.prerelase', message: 'is not a documented field' },
    ]);
  });

  it('accepts per_page and page on a list documented with a Link header', () => {
    const { problems, query } = contract.checkRequest(
      matching,
      { owner: 'a', repo: 'b', ref: 'tags/v' },
      new URLSearchParams('per_page=100&page=2'),
      undefined,
      true,
    );
    expect(problems).toEqual([]);
    expect(query).toEqual({});
  });

  it('checks answers against the documented status, and errors against GitHub’s error shape', () => {
    expect(contract.checkResponse(create, 201, { id: 1 })).toContainEqual({
      field: 'response.upload_url',
      message: 'is required',
    });
    expect(contract.checkResponse(create, 202, {})).toMatchObject([{ field: 'response.status' }]);
    expect(contract.checkResponse(create, 503, { message: 'down' })).toEqual([]);
    expect(contract.checkResponse(create, 503, { message: 7 })).toEqual([
      { field: 'response.message', message: 'must be string' },
    ]);
  });
});
