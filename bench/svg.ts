/** One line of a chart panel. */
export interface Series {
  label: string;
  color: string;
  dashed: boolean;
  points: Array<{ x: number; y: number }>;
}

/** Side-by-side panels sharing axes' meaning (each panel scales its own y range). */
export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  panels: Array<{ title: string; series: Series[] }>;
}

const PANEL_W = 440;
const PANEL_H = 300;
const MARGIN = { left: 62, right: 16, top: 40, bottom: 48 };
/** Room for the chart title above the panels. */
const TITLE_H = 34;
const LEGEND_H = 24;

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number): string => (Math.round(v * 10) / 10).toString();

/** 1-2-5 ticks covering [lo, hi] on a log scale. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let decade = 10 ** Math.floor(Math.log10(lo)); decade <= hi * 10; decade *= 10) {
    for (const m of [1, 2, 5]) if (decade * m >= lo && decade * m <= hi) ticks.push(decade * m);
  }
  return ticks;
}

function label(v: number): string {
  return v >= 1 ? String(Number(v.toPrecision(3))) : v.toPrecision(1);
}

function panel(p: Chart['panels'][number], index: number, xLabel: string, yLabel: string): string {
  const points = p.series.flatMap((s) => s.points).filter((pt) => pt.x > 0 && pt.y > 0 && Number.isFinite(pt.y));
  if (points.length === 0) return '';
  const xs = [...new Set(points.map((pt) => pt.x))].sort((a, b) => a - b);
  const [xMin, xMax] = [xs[0] ?? 1, xs[xs.length - 1] ?? 1];
  const yMin = Math.min(...points.map((pt) => pt.y)) / 1.15;
  const yMax = Math.max(...points.map((pt) => pt.y)) * 1.15;
  const ox = index * PANEL_W;
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => ox + MARGIN.left + (xMax === xMin ? plotW / 2 : ((Math.log(x) - Math.log(xMin)) / (Math.log(xMax) - Math.log(xMin))) * plotW);
  const sy = (y: number): number => MARGIN.top + plotH - ((Math.log(y) - Math.log(yMin)) / (Math.log(yMax) - Math.log(yMin))) * plotH;
  const out: string[] = [];
  out.push(`<text x="${num(ox + MARGIN.left + plotW / 2)}" y="${MARGIN.top - 12}" text-anchor="middle" font-weight="bold">${escape(p.title)}</text>`);
  out.push(`<rect x="${num(ox + MARGIN.left)}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (const t of logTicks(yMin, yMax)) {
    const y = num(sy(t));
    out.push(`<line x1="${num(ox + MARGIN.left)}" x2="${num(ox + MARGIN.left + plotW)}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${num(ox + MARGIN.left - 6)}" y="${y}" text-anchor="end" dominant-baseline="middle">${label(t)}</text>`);
  }
  for (const x of xs) {
    out.push(`<line x1="${num(sx(x))}" x2="${num(sx(x))}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${num(sx(x))}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${x}</text>`);
  }
  out.push(`<text x="${num(ox + MARGIN.left + plotW / 2)}" y="${PANEL_H - 10}" text-anchor="middle">${escape(xLabel)}</text>`);
  const my = MARGIN.top + plotH / 2;
  out.push(`<text x="${num(ox + 16)}" y="${num(my)}" text-anchor="middle" transform="rotate(-90 ${num(ox + 16)} ${num(my)})">${escape(yLabel)}</text>`);
  for (const s of p.series) {
    const pts = s.points.filter((pt) => pt.x > 0 && pt.y > 0 && Number.isFinite(pt.y)).sort((a, b) => a.x - b.x);
    if (pts.length === 0) continue;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.map((pt) => `${num(sx(pt.x))},${num(sy(pt.y))}`).join(' ')}"><title>${escape(s.label)}</title></polyline>`);
    for (const pt of pts) out.push(`<circle cx="${num(sx(pt.x))}" cy="${num(sy(pt.y))}" r="3" fill="${s.color}"><title>${escape(`${s.label}: ${pt.y.toFixed(2)} at ${pt.x}`)}</title></circle>`);
  }
  return out.join('\n');
}

/** A hand-written SVG (no dependencies): log-scaled x and y, one legend for all panels. */
export function renderChart(chart: Chart): string {
  const width = PANEL_W * Math.max(1, chart.panels.length);
  const height = TITLE_H + PANEL_H + LEGEND_H + 12;
  const legendSeries = chart.panels[0]?.series ?? [];
  const legend = legendSeries.map((s, i) => {
    const x = 20 + i * 210;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    return `<line x1="${x}" x2="${x + 28}" y1="${TITLE_H + PANEL_H + 12}" y2="${TITLE_H + PANEL_H + 12}" stroke="${s.color}" stroke-width="2"${dash}/><text x="${x + 34}" y="${TITLE_H + PANEL_H + 12}" dominant-baseline="middle">${escape(s.label)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escape(chart.title)}</text>`,
    `<g transform="translate(0 ${TITLE_H})">`,
    ...chart.panels.map((p, i) => panel(p, i, chart.xLabel, chart.yLabel)),
    '</g>',
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}
