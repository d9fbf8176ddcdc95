// The local demo: build → release → run → rollback against the emulator and a local host.
// Until every stage lands, it says what exists so far.
const stages = [
  ['build-action', 'packs a commit into a reproducible bundle', false],
  ['release-action', 'makes a signed, encrypted release in the ledger', false],
  ['run-action', 'deploys a release to hosts and rolls back', false],
] as const;

console.log('build-release-run demo');
for (const [name, what, ready] of stages) {
  console.log(`  ${ready ? '✓' : '…'} ${name}: ${what}${ready ? '' : ' (not implemented yet)'}`);
}
console.log(
  'The full story (build v1, release, deploy, config change v2, roll back) comes with the stages.',
);
