import { readFileSync } from 'node:fs';
import { normalizeImage, DEFAULT_IMAGE_OPTIONS } from '../../src/images/normalize.js';
const files = readFileSync('/tmp/imgs.txt','utf8').trim().split('\n');
for (const cs of ['4:2:0','4:4:4'] as const) {
  let inB = 0, outB = 0, n = 0, errs = 0; const t = Date.now();
  for (const f of files) { const b = readFileSync('/work/shared/corpus/images/'+f); try { const r = await normalizeImage(b, { ...DEFAULT_IMAGE_OPTIONS, chromaSubsampling: cs }); inB += b.length; outB += r.bytes.length; n++; } catch (e) { errs++; console.log(f, (e as any).code, (e as Error).message); } }
  console.log(cs, n, errs, inB, outB, Date.now()-t, 'ms');
}
