const SLAB_SIZE = 1024 * 1024
let slab = new Uint8Array(SLAB_SIZE)
let slabUsed = 0

function takeSlab (length: number): Uint8Array {
  if (length > SLAB_SIZE / 2) {
    return new Uint8Array(length)
  }
  if (slabUsed + length > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE)
    slabUsed = 0
  }
  const view = slab.subarray(slabUsed, slabUsed + length)
  slabUsed += length
  return view
}

/**
 * Bytes waiting to go to the connection. Views that sit back to back in one buffer (control
 * frames cut from the encoder's slab) merge into one, and `take()` hands everything over as one
 * list without copying payloads, so one event-loop turn costs one connection `send()`.
 */
export class OutgoingBytes {
  private views: Uint8Array[] = []
  private bytes = 0

  get byteLength (): number {
    return this.bytes
  }

  push (view: Uint8Array): void {
    if (view.byteLength === 0) {
      return
    }
    this.bytes += view.byteLength
    const last = this.views[this.views.length - 1]
    if (last?.buffer === view.buffer && last.byteOffset + last.byteLength === view.byteOffset) {
      this.views[this.views.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.byteLength + view.byteLength)
      return
    }
    this.views.push(view)
  }

  /**
   * Remove and return everything queued as one buffer. Copying the pieces costs less than the
   * write per piece a socket transport would otherwise make: a muxado frame carries at most
   * 16383 bytes, so a 64 KiB write is 8 pieces. The copy lands in a shared slab, so it allocates
   * nothing per batch; a slab region is never reused while the connection may still hold it.
   */
  take (): Uint8Array {
    const views = this.views
    const length = this.bytes
    this.views = []
    this.bytes = 0
    if (views.length === 1) {
      return views[0]
    }
    const out = takeSlab(length)
    let offset = 0
    for (const view of views) {
      out.set(view, offset)
      offset += view.byteLength
    }
    return out
  }
}
