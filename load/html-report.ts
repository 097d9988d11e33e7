import type { InvariantResult } from '../test/harness/invariants.js';
import type { Ledger, Operation } from '../test/harness/ledger.js';
import type { OperationSummary } from '../test/harness/latency-summary.js';

/** One colour per call, the same in the chart and its legend. */
const COLOURS: Record<Operation, string> = {
  whoami: '#2b6cb0',
  refresh: '#2f855a',
  login: '#b7791f',
  badLogin: '#975a16',
  logout: '#6b46c1',
  forged: '#718096',
  replayRevoked: '#c05621',
};

const WIDTH = 960;
const HEIGHT = 360;
const MARGIN = { left: 76, right: 16, top: 16, bottom: 36 };

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Latency over time as an SVG scatter plot, the y axis logarithmic (1 ms to the slowest call): each
 * call a dot at its start, coloured by kind; a call that failed (5xx or no answer) a red cross; each
 * fault a shaded band with its name.
 */
function latencyChart(ledger: Ledger): string {
  const entries = ledger.entries;
  const endMs = Math.max(1, ...entries.map((entry) => entry.endedAt));
  const maxMs = Math.max(10, ...entries.map((entry) => entry.endedAt - entry.startedAt));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (ms: number) => MARGIN.left + (ms / endMs) * plotWidth;
  const y = (ms: number) => MARGIN.top + plotHeight - (Math.log10(Math.max(1, ms)) / Math.log10(maxMs)) * plotHeight;
  const parts: string[] = [];
  for (const fault of ledger.faults) {
    const from = x(fault.from);
    const to = x(Number.isFinite(fault.to) ? Math.max(fault.to, fault.from + endMs / 400) : endMs);
    parts.push(`<rect x="${from.toFixed(1)}" y="${MARGIN.top}" width="${(to - from).toFixed(1)}" height="${plotHeight}" fill="#fed7d7" opacity="0.7"/>`);
    parts.push(`<text x="${(from + 4).toFixed(1)}" y="${MARGIN.top + 14}" font-size="12" fill="#9b2c2c">${escape(fault.label)}</text>`);
  }
  for (let decade = 1; decade <= maxMs; decade *= 10) {
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(decade).toFixed(1)}" y2="${y(decade).toFixed(1)}" stroke="#e2e8f0"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${(y(decade) + 4).toFixed(1)}" font-size="11" text-anchor="end">${decade} ms</text>`);
  }
  const stepS = Math.max(1, Math.ceil(endMs / 1000 / 10));
  for (let second = 0; second * 1000 <= endMs; second += stepS) {
    parts.push(`<text x="${x(second * 1000).toFixed(1)}" y="${HEIGHT - 14}" font-size="11" text-anchor="middle">${second} s</text>`);
  }
  for (const entry of entries) {
    const cx = x(entry.startedAt).toFixed(1);
    const cy = y(entry.endedAt - entry.startedAt).toFixed(1);
    if (entry.status === 0 || entry.status >= 500) parts.push(`<text x="${cx}" y="${cy}" font-size="10" fill="#e53e3e" text-anchor="middle" dominant-baseline="middle">×</text>`);
    else parts.push(`<circle cx="${cx}" cy="${cy}" r="1.6" fill="${COLOURS[entry.op]}" opacity="0.6"/>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#a0aec0"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="system-ui, sans-serif">${parts.join('')}</svg>`;
}

/** The one-page report of a load run: its settings, the latency chart with the fault marked, the figures per call and the invariants. */
export function renderHtmlReport(report: { title: string; settings: Record<string, string | number>; ledger: Ledger; summaries: readonly OperationSummary[]; invariants: readonly InvariantResult[] }): string {
  const settings = Object.entries(report.settings)
    .map(([name, value]) => `<tr><th>${escape(name)}</th><td>${escape(String(value))}</td></tr>`)
    .join('');
  const legend = Object.entries(COLOURS)
    .map(([op, colour]) => `<span><i style="background:${colour}"></i>${op}</span>`)
    .join('');
  const rows = report.summaries
    .map(
      (each) =>
        `<tr><td>${each.op}</td><td>${each.count}</td><td>${each.p50Ms.toFixed(1)}</td><td>${each.p99Ms.toFixed(1)}</td><td>${each.maxMs.toFixed(0)}</td><td>${escape(
          Object.entries(each.statuses)
            .map(([status, count]) => `${status}×${count}`)
            .join(' '),
        )}</td></tr>`,
    )
    .join('');
  const invariants = report.invariants.map((result) => `<tr class="${result.holds ? 'ok' : 'bad'}"><td>${result.name}</td><td>${result.holds ? 'holds' : 'VIOLATED'}</td><td>${escape(result.detail)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(report.title)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 24px; color: #1a202c; }
table { border-collapse: collapse; margin: 8px 0 20px; }
th, td { border: 1px solid #e2e8f0; padding: 4px 10px; text-align: left; }
th { background: #f7fafc; font-weight: 600; }
.legend span { margin-right: 14px; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 50%; }
tr.ok td:nth-child(2) { color: #2f855a; } tr.bad td { color: #c53030; font-weight: 600; }
</style></head><body>
<h1>${escape(report.title)}</h1>
<table>${settings}</table>
<h2>Latency over time</h2>
<div class="legend">${legend}<span style="color:#e53e3e">× 5xx or no answer</span><span style="color:#9b2c2c">shaded: the fault</span></div>
${latencyChart(report.ledger)}
<h2>Per call</h2>
<table><tr><th>call</th><th>count</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th><th>answers</th></tr>${rows}</table>
<h2>Invariants</h2>
<table><tr><th></th><th></th><th>detail</th></tr>${invariants}</table>
</body></html>
`;
}
