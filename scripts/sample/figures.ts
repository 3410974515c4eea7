/**
 * Synthetic scientific figures as SVG: plots with axes and text, blots, microscopy, radiographs,
 * histology, diagrams and multi-panel composites. sharp (librsvg) renders them; images.ts encodes
 * them. Each builder draws only from the Rng it is given, so a figure is a pure function of its seed.
 */
import type { Rng } from './prng.js';

export const FIGURE_KINDS = [
  'line',
  'bar',
  'scatter',
  'boxplot',
  'survival',
  'heatmap',
  'blot',
  'microscopy',
  'histology',
  'radiograph',
  'flowchart',
  'panels',
] as const;
export type FigureKind = (typeof FIGURE_KINDS)[number];

export interface FigureDrawing {
  kind: FigureKind;
  width: number;
  height: number;
  svg: string;
  /** Kinds whose pixels look like photographs get grain added after rendering. */
  grain: number;
  /** Words the caption can use so it describes what the image shows. */
  labels: { x: string; y: string; series: string[]; panels: number };
}

const FONT = 'DejaVu Sans, Arial, sans-serif';

const PALETTES: readonly (readonly string[])[] = [
  ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'],
  ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00'],
  ['#333333', '#777777', '#aaaaaa', '#555555', '#999999', '#cccccc'],
  ['#e41a1c', '#377eb8', '#4daf4a', '#984ea3', '#ff7f00', '#a65628'],
  ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725', '#31688e'],
];

const X_LABELS = ['Time (days)', 'Time (h)', 'Dose (mg/kg)', 'Concentration (\u03bcM)', 'Age (years)', 'Weeks after treatment', 'Passage number', 'log\u2082 fold change'];
const Y_LABELS = ['Relative expression', 'Cell viability (%)', 'Tumour volume (mm\u00b3)', 'Body weight (g)', 'Absorbance (OD 450)', 'IL-6 (pg/mL)', 'Fluorescence (a.u.)', '\u2212log\u2081\u2080 P'];
const GROUPS = ['Control', 'Vehicle', 'Sham', 'WT', 'KO', 'siNC', 'siRNA', 'Low dose', 'High dose', 'Placebo', 'Treated', 'Model'];
const GENES = ['TP53', 'EGFR', 'GAPDH', 'AKT1', 'MYC', 'VEGFA', 'IL6', 'TNF', 'STAT3', 'BCL2', 'CDK4', 'KRAS', 'PTEN', 'NFKB1', 'ACTB', 'MAPK1', 'HIF1A', 'SOX2'];
const PROTEINS = ['p-AKT', 'AKT', 'p-ERK', 'ERK1/2', 'Cleaved caspase-3', 'Bax', 'Bcl-2', 'LC3B', 'β-actin', 'GAPDH', 'Vimentin', 'E-cadherin', 'PCNA', 'p62'];

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function text(x: number, y: number, s: string, size: number, opts: { anchor?: string; fill?: string; weight?: string; rotate?: boolean } = {}): string {
  const rot = opts.rotate ? ` transform="rotate(-90 ${x.toFixed(1)} ${y.toFixed(1)})"` : '';
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-family="${FONT}" font-size="${size}" text-anchor="${opts.anchor ?? 'start'}" fill="${opts.fill ?? '#222'}" font-weight="${opts.weight ?? 'normal'}"${rot}>${esc(s)}</text>`;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Axes with ticks and labels; returns the inner plot box in pixels. */
function axes(rng: Rng, box: Box, xLabel: string, yLabel: string, yMax: number, xTicks: string[] | null): { svg: string; inner: Box } {
  const fs = Math.max(10, Math.round(box.h / 22));
  const inner: Box = { x: box.x + fs * 4.2, y: box.y + fs, w: box.w - fs * 5.2, h: box.h - fs * 4.6 };
  const parts: string[] = [];
  const stroke = `stroke="#222" stroke-width="${Math.max(1, fs / 8).toFixed(1)}"`;
  parts.push(`<line x1="${inner.x}" y1="${inner.y + inner.h}" x2="${inner.x + inner.w}" y2="${inner.y + inner.h}" ${stroke}/>`);
  parts.push(`<line x1="${inner.x}" y1="${inner.y}" x2="${inner.x}" y2="${inner.y + inner.h}" ${stroke}/>`);
  const yTicks = 5;
  for (let i = 0; i <= yTicks; i++) {
    const y = inner.y + inner.h - (inner.h * i) / yTicks;
    parts.push(`<line x1="${inner.x - fs / 2}" y1="${y.toFixed(1)}" x2="${inner.x}" y2="${y.toFixed(1)}" ${stroke}/>`);
    const v = (yMax * i) / yTicks;
    parts.push(text(inner.x - fs * 0.7, y + fs / 3, yMax >= 10 ? v.toFixed(0) : v.toFixed(1), fs * 0.85, { anchor: 'end' }));
  }
  if (xTicks) {
    xTicks.forEach((t, i) => {
      const x = inner.x + (inner.w * (i + 0.5)) / xTicks.length;
      parts.push(text(x, inner.y + inner.h + fs * 1.3, t, fs * 0.8, { anchor: 'middle' }));
    });
  } else {
    const n = rng.int(4, 6);
    const step = rng.pick([1, 2, 5, 10]);
    for (let i = 0; i <= n; i++) {
      const x = inner.x + (inner.w * i) / n;
      parts.push(`<line x1="${x.toFixed(1)}" y1="${inner.y + inner.h}" x2="${x.toFixed(1)}" y2="${inner.y + inner.h + fs / 2}" ${stroke}/>`);
      parts.push(text(x, inner.y + inner.h + fs * 1.5, String(i * step), fs * 0.85, { anchor: 'middle' }));
    }
  }
  parts.push(text(inner.x + inner.w / 2, box.y + box.h - fs * 0.6, xLabel, fs, { anchor: 'middle' }));
  parts.push(text(box.x + fs * 1.1, inner.y + inner.h / 2, yLabel, fs, { anchor: 'middle', rotate: true }));
  return { svg: parts.join(''), inner };
}

function legend(x: number, y: number, names: string[], colours: readonly string[], fs: number): string {
  return names
    .map((n, i) => `<rect x="${x}" y="${y + i * fs * 1.4}" width="${fs}" height="${fs}" fill="${colours[i % colours.length]}"/>` + text(x + fs * 1.5, y + i * fs * 1.4 + fs * 0.85, n, fs * 0.9))
    .join('');
}

function linePlot(rng: Rng, box: Box, pal: readonly string[]): { svg: string; series: string[]; x: string; y: string } {
  const x = rng.pick(X_LABELS);
  const y = rng.pick(Y_LABELS);
  const yMax = rng.pick([1, 2, 5, 10, 50, 100, 1000]);
  const a = axes(rng, box, x, y, yMax, null);
  const series = rng.sample(GROUPS, rng.int(1, 4));
  const n = rng.int(5, 12);
  const parts = [a.svg];
  series.forEach((_, si) => {
    const colour = pal[si % pal.length] as string;
    let v = rng.float(0.05, 0.4);
    const slope = rng.float(-0.05, 0.12);
    const pts: string[] = [];
    for (let i = 0; i < n; i++) {
      v = Math.min(0.95, Math.max(0.02, v + slope + rng.gauss(0, 0.03)));
      const px = a.inner.x + (a.inner.w * i) / (n - 1);
      const py = a.inner.y + a.inner.h * (1 - v);
      pts.push(`${px.toFixed(1)},${py.toFixed(1)}`);
      const err = a.inner.h * rng.float(0.01, 0.05);
      parts.push(`<line x1="${px.toFixed(1)}" y1="${(py - err).toFixed(1)}" x2="${px.toFixed(1)}" y2="${(py + err).toFixed(1)}" stroke="${colour}" stroke-width="1.5"/>`);
      parts.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="${(box.h / 110).toFixed(1)}" fill="${colour}"/>`);
    }
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${colour}" stroke-width="${(box.h / 200).toFixed(1)}"/>`);
  });
  parts.push(legend(a.inner.x + a.inner.w * 0.05, a.inner.y + 4, series, pal, Math.max(10, box.h / 28)));
  return { svg: parts.join(''), series, x, y };
}

function barPlot(rng: Rng, box: Box, pal: readonly string[]): { svg: string; series: string[]; x: string; y: string } {
  const groups = rng.sample(GROUPS, rng.int(2, 5));
  const y = rng.pick(Y_LABELS);
  const yMax = rng.pick([1, 1.5, 2, 10, 100]);
  const a = axes(rng, box, rng.pick(['Group', 'Treatment', 'Genotype', '']), y, yMax, groups);
  const parts = [a.svg];
  const slot = a.inner.w / groups.length;
  const fs = Math.max(10, box.h / 24);
  groups.forEach((_, i) => {
    const v = rng.float(0.15, 0.85);
    const bh = a.inner.h * v;
    const bx = a.inner.x + slot * i + slot * 0.2;
    const bw = slot * 0.6;
    const by = a.inner.y + a.inner.h - bh;
    parts.push(`<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${bw.toFixed(1)}" height="${bh.toFixed(1)}" fill="${pal[i % pal.length]}" stroke="#222" stroke-width="1"/>`);
    const err = a.inner.h * rng.float(0.02, 0.08);
    const cx = bx + bw / 2;
    parts.push(`<line x1="${cx.toFixed(1)}" y1="${(by - err).toFixed(1)}" x2="${cx.toFixed(1)}" y2="${by.toFixed(1)}" stroke="#222" stroke-width="1.5"/>`);
    parts.push(`<line x1="${(cx - bw / 6).toFixed(1)}" y1="${(by - err).toFixed(1)}" x2="${(cx + bw / 6).toFixed(1)}" y2="${(by - err).toFixed(1)}" stroke="#222" stroke-width="1.5"/>`);
    for (let k = 0; k < rng.int(3, 6); k++) {
      parts.push(`<circle cx="${(cx + rng.float(-bw / 4, bw / 4)).toFixed(1)}" cy="${(by + rng.gauss(0, err / 2)).toFixed(1)}" r="${(fs / 5).toFixed(1)}" fill="#fff" stroke="#222" stroke-width="1"/>`);
    }
    if (i > 0 && rng.chance(0.6)) parts.push(text(cx, by - err - fs * 0.4, rng.pick(['*', '**', '***', 'ns', '#']), fs, { anchor: 'middle' }));
  });
  return { svg: parts.join(''), series: groups, x: 'Group', y };
}

function scatterPlot(rng: Rng, box: Box, pal: readonly string[]): { svg: string; series: string[]; x: string; y: string } {
  const x = rng.pick(X_LABELS);
  const y = rng.pick(Y_LABELS);
  const a = axes(rng, box, x, y, rng.pick([10, 20, 50, 100]), null);
  const parts = [a.svg];
  const slope = rng.float(-0.8, 0.8);
  const n = rng.int(30, 120);
  const colour = rng.pick(pal);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    const v = Math.min(0.98, Math.max(0.02, 0.5 + slope * (u - 0.5) + rng.gauss(0, 0.1)));
    parts.push(`<circle cx="${(a.inner.x + u * a.inner.w).toFixed(1)}" cy="${(a.inner.y + (1 - v) * a.inner.h).toFixed(1)}" r="${(box.h / 150 + 1).toFixed(1)}" fill="${colour}" fill-opacity="0.7"/>`);
  }
  parts.push(`<line x1="${a.inner.x}" y1="${(a.inner.y + (0.5 + slope / 2) * a.inner.h).toFixed(1)}" x2="${a.inner.x + a.inner.w}" y2="${(a.inner.y + (0.5 - slope / 2) * a.inner.h).toFixed(1)}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/>`);
  const r = (Math.abs(slope) * 0.9 + rng.float(0, 0.1)).toFixed(2);
  parts.push(text(a.inner.x + a.inner.w * 0.6, a.inner.y + box.h / 16, `r = ${slope < 0 ? '\u2212' : ''}${r}, P ${rng.pick(['< 0.001', '= 0.003', '= 0.02', '< 0.05'])}`, Math.max(10, box.h / 26)));
  return { svg: parts.join(''), series: [], x, y };
}

function boxPlot(rng: Rng, box: Box, pal: readonly string[]): { svg: string; series: string[]; x: string; y: string } {
  const groups = rng.sample(GROUPS, rng.int(2, 4));
  const y = rng.pick(Y_LABELS);
  const a = axes(rng, box, '', y, rng.pick([5, 10, 40, 100]), groups);
  const parts = [a.svg];
  const slot = a.inner.w / groups.length;
  groups.forEach((_, i) => {
    const med = rng.float(0.3, 0.7);
    const q = rng.float(0.05, 0.15);
    const cx = a.inner.x + slot * (i + 0.5);
    const w = slot * 0.45;
    const Y = (v: number): number => a.inner.y + a.inner.h * (1 - v);
    const c = pal[i % pal.length] as string;
    parts.push(`<line x1="${cx.toFixed(1)}" y1="${Y(med + q * 2.2).toFixed(1)}" x2="${cx.toFixed(1)}" y2="${Y(med - q * 2.2).toFixed(1)}" stroke="#222" stroke-width="1.5"/>`);
    parts.push(`<rect x="${(cx - w / 2).toFixed(1)}" y="${Y(med + q).toFixed(1)}" width="${w.toFixed(1)}" height="${(Y(med - q) - Y(med + q)).toFixed(1)}" fill="${c}" fill-opacity="0.6" stroke="#222" stroke-width="1.5"/>`);
    parts.push(`<line x1="${(cx - w / 2).toFixed(1)}" y1="${Y(med).toFixed(1)}" x2="${(cx + w / 2).toFixed(1)}" y2="${Y(med).toFixed(1)}" stroke="#222" stroke-width="3"/>`);
    for (let k = 0; k < rng.int(8, 20); k++) {
      parts.push(`<circle cx="${(cx + rng.float(-w / 3, w / 3)).toFixed(1)}" cy="${Y(med + rng.gauss(0, q)).toFixed(1)}" r="2.5" fill="#222" fill-opacity="0.6"/>`);
    }
  });
  return { svg: parts.join(''), series: groups, x: 'Group', y };
}

function survivalPlot(rng: Rng, box: Box, pal: readonly string[]): { svg: string; series: string[]; x: string; y: string } {
  const x = rng.pick(['Time (months)', 'Follow-up (years)', 'Days after infection']);
  const y = rng.pick(['Overall survival (%)', 'Progression-free survival', 'Survival probability', 'Event-free survival (%)']);
  const a = axes(rng, box, x, y, rng.pick([1, 100]), null);
  const series = rng.sample(['Low expression', 'High expression', 'Stage I–II', 'Stage III–IV', 'Treated', 'Untreated', 'Score < 3', 'Score ≥ 3'], 2);
  const parts = [a.svg];
  series.forEach((_, si) => {
    let v = 1;
    let px = a.inner.x;
    let d = `M${px.toFixed(1)},${a.inner.y.toFixed(1)}`;
    const hazard = rng.float(0.02, 0.12) * (si + 1);
    while (px < a.inner.x + a.inner.w) {
      const step = rng.float(a.inner.w / 40, a.inner.w / 12);
      px = Math.min(a.inner.x + a.inner.w, px + step);
      d += ` H${px.toFixed(1)}`;
      v = Math.max(0.05, v * (1 - hazard * rng.float(0.3, 1.5)));
      d += ` V${(a.inner.y + a.inner.h * (1 - v)).toFixed(1)}`;
    }
    parts.push(`<path d="${d}" fill="none" stroke="${pal[si % pal.length]}" stroke-width="${(box.h / 220 + 1).toFixed(1)}"/>`);
  });
  const fs = Math.max(10, box.h / 28);
  parts.push(legend(a.inner.x + a.inner.w * 0.55, a.inner.y + fs, series, pal, fs));
  parts.push(text(a.inner.x + a.inner.w * 0.55, a.inner.y + fs * 4.5, `Log-rank P ${rng.pick(['< 0.001', '= 0.004', '= 0.018', '= 0.032'])}`, fs));
  return { svg: parts.join(''), series, x, y };
}

function ramp(t: number, scheme: number): string {
  const c = Math.max(0, Math.min(1, t));
  const [r, g, b] =
    scheme === 0
      ? [255 * Math.min(1, 2 * c), 255 * Math.min(1, 2 - 2 * c) * 0.9, 255 * Math.min(1, 2 - 2 * c)]
      : scheme === 1
        ? [68 + 185 * c, 1 + 230 * c, 84 + 60 * Math.sin(Math.PI * c)]
        : [30 + 200 * c, 60 + 40 * (1 - c), 200 * (1 - c) + 30];
  return `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
}

function heatmap(rng: Rng, box: Box): { svg: string; series: string[]; x: string; y: string } {
  const rows = rng.sample(GENES, rng.int(6, 14));
  const cols = rng.int(4, 12);
  const scheme = rng.int(0, 2);
  const fs = Math.max(9, Math.min(box.h / (rows.length * 1.6), box.h / 24));
  const gx = box.x + fs * 5;
  const gy = box.y + fs * 2;
  const gw = box.w - fs * 9;
  const gh = box.h - fs * 4;
  const cw = gw / cols;
  const ch = gh / rows.length;
  const parts: string[] = [];
  const colBias = Array.from({ length: cols }, () => rng.float(-0.3, 0.3));
  rows.forEach((gene, r) => {
    const rowBias = rng.float(-0.3, 0.3);
    for (let c = 0; c < cols; c++) {
      const v = 0.5 + rowBias * (c < cols / 2 ? 1 : -1) + colBias[c]! * 0.3 + rng.gauss(0, 0.1);
      parts.push(`<rect x="${(gx + c * cw).toFixed(1)}" y="${(gy + r * ch).toFixed(1)}" width="${(cw + 0.5).toFixed(1)}" height="${(ch + 0.5).toFixed(1)}" fill="${ramp(v, scheme)}"/>`);
    }
    parts.push(text(gx - fs * 0.4, gy + r * ch + ch / 2 + fs / 3, gene, fs, { anchor: 'end' }));
  });
  for (let c = 0; c < cols; c++) parts.push(text(gx + c * cw + cw / 2, gy - fs * 0.4, `${c < cols / 2 ? 'C' : 'T'}${(c % Math.ceil(cols / 2)) + 1}`, fs * 0.8, { anchor: 'middle' }));
  const lx = gx + gw + fs;
  for (let i = 0; i < 20; i++) parts.push(`<rect x="${lx.toFixed(1)}" y="${(gy + (gh * i) / 20).toFixed(1)}" width="${fs.toFixed(1)}" height="${(gh / 20 + 0.5).toFixed(1)}" fill="${ramp(1 - i / 20, scheme)}"/>`);
  parts.push(text(lx + fs * 1.3, gy + fs, '2', fs * 0.8), text(lx + fs * 1.3, gy + gh, '\u22122', fs * 0.8));
  return { svg: parts.join(''), series: rows, x: 'Sample', y: 'Gene' };
}

function blot(rng: Rng, box: Box): { svg: string; series: string[]; x: string; y: string } {
  const proteins = rng.sample(PROTEINS, rng.int(2, 6));
  const lanes = rng.int(3, 8);
  const fs = Math.max(10, Math.min(box.h / (proteins.length * 4 + 4), box.w / 32));
  const gx = box.x + fs * 11;
  const gw = box.w - fs * 16;
  const rowH = (box.h - fs * 4) / proteins.length;
  const parts = [`<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="#fff"/>`];
  for (let l = 0; l < lanes; l++) parts.push(text(gx + (gw * (l + 0.5)) / lanes, box.y + fs * 1.5, l === 0 ? 'Ctrl' : `${rng.pick(['', '+', 'T'])}${l}`, fs * 0.85, { anchor: 'middle' }));
  proteins.forEach((p, r) => {
    const y = box.y + fs * 3 + r * rowH;
    const h = rowH * 0.7;
    const bg = rng.int(200, 235);
    parts.push(`<rect x="${gx}" y="${y.toFixed(1)}" width="${gw}" height="${h.toFixed(1)}" fill="rgb(${bg},${bg},${bg})"/>`);
    const trend = rng.float(-0.12, 0.12);
    const bands: string[] = [];
    for (let l = 0; l < lanes; l++) {
      const strength = Math.max(0.05, Math.min(1, rng.float(0.4, 0.9) + trend * l));
      const bx = gx + (gw * (l + 0.15)) / lanes;
      const bw = (gw * 0.7) / lanes;
      const g = Math.round(220 - 200 * strength);
      bands.push(`<ellipse cx="${(bx + bw / 2).toFixed(1)}" cy="${(y + h / 2).toFixed(1)}" rx="${(bw / 2).toFixed(1)}" ry="${(h / 5).toFixed(1)}" fill="rgb(${g},${g},${g})"/>`);
    }
    parts.push(`<g filter="url(#blur2)">${bands.join('')}</g>`);
    parts.push(text(gx - fs * 0.5, y + h / 2 + fs / 3, p, fs, { anchor: 'end' }));
    parts.push(text(gx + gw + fs * 0.4, y + h / 2 + fs / 3, `${rng.int(14, 120)} kDa`, fs * 0.75));
  });
  return { svg: parts.join(''), series: proteins, x: 'Lane', y: 'Protein' };
}

function microscopy(rng: Rng, box: Box): { svg: string; series: string[]; x: string; y: string } {
  const channel = rng.pick([
    ['#00ff40', 'GFP'],
    ['#ff2020', 'mCherry'],
    ['#30ff90', 'Alexa Fluor 488'],
    ['#ff40ff', 'Cy5'],
    ['#ffd000', 'phalloidin'],
  ] as const);
  const parts = [`<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="#050505"/>`];
  // One blur per layer, not per shape: librsvg filters each filtered element separately, which is slow.
  const cells: string[] = [];
  const nuclei: string[] = [];
  const n = rng.int(12, 45);
  const size = Math.min(box.w, box.h) / rng.int(12, 24);
  for (let i = 0; i < n; i++) {
    const cx = box.x + rng.float(0, box.w);
    const cy = box.y + rng.float(0, box.h);
    const rx = size * rng.float(0.7, 1.8);
    const ry = size * rng.float(0.5, 1.3);
    const rot = rng.int(0, 179);
    cells.push(`<ellipse cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" rx="${rx.toFixed(1)}" ry="${ry.toFixed(1)}" transform="rotate(${rot} ${cx.toFixed(1)} ${cy.toFixed(1)})" fill="${channel[0]}" fill-opacity="${rng.float(0.25, 0.8).toFixed(2)}"/>`);
    nuclei.push(`<circle cx="${(cx + rng.gauss(0, rx / 5)).toFixed(1)}" cy="${(cy + rng.gauss(0, ry / 5)).toFixed(1)}" r="${(size * 0.45).toFixed(1)}" fill="#2050ff" fill-opacity="${rng.float(0.5, 0.9).toFixed(2)}"/>`);
  }
  parts.push(`<g filter="url(#blur6)">${cells.join('')}</g><g filter="url(#blur2)">${nuclei.join('')}</g>`);
  const bar = box.w / 6;
  const fs = Math.max(12, box.h / 22);
  parts.push(`<rect x="${(box.x + box.w - bar - fs).toFixed(1)}" y="${(box.y + box.h - fs * 1.5).toFixed(1)}" width="${bar.toFixed(1)}" height="${(fs / 3).toFixed(1)}" fill="#fff"/>`);
  parts.push(text(box.x + box.w - bar / 2 - fs, box.y + box.h - fs * 2, `${rng.pick([10, 20, 50, 100])} \u03bcm`, fs, { anchor: 'middle', fill: '#fff' }));
  parts.push(text(box.x + fs * 0.6, box.y + fs * 1.4, `DAPI / ${channel[1]}`, fs, { fill: '#fff' }));
  return { svg: parts.join(''), series: ['DAPI', channel[1]], x: '', y: '' };
}

function histology(rng: Rng, box: Box): { svg: string; series: string[]; x: string; y: string } {
  const parts = [`<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="rgb(${rng.int(235, 250)},${rng.int(200, 225)},${rng.int(220, 240)})"/>`];
  const stroma: string[] = [];
  for (let i = 0; i < rng.int(4, 9); i++) {
    stroma.push(`<ellipse cx="${(box.x + rng.float(0, box.w)).toFixed(1)}" cy="${(box.y + rng.float(0, box.h)).toFixed(1)}" rx="${rng.float(box.w / 10, box.w / 3).toFixed(1)}" ry="${rng.float(box.h / 12, box.h / 4).toFixed(1)}" fill="rgb(${rng.int(220, 245)},${rng.int(120, 170)},${rng.int(170, 210)})" fill-opacity="0.7"/>`);
  }
  parts.push(`<g filter="url(#blur6)">${stroma.join('')}</g>`);
  const nuclei = Math.round((box.w * box.h) / rng.int(900, 2000));
  for (let i = 0; i < nuclei; i++) {
    const r = rng.float(2, Math.max(3, box.w / 90));
    parts.push(`<ellipse cx="${(box.x + rng.float(0, box.w)).toFixed(1)}" cy="${(box.y + rng.float(0, box.h)).toFixed(1)}" rx="${r.toFixed(1)}" ry="${(r * rng.float(0.6, 1)).toFixed(1)}" fill="rgb(${rng.int(60, 110)},${rng.int(30, 60)},${rng.int(120, 160)})" fill-opacity="0.85"/>`);
  }
  const fs = Math.max(12, box.h / 24);
  parts.push(`<rect x="${(box.x + fs).toFixed(1)}" y="${(box.y + box.h - fs * 1.4).toFixed(1)}" width="${(box.w / 7).toFixed(1)}" height="${(fs / 3).toFixed(1)}" fill="#000"/>`);
  parts.push(text(box.x + fs + box.w / 14, box.y + box.h - fs * 1.8, `${rng.pick([50, 100, 200])} \u03bcm`, fs, { anchor: 'middle', fill: '#000' }));
  return { svg: parts.join(''), series: ['H&E'], x: '', y: '' };
}

function radiograph(rng: Rng, box: Box): { svg: string; series: string[]; x: string; y: string } {
  const ct = rng.chance(0.5);
  const cx = box.x + box.w / 2;
  const cy = box.y + box.h / 2;
  const parts = [`<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="#000"/>`];
  if (ct) {
    parts.push(`<ellipse cx="${cx}" cy="${cy}" rx="${(box.w * 0.44).toFixed(1)}" ry="${(box.h * 0.36).toFixed(1)}" fill="url(#soft)"/>`);
    for (const side of [-1, 1]) {
      parts.push(`<ellipse cx="${(cx + side * box.w * 0.18).toFixed(1)}" cy="${cy}" rx="${(box.w * 0.15).toFixed(1)}" ry="${(box.h * 0.25).toFixed(1)}" fill="#151515" filter="url(#blur2)"/>`);
    }
    parts.push(`<circle cx="${cx}" cy="${(cy + box.h * 0.22).toFixed(1)}" r="${(box.w * 0.04).toFixed(1)}" fill="#eee"/>`);
    parts.push(`<ellipse cx="${(cx - box.w * 0.03).toFixed(1)}" cy="${(cy + box.h * 0.02).toFixed(1)}" rx="${(box.w * 0.08).toFixed(1)}" ry="${(box.h * 0.1).toFixed(1)}" fill="#888" filter="url(#blur2)"/>`);
    for (let i = 0; i < rng.int(1, 4); i++) {
      parts.push(`<circle cx="${(cx + rng.pick([-1, 1]) * box.w * rng.float(0.1, 0.25)).toFixed(1)}" cy="${(cy + rng.float(-0.15, 0.15) * box.h).toFixed(1)}" r="${(box.w * rng.float(0.015, 0.05)).toFixed(1)}" fill="#aaa" fill-opacity="0.8" filter="url(#blur2)"/>`);
    }
  } else {
    parts.push(`<ellipse cx="${cx}" cy="${(cy + box.h * 0.05).toFixed(1)}" rx="${(box.w * 0.42).toFixed(1)}" ry="${(box.h * 0.48).toFixed(1)}" fill="url(#soft)"/>`);
    for (const side of [-1, 1]) {
      parts.push(`<ellipse cx="${(cx + side * box.w * 0.17).toFixed(1)}" cy="${(cy - box.h * 0.02).toFixed(1)}" rx="${(box.w * 0.14).toFixed(1)}" ry="${(box.h * 0.3).toFixed(1)}" fill="#1c1c1c" filter="url(#blur6)"/>`);
      for (let r = 0; r < 7; r++) {
        const y = cy - box.h * 0.28 + r * box.h * 0.075;
        parts.push(`<path d="M${cx.toFixed(1)},${y.toFixed(1)} q${(side * box.w * 0.2).toFixed(1)},${(-box.h * 0.04).toFixed(1)} ${(side * box.w * 0.32).toFixed(1)},${(box.h * 0.06).toFixed(1)}" stroke="#bbb" stroke-opacity="0.45" stroke-width="${(box.h / 90).toFixed(1)}" fill="none"/>`);
      }
    }
    parts.push(`<rect x="${(cx - box.w * 0.025).toFixed(1)}" y="${box.y}" width="${(box.w * 0.05).toFixed(1)}" height="${box.h}" fill="#ccc" fill-opacity="0.6" filter="url(#blur2)"/>`);
    parts.push(`<ellipse cx="${(cx + box.w * 0.05).toFixed(1)}" cy="${(cy + box.h * 0.15).toFixed(1)}" rx="${(box.w * 0.12).toFixed(1)}" ry="${(box.h * 0.12).toFixed(1)}" fill="#ddd" fill-opacity="0.5" filter="url(#blur6)"/>`);
  }
  const fs = Math.max(12, box.h / 24);
  parts.push(text(box.x + fs, box.y + fs * 1.5, rng.pick(['R', 'L', 'A']), fs * 1.3, { fill: '#fff' }));
  if (rng.chance(0.5)) {
    const ax = cx + box.w * rng.float(0.05, 0.25);
    const ay = cy + box.h * rng.float(-0.2, 0.1);
    parts.push(`<path d="M${(ax + fs * 2).toFixed(1)},${(ay - fs * 2).toFixed(1)} L${ax.toFixed(1)},${ay.toFixed(1)} M${ax.toFixed(1)},${ay.toFixed(1)} l${(fs * 0.2).toFixed(1)},${(-fs * 0.9).toFixed(1)} M${ax.toFixed(1)},${ay.toFixed(1)} l${(fs * 0.9).toFixed(1)},${(-fs * 0.2).toFixed(1)}" stroke="#ff0" stroke-width="3" fill="none"/>`);
  }
  return { svg: parts.join(''), series: [ct ? 'CT' : 'X-ray'], x: '', y: '' };
}

function flowchart(rng: Rng, box: Box, pal: readonly string[]): { svg: string; series: string[]; x: string; y: string } {
  const steps = [
    `Records identified (n = ${rng.int(300, 4000)})`,
    `Screened (n = ${rng.int(150, 300)})`,
    `Assessed for eligibility (n = ${rng.int(60, 150)})`,
    `Randomised (n = ${rng.int(40, 60)})`,
    `Included in analysis (n = ${rng.int(20, 40)})`,
  ].slice(0, rng.int(3, 5));
  const fs = Math.max(10, Math.min(box.h / (steps.length * 5), box.w / 40));
  const bh = fs * 2.6;
  const gap = (box.h - steps.length * bh) / (steps.length + 1);
  const bw = box.w * 0.6;
  const bx = box.x + box.w * 0.08;
  const parts = [`<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="#fff"/>`];
  parts.push(`<defs><marker id="arr" markerWidth="10" markerHeight="10" refX="8" refY="5" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>`);
  steps.forEach((s, i) => {
    const y = box.y + gap + i * (bh + gap);
    parts.push(`<rect x="${bx.toFixed(1)}" y="${y.toFixed(1)}" width="${bw.toFixed(1)}" height="${bh.toFixed(1)}" rx="6" fill="${pal[i % pal.length]}" fill-opacity="0.18" stroke="#333" stroke-width="2"/>`);
    parts.push(text(bx + bw / 2, y + bh / 2 + fs / 3, s, fs, { anchor: 'middle' }));
    if (i < steps.length - 1) {
      parts.push(`<line x1="${(bx + bw / 2).toFixed(1)}" y1="${(y + bh).toFixed(1)}" x2="${(bx + bw / 2).toFixed(1)}" y2="${(y + bh + gap - 4).toFixed(1)}" stroke="#333" stroke-width="2" marker-end="url(#arr)"/>`);
      const ex = bx + bw + box.w * 0.04;
      parts.push(`<line x1="${(bx + bw / 2).toFixed(1)}" y1="${(y + bh + gap / 2).toFixed(1)}" x2="${(ex - 4).toFixed(1)}" y2="${(y + bh + gap / 2).toFixed(1)}" stroke="#333" stroke-width="2" marker-end="url(#arr)"/>`);
      parts.push(`<rect x="${ex.toFixed(1)}" y="${(y + bh + gap / 2 - bh * 0.4).toFixed(1)}" width="${(box.w * 0.26).toFixed(1)}" height="${(bh * 0.8).toFixed(1)}" fill="#fff" stroke="#333" stroke-width="1.5"/>`);
      parts.push(text(ex + box.w * 0.13, y + bh + gap / 2 + fs / 3, `Excluded (n = ${rng.int(2, 120)})`, fs * 0.8, { anchor: 'middle' }));
    }
  });
  return { svg: parts.join(''), series: [], x: '', y: '' };
}

type Builder = (rng: Rng, box: Box, pal: readonly string[]) => { svg: string; series: string[]; x: string; y: string };

const BUILDERS: Record<Exclude<FigureKind, 'panels'>, Builder> = {
  line: linePlot,
  bar: barPlot,
  scatter: scatterPlot,
  boxplot: boxPlot,
  survival: survivalPlot,
  heatmap: (rng, box) => heatmap(rng, box),
  blot: (rng, box) => blot(rng, box),
  microscopy: (rng, box) => microscopy(rng, box),
  histology: (rng, box) => histology(rng, box),
  radiograph: (rng, box) => radiograph(rng, box),
  flowchart,
};

const GRAIN: Partial<Record<FigureKind, number>> = { microscopy: 8, histology: 6, radiograph: 12, blot: 4 };

const DEFS =
  '<defs><filter id="blur2" x="-50%" y="-50%" width="200%" height="200%"><feGaussianBlur stdDeviation="2"/></filter>' +
  '<filter id="blur6" x="-50%" y="-50%" width="200%" height="200%"><feGaussianBlur stdDeviation="6"/></filter>' +
  '<radialGradient id="soft"><stop offset="0%" stop-color="#9a9a9a"/><stop offset="75%" stop-color="#5a5a5a"/><stop offset="100%" stop-color="#000"/></radialGradient></defs>';

/** One figure of the given kind (or a random one) at a realistic size. */
export function drawFigure(rng: Rng, kind: FigureKind = rng.pick(FIGURE_KINDS)): FigureDrawing {
  const pal = rng.pick(PALETTES);
  const width = rng.int(4, 13) * 100 + rng.int(0, 99);
  const aspect = kind === 'panels' ? rng.float(0.6, 1.0) : kind === 'radiograph' || kind === 'microscopy' ? rng.float(0.75, 1.05) : rng.float(0.55, 0.9);
  const height = Math.max(400, Math.round(width * aspect));
  const parts: string[] = [];
  const series: string[] = [];
  let x = '';
  let y = '';
  let panels = 1;
  if (kind === 'panels') {
    const cols = 2;
    const rows = rng.int(1, 2);
    panels = cols * rows;
    const pw = width / cols;
    const ph = height / rows;
    parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
    const sub = rng.sample(['line', 'bar', 'scatter', 'boxplot', 'microscopy', 'blot', 'heatmap', 'histology', 'survival'] as const, panels);
    sub.forEach((k, i) => {
      const box = { x: (i % cols) * pw + 8, y: Math.floor(i / cols) * ph + 8, w: pw - 16, h: ph - 16 };
      const drawn = BUILDERS[k](rng, box, pal);
      parts.push(drawn.svg);
      parts.push(text(box.x + 4, box.y + Math.max(18, ph / 14), String.fromCharCode(65 + i), Math.max(16, ph / 12), { weight: 'bold', fill: k === 'microscopy' ? '#fff' : '#000' }));
      series.push(...drawn.series);
      x ||= drawn.x;
      y ||= drawn.y;
    });
  } else {
    parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
    const drawn = BUILDERS[kind](rng, { x: 0, y: 0, w: width, h: height }, pal);
    parts.push(drawn.svg);
    series.push(...drawn.series);
    x = drawn.x;
    y = drawn.y;
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${DEFS}${parts.join('')}</svg>`;
  return { kind, width, height, svg, grain: GRAIN[kind] ?? 0, labels: { x, y, series, panels } };
}
