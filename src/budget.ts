/**
 * A token bucket: `burst` tokens, refilled at `perSecond`. It bounds how much free work a peer
 * can make us do (useless frames, stream churn) while letting ordinary bursts through.
 */
export class Budget {
  private readonly burst: number
  private readonly perMs: number
  private tokens: number
  private refilledAt: number

  constructor (burst: number, perSecond: number, now = Date.now()) {
    this.burst = burst
    this.perMs = perSecond / 1000
    this.tokens = burst
    this.refilledAt = now
  }

  /** Spend one token; false when the budget is exhausted */
  spend (now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) * this.perMs)
    this.refilledAt = now
    if (this.tokens < 1) {
      return false
    }
    this.tokens--
    return true
  }
}
