/** The shard marker (stats/<group>/NNNNNN.json) as load writes it and `query --subset` writes and `verify` reads it. */
import { LOAD_SHARD_STEP, LOAD_VERSION, ShardStats, loadPaths, type LicenseGroup } from '../../manifest/load-manifest.js';
import type { StepIdentity, WorkUnit } from '../../pipeline/runner.js';

/** Units are shards, with ids as the index names them ('commercial/000003.tar'). */
export function shardStep(datasetDir: string): StepIdentity<WorkUnit, ShardStats> {
  const paths = loadPaths(datasetDir);
  return {
    name: LOAD_SHARD_STEP,
    version: LOAD_VERSION,
    result: ShardStats,
    markerPath: (u) => {
      const [group, name] = u.id.split('/') as [LicenseGroup, string];
      return paths.shardStats(group, Number(name.slice(0, 6)));
    },
    outputRoot: () => datasetDir,
  };
}

