import { Uint8ArrayList } from 'uint8arraylist'

/**
 * Bytes waiting to go to the connection. Views that sit back to back in one buffer (control
 * frames cut from the encoder's slab) merge into one, and `take()` returns everything as a
 * single buffer, so one event-loop turn costs one connection write.
 */
export class OutgoingBytes {
  private readonly views: Uint8Array[] = []
  private bytes = 0

  get byteLength (): number {
    return this.bytes
  }

  push (view: Uint8Array): void {
    if (view.byteLength === 0) { return }
    this.bytes += view.byteLength
    const last = this.views[this.views.length - 1]
    if (last?.buffer === view.buffer && last.byteOffset + last.byteLength === view.byteOffset) {
      this.views[this.views.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.byteLength + view.byteLength)
      return
    }
    this.views.push(view)
  }

  /** Remove and return everything queued, copied into one buffer when it is in pieces */
  take (): Uint8Array {
    const data = this.views.length === 1 ? this.views[0] : new Uint8ArrayList(...this.views).subarray()
    this.views.length = 0
    this.bytes = 0
    return data
  }
}
