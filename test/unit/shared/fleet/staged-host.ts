import type { HostResult } from '../../../../shared/host/activate.js';
import type { StagedHost } from '../../../../shared/host/staged.js';

/** A host staged for `id` (locked, holding the release) whose switch does what `activate` does. */
export function stagedHost(
  label: string,
  id: string,
  activate: () => Promise<HostResult>,
  state: Partial<Pick<StagedHost, 'current' | 'wasCurrent' | 'runCommand' | 'abandon'>> = {},
): StagedHost {
  return {
    label,
    releaseId: id,
    current: state.current,
    wasCurrent: state.wasCurrent ?? false,
    runCommand: state.runCommand ?? (() => Promise.reject(new Error('no host behind it'))),
    activate,
    abandon: state.abandon ?? (() => Promise.resolve()),
  };
}
