import type { LedgerEntry, Operation } from './ledger.js';

/** One call's figures over a run: how many, how fast, how they ended. */
export interface OperationSummary {
  op: Operation;
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Answers by status; 0 is no answer at all (refused, reset, timed out). */
  statuses: Record<string, number>;
}

/** The `fraction` quantile of `values` (nearest rank); 0 for none. */
export function quantile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] as number;
}

/** Per operation: count, p50, p99 and max latency, answers by status. */
export function summarize(entries: readonly LedgerEntry[]): OperationSummary[] {
  const byOp = new Map<Operation, LedgerEntry[]>();
  for (const entry of entries) {
    const list = byOp.get(entry.op) ?? [];
    list.push(entry);
    byOp.set(entry.op, list);
  }
  return [...byOp.entries()].map(([op, list]) => {
    const ms = list.map((entry) => entry.endedAt - entry.startedAt);
    const statuses: Record<string, number> = {};
    for (const entry of list) statuses[entry.status] = (statuses[entry.status] ?? 0) + 1;
    return { op, count: list.length, p50Ms: quantile(ms, 0.5), p99Ms: quantile(ms, 0.99), maxMs: Math.max(...ms), statuses };
  });
}

/** The summary as lines of text, one per operation. */
export function formatSummary(summaries: readonly OperationSummary[]): string[] {
  return summaries.map(
    (each) =>
      `${each.op.padEnd(14)} ${String(each.count).padStart(6)} calls  p50 ${each.p50Ms.toFixed(1).padStart(7)} ms  p99 ${each.p99Ms.toFixed(1).padStart(7)} ms  max ${each.maxMs.toFixed(0).padStart(6)} ms  ${Object.entries(each.statuses)
        .map(([status, count]) => `${status}×${count}`)
        .join(' ')}`,
  );
}
