/**
 * Image normalisation: scripts/bench/images.ts (normalizeImage, sharp) beside
 * peers/pillow_normalize.py (the same decode–resize–encode in Pillow) on the same files, one image
 * at a time on one thread each: the real corpus figures, and the same figures scaled to 0.6 MP and
 * saved as progressive JPEGs (the generated mirror's kind of image, where a fixed per-call cost
 * shows). A progressive JPEG never meets the stored-image contract, so both sides decode and
 * re-encode every small one; on the real set ours may pass conforming JPEGs through untouched.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { corpusDir } from '../../../test/helpers/corpus.js';
import { interleave, round, runBenchScript, runJson } from '../lib/measure.js';
import { PEER_ENV } from '../lib/python.js';
import { realImagePaths } from '../lib/real-mirror.js';
import { measuredRow, type CompareRow, type RowSource } from './row.js';

interface ImagesRun {
  images: number;
  inputMB: number;
  medianSeconds: number;
  medianCpuSeconds: number;
  passedThrough?: number;
  encoder?: string;
  peer?: string;
  failed?: number;
}

const SMALL_PIXELS = 600_000;
/** Enough to load the codecs and warm the JIT; a full untimed pass would double the bench's time. */
const WARMUP = '24';

/** Every real corpus figure scaled to about 0.6 MP, as a progressive JPEG. Made once. */
async function smallImages(dir: string): Promise<string> {
  const out = join(dir, 'images-0.6mp');
  const sources = realImagePaths();
  const marker = join(out, 'made.json');
  if (existsSync(marker) && JSON.parse(await readFile(marker, 'utf8')).count === sources.length) return out;
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  for (const [i, path] of sources.entries()) {
    const image = sharp(await readFile(path));
    const { width = 1, height = 1 } = await image.metadata();
    const w = Math.max(1, Math.round(Math.sqrt((SMALL_PIXELS * width) / height)));
    const h = Math.max(1, Math.round(SMALL_PIXELS / w));
    const bytes = await image.resize(w, h, { fit: 'fill' }).flatten({ background: '#ffffff' }).jpeg({ quality: 85, progressive: true }).toBuffer();
    await writeFile(join(out, `${String(i).padStart(3, '0')}-${basename(path).replace(/\.\w+$/, '')}.jpg`), bytes);
  }
  await writeFile(marker, JSON.stringify({ count: sources.length, pixels: SMALL_PIXELS }));
  return out;
}

const timing = (r: ImagesRun) => ({ seconds: r.medianSeconds, cpuSeconds: r.medianCpuSeconds });

export const imageRows: RowSource = {
  name: 'images',
  async rows(ctx) {
    const python = await ctx.python();
    const script = fileURLToPath(new URL('../peers/pillow_normalize.py', import.meta.url));
    const sets = [
      { label: 'real corpus figures', dir: join(corpusDir, 'images') },
      { label: 'the same scaled to 0.6 MP, progressive JPEG', dir: await smallImages(ctx.dir) },
    ];
    const rows: CompareRow[] = [];
    for (const set of sets) {
      const runs = await interleave(
        {
          ours: () => runBenchScript<ImagesRun>('images.ts', ['--runs', '1', '--concurrency', '1', '--threads', '1', '--dir', set.dir, '--warmup', WARMUP]),
          pillow: () => runJson<ImagesRun>(python, [script, '--dir', set.dir, '--runs', '1', '--warmup', WARMUP], { env: PEER_ENV }),
        },
        ctx.runs,
        (name, round, r) => ctx.log(`images (${set.label}) ${name} #${round + 1}: ${r.medianSeconds} s`),
      );
      const ours = runs.ours[0]!;
      const pillow = runs.pillow[0]!;
      const passed = ours.passedThrough ?? 0;
      rows.push(
        measuredRow(
          {
            stage: 'images',
            measure: `images/s, ${set.label} (${ours.images} files, ${ours.inputMB} MB), 1 thread`,
            unit: 'images/s',
            peer: pillow.peer ?? 'Pillow',
            note: [
              `${ours.encoder ?? 'sharp'}; decode, fit in 2048 px, sRGB, flatten, baseline JPEG q90 4:2:0, sha256`,
              `passed through unchanged by ours: ${passed}/${ours.images} (${round((100 * passed) / ours.images, 2)} %)`,
              pillow.failed ? `Pillow failed on ${pillow.failed}` : '',
            ]
              .filter(Boolean)
              .join('; '),
          },
          { ours: ours.images, peer: pillow.images },
          runs.ours.map(timing),
          runs.pillow.map(timing),
        ),
      );
    }
    return rows;
  },
};
