/** Median time of one call of `run`, in nanoseconds, over `batches` batches of `perBatch` calls. */
export async function medianNanoseconds(run: () => unknown, options: { batches?: number; perBatch?: number } = {}): Promise<number> {
  const { batches = 15, perBatch = 1000 } = options;
  const samples: number[] = [];
  for (let warm = 0; warm < perBatch; warm++) await run();
  for (let batch = 0; batch < batches; batch++) {
    const start = process.hrtime.bigint();
    for (let call = 0; call < perBatch; call++) {
      const result = run();
      if (result instanceof Promise) await result;
    }
    samples.push(Number(process.hrtime.bigint() - start) / perBatch);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] as number;
}
