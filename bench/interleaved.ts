/** What an interleaved comparison found: each side's median figure, and the median of the per-round ratios. */
export interface Comparison {
  /** Nanoseconds a call (compareInterleaved), or whatever the runs return (compareRunsInterleaved). */
  a: number;
  b: number;
  /** Median over the rounds of A's figure divided by B's in the same round. */
  ratio: number;
}

export interface InterleaveOptions {
  rounds?: number;
  perBatch?: number;
  /** Calls of each side before anything is timed, so that both run optimised code. */
  warmUp?: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function timeBatch(run: () => void, calls: number): number {
  const start = process.hrtime.bigint();
  for (let call = 0; call < calls; call++) run();
  return Number(process.hrtime.bigint() - start) / calls;
}

/**
 * Times two synchronous operations in alternating batches: round after round, A then B, then B then
 * A, so that noise on a shared machine and whatever one side leaves in the CPU's caches fall on both
 * alike. Compare the ratio, which two sides measured minutes apart cannot give.
 */
export function compareInterleaved(a: () => void, b: () => void, options: InterleaveOptions = {}): Comparison {
  const { rounds = 15, perBatch = 20_000, warmUp = 50_000 } = options;
  timeBatch(a, warmUp);
  timeBatch(b, warmUp);
  const aTimes: number[] = [];
  const bTimes: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let aNs: number;
    let bNs: number;
    if (round % 2 === 0) {
      aNs = timeBatch(a, perBatch);
      bNs = timeBatch(b, perBatch);
    } else {
      bNs = timeBatch(b, perBatch);
      aNs = timeBatch(a, perBatch);
    }
    aTimes.push(aNs);
    bTimes.push(bNs);
    ratios.push(aNs / bNs);
  }
  return { a: median(aTimes), b: median(bTimes), ratio: median(ratios) };
}

/** Figures of several runs taken round after round: each run's median, and the median ratio of two runs. */
export interface RoundRobin<TName extends string> {
  medians: Record<TName, number>;
  /** Median over the rounds of `a`'s figure divided by `b`'s in the same round. */
  ratio(a: TName, b: TName): number;
}

/**
 * The same for asynchronous runs of a few seconds each (HTTP load): every round runs each once, the
 * order turning by one place each round, after one unmeasured run of each.
 */
export async function roundRobin<TName extends string>(runs: Record<TName, () => Promise<number>>, rounds: number): Promise<RoundRobin<TName>> {
  const names = Object.keys(runs) as TName[];
  for (const name of names) await runs[name]();
  const figures: Array<Record<TName, number>> = [];
  for (let round = 0; round < rounds; round++) {
    const figure = {} as Record<TName, number>;
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length] as TName;
      figure[name] = await runs[name]();
    }
    figures.push(figure);
  }
  const medians = {} as Record<TName, number>;
  for (const name of names) medians[name] = median(figures.map((figure) => figure[name]));
  return { medians, ratio: (a, b) => median(figures.map((figure) => figure[a] / figure[b])) };
}
