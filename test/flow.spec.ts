import { expect } from 'aegir/chai'
import { ReceiveWindow } from '../src/flow.ts'
import { ReceiveBudget } from '../src/receive-budget.ts'
import { RttEstimator } from '../src/rtt.ts'
import type { WindowTuning } from '../src/flow.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** A session's tuning with a clock the test moves and an RTT already measured */
function tuning (rttMs: number | undefined, budget = 32 * MiB): WindowTuning & { clock: { ms: number } } {
  const clock = { ms: 0 }
  const rtt = new RttEstimator()
  if (rttMs !== undefined) { rtt.add(rttMs) }
  return { clock, rtt, budget: new ReceiveBudget(budget), now: () => clock.ms }
}

/** `ms` after the last grant, the peer's data fills the window and the reader takes it all; returns the grant */
function roundTrip (window: ReceiveWindow, t: { clock: { ms: number } }, ms: number): number {
  t.clock.ms += ms
  const bytes = window.remaining
  window.receive(bytes)
  return window.consume(bytes)
}

describe('ReceiveWindow', () => {
  it('accepts exactly the initial 65536 bytes', () => {
    const window = new ReceiveWindow()
    expect(window.receive(65536)).to.equal(true)
    expect(window.receive(1)).to.equal(false)
  })

  it('grants nothing until half the window is consumed, then all of it', () => {
    const window = new ReceiveWindow()
    window.receive(40000)
    expect(window.consume(32767)).to.equal(0)
    expect(window.consume(1)).to.equal(32768)
    expect(window.remaining).to.equal(65536 - 40000 + 32768)
  })

  it('never grants more than arrived from the wire', () => {
    const window = new ReceiveWindow()
    window.receive(100)
    expect(window.consume(65536)).to.equal(0)
    expect(window.release()).to.equal(100)
  })

  it('stays at 65536 bytes without tuning (the session\'s own streams)', () => {
    const window = new ReceiveWindow(MiB)
    window.receive(65536)
    expect(window.consume(65536)).to.equal(65536)
    expect(window.limit).to.equal(65536)
  })

  it('doubles for each sixteenth of the window the reader drains in under a quarter of a round trip: 16-fold per round trip, up to the maximum', () => {
    const t = tuning(100)
    const window = new ReceiveWindow(16 * MiB, t)
    // 64 KiB consumed: epochs of 4 KiB (→ 128 KiB), 8 (→ 256), 16 (→ 512) and 32 (→ 1 MiB), 4 KiB left over
    expect(roundTrip(window, t, 100)).to.equal(64 * KiB + 960 * KiB)
    expect(window.limit).to.equal(MiB)
    // 1 MiB a round trip later: 1/16, 2/16, 4/16 and 8/16 of it double it four times more
    expect(roundTrip(window, t, 100)).to.equal(MiB + 15 * MiB)
    expect(window.limit).to.equal(16 * MiB)
    expect(roundTrip(window, t, 100)).to.equal(16 * MiB)
    expect(window.limit).to.equal(16 * MiB)
  })

  it('a message that spans several epochs grows the window as its frames would have, one by one', () => {
    const t = tuning(100)
    const whole = new ReceiveWindow(16 * MiB, t)
    whole.receive(65536)
    whole.consume(65536)
    const framed = new ReceiveWindow(16 * MiB, t)
    for (let i = 0; i < 16; i++) {
      framed.receive(4096)
      framed.consume(4096)
    }
    expect(whole.limit).to.equal(MiB)
    expect(framed.limit).to.equal(whole.limit)
  })

  it('a reader that resumes after a pause does not grow: its first epoch took too long', () => {
    const t = tuning(100)
    const window = new ReceiveWindow(MiB, t)
    window.receive(65536)
    t.clock.ms += 1000
    expect(window.consume(65536)).to.equal(65536)
    expect(window.limit).to.equal(65536)
  })

  it('does not grow when the whole window took four round trips or more: the link or the sender is the limit', () => {
    const t = tuning(10)
    const window = new ReceiveWindow(MiB, t)
    expect(roundTrip(window, t, 40)).to.equal(65536)
    expect(window.limit).to.equal(65536)
  })

  it('ends an epoch at each sixteenth of the window, so one burst can double it four times', () => {
    const t = tuning(100)
    const window = new ReceiveWindow(MiB, t)
    window.receive(4096)
    expect(window.consume(4096)).to.equal(4096 + 65536)
    expect(window.limit).to.equal(128 * KiB)
    window.receive(8192)
    expect(window.consume(8192)).to.equal(8192 + 131072)
    expect(window.limit).to.equal(256 * KiB)
  })

  it('does not grow when a sixteenth of the window took a quarter of a round trip: the reader takes less than the window allows', () => {
    const t = tuning(100)
    const window = new ReceiveWindow(MiB, t)
    window.receive(4096)
    t.clock.ms += 25
    expect(window.consume(4096)).to.equal(0)
    expect(window.limit).to.equal(65536)
    // just under: the next sixteenth grows it
    window.receive(4096)
    t.clock.ms += 24.9
    expect(window.consume(4096)).to.equal(8192 + 65536)
    expect(window.limit).to.equal(128 * KiB)
  })

  it('grows while the reader keeps up before any round trip is measured', () => {
    const t = tuning(undefined)
    const window = new ReceiveWindow(MiB, t)
    window.receive(65536)
    expect(window.consume(65536)).to.equal(MiB)
  })

  it('does not grow while consumed data is still waiting behind unconsumed data', () => {
    const t = tuning(100)
    const window = new ReceiveWindow(MiB, t)
    window.receive(65536)
    expect(window.consume(32768)).to.equal(32768)
    expect(window.limit).to.equal(65536)
  })

  it('grants every 256 KiB once the window is larger than 512 KiB, up to 2 MiB', () => {
    const t = tuning(100)
    const window = new ReceiveWindow(MiB, t)
    for (let i = 0; i < 4; i++) { roundTrip(window, t, 100) }
    expect(window.limit).to.equal(MiB)
    window.receive(300 * KiB)
    expect(window.consume(255 * KiB)).to.equal(0)
    expect(window.consume(KiB)).to.equal(256 * KiB)
  })

  it('grants every eighth of a window larger than 2 MiB: fewer WNDINCs, and the sender keeps 7/8 of it in flight', () => {
    const t = tuning(100)
    const window = new ReceiveWindow(16 * MiB, t)
    while (window.limit < 16 * MiB) { roundTrip(window, t, 1) }
    window.receive(3 * MiB)
    expect(window.consume(2 * MiB - 1)).to.equal(0)
    expect(window.consume(1)).to.equal(2 * MiB)
  })

  it('measures a round trip from a grant to a sender that had used the whole window to its next data', () => {
    const t = tuning(undefined)
    const window = new ReceiveWindow(MiB, t)
    window.receive(65536)
    t.clock.ms = 5
    window.consume(65536)
    t.clock.ms = 47
    window.receive(1)
    expect(t.rtt.min).to.equal(42)
  })

  it('takes no sample when the sender still had window: its data may have left before the grant', () => {
    const t = tuning(undefined)
    const window = new ReceiveWindow(MiB, t)
    window.receive(40000)
    window.consume(40000)
    t.clock.ms = 1
    window.receive(1)
    expect(t.rtt.min).to.equal(undefined)
  })

  it('grows no further than the session budget, and gives its share back on release', () => {
    const t = tuning(100, 96 * KiB)
    const window = new ReceiveWindow(MiB, t)
    roundTrip(window, t, 100)
    roundTrip(window, t, 100)
    expect(window.limit).to.equal(64 * KiB + 96 * KiB)
    expect(t.budget.held).to.equal(96 * KiB)
    window.release()
    expect(t.budget.held).to.equal(0)
  })

  it('gives its share back when the peer finishes, unless its reader is more than the initial window behind', () => {
    const t = tuning(100)
    const caughtUp = new ReceiveWindow(MiB, t)
    roundTrip(caughtUp, t, 100)
    const behind = new ReceiveWindow(MiB, t)
    roundTrip(behind, t, 100)
    expect(t.budget.held).to.equal(2 * 960 * KiB)
    behind.receive(65537)
    behind.peerFinished()
    caughtUp.peerFinished()
    expect(t.budget.held).to.equal(960 * KiB)
  })

  it('100 windows growing 16-fold per round trip together hold no more than the budget, each at most its maximum', () => {
    const t = tuning(100, 32 * MiB)
    const windows = Array.from({ length: 100 }, () => new ReceiveWindow(16 * MiB, t))
    for (let round = 0; round < 4; round++) {
      for (const window of windows) { roundTrip(window, t, 0) }
      t.clock.ms += 100
    }
    const limits = windows.map(w => w.limit)
    const extra = limits.reduce((sum, limit) => sum + limit - 64 * KiB, 0)
    expect(extra).to.equal(t.budget.held)
    expect(extra).to.be.at.most(32 * MiB)
    expect(Math.max(...limits)).to.be.at.most(16 * MiB)
    // every one of them grew: the fast growth of the first did not starve the last
    expect(Math.min(...limits)).to.be.greaterThan(64 * KiB)
  })

  it('a window over its fair share withholds credit until it is back at its share', () => {
    const t = tuning(100, MiB)
    const fast = new ReceiveWindow(4 * MiB, t)
    for (let i = 0; i < 3; i++) { roundTrip(fast, t, 100) }
    expect(fast.limit).to.equal(64 * KiB + MiB)
    // a second stream asks for growth: the budget is spent, so it waits for the first to shrink
    const late = new ReceiveWindow(4 * MiB, t)
    expect(roundTrip(late, t, 100)).to.equal(65536)
    const fastGrant = roundTrip(fast, t, 100)
    expect(fast.limit).to.equal(64 * KiB + MiB / 2)
    // it had consumed its whole window: it grants back only its new, smaller window
    expect(fastGrant).to.equal(64 * KiB + MiB / 2)
    // its data came a round trip after its last grant, while the first stream's did
    expect(roundTrip(late, t, 0)).to.equal(64 * KiB + MiB / 2)
    expect(t.budget.held).to.be.at.most(MiB)
  })
})

describe('ReceiveBudget', () => {
  it('never lets the streams together hold more than the total', () => {
    const budget = new ReceiveBudget(1000)
    const a = {}
    const b = {}
    expect(budget.resize(a, 800, 0, 0)).to.equal(800)
    expect(budget.resize(b, 800, 0, 0)).to.equal(200)
    expect(budget.held).to.equal(1000)
  })

  it('keeps credit already granted (the floor), even over a fair share', () => {
    const budget = new ReceiveBudget(1000)
    const a = {}
    budget.resize(a, 1000, 0, 0)
    budget.resize({}, 100, 0, 0)
    expect(budget.resize(a, 1000, 900, 0)).to.equal(900)
    expect(budget.held).to.equal(900)
  })

  it('stops counting a stream that has not asked for a second, so the others share without it', () => {
    const budget = new ReceiveBudget(1000)
    const a = {}
    const quiet = {}
    budget.resize(quiet, 0, 0, 0)
    expect(budget.resize(a, 1000, 0, 10)).to.equal(500)
    expect(budget.resize(a, 1000, 0, 1010)).to.equal(1000)
  })

  it('counts a stream that starts asking at once, between recounts of the others', () => {
    const budget = new ReceiveBudget(1000)
    const a = {}
    expect(budget.resize(a, 100, 0, 1000)).to.equal(100)
    expect(budget.resize({}, 1000, 0, 1001)).to.equal(500)
    expect(budget.resize(a, 1000, 0, 1002), 'a now shares with the newcomer').to.equal(500)
  })

  it('recounts who is asking every few ms, not on every resize', () => {
    const budget = new ReceiveBudget(1000)
    const streams = Array.from({ length: 100 }, () => ({}))
    for (const stream of streams) { budget.resize(stream, 10, 0, 0) }
    let visited = 0
    const shares = (budget as any).shares as Map<object, unknown>
    const entries = shares.entries.bind(shares)
    shares.entries = () => { visited++; return entries() }
    shares[Symbol.iterator] = shares.entries
    for (let i = 0; i < 1000; i++) { budget.resize(streams[i % 100], 10, 0, 1 + i / 1000) }
    expect(visited, 'walks over the shares in 1 ms of resizes').to.be.at.most(1)
  })

  it('release returns a stream\'s whole share', () => {
    const budget = new ReceiveBudget(1000)
    const a = {}
    budget.resize(a, 600, 0, 0)
    budget.release(a)
    expect(budget.held).to.equal(0)
    expect(budget.resize({}, 1000, 0, 0)).to.equal(1000)
  })
})

describe('RttEstimator', () => {
  it('is the smallest sample so far: queueing only ever adds to one', () => {
    const rtt = new RttEstimator()
    expect(rtt.min).to.equal(undefined)
    rtt.add(120)
    rtt.add(100)
    rtt.add(400)
    expect(rtt.min).to.equal(100)
  })
})
