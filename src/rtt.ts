/**
 * The session's round-trip time: the smallest sample so far. Every sample we can take is the
 * path's delay plus queueing (a ping waits behind the DATA already in the connection's buffers,
 * a grant's reply behind the sender's earlier data), so the minimum is the best estimate of the
 * path itself. It never expires: on a link that stays loaded every later sample includes the
 * queue, and an estimate that followed it would let windows grow and the queue with them. A path
 * that really gets slower is underestimated, which only makes windows grow less.
 */
export class RttEstimator {
  /** ms, undefined before the first sample */
  min?: number

  add (ms: number): void {
    if (ms >= 0 && (this.min === undefined || ms < this.min)) { this.min = ms }
  }
}
