/**
 * A small stage on the unit runner, run as its own process so tests can SIGKILL it at any point:
 * `runner-child.ts <out> <units> [worker i/n]`. Each unit writes two files in several slow,
 * non-atomic pieces (the worst case for a kill); finalize writes manifest.json from every marker.
 */
import { mkdir, rm, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { testContext } from '../../src/pipeline/context.js';
import { finalizeOnce, runUnits, type Step, type WorkUnit } from '../../src/pipeline/runner.js';
import { sha256, writeJsonIfChanged } from '../../src/storage/files.js';

const [out, count, share] = process.argv.slice(2);
const worker = share ? { index: Number(share.split('/')[0]), count: Number(share.split('/')[1]) } : undefined;
const units: WorkUnit[] = Array.from({ length: Number(count) }, (_, i) => ({ id: `u${i}`, key: sha256(`unit ${i} v1`) }));

const body = (unit: string, part: number) => `${unit} part ${part} `.repeat(2000) + '\n';

const step: Step<WorkUnit, { lines: number }> = {
  name: 'test.child',
  version: 1,
  result: z.object({ lines: z.number() }),
  markerPath: (u) => join(out!, 'units', u.id, 'done.json'),
  outputRoot: () => join(out!, 'units'),
  async run(u, io) {
    const dir = join(out!, 'units', u.id);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    let text = '';
    for (let part = 0; part < 4; part++) {
      io.signal.throwIfAborted();
      await appendFile(join(dir, 'data.txt'), body(u.id, part));
      text += body(u.id, part);
      await sleep(15);
    }
    const summary = `${u.id}: ${text.length} bytes\n`;
    await writeFile(join(dir, 'summary.txt'), summary);
    return {
      result: { lines: 4 },
      outputs: {
        [`${u.id}/data.txt`]: { bytes: Buffer.byteLength(text), sha256: sha256(text) },
        [`${u.id}/summary.txt`]: { bytes: Buffer.byteLength(summary), sha256: sha256(summary) },
      },
    };
  },
};

const ctx = testContext();
const report = await runUnits(step, units, { concurrency: 2, worker }, ctx);
if (report.complete) {
  await finalizeOnce({ lockDir: join(out!, '.locks'), name: 'test.child', key: report.digest, worker, log: ctx.log }, () =>
    writeJsonIfChanged(join(out!, 'manifest.json'), { digest: report.digest, units: report.done.map((d) => d.unit.id) }),
  );
}
process.stdout.write(JSON.stringify(report.counts) + '\n');
