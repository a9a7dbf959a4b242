import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameError, FrameType, MAX_PAYLOAD, StreamResetByPeerError } from '../src/index.ts'
import { encodeRst, encodeSyn } from '../src/protocol/index.ts'
import { concatBytes, dataFrame, dataFrames } from './helpers/bytes.ts'
import { propertyRuns } from './helpers/fuzz-settings.ts'
import { RawPeer } from './helpers/raw-peer.ts'
import { until } from './helpers/time.ts'
import type { MuxadoStream } from '../src/index.ts'

/** Every event a stream's reader sees, in order, with the message payloads */
function recordReader (stream: MuxadoStream): { events: string[], sizes: number[], bytes: Uint8ArrayList } {
  const record = { events: [] as string[], sizes: [] as number[], bytes: new Uint8ArrayList() }
  stream.addEventListener('message', (evt) => {
    record.events.push(`message ${evt.data.byteLength}`)
    record.sizes.push(evt.data.byteLength)
    record.bytes.append(evt.data)
  })
  stream.addEventListener('remoteCloseWrite', () => { record.events.push('remoteCloseWrite') })
  stream.addEventListener('close', (evt) => { record.events.push(evt.error != null ? `close ${evt.error.name}` : 'close') })
  return record
}

/** A server-side muxer with streams 3 and 5 opened by the raw peer, readers attached */
async function openTwo (): Promise<{ peer: RawPeer, first: MuxadoStream, second: MuxadoStream }> {
  const peer = new RawPeer('server')
  const opened = [peer.nextStream(), peer.nextStream()]
  peer.send(encodeSyn(3))
  const first = await opened[0]
  const next = peer.nextStream()
  peer.send(encodeSyn(5))
  const second = await next
  return { peer, first, second }
}

const bytes = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill)

const FULL = MAX_PAYLOAD

function runningTotals (lengths: number[]): number[] {
  let total = 0
  return lengths.map(length => (total += length))
}

/**
 * Writes whose length is not a multiple of 16383 (a write that ends on a full frame merges with
 * the next one, as a byte stream may), all within the 65536-byte initial window because the raw
 * peer does not wait for grants, framed onto one wire cut at up to 8 places
 */
const cutWrites = fc.array(fc.integer({ min: 1, max: 40_000 }).filter(n => n % FULL !== 0), { minLength: 1, maxLength: 6 })
  .map(sizes => sizes.filter((_, i) => runningTotals(sizes)[i] <= 65536))
  .filter(sizes => sizes.length > 0)
  .chain(sizes => {
    const writes = sizes.map((size, i) => bytes(size, i + 1))
    const wire = concatBytes(writes.flatMap(write => dataFrames(3, write)))
    return fc.uniqueArray(fc.integer({ min: 1, max: wire.byteLength - 1 }), { maxLength: 8 })
      .map(cuts => ({ writes, wire, cuts: cuts.sort((a, b) => a - b) }))
  })

describe('delivery of received data', () => {
  it('hands a write that arrives as full frames and a short last frame to the reader as one message', async () => {
    const { peer, first } = await openTwo()
    const reader = recordReader(first)

    peer.send(concatBytes([dataFrame(3, bytes(FULL, 1)), dataFrame(3, bytes(FULL, 2)), dataFrame(3, bytes(7, 3))]))
    await peer.settle()

    expect(reader.events).to.deep.equal([`message ${2 * FULL + 7}`])
    expect(reader.bytes.subarray()).to.deep.equal(concatBytes([bytes(FULL, 1), bytes(FULL, 2), bytes(7, 3)]))
  })

  it('keeps separate writes separate: a short frame ends a message', async () => {
    const { peer, first } = await openTwo()
    const reader = recordReader(first)

    peer.send(concatBytes([dataFrame(3, bytes(5, 1)), dataFrame(3, bytes(5, 2)), dataFrame(3, bytes(FULL, 3)), dataFrame(3, bytes(1, 4))]))
    await peer.settle()

    expect(reader.events).to.deep.equal(['message 5', 'message 5', `message ${FULL + 1}`])
  })

  it('delivers the full frames a chunk ends with when the chunk is decoded, and the rest with the next chunk', async () => {
    const { peer, first, second } = await openTwo()
    const a = recordReader(first)
    const b = recordReader(second)

    peer.send(concatBytes([dataFrame(3, bytes(FULL, 1)), dataFrame(5, bytes(FULL, 2)), dataFrame(3, bytes(FULL, 3)), dataFrame(5, bytes(40, 4))]))
    await peer.settle()
    expect(a.events).to.deep.equal([`message ${2 * FULL}`])
    expect(b.events).to.deep.equal([`message ${FULL + 40}`])

    peer.send(dataFrame(3, bytes(50, 5)))
    await peer.settle()
    expect(a.events).to.deep.equal([`message ${2 * FULL}`, 'message 50'])
    expect(a.bytes.subarray()).to.deep.equal(concatBytes([bytes(FULL, 1), bytes(FULL, 3), bytes(50, 5)]))
    expect(b.bytes.subarray()).to.deep.equal(concatBytes([bytes(FULL, 2), bytes(40, 4)]))
  })

  it('keeps a write whole when a chunk ends inside one of its frames: its full frames wait for the frame still arriving', async () => {
    const { peer, first } = await openTwo()
    const reader = recordReader(first)
    const write = bytes(65536, 6)
    const wire = concatBytes(dataFrames(3, write))
    // inside the second frame's payload
    const cut = 2 * 8 + FULL + 100

    peer.send(wire.subarray(0, cut))
    await peer.settle()
    expect(reader.events, 'nothing yet: the rest of the frame is on its way').to.deep.equal([])

    peer.send(wire.subarray(cut))
    await peer.settle()
    expect(reader.events).to.deep.equal(['message 65536'])
    expect(reader.bytes.subarray()).to.deep.equal(write)
  })

  it('keeps track of a stream held for its next frame once, however many reads in a row end inside its frames', async () => {
    const { peer, first } = await openTwo()
    const reader = recordReader(first)
    const wire = concatBytes(dataFrames(3, bytes(40_000, 4)))
    const cut = 2 * 8 + FULL + 100
    for (let i = 0; i < 20; i++) {
      // the end of one write and the start of the next, cut inside a frame each time
      peer.send(i === 0 ? wire.subarray(0, cut) : concatBytes([wire.subarray(cut), wire.subarray(0, cut)]))
      await peer.settle(0)
    }
    expect(reader.sizes).to.deep.equal(Array(19).fill(40_000))
    expect(Array.from((peer.muxer as any).streamsWithPending).length, 'streams the muxer tracks as holding data').to.equal(1)
  })

  it('delivers a stream\'s full frames when the chunk ends inside another stream\'s frame', async () => {
    const { peer, first, second } = await openTwo()
    const a = recordReader(first)
    const b = recordReader(second)
    const frameOf5 = dataFrame(5, bytes(100, 2))

    peer.send(concatBytes([dataFrame(3, bytes(FULL, 1)), frameOf5.subarray(0, 50)]))
    await peer.settle()
    expect(a.events).to.deep.equal([`message ${FULL}`])

    peer.send(frameOf5.subarray(50))
    await peer.settle()
    expect(b.events).to.deep.equal(['message 100'])
  })

  it('delivers the full frames held for a frame still arriving when the connection ends in the middle of it', async () => {
    const { peer, first } = await openTwo()
    const reader = recordReader(first)
    const wire = concatBytes(dataFrames(3, bytes(40_000, 4)))

    peer.send(wire.subarray(0, 2 * 8 + FULL + 100))
    await peer.settle()
    await peer.connection.close()
    await until(() => reader.events.some(event => event.startsWith('close')), 'the stream to close')

    expect(reader.events).to.deep.equal([`message ${FULL}`, 'close UnexpectedEOFError'])
  })

  it('delivers the data that came before a FIN before the remote end closes', async () => {
    const { peer, first } = await openTwo()
    const reader = recordReader(first)

    peer.send(concatBytes([dataFrame(3, bytes(FULL, 1)), dataFrame(3, bytes(FULL, 2), true)]))
    await peer.settle()

    expect(reader.events).to.deep.equal([`message ${2 * FULL}`, 'remoteCloseWrite'])
  })

  it('delivers the data that came before an RST, then the reset', async () => {
    const { peer, first } = await openTwo()
    const reader = recordReader(first)

    peer.send(concatBytes([dataFrame(3, bytes(FULL, 1)), dataFrame(3, bytes(FULL, 2)), encodeRst(3, 1)]))
    await peer.settle()

    expect(reader.events).to.deep.equal([`message ${2 * FULL}`, `close ${new StreamResetByPeerError(1).name}`])
  })

  it('delivers what was decoded before a protocol error in the same chunk, then ends the session', async () => {
    const { peer, first } = await openTwo()
    const reader = recordReader(first)

    // a frame of type 15 is illegal in v1
    const illegal = Uint8Array.from([0, 0, 0, 15, 0, 0, 0, 3])
    peer.send(concatBytes([dataFrame(3, bytes(FULL, 1)), dataFrame(3, bytes(FULL, 2)), illegal]))
    await peer.settle()

    expect(reader.events[0]).to.equal(`message ${2 * FULL}`)
    expect(peer.sessionError).to.be.instanceOf(FrameError)
  })

  it('grants window for a coalesced message once half the window is consumed, growing it', async () => {
    const { peer, first } = await openTwo()
    recordReader(first)

    // 32768 bytes, half the initial window, in one write: one grant, which also grows the window
    // from 64 to 512 KiB (a doubling at 4, 12 and 28 KiB consumed: each sixteenth of the window)
    peer.send(concatBytes([dataFrame(3, bytes(FULL, 9)), dataFrame(3, bytes(FULL, 9)), dataFrame(3, bytes(2, 9))]))
    await peer.settle()

    expect(peer.framesOf(FrameType.WNDINC, 3).map(f => f.increment)).to.deep.equal([32768 + 448 * 1024])
  })

  it('property: however the wire is cut, the reader gets every byte, no message spans two writes, and a write is split only between frames', async () => {
    await fc.assert(fc.asyncProperty(cutWrites, async ({ writes, wire, cuts }) => {
      const peer = new RawPeer('server')
      const opened = peer.nextStream()
      peer.send(encodeSyn(3))
      const reader = recordReader(await opened)

      let from = 0
      for (const to of [...cuts, wire.byteLength]) {
        peer.muxer.onData(wire.subarray(from, to))
        from = to
        // each chunk is its own turn, as from a socket
        await new Promise(resolve => setTimeout(resolve, 0))
      }
      await peer.settle(1)

      expect(reader.bytes.subarray()).to.deep.equal(concatBytes(writes))
      const messageEnds = new Set(runningTotals(reader.sizes))
      for (const end of runningTotals(writes.map(w => w.byteLength))) {
        expect(messageEnds.has(end), `a message ends where a write ends (${end})`).to.equal(true)
      }
      // a write is split only where a chunk ended between two of its frames (or in a header)
      const allowedEnds = new Set(runningTotals(writes.map(w => w.byteLength)))
      let wireAt = 0
      let payloadAt = 0
      for (const frame of writes.flatMap(write => dataFrames(3, write))) {
        wireAt += frame.byteLength
        payloadAt += frame.byteLength - 8
        const frameEnd = wireAt
        if (cuts.some(cut => cut >= frameEnd && cut < frameEnd + 8)) { allowedEnds.add(payloadAt) }
      }
      for (const end of messageEnds) {
        expect(allowedEnds.has(end), `a message ends inside a write only at a chunk's end between frames (${end})`).to.equal(true)
      }
      peer.muxer.abort(new Error('test over'))
    }), propertyRuns(60, 7))
  })

  describe('a reader attached after the data and FIN arrived (Go\'s optimistic multistream-select)', () => {
    /** SYN, DATA and FIN in one chunk; the stream handed out, its reader attached a turn later */
    async function finishedBeforeRead (payload: Uint8Array | undefined): Promise<{ peer: RawPeer, stream: MuxadoStream }> {
      const peer = new RawPeer('server')
      const opened = peer.nextStream()
      peer.send(concatBytes([encodeSyn(3), ...(payload == null ? [] : dataFrames(3, payload)), dataFrame(3, 0, true)]))
      const stream = await opened
      await new Promise(resolve => setTimeout(resolve, 0))
      expect(stream.remoteWriteStatus).to.equal('closed')
      return { peer, stream }
    }

    for (const payload of [bytes(5, 1), bytes(40_000, 2), undefined]) {
      const what = payload == null ? 'no data' : `${payload.byteLength} B`
      it(`for await ends after the data (${what}), while our write end is still open`, async () => {
        const { peer, stream } = await finishedBeforeRead(payload)
        const received = new Uint8ArrayList()
        const reading = (async () => { for await (const chunk of stream) { received.append(chunk) } })()
        const outcome = await Promise.race([reading.then(() => 'ended'), new Promise(resolve => setTimeout(resolve, 500, 'still reading'))])

        expect(outcome).to.equal('ended')
        expect(received.subarray()).to.deep.equal(payload ?? new Uint8Array(0))
        // the reply still goes out: the stream ends once we close our side too
        stream.send(bytes(3, 7))
        await stream.close()
        expect(peer.framesOf(FrameType.DATA, 3).map(f => [f.payload?.byteLength, f.flags])).to.deep.equal([[3, 0], [0, 1]])
        peer.muxer.abort(new Error('test over'))
      })

      // with nothing buffered, 'end' fired with the FIN: a late reader sees remoteWriteStatus 'closed'
      it(`a 'message' reader gets the data (${what}), then 'end' if it was still to come`, async () => {
        const { peer, stream } = await finishedBeforeRead(payload)
        const events: string[] = []
        stream.addEventListener('message', (evt) => { events.push(`message ${evt.data.byteLength}`) })
        stream.addEventListener('end', () => { events.push('end') })
        await peer.settle(5)

        expect(events).to.deep.equal(payload == null ? [] : [`message ${payload.byteLength}`, 'end'])
        expect(stream.readBufferLength).to.equal(0)
        peer.muxer.abort(new Error('test over'))
      })
    }
  })

  it('a reply sent from a message listener reaches the connection while the chunk that caused it is dispatched, not a microtask later', async () => {
    const peer = new RawPeer('server')
    const opened = peer.nextStream()
    peer.send(encodeSyn(3))
    const stream = await opened
    stream.addEventListener('message', (evt) => { stream.send(evt.data) })
    let writesWhenDispatched: number | undefined
    // listeners run in the order they were added: this one right after the muxer's own
    peer.muxerConnection.addEventListener('message', () => { writesWhenDispatched = peer.writes })
    const writesBefore = peer.writes
    peer.send(dataFrame(3, bytes(64, 7)))
    await until(() => writesWhenDispatched != null, 'the chunk to be dispatched')

    expect(writesWhenDispatched).to.equal(writesBefore + 1)
    await until(() => peer.framesOf(FrameType.DATA, 3).length === 1, 'the echo')
    expect(peer.framesOf(FrameType.DATA, 3)[0].payload).to.deep.equal(bytes(64, 7))
    peer.muxer.abort(new Error('test over'))
  })

  it('a paused for await reader still gets its buffered data when the stream closes cleanly meanwhile', async () => {
    const peer = new RawPeer('server')
    const opened = peer.nextStream()
    peer.send(encodeSyn(3))
    const stream = await opened
    const received = new Uint8ArrayList()
    const reading = (async () => { for await (const chunk of stream) { received.append(chunk) } })()
    stream.pause()
    await stream.close()
    // the peer's data and FIN close the stream (both ends are done) while the reader is paused
    peer.send(concatBytes([dataFrame(3, bytes(100, 5)), dataFrame(3, 0, true)]))
    await peer.settle(5)
    expect(stream.status).to.equal('closed')
    stream.resume()
    const outcome = await Promise.race([reading.then(() => 'ended'), new Promise(resolve => setTimeout(resolve, 500, 'still reading'))])

    expect(outcome).to.equal('ended')
    expect(received.subarray()).to.deep.equal(bytes(100, 5))
    peer.muxer.abort(new Error('test over'))
  })
})
