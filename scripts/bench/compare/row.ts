/**
 * One row of the comparison table and what a row source gets to make rows. A row source is a
 * module that measures one stage beside its peer and returns rows; compare.ts lists the sources,
 * so plugging one in is an import and a line there.
 */
import { median, round } from '../lib/measure.js';

export type RowKind =
  /** Ours and the peer measured in this command, turn about. */
  | 'measured'
  /** The peer's own published figure (another machine, often other work): indicative only. */
  | 'published'
  /** A figure nobody measured here: a goal or a back-of-envelope number, said where it comes from. */
  | 'estimate'
  /** Not run: what is missing to run it. */
  | 'skipped'
  /** Ran and failed: the error. */
  | 'failed';

export interface CompareRow {
  stage: string;
  /** What is measured, on what input. */
  measure: string;
  /** Unit of `ours` and `peerValue` (articles/s, images/s, …). */
  unit: string;
  ours: number | null;
  /** Who or what the row compares against, with its version or source. */
  peer: string;
  peerValue: number | null;
  /** ours ÷ peer, both in `unit`: above 1 means ours is faster. */
  ratio: number | null;
  /** The same ratio over CPU seconds instead of wall seconds, where both sides report them. */
  cpuRatio?: number | null;
  runs: number;
  kind: RowKind;
  note?: string;
  /** Per-run figures, kept in the JSON lines only. */
  detail?: unknown;
}

export interface CompareContext {
  /** Small inputs and one run: a smoke run of the whole table. */
  quick: boolean;
  runs: number;
  /** Scratch folder for mirrors and outputs (kept between runs so inputs are made once). */
  dir: string;
  log(message: string): void;
  /** The bench venv's python with Pillow and lxml, made on first use. */
  python(): Promise<string>;
}

export interface RowSource {
  name: string;
  rows(ctx: CompareContext): Promise<CompareRow[]>;
}

export interface Timing {
  seconds: number;
  cpuSeconds?: number;
}

/**
 * A measured row from interleaved runs: rates are work ÷ median seconds on each side. `work` may
 * differ between the sides when they count differently (articles a parser found, say).
 */
export function measuredRow(
  base: Pick<CompareRow, 'stage' | 'measure' | 'unit' | 'peer' | 'note'>,
  work: { ours: number; peer: number },
  ours: readonly Timing[],
  peer: readonly Timing[],
  detail?: unknown,
): CompareRow {
  const rate = (w: number, xs: readonly (number | undefined)[]) => {
    const known = xs.filter((x): x is number => typeof x === 'number' && x > 0);
    return known.length === xs.length && known.length > 0 ? w / median(known) : null;
  };
  const oursRate = rate(work.ours, ours.map((r) => r.seconds));
  const peerRate = rate(work.peer, peer.map((r) => r.seconds));
  const oursCpu = rate(work.ours, ours.map((r) => r.cpuSeconds));
  const peerCpu = rate(work.peer, peer.map((r) => r.cpuSeconds));
  return {
    ...base,
    ours: oursRate === null ? null : round(oursRate),
    peerValue: peerRate === null ? null : round(peerRate),
    ratio: oursRate !== null && peerRate !== null ? round(oursRate / peerRate) : null,
    cpuRatio: oursCpu !== null && peerCpu !== null ? round(oursCpu / peerCpu) : null,
    runs: Math.min(ours.length, peer.length),
    kind: 'measured',
    detail: detail ?? { ours, peer },
  };
}

/** A row that compares a measured figure of ours with a published or estimated one. */
export function referenceRow(
  base: Pick<CompareRow, 'stage' | 'measure' | 'unit' | 'peer' | 'note'> & { kind: 'published' | 'estimate' },
  ours: number | null,
  peerValue: number,
  runs = 0,
): CompareRow {
  return { ...base, ours: ours === null ? null : round(ours), peerValue: round(peerValue), ratio: ours === null ? null : round(ours / peerValue), runs };
}
