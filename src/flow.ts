import { INITIAL_WINDOW } from './protocol/constants.ts'

/**
 * Receive-side flow control for one stream.
 *
 * The peer may send `available` more bytes. Window is granted back (WNDINC) only for bytes the
 * application has consumed, so a reader that stops holds the peer at the window. Grants are
 * batched until half the window is owed; a Go sender simply adds whatever it is granted.
 * When the application consumes everything it was given, the window doubles at each grant, up
 * to `maxSize`: a reader that keeps up should not wait on round trips.
 */
export class ReceiveWindow {
  private size: number
  private readonly maxSize: number
  private available: number
  /** received from the wire, not yet consumed by the application */
  private unconsumed = 0
  /** consumed, not yet granted back */
  private owed = 0

  constructor (maxSize = INITIAL_WINDOW) {
    this.size = INITIAL_WINDOW
    this.maxSize = Math.max(maxSize, INITIAL_WINDOW)
    this.available = INITIAL_WINDOW
  }

  /** Bytes the peer may still send before it must wait for a grant */
  get remaining (): number {
    return this.available
  }

  /** Account for an arriving payload. Returns false if it overflows the window. */
  receive (bytes: number): boolean {
    if (bytes > this.available) { return false }
    this.available -= bytes
    this.unconsumed += bytes
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
    if (this.owed < this.size / 2) { return 0 }

    if (this.unconsumed === 0 && this.size < this.maxSize) {
      const grown = Math.min(this.size * 2, this.maxSize)
      this.owed += grown - this.size
      this.size = grown
    }
    return this.grant()
  }

  /** The application will read no more: release everything so the peer is not left waiting */
  release (): number {
    this.owed += this.unconsumed
    this.unconsumed = 0
    return this.owed > 0 ? this.grant() : 0
  }

  private grant (): number {
    const increment = this.owed
    this.owed = 0
    this.available += increment
    return increment
  }
}
