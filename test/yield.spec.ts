import { expect } from 'aegir/chai'
import { runInMicrotask, yieldToEventLoop } from '../src/yield.ts'
import { RawPeer, wndincFlood } from './helpers/raw-peer.ts'

async function yieldOnce (): Promise<void> {
  await new Promise<void>(resolve => { yieldToEventLoop(resolve) })
}

describe('yieldToEventLoop', () => {
  it('runs callbacks in the order given, after the caller\'s microtasks', async () => {
    const order: string[] = []
    yieldToEventLoop(() => { order.push('first') })
    yieldToEventLoop(() => { order.push('second') })
    queueMicrotask(() => { order.push('microtask') })
    await yieldOnce()
    expect(order).to.deep.equal(['microtask', 'first', 'second'])
  })

  it('lets a timer fire while a chain of yields runs', async () => {
    const timer = { fired: false }
    setTimeout(() => { timer.fired = true }, 0)
    for (let hops = 0; !timer.fired && hops < 100_000; hops++) {
      await yieldOnce()
    }
    expect(timer.fired).to.equal(true)
  })

  // Speed is not asserted elsewhere; this bound only tells an unclamped yield from the 4 ms that
  // browsers impose on nested setTimeout(0): 1563 turns would idle for 6 s with that clamp
  it('100,000 frames in one chunk, 64 frames per turn, are handled in well under the 6 s a clamped setTimeout(0) would take', async function () {
    this.timeout(30_000)
    const peer = new RawPeer('client', { maxFramesPerTurn: 64 })
    const stream = await peer.muxer.createStream()
    const flood = wndincFlood(stream, 100_000)
    const allHandled = new Promise<void>((resolve) => {
      const check = (): void => { if (flood.handled() === 100_000) { resolve() } else { setTimeout(check, 50) } }
      check()
    })
    const started = performance.now()
    peer.muxer.onData(flood.chunk)
    expect(flood.handled(), 'frames handled in the first turn').to.equal(64)
    await allHandled
    const elapsed = performance.now() - started
    expect(elapsed, 'ms for 100,000 frames').to.be.below(2000)
    peer.muxer.abort(new Error('test over'))
  })
})

describe('runInMicrotask', () => {
  it('runs after the caller, in order with other microtasks, before the next task', async () => {
    const order: string[] = []
    yieldToEventLoop(() => { order.push('task') })
    runInMicrotask(() => { order.push('first') })
    queueMicrotask(() => { order.push('queued') })
    runInMicrotask(() => { order.push('second') })
    order.push('caller')
    await yieldOnce()
    expect(order).to.deep.equal(['caller', 'first', 'queued', 'second', 'task'])
  })
})
