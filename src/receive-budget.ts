/**
 * A stream that asked for window within this many ms counts when the budget is shared out. A
 * stream asks each time its reader consumes half its window, so one that stops asking has
 * stopped reading (or its sender went quiet) and no longer takes a share from the others.
 */
const ASKING_MS = 1000

/**
 * Who is asking is recounted at most this often: every stream resizes several times per window
 * it receives, and walking all shares each time cost 1 % of a 100-stream transfer. A stream that
 * starts asking counts at once; one that stops is dropped up to this much later.
 */
const RECOUNT_MS = 10

interface Share {
  /** window beyond the initial 64 KiB that this stream holds */
  extra: number
  askedAt: number
  /** counted in `asking` */
  counted: boolean
}

/**
 * The session's receive budget. muxado v1 has no connection-level window, so the growth of all
 * stream windows beyond their initial 64 KiB is bounded here: the total never exceeds `total`,
 * and while several streams ask for more, each may hold at most an equal share. A stream over
 * its share gives the excess back at its next grant (it withholds credit), so one fast stream
 * cannot starve a new one; a stream that closes returns everything at once.
 */
export class ReceiveBudget {
  readonly total: number
  private readonly shares = new Map<object, Share>()
  private reserved = 0
  /** streams that asked within ASKING_MS at the last recount, and those that asked since */
  private asking = 0
  private countedAt = -Infinity

  constructor (total: number) {
    this.total = total
  }

  /** Window beyond the initial one held by all streams together */
  get held (): number {
    return this.reserved
  }

  /**
   * `owner` would like to hold `wanted` bytes beyond its initial window and cannot go below
   * `floor` (credit it has already granted). Returns what it may hold, between the two.
   */
  resize (owner: object, wanted: number, floor: number, now: number): number {
    let share = this.shares.get(owner)
    if (share == null) {
      share = { extra: 0, askedAt: now, counted: false }
      this.shares.set(owner, share)
    }
    share.askedAt = now
    if (!share.counted) {
      share.counted = true
      this.asking++
    }
    const fair = Math.floor(this.total / this.askingCount(now))
    const free = this.total - this.reserved + share.extra
    const allowed = Math.max(floor, Math.min(wanted, fair, free))
    this.reserved += allowed - share.extra
    share.extra = allowed
    return allowed
  }

  /** The stream will receive no more: its whole share goes back */
  release (owner: object): void {
    const share = this.shares.get(owner)
    if (share == null) { return }
    if (share.counted) { this.asking-- }
    this.reserved -= share.extra
    this.shares.delete(owner)
  }

  /** Streams that asked recently, the one asking now among them; shares of zero that stopped asking are forgotten */
  private askingCount (now: number): number {
    if (now - this.countedAt >= RECOUNT_MS) {
      this.countedAt = now
      this.asking = 0
      for (const [owner, share] of this.shares) {
        share.counted = now - share.askedAt < ASKING_MS
        if (share.counted) {
          this.asking++
        } else if (share.extra === 0) {
          this.shares.delete(owner)
        }
      }
    }
    return this.asking
  }
}
