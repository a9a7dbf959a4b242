/**
 * Readers that stop: what a peer can make a receiver buffer. Shared by the session-budget test
 * and the WAN benchmark.
 */
import type { StreamMuxer } from '@libp2p/interface'

/**
 * Every stream `muxer` accepts is read for `readFirst` bytes (so its window can grow) and then
 * paused. Resolves once `streams` streams have paused.
 */
export async function pauseAfter (muxer: StreamMuxer, readFirst: number, streams: number): Promise<void> {
  await new Promise<void>(resolve => {
    let paused = 0
    muxer.addEventListener('stream', (evt) => {
      const stream = evt.detail
      let read = 0
      const onMessage = (msg: { data: { byteLength: number } }): void => {
        read += msg.data.byteLength
        if (read < readFirst) { return }
        stream.removeEventListener('message', onMessage)
        stream.pause()
        if (++paused === streams) { resolve() }
      }
      stream.addEventListener('message', onMessage)
    })
  })
}

/** Bytes waiting in the read buffers of `muxer`'s streams */
export function buffered (muxer: StreamMuxer): number {
  return muxer.streams.reduce((sum, s) => sum + s.readBufferLength, 0)
}

/** Resolves with `probe()` once it has not changed for `quietMs` */
export async function settled (probe: () => number, quietMs: number): Promise<number> {
  let last = probe()
  let since = performance.now()
  while (performance.now() - since < quietMs) {
    await new Promise(resolve => setTimeout(resolve, 50))
    const now = probe()
    if (now !== last) {
      last = now
      since = performance.now()
    }
  }
  return last
}
