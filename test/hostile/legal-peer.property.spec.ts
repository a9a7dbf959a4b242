import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameType } from '../../src/index.ts'
import { MAX_PAYLOAD, encodeDataHeader, encodeSyn, encodeWndinc } from '../../src/protocol/index.ts'
import { propertyRuns } from '../helpers/fuzz-settings.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import { concatBytes, dataFrame, sleep, until } from './harness.ts'
import type { MuxadoStream } from '../../src/index.ts'
import type { WireFrame } from '../helpers/frames.ts'

/**
 * The other side of the budgets: a peer that does exactly what Go muxado v1 does, reading in
 * reads of any size, never trips a defence with the default options. It grants window for every
 * Read() (also for data that arrived before it saw our FIN), echoes what it reads, and sends a
 * second FIN from Close() after HalfClose(). A limit that punishes any of this fails here.
 */

interface GoStream {
  id: number
  readSize: number
  /** bytes of ours Go has received and not yet read */
  unread: number
  /** Go echoes what it reads (streams we open); else it sent `request` and half-closed */
  echoes: boolean
}

interface Plan {
  /** streams Go opens: [bytes it writes, its read size] */
  goOpens: Array<[number, number]>
  /** streams we open: [bytes we write, Go's read size] */
  weOpen: Array<[number, number]>
  /** cut Go's output into chunks of at most this many bytes */
  chunk: number
}

/** Go's side of the connection, driven by the frames the muxer sends */
class GoLikePeer {
  readonly raw: RawPeer
  private readonly streams = new Map<number, GoStream>()
  private readonly readSizes: number[]
  private seen = 0

  constructor (raw: RawPeer, readSizesOfOurStreams: number[]) {
    this.raw = raw
    this.readSizes = [...readSizesOfOurStreams]
  }

  /** Go's Open(), Write() in frames of up to 16383 bytes, HalfClose(nil) */
  open (id: number, bytes: number, readSize: number): Uint8Array[] {
    this.streams.set(id, { id, readSize, unread: 0, echoes: false })
    const out = [encodeSyn(id)]
    for (let sent = 0; sent < bytes; sent += MAX_PAYLOAD) { out.push(dataFrame(id, Math.min(MAX_PAYLOAD, bytes - sent))) }
    out.push(encodeDataHeader(id, 0, true))
    return out
  }

  /** What Go sends in answer to every frame the muxer sent since the last call */
  answer (): Uint8Array[] {
    const out: Uint8Array[] = []
    for (; this.seen < this.raw.frames.length; this.seen++) {
      this.onFrame(this.raw.frames[this.seen], out)
    }
    return out
  }

  private onFrame (frame: WireFrame, out: Uint8Array[]): void {
    if (frame.type === FrameType.SYN) {
      this.streams.set(frame.streamId, { id: frame.streamId, readSize: this.readSizes.shift() ?? 1, unread: 0, echoes: true })
      return
    }
    const stream = this.streams.get(frame.streamId)
    if (stream == null || frame.type !== FrameType.DATA) { return }
    stream.unread += frame.payload?.byteLength ?? 0
    // one Read() at a time: a WNDINC for each, and an echo of what it read
    while (stream.unread >= stream.readSize) { this.read(stream, stream.readSize, out) }
    if ((frame.flags & 1) !== 0) {
      if (stream.unread > 0) { this.read(stream, stream.unread, out) }
      // EOF, then Close(): a FIN (the second one on a stream Go half-closed), and Go forgets it
      out.push(encodeDataHeader(stream.id, 0, true))
      this.streams.delete(stream.id)
    }
  }

  private read (stream: GoStream, n: number, out: Uint8Array[]): void {
    stream.unread -= n
    out.push(encodeWndinc(stream.id, n))
    if (stream.echoes) { out.push(dataFrame(stream.id, n)) }
  }
}

/** Our side: echo what Go opens; write to, half-close and read back what we open */
async function echo (stream: MuxadoStream): Promise<number> {
  const received = new Uint8ArrayList()
  for await (const chunk of stream) { received.append(chunk) }
  if (received.byteLength > 0 && !stream.send(received)) { await stream.onDrain() }
  await stream.close()
  return received.byteLength
}

async function writeAndReadBack (stream: MuxadoStream, bytes: number): Promise<number> {
  if (bytes > 0 && !stream.send(new Uint8Array(bytes).fill(0x61))) { await stream.onDrain() }
  await stream.close()
  let read = 0
  for await (const chunk of stream) { read += chunk.byteLength }
  return read
}

/** Bytes and read sizes that add up to thousands of late WNDINCs, past the default budget */
const streamPlan = fc.tuple(fc.integer({ min: 0, max: 12_000 }), fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 32_768 })))
const plans: fc.Arbitrary<Plan> = fc.record({
  goOpens: fc.array(streamPlan, { maxLength: 40 }),
  weOpen: fc.array(streamPlan, { maxLength: 40 }),
  chunk: fc.oneof(fc.constant(Infinity), fc.integer({ min: 1, max: 4096 }))
}).filter(plan => plan.goOpens.length + plan.weOpen.length > 0)

describe('hostile: a legal Go-like peer never trips a defence (default options)', function () {
  this.timeout(120_000)

  it('property: any streams, sizes and read sizes: every byte echoed, no GOAWAY, and a new stream still opens', async () => {
    await fc.assert(fc.asyncProperty(plans, async (plan) => {
      const raw = new RawPeer('server')
      const go = new GoLikePeer(raw, plan.weOpen.map(([, readSize]) => readSize))
      const echoed: Array<Promise<number>> = []
      raw.muxer.addEventListener('stream', (evt) => { echoed.push(echo(evt.detail)) })
      const send = (frames: Uint8Array[]): void => {
        const bytes = concatBytes(frames)
        const chunk = Math.min(plan.chunk, bytes.byteLength)
        for (let offset = 0; offset < bytes.byteLength; offset += chunk) { raw.send(bytes.subarray(offset, offset + chunk)) }
      }

      send(plan.goOpens.flatMap(([bytes, readSize], i) => go.open(3 + 2 * i, bytes, readSize)))
      const ours = plan.weOpen.map(async ([bytes]) => writeAndReadBack(await raw.muxer.createStream(), bytes))
      const done = Promise.all([Promise.all(ours), until(() => echoed.length === plan.goOpens.length, 'every Go stream').then(async () => Promise.all(echoed))])
      const over = done.then(() => true, () => true)
      while (raw.muxer.status === 'open' && !(await Promise.race([over, sleep(1).then(() => false)]))) {
        send(go.answer())
      }

      expect(raw.sessionError, 'the session ended').to.equal(undefined)
      const [readBack, echoedBytes] = await done
      expect(readBack).to.deep.equal(plan.weOpen.map(([bytes]) => bytes))
      expect(echoedBytes).to.deep.equal(plan.goOpens.map(([bytes]) => bytes))
      // Go's last grants and FINs arrive after every stream here is gone
      await sleep(5)
      send(go.answer())
      await sleep(5)
      expect(raw.framesOf(FrameType.GOAWAY)).to.deep.equal([])
      expect(raw.framesOf(FrameType.RST)).to.deep.equal([])
      const next = await raw.muxer.createStream()
      await until(() => raw.framesOf(FrameType.SYN, next.streamId).length === 1, 'the new stream\'s SYN')
      expect(raw.muxer.status).to.equal('open')
      raw.muxer.abort(new Error('run over'))
    }), propertyRuns(25, 1313))
  })
})
