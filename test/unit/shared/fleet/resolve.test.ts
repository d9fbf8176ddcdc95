import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../../shared/errors.js';
import type { HostState } from '../../../../shared/host/state.js';
import { previousFromHosts } from '../../../../shared/fleet/resolve.js';

function state(host: string, current: string | undefined, previous: string | undefined): HostState {
  return {
    host,
    exists: true,
    current,
    previous,
    releases: [],
    history: [],
    lock: undefined,
    leftovers: [],
    tar: true,
  };
}

function refusal(states: HostState[]): string {
  try {
    previousFromHosts(states);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('previous, from the hosts', () => {
  it('is the release every host names as its last good one before current', () => {
    expect(previousFromHosts([state('a', 'v3', 'v2'), state('b', 'v3', 'v2')])).toEqual({
      id: 'v2',
      current: 'v3',
    });
  });

  it('is refused when the hosts run different releases or name different ones', () => {
    expect(refusal([state('a', 'v3', 'v2'), state('b', 'v2', 'v1')])).toBe(
      "Input 'release-id': previous: the hosts disagree (a is on v3, previous v2; b is on v2, previous v1); deploy an explicit release-id to bring them together",
    );
    expect(refusal([state('a', 'v3', 'v2'), state('b', 'v3', 'v1')])).toMatch(/hosts disagree/);
  });

  it('is refused when there is nothing to go back to, naming why', () => {
    expect(refusal([state('a', undefined, undefined)])).toBe(
      "Input 'release-id': previous: a has nothing deployed; deploy an explicit release-id instead",
    );
    expect(refusal([state('a', 'v1', undefined), state('b', 'v1', undefined)])).toBe(
      "Input 'release-id': previous: a has no good release before v1 left on it; b has no good release before v1 left on it; deploy an explicit release-id instead",
    );
  });
});
