/**
 * Parse: scripts/bench/parse.ts (our JATS parser, one process, files in memory) beside
 * peers/jats_lxml.py (the same extraction written with lxml) on the real corpus, one pass each
 * per run after a warm-up pass. pubmed_parser, the peer the issue names, is not in this machine's
 * pip index and its code may not be copied in; its only published timing is shown instead.
 */
import { fileURLToPath } from 'node:url';
import { nxmlDir } from '../../../test/helpers/corpus.js';
import { interleave, runBenchScript, runJson } from '../lib/measure.js';
import { PEER_ENV } from '../lib/python.js';
import { PUBLISHED } from './published.js';
import { measuredRow, referenceRow, type RowSource } from './row.js';

interface ParseRun {
  files: number;
  mb: number;
  articlesPerRun: number;
  figuresPerRun: number;
  failedFilesPerRun: number;
  medianSeconds: number;
  medianCpuSeconds: number;
  peer?: string;
}

const timing = (r: ParseRun) => ({ seconds: r.medianSeconds, cpuSeconds: r.medianCpuSeconds });

export const parseRows: RowSource = {
  name: 'parse',
  async rows(ctx) {
    const python = await ctx.python();
    const script = fileURLToPath(new URL('../peers/jats_lxml.py', import.meta.url));
    const runs = await interleave(
      {
        ours: () => runBenchScript<ParseRun>('parse.ts', ['--runs', '1', '--repeat', '1']),
        lxml: () => runJson<ParseRun>(python, [script, '--dir', nxmlDir, '--runs', '1'], { env: PEER_ENV }),
      },
      ctx.runs,
      (name, round, r) => ctx.log(`parse ${name} #${round + 1}: ${r.medianSeconds} s`),
    );
    const ours = runs.ours[0]!;
    const lxml = runs.lxml[0]!;
    const input = `real corpus, ${ours.files} files, ${ours.mb} MB`;
    const measured = measuredRow(
      {
        stage: 'parse',
        measure: `articles/s, ${input}, 1 process`,
        unit: 'articles/s',
        peer: `${lxml.peer ?? 'lxml'}: our extraction rewritten with lxml, not pubmed_parser`,
        note: `figures found: ours ${ours.figuresPerRun}, lxml ${lxml.figuresPerRun}; files refused: ours ${ours.failedFilesPerRun}, lxml ${lxml.failedFilesPerRun}`,
      },
      { ours: ours.articlesPerRun, peer: lxml.articlesPerRun },
      runs.ours.map(timing),
      runs.lxml.map(timing),
    );
    const mbPerSecond = measured.ours === null ? null : (measured.ours / ours.articlesPerRun) * ours.mb;
    const p = PUBLISHED.pubmedParserMedline;
    const published = referenceRow(
      {
        stage: 'parse',
        measure: `MB/s of XML (ours: JATS, ${input})`,
        unit: p.unit,
        peer: p.peer,
        kind: 'published',
        note: `${p.basis}. Source: ${p.source}. pubmed_parser's OA functions publish no rate, and it is not in the local pip index`,
      },
      mbPerSecond,
      p.value,
    );
    return [measured, published];
  },
};
