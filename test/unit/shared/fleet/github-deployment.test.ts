import { describe, expect, it } from 'vitest';
import { PendingDeployment } from '../../../../shared/fleet/github-deployment.js';
import { gitHubClient } from '../../../../shared/github.js';
import { silentLog } from '../../../../shared/log.js';
import { useGitHub } from '../../../emulator/vitest.js';

const emulator = useGitHub();

function pending(repository: { owner: string; repo: string }, sha: string) {
  const github = gitHubClient({
    token: emulator().token,
    apiUrl: emulator().apiUrl,
    log: silentLog,
  });
  return new PendingDeployment(
    { github, repository, logUrl: 'https://github.com/acme/shop/actions/runs/1', log: silentLog },
    {
      environment: 'production',
      sha,
      app: 'shop',
      releaseId: 'v3',
      manifestDigest: `sha256:${'a'.repeat(64)}`,
      description: 'v3 to 2 hosts',
      transient: false,
      production: true,
      rollback: false,
    },
  );
}

describe('the run’s GitHub Deployment', () => {
  it('lets hosts change once it exists, without waiting for its in_progress status', async () => {
    const repository = emulator().createRepository('acme/paced');
    const deployment = pending({ owner: 'acme', repo: 'paced' }, repository.headSha);
    // A slow status answer: a host that waited for it would wait these 5 s.
    const slow = emulator().faults.inject('repos/create-deployment-status', {
      kind: 'delay',
      ms: 5000,
    });
    await deployment.beforeChange();
    const recorded = () => emulator().state.repository('acme/paced').deployments;
    expect(recorded()).toHaveLength(1);
    expect(recorded()[0]?.statuses).toEqual([]);
    slow.remove();

    await deployment.finish('success', { description: 'v3 runs on 2 hosts' });
    // The last status still comes after in_progress.
    expect(recorded()[0]?.statuses.map((status) => status.state)).toEqual([
      'in_progress',
      'success',
    ]);
  });

  it('records nothing when no host was about to change', async () => {
    const repository = emulator().createRepository('acme/unchanged');
    const deployment = pending({ owner: 'acme', repo: 'unchanged' }, repository.headSha);
    await deployment.finish('failure', { description: 'the deploy lock was held' });
    expect(emulator().state.repository('acme/unchanged').deployments).toEqual([]);
  });
});
