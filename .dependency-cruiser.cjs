/**
 * The layers of src/ (README "Architecture"), checked by `npm test` before the tests run:
 *
 *   cli → stages → (pipeline, enrich, sources, manifest, images, jats, transport, sync, config)
 *   pipeline → storage, log           sources → transport, sync, manifest, config
 *   manifest → storage                storage → errors only
 *
 * Each rule says why; `npx depcruise src` prints what breaks one.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A cycle makes two modules one: neither can be read, tested or moved alone. Cycles through a type-only import (a command naming the program\'s deps type) do not exist at run time and are allowed.',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'cli-is-the-top',
      severity: 'error',
      comment: 'Only the CLI layer imports the CLI layer: stages are plain functions any caller (a test, a library user) can run.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'commander-only-in-cli',
      severity: 'error',
      comment: 'Flags are parsed once, at the boundary; below it everything takes typed options.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: 'node_modules/commander/' },
    },
    {
      name: 'stages-do-not-import-each-other',
      severity: 'error',
      comment: 'Stages talk through their on-disk contracts (src/manifest/), not through each other\'s code: transform must slot in between without touching extract or load.',
      from: { path: '^src/stages/([^/]+)/' },
      to: { path: '^src/stages/', pathNot: '^src/stages/$1/' },
    },
    {
      name: 'nothing-below-imports-stages',
      severity: 'error',
      comment: 'Stages sit above the shared machinery, the sources and the contracts, never under them.',
      from: { path: '^src/', pathNot: '^src/(stages|cli)/' },
      to: { path: '^src/stages/' },
    },
    {
      name: 'sources-know-no-stage',
      severity: 'error',
      comment: 'A source lists and opens articles; it does not read a stage\'s files (an existing plan\'s listing is passed in) nor run on the pipeline.',
      from: { path: '^src/sources/' },
      to: { path: '^src/(pipeline|enrich)/|^src/manifest/(extract|load)-manifest\\.ts$|^src/manifest/transform-records\\.ts$' },
    },
    {
      name: 'pipeline-is-generic',
      severity: 'error',
      comment: 'The unit runner, locks and stage list serve every stage: they know no stage, source or record.',
      from: { path: '^src/pipeline/' },
      to: { path: '^src/(sources|enrich|manifest|jats|images|transport|sync|config)/' },
    },
    {
      name: 'manifest-is-contracts',
      severity: 'error',
      comment: 'src/manifest/ holds the on-disk contracts (schemas, paths, the manifest reader): it does no work of a stage.',
      from: { path: '^src/manifest/' },
      to: { path: '^src/(pipeline|sources|enrich|jats|images|transport|sync|config|log)/' },
    },
    {
      name: 'storage-is-the-floor',
      severity: 'error',
      comment: 'Atomic writes, streams and storage faults are used by everything, so they use nothing of ours but the error family.',
      from: { path: '^src/storage/' },
      to: { path: '^src/', pathNot: '^src/(storage/|errors\\.ts$)' },
    },
    {
      name: 'sync-machinery-is-not-a-planner',
      severity: 'error',
      comment: 'src/sync/ is the sort, diff and state machinery the cloud source and the extract stage share; the planner is the extract stage\'s.',
      from: { path: '^src/sync/' },
      to: { path: '^src/(sources|pipeline|enrich)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
