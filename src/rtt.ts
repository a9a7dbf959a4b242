/** How long a round-trip sample counts: long enough to outlast a burst of queueing, as BBR's 10 s min_rtt */
const SAMPLE_LIFETIME_MS = 10_000

/**
 * The session's round-trip time: the smallest sample of the last 10 s. Every sample we can take
 * is the path's delay plus queueing (a ping waits behind the DATA already in the connection's
 * buffers), so the minimum is the best estimate of the path itself. A newer sample is kept even
 * when it is larger, so a path that really got slower shows up once the older minimum expires.
 */
export class RttEstimator {
  /** samples with rising ms and rising time: the front is the minimum of the window */
  private readonly samples: Array<{ at: number, ms: number }> = []

  /** ms of the minimum sample, undefined before the first */
  get min (): number | undefined {
    return this.samples[0]?.ms
  }

  add (ms: number, now = performance.now()): void {
    if (!(ms >= 0)) { return }
    while (this.samples.length > 0 && this.samples[this.samples.length - 1].ms >= ms) { this.samples.pop() }
    this.samples.push({ at: now, ms })
    while (this.samples[0].at < now - SAMPLE_LIFETIME_MS) { this.samples.shift() }
  }
}
