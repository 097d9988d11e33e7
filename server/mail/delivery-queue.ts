import type { Logger } from '../deps.js';
import type { DeliveryPolicy } from './mail-options.js';

/*
 * Mail leaves through a queue in memory: a procedure answers before its mail is sent (so the answer
 * takes as long for an unknown address as for a known one), and a mail the transport refuses (an
 * SMTP outage) is tried again after 1 s, 4 s, 16 s … until the attempts run out. It lives in memory
 * on purpose: a mail holds a live link token, which must never be written anywhere in clear. A crash
 * loses what was queued; the user asks again.
 *
 * The queue is bounded per kind of mail, and sends the kinds in turn: a flood of one kind (sign-ups
 * against a slow relay) fills its own share and waits behind itself, while a password-reset mail
 * still finds room and goes out next. Beyond its kind's bound a new mail is dropped and logged
 * rather than letting an outage grow memory without limit.
 */

/** What the queue reads of `mail.delivery` (mail-options.ts); `spreadMs` is the background tasks'. */
export type QueuePolicy = Omit<DeliveryPolicy, 'spreadMs'>;

/** The queue as read by metrics: mails now, and counts so far. */
export interface DeliveryStats {
  /** Mails waiting, sending or due for a retry. */
  queued: number;
  /** Mails being handed to the transport. */
  sending: number;
  /** Mails waiting for a retry after the transport refused them. */
  retrying: number;
  /** Mails the transport took. */
  sent: number;
  /** Mails given up on after their attempts (or on shutdown). */
  failed: number;
  /** Mails not queued: their kind filled its share, or the queue was closed. */
  dropped: number;
}

export interface DeliveryQueue {
  /** Queues a delivery of a kind of mail, which also names it in logs (never the address or the content). */
  push(kind: string, deliver: () => Promise<unknown>): void;
  /** Resolves once nothing is waiting, sending or due for a retry. */
  flush(): Promise<void>;
  /** Stops retrying (what waits for a retry is dropped and logged) and waits for sends in flight. */
  close(): Promise<void>;
  stats(): DeliveryStats;
}

interface Job {
  kind: string;
  deliver: () => Promise<unknown>;
  attempt: number;
}

export function createDeliveryQueue(policy: QueuePolicy, logger: Logger): DeliveryQueue {
  // Ready mails by kind; a Map iterates in insertion order, and a kind served goes to the back.
  const ready = new Map<string, Job[]>();
  const queuedByKind = new Map<string, number>();
  const retries = new Map<ReturnType<typeof setTimeout>, Job>();
  let sending = 0;
  let sent = 0;
  let failed = 0;
  let dropped = 0;
  let closed = false;
  let idle: Array<() => void> = [];

  const size = () => [...queuedByKind.values()].reduce((total, count) => total + count, 0);

  function enqueue(job: Job): void {
    const jobs = ready.get(job.kind);
    if (jobs) jobs.push(job);
    else ready.set(job.kind, [job]);
  }

  /** The next mail of the kind whose turn it is. */
  function takeNext(): Job | undefined {
    for (const [kind, jobs] of ready) {
      const job = jobs.shift();
      ready.delete(kind);
      if (jobs.length > 0) ready.set(kind, jobs);
      if (job) return job;
    }
    return undefined;
  }

  function finished(job: Job): void {
    const left = (queuedByKind.get(job.kind) ?? 1) - 1;
    if (left > 0) queuedByKind.set(job.kind, left);
    else queuedByKind.delete(job.kind);
  }

  function settleIfIdle(): void {
    if (size() > 0) return;
    const waiting = idle;
    idle = [];
    for (const resolve of waiting) resolve();
  }

  function retryLater(job: Job, error: unknown): void {
    const delayMs = policy.firstRetryDelayMs * 4 ** (job.attempt - 1);
    logger.warn('mail not delivered; will retry', { mail: job.kind, attempt: job.attempt, retryInMs: delayMs, error: String(error) });
    const timer = setTimeout(() => {
      retries.delete(timer);
      enqueue({ ...job, attempt: job.attempt + 1 });
      pump();
    }, delayMs);
    retries.set(timer, job);
  }

  function pump(): void {
    while (sending < policy.concurrency) {
      const job = takeNext();
      if (!job) return;
      sending++;
      job
        .deliver()
        .then(
          () => {
            sent++;
            finished(job);
          },
          (error: unknown) => {
            if (job.attempt < policy.attempts && !closed) return retryLater(job, error);
            failed++;
            finished(job);
            logger.error('mail not sent', { mail: job.kind, attempts: job.attempt, error: String(error) });
          },
        )
        .finally(() => {
          sending--;
          pump();
          settleIfIdle();
        });
    }
  }

  return {
    push(kind, deliver) {
      const queued = queuedByKind.get(kind) ?? 0;
      if (closed || queued >= policy.maxQueuedPerKind) {
        dropped++;
        logger.error('mail dropped: its kind fills its share of the queue, or the queue is closed', { mail: kind, queued });
        return;
      }
      queuedByKind.set(kind, queued + 1);
      enqueue({ kind, deliver, attempt: 1 });
      // Not inside the caller's turn: a transport's work must not delay the answer of the request
      // that queued the mail.
      setImmediate(pump);
    },

    flush() {
      if (size() === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },

    async close() {
      closed = true;
      for (const [timer, job] of retries) {
        clearTimeout(timer);
        failed++;
        finished(job);
        logger.error('mail not sent: shutting down before its retry', { mail: job.kind, attempts: job.attempt });
      }
      retries.clear();
      settleIfIdle();
      await this.flush();
    },

    stats: () => ({ queued: size(), sending, retrying: retries.size, sent, failed, dropped }),
  };
}
