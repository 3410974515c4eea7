/** Models the tests generate at run time with the project's own script modules (fast: tiny shapes). */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFeatures } from '../../scripts/models/features.js';
import { writeVit, type VitOptions } from '../../scripts/models/vit.js';

export type TinyVitOptions = Partial<VitOptions>;

/** A tiny ViT (dim 32, 2 layers) with DINOv2's contract, written once per option set into dir. */
export async function tinyVit(dir: string, options: TinyVitOptions = {}): Promise<string> {
  const full: VitOptions = { shape: 'tiny', registers: 0, dtype: 'float32', seed: 7, ...options };
  const name = createHash('sha256').update(JSON.stringify(full)).digest('hex').slice(0, 12);
  const path = join(dir, `vit-${name}.onnx`);
  await writeVit(path, full);
  return path;
}

export async function featureModel(dir: string): Promise<string> {
  const path = join(dir, 'features.onnx');
  await writeFeatures(path, { dtype: 'float32' });
  return path;
}
