import { expect } from 'aegir/chai'
import { FrameType } from '../src/index.ts'
import { encodeWndinc } from '../src/protocol/index.ts'
import { RawPeer } from './helpers/raw-peer.ts'
import { until } from './helpers/time.ts'
import type { MuxadoStream } from '../src/index.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** Open `count` streams and grant each `window` bytes on top of the initial 64 KiB, so only the connection holds them back */
async function streamsWithWindow (peer: RawPeer, count: number, window: number): Promise<MuxadoStream[]> {
  const streams: MuxadoStream[] = []
  for (let i = 0; i < count; i++) {
    const stream = await peer.muxer.createStream()
    peer.send(encodeWndinc(stream.streamId, window))
    streams.push(stream)
  }
  await peer.settle()
  return streams
}

/** The most bytes the muxer's connection held queued because it had said "no more" */
function trackParkedBytes (peer: RawPeer): () => number {
  const connection = peer.muxerConnection
  const send = connection.send.bind(connection)
  let peak = 0
  connection.send = (data) => {
    const result = send(data)
    peak = Math.max(peak, connection.writeBufferLength)
    return result
  }
  return () => peak
}

/** A strict writer, as libp2p's docs ask: `writes` sends of 64 KiB, waiting for 'drain' whenever the stream says so */
async function writeStrictly (stream: MuxadoStream, writes: number, onWait = (): void => {}): Promise<void> {
  for (let sent = 0; sent < writes;) {
    if (stream.writableNeedsDrain) {
      onWait()
      await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
      continue
    }
    stream.send(new Uint8Array(64 * KiB))
    sent++
  }
}

function dataBytesHanded (peer: RawPeer, streamId: number): number {
  return peer.handedFrames
    .filter(f => f.type === FrameType.DATA && f.streamId === streamId)
    .reduce((sum, f) => sum + (f.payload?.byteLength ?? 0), 0)
}

/** DATA payload bytes handed to the connection per stream; `onSend` sees the tally as each `send()` returns */
function tallyHandedData (peer: RawPeer, onSend: (bytes: Map<number, number>) => void): Map<number, number> {
  const bytes = new Map<number, number>()
  const connection = peer.muxerConnection
  const send = connection.send.bind(connection)
  let counted = 0
  connection.send = (data) => {
    const result = send(data)
    for (const frame of peer.handedFrames.slice(counted)) {
      if (frame.type === FrameType.DATA) { bytes.set(frame.streamId, (bytes.get(frame.streamId) ?? 0) + (frame.payload?.byteLength ?? 0)) }
    }
    counted = peer.handedFrames.length
    onSend(bytes)
    return result
  }
  return bytes
}

describe('connection backpressure', () => {
  it('streams stop framing data while the connection is backed up: it never holds more than a batch it refused', async () => {
    const peer = new RawPeer('client')
    const parked = trackParkedBytes(peer)
    const streams = await streamsWithWindow(peer, 8, 2 * MiB)
    peer.stopReading()
    await peer.settle()
    // each stream hands its whole 1 MiB over at once, ignoring backpressure
    for (const stream of streams) { stream.send(new Uint8Array(MiB)) }
    await peer.settle()
    expect(streams.every(s => s.writableNeedsDrain), 'every stream waits for the connection').to.equal(true)
    peer.resumeReading()
    await until(() => streams.every(s => dataBytesHanded(peer, s.streamId) === MiB), 'all 8 MiB handed to the connection')
    // a batch closes past 256 KiB, so the writer can be part-way into one when the connection says no
    expect(parked()).to.be.at.most(512 * KiB)
    expect(peer.sessionError).to.equal(undefined)
  })

  it('a stream that has not written is told to wait while the connection is full, so its first write is not held in memory', async () => {
    const peer = new RawPeer('client')
    const [busy, idle] = await streamsWithWindow(peer, 2, 2 * MiB)
    peer.stopReading()
    await peer.settle()
    busy.send(new Uint8Array(2 * MiB))
    await peer.settle()
    expect(busy.writableNeedsDrain).to.equal(true)
    expect(idle.writableNeedsDrain, 'the idle stream waits too').to.equal(true)
    expect(idle.writeBufferLength).to.equal(0)
    const drained = new Promise(resolve => idle.addEventListener('drain', resolve, { once: true }))
    peer.resumeReading()
    await drained
    expect(idle.send(new Uint8Array(64 * KiB))).to.equal(true)
    await until(() => dataBytesHanded(peer, idle.streamId) === 64 * KiB, 'its write handed over')
  })

  it('on drain, writers are woken about a batch at a time: those still waiting hold no write of theirs', async () => {
    const peer = new RawPeer('client')
    const streams = await streamsWithWindow(peer, 32, 2 * MiB)
    const writes = 8
    let parkedPeak = 0
    const connection = peer.muxerConnection
    const send = connection.send.bind(connection)
    connection.send = (data) => {
      parkedPeak = Math.max(parkedPeak, streams.reduce((sum, s) => sum + s.writeBufferLength, 0))
      return send(data)
    }
    await Promise.all(streams.map(async stream => { await writeStrictly(stream, writes) }))
    await until(() => streams.every(s => dataBytesHanded(peer, s.streamId) === writes * 64 * KiB), 'every write handed to the connection')
    // a batch's worth of writers woken at once, each of which may find the connection full
    expect(parkedPeak, 'bytes held in stream write buffers at most').to.be.at.most(8 * 64 * KiB)
  })

  it('writers woken that write nothing do not hold back the streams waiting behind them', async () => {
    const peer = new RawPeer('client')
    const streams = await streamsWithWindow(peer, 12, 2 * MiB)
    const [filler, ...idle] = streams.slice(0, 9)
    const writers = streams.slice(9)
    peer.stopReading()
    await peer.settle()
    filler.send(new Uint8Array(2 * MiB))
    await peer.settle()
    expect(writers.every(s => s.writableNeedsDrain)).to.equal(true)
    // the idle streams are woken first and never write; the writers behind them must still get their turn
    expect(idle.every(s => s.writableNeedsDrain)).to.equal(true)
    const drained = writers.map(async s => new Promise(resolve => s.addEventListener('drain', resolve, { once: true })))
    peer.resumeReading()
    await Promise.all(drained)
    for (const s of writers) { s.send(new Uint8Array(KiB)) }
    await until(() => writers.every(s => dataBytesHanded(peer, s.streamId) === KiB), 'the writers\' data handed over')
  })

  it('each refused write costs its writer one wait for drain, however many streams share the connection', async () => {
    const peer = new RawPeer('client')
    const streams = await streamsWithWindow(peer, 16, 2 * MiB)
    const writes = 16
    let waits = 0
    await Promise.all(streams.map(async stream => { await writeStrictly(stream, writes, () => { waits++ }) }))
    await until(() => streams.every(s => dataBytesHanded(peer, s.streamId) === writes * 64 * KiB), 'every write handed to the connection')
    expect(waits, 'waits for drain, against the writes that were refused at most once each').to.be.above(0).and.at.most(streams.length * writes)
  })

  it('streams waiting for the connection take turns: none finishes while the others have sent little', async () => {
    const peer = new RawPeer('client')
    const streams = await streamsWithWindow(peer, 4, 8 * MiB)
    let whenFirstFinished: number[] | undefined
    const handed = tallyHandedData(peer, (bytes) => {
      if (whenFirstFinished == null && [...bytes.values()].includes(4 * MiB)) { whenFirstFinished = streams.map(s => bytes.get(s.streamId) ?? 0) }
    })
    for (const stream of streams) { stream.send(new Uint8Array(4 * MiB)) }
    await until(() => streams.every(s => handed.get(s.streamId) === 4 * MiB), 'every stream handed its 4 MiB to the connection')
    // a turn lasts until the connection is full (five 256 KiB batches in this in-memory pair)
    const atFirstFinish = whenFirstFinished ?? []
    expect(Math.min(...atFirstFinish), `bytes each stream had handed when the first finished: ${atFirstFinish.join(', ')}`).to.be.at.least(2 * MiB)
  })
})
