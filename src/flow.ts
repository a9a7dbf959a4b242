import { INITIAL_WINDOW } from './protocol/constants.ts'
import type { ReceiveBudget } from './receive-budget.ts'
import type { RttEstimator } from './rtt.ts'

/**
 * Grants go out once half the window is owed, but at most this much, or an eighth of the window
 * when that is more: a 16 MiB window granted back in halves would leave the sender idle for a
 * quarter of it on average, while granting a 16 MiB window every 256 KiB made a WNDINC, and a
 * socket write of its own, per 256 KiB received (a tenth of a bulk transfer's CPU on loopback).
 * An eighth still leaves the sender 7/8 of the window in flight.
 */
const GRANT_BATCH = 256 * 1024
const GRANT_FRACTION = 8

/**
 * An epoch is this fraction of the window, so a window the reader drains at once grows about
 * 16-fold per round trip (doublings after 1/16, 2/16, 4/16 and 8/16 of it): from the fixed
 * 64 KiB to 1 MiB with the first round trip's data, to 16 MiB (past 1 Gbit/s × 100 ms) with the
 * second. Quarters (4-fold) left every stream one round trip behind yamux, which starts its
 * windows at 256 KiB. muxado v1 has no window in the SYN, so the first round trip carries 64 KiB
 * whatever we do: a grant sent as soon as the SYN arrives would reach the sender together with
 * the grant for that first 64 KiB, so growing faster from it is what catches up, not a pre-grant.
 */
const EPOCHS_PER_WINDOW = 16

/** What a stream's window needs from its session to grow */
export interface WindowTuning {
  /** the session's round-trip estimate, also fed by this window's own samples */
  rtt: RttEstimator
  /** the session's bound on all windows' growth */
  budget: ReceiveBudget
  /** ms, monotonic */
  now(): number
}

/**
 * Receive-side flow control for one stream.
 *
 * The peer may send `available` more bytes. Window is granted back (WNDINC) only for bytes the
 * application has consumed, so a reader that stops holds the peer at the window. Grants are
 * batched until half the window (at most 256 KiB, or an eighth of a window over 2 MiB) is owed;
 * a Go sender simply adds whatever it is granted.
 *
 * Autotuning, with `tuning`: every time the application has consumed a sixteenth of the window
 * (an epoch), the window doubles, up to `maxSize`, if the reader drained everything and the
 * epoch took less than a quarter of a round trip (the whole window at that pace in under four):
 * the sender was waiting on our grants, not on the link or the application. This is quic-go's
 * rule with much shorter epochs, so a window doubles several times in the burst one round trip
 * brings and a long, fat path fills in two round trips. Growing fast costs no memory bound: a
 * window only grows while its reader drains it, and never past `maxSize` or the session's
 * budget, whatever the pace. A message that spans several epochs counts as its frames
 * would have, one after another. Growth comes out of the session's budget, which may also
 * shrink a window to its fair share. Without `tuning` the window stays at 64 KiB.
 */
export class ReceiveWindow {
  private size: number
  private readonly maxSize: number
  /** cleared once the window stops tuning: its share of the budget is back */
  private tuning?: WindowTuning
  private available: number
  /** received from the wire, not yet consumed by the application */
  private unconsumed = 0
  /** consumed, not yet granted back */
  private owed = 0
  private epochStart = 0
  private epochConsumed = 0
  /** when we granted window to a sender that had used all of it: its next data is a round trip later */
  private unblockedAt?: number

  constructor (maxSize = INITIAL_WINDOW, tuning?: WindowTuning) {
    this.size = INITIAL_WINDOW
    this.maxSize = Math.max(maxSize, INITIAL_WINDOW)
    this.available = INITIAL_WINDOW
    this.tuning = tuning
    this.epochStart = tuning?.now() ?? 0
  }

  /** Bytes the peer may still send before it must wait for a grant */
  get remaining (): number {
    return this.available
  }

  /** The window: bytes the peer may have in flight or buffered here, at most */
  get limit (): number {
    return this.size
  }

  /** Account for an arriving payload. Returns false if it overflows the window. */
  receive (bytes: number): boolean {
    if (bytes > this.available) { return false }
    this.available -= bytes
    this.unconsumed += bytes
    if (this.unblockedAt !== undefined && this.tuning !== undefined) {
      const now = this.tuning.now()
      this.tuning.rtt.add(now - this.unblockedAt)
      this.unblockedAt = undefined
    }
    return true
  }

  /**
   * The application consumed `bytes`. Returns the increment to send now, or 0 to keep batching.
   * Consumption beyond what arrived from the wire (re-injected data) earns nothing.
   */
  consume (bytes: number): number {
    const credit = Math.min(bytes, this.unconsumed)
    this.unconsumed -= credit
    this.owed += credit
    this.epochConsumed += credit
    let tuning = this.tuning
    while (tuning !== undefined && this.epochConsumed >= this.size / EPOCHS_PER_WINDOW) {
      tuning = this.endEpoch(tuning) ? tuning : undefined
    }
    if (this.owed < Math.max(Math.min(this.size / 2, GRANT_BATCH), this.size / GRANT_FRACTION)) { return 0 }
    return this.grant()
  }

  /** The application will read no more: release everything so the peer is not left waiting */
  release (): number {
    this.stopTuning()
    this.owed += this.unconsumed
    this.unconsumed = 0
    return this.owed > 0 ? this.grant() : 0
  }

  /**
   * The peer sent FIN: the credit it still holds is void. Once the reader is within the initial
   * window of the end, the share goes back; a reader further behind keeps it until it closes.
   */
  peerFinished (): void {
    if (this.unconsumed <= INITIAL_WINDOW) { this.stopTuning() }
  }

  /** The stream is gone or reads no more: nothing it holds counts against the budget now */
  stopTuning (): void {
    this.tuning?.budget.release(this)
    this.tuning = undefined
  }

  /** Ends the epoch; true if the window grew and bytes beyond the epoch may end the next one */
  private endEpoch (tuning: WindowTuning): boolean {
    const now = tuning.now()
    const rtt = tuning.rtt.min
    // the window limits when a share of it is consumed in less than 4 × that share of a round
    // trip: the reader takes the window faster than the sender could send it at the link's rate
    const windowLimited = this.unconsumed === 0 &&
      (rtt === undefined || now - this.epochStart < 4 * (this.epochConsumed / this.size) * rtt)
    const wanted = windowLimited ? Math.min(this.size * 2, this.maxSize) : this.size
    // credit already granted cannot be taken back: only what we owe can be withheld
    const floor = this.size - this.owed
    const size = INITIAL_WINDOW + tuning.budget.resize(this, wanted - INITIAL_WINDOW, Math.max(0, floor - INITIAL_WINDOW), now)
    const grew = size > this.size
    // bytes past this epoch's share count towards the next, as if they had come frame by frame
    this.epochConsumed = grew ? this.epochConsumed - this.size / EPOCHS_PER_WINDOW : 0
    this.owed += size - this.size
    this.size = size
    this.epochStart = now
    return grew
  }

  private grant (): number {
    const increment = this.owed
    if (this.available === 0 && this.tuning !== undefined) { this.unblockedAt = this.tuning.now() }
    this.owed = 0
    this.available += increment
    return increment
  }
}
