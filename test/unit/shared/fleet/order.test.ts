import { describe, expect, it } from 'vitest';
import { backwardsRefusal } from '../../../../shared/fleet/order.js';

const hosts = (...currents: (string | undefined)[]) =>
  currents.map((current, index) => ({ host: `web-${index + 1}`, current }));

describe('latest never moves a host backwards', () => {
  it('lets latest through when every host runs it, an older release, or nothing', () => {
    const places = new Map([
      ['v3', 3],
      ['v4', 4],
      ['hotfix-1', 2.5],
    ]);
    expect(backwardsRefusal(hosts('v4', 'v3', undefined, 'hotfix-1'), 'v4', places)).toBe(
      undefined,
    );
  });

  it('names both IDs when the hosts run a release after the newest published one', () => {
    const places = new Map([['v5', 5]]);
    expect(backwardsRefusal(hosts('v5', 'v5'), 'v4', places)?.message).toBe(
      "Input 'release-id': latest would move hosts backwards: the hosts run v5, the newest published release is v4; deploy v4 explicitly to roll back",
    );
  });

  it('names each host that is ahead when the fleet is split', () => {
    const places = new Map([
      ['v3', 3],
      ['v5', 5],
    ]);
    expect(backwardsRefusal(hosts('v3', 'v5'), 'v4', places)?.message).toBe(
      "Input 'release-id': latest would move hosts backwards: host web-2 runs v5, the newest published release is v4; deploy v4 explicitly to roll back",
    );
  });

  it('places an explicit ID after its previous, and refuses one it cannot place', () => {
    const after = new Map([['hotfix-1', 4.5]]);
    expect(backwardsRefusal(hosts('hotfix-1'), 'v4', after)?.message).toMatch(
      /the hosts run hotfix-1, the newest published release is v4/,
    );
    expect(backwardsRefusal(hosts('hotfix-1'), 'v5', after)).toBe(undefined);
    const unknown = new Map([['gone', undefined]]);
    expect(backwardsRefusal(hosts('gone'), 'v5', unknown)?.message).toMatch(/the hosts run gone/);
  });
});
