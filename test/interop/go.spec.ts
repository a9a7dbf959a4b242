/**
 * Interop with the Go muxado v1 library (Debian package, f693c7e) over real TCP, in both roles
 * (`DIRECTIONS`). The Go peer is built in `before` by build-go-peer.sh (`useGoPeer`).
 */

import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { HeartbeatTimeoutError, RemoteGoAwayError } from '../../src/index.ts'
import { FrameDecoder, FrameType, HEARTBEAT_STREAM_TYPE, encodeDataHeader, encodeWndinc } from '../../src/protocol/index.ts'
import { toHex } from '../helpers/bytes.ts'
import { decodeFrames, formatFrames } from '../helpers/frames.ts'
import { readAll, write } from '../helpers/streams.ts'
import { sleep, until } from '../helpers/time.ts'
import { DIRECTIONS, parityOf, useGoPeer } from './directions.ts'
import { EchoServer, PatternChecker, failures, goPattern, openAndCheck, openAndCheckMany, patternChunk, readPattern, writePattern } from './streams.ts'
import { cleanupTcp, dialMuxer, listenRaw } from './tcp.ts'
import type { StreamHandler } from './tcp.ts'
import type { MuxadoInit, MuxadoStream } from '../../src/index.ts'
import type { StreamCloseEvent } from '@libp2p/interface'

const KB = 1024
const MB = 1024 * 1024
const SIZES = [0, 1, 16383, 16384, 100 * KB, MB]

/** [streams, bytes per stream]: 1 and 8 streams at every size, 100 streams at every size too */
const MATRIX: Array<[number, number]> = [
  ...SIZES.map(size => [1, size] as [number, number]),
  ...SIZES.map(size => [8, size] as [number, number]),
  ...SIZES.map(size => [100, size] as [number, number])
]

function sizeName (bytes: number): string {
  if (bytes >= MB && bytes % MB === 0) { return `${bytes / MB} MiB` }
  if (bytes >= KB && bytes % KB === 0) { return `${bytes / KB} KiB` }
  return `${bytes} B`
}

/** Resolves when `stream` emits 'close', with the event's error (undefined for a clean close) */
async function closed (stream: MuxadoStream): Promise<Error | undefined> {
  if (stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset') { return undefined }
  const evt = await pEvent<'close', StreamCloseEvent>(stream, 'close')
  return evt.error
}

/** Read the whole stream (it must be "ping" and end with the remote's FIN), then write `reply` */
async function replyAfterFin (stream: MuxadoStream, reply: string): Promise<void> {
  const received = new TextDecoder().decode(await readAll(stream))
  expect(received).to.equal('ping')
  expect(stream.remoteWriteStatus).to.equal('closed')
  expect(stream.writeStatus).to.equal('writable')
  await sleep(50)
  const bytes = new TextEncoder().encode(reply)
  for (let offset = 0; offset < bytes.byteLength; offset += 10_000) {
    await write(stream, bytes.subarray(offset, offset + 10_000))
  }
  await stream.close()
}

describe('interop with Go muxado v1', function () {
  useGoPeer()

  for (const dir of DIRECTIONS) {
    describe(dir.title, () => {
      describe('streams opened by Go, echoed by TS', () => {
        for (const [count, size] of MATRIX) {
          it(`${count} × ${sizeName(size)}`, async function () {
            this.timeout(60_000)
            const echo = new EchoServer()
            const { peer } = await dir.start(['-streams', String(count), '-bytes', String(size)], { onStream: echo.handler, timeoutMs: 45_000 })
            const done = await peer.waitFor('streams-done', 45_000)
            await peer.expectSuccess()
            expect(done).to.include({ ok: true, okCount: count, count })

            const results = await echo.settled()
            expect(results).to.have.lengthOf(count)
            for (const result of results) {
              expect(result.error, `echo of stream ${result.id}`).to.equal(undefined)
              expect(result.bytes).to.equal(size)
              expect(result.id % 2).to.equal(parityOf(dir.goRole))
              expect(result.streamType).to.equal(0)
            }
          })
        }
      })

      describe('streams opened by TS, echoed by Go', () => {
        for (const [count, size] of MATRIX) {
          it(`${count} × ${sizeName(size)}`, async function () {
            this.timeout(60_000)
            const { peer, muxer } = await dir.start([], { timeoutMs: 45_000 })
            const results = await openAndCheckMany(muxer, count, size)
            expect(failures(results)).to.deep.equal([])
            for (const result of results) { expect(result.id % 2).to.equal(parityOf(dir.tsRole)) }

            await muxer.close()
            await peer.expectSuccess()
            const echoed = peer.streamsDone('accepted')
            expect(echoed).to.have.lengthOf(count)
            for (const e of echoed) { expect(e).to.include({ ok: true, bytes: size }) }
          })
        }
      })

      it('half-close by Go: TS keeps writing after the FIN', async function () {
        this.timeout(20_000)
        // more than one 64 KiB window, written after Go's FIN has arrived
        const reply = 'ping' + '-after-fin'.repeat(7000)
        const handled: Array<Promise<void>> = []
        const onStream: StreamHandler = (stream) => { handled.push(replyAfterFin(stream, reply)) }
        const { peer } = await dir.start(['-halfclose-test', '-halfclose-expect', reply], { onStream, timeoutMs: 15_000 })
        const result = await peer.waitFor('halfclose-result')
        await peer.expectSuccess()
        expect(result).to.include({ ok: true, bytes: reply.length })
        expect(handled).to.have.lengthOf(1)
        await handled[0]
      })

      it('half-close by TS: Go keeps writing after the FIN', async function () {
        this.timeout(20_000)
        const size = 100 * KB
        const { peer, muxer } = await dir.start([], { timeoutMs: 15_000 })
        const stream = await muxer.createStream()
        // not reading yet: Go's echo stops at our 64 KiB receive window
        await writePattern(stream, 0, size)
        await stream.close()
        expect(stream.writeStatus).to.equal('closed')
        await sleep(100)
        expect(stream.readBufferLength, 'echo received before we read').to.be.at.most(65536)
        expect(stream.status).to.equal('open')
        // the rest of the echo can only be written by Go after our FIN
        const checker = await readPattern(stream, 0)
        expect(checker.problem(size)).to.equal(undefined)
        await muxer.close()
        await peer.expectSuccess()
        expect(peer.streamsDone('accepted')[0]).to.include({ ok: true, bytes: size })
      })

      it('streams opened by both sides on one session', async function () {
        this.timeout(30_000)
        const count = 8
        const size = 100 * KB
        const echo = new EchoServer()
        const { peer, muxer } = await dir.start(['-streams', String(count), '-bytes', String(size), '-end', 'wait'], { onStream: echo.handler, timeoutMs: 25_000 })
        const ours = await openAndCheckMany(muxer, count, size)
        expect(failures(ours)).to.deep.equal([])
        const done = await peer.waitFor('streams-done', 20_000)
        expect(done).to.include({ ok: true, okCount: count })
        const theirs = await echo.settled()
        expect(theirs.filter(r => r.error != null)).to.deep.equal([])

        for (const r of ours) { expect(r.id % 2).to.equal(parityOf(dir.tsRole)) }
        for (const r of theirs) { expect(r.id % 2).to.equal(parityOf(dir.goRole)) }
        const acceptedByGo = peer.all('accepted').map(e => e.id).sort((a, b) => a - b)
        expect(acceptedByGo).to.deep.equal(ours.map(r => r.id))

        await muxer.close()
        await peer.expectSuccess()
      })

      it('typed streams from Go carry streamType 42', async function () {
        this.timeout(20_000)
        const echo = new EchoServer()
        const { peer, muxer } = await dir.start(['-streams', '3', '-bytes', '1000', '-type', '42', '-end', 'wait'], { onStream: echo.handler, timeoutMs: 15_000 })
        await peer.waitFor('streams-done')
        const results = await echo.settled()
        expect(results.map(r => r.streamType)).to.deep.equal([42, 42, 42])
        expect(echo.streams.map(s => s.streamType)).to.deep.equal([42, 42, 42])
        expect(peer.all('opened').map(e => e.type)).to.deep.equal([42, 42, 42])

        // and ours arrive untyped
        const check = await openAndCheck(muxer, 0, 100)
        expect(failures([check])).to.deep.equal([])
        await muxer.close()
        await peer.expectSuccess()
        expect(peer.find('accepted')).to.include({ id: check.id, type: 0 })
      })

      it('GOAWAY from Go: createStream rejects, streams it saw keep working', async function () {
        this.timeout(20_000)
        const echo = new EchoServer()
        const { peer, muxer } = await dir.start(['-streams', '1', '-bytes', '1000', '-goaway', '-goaway-wait', '1500ms'], { onStream: echo.handler, timeoutMs: 15_000 })
        // a stream of ours that Go has seen before its GOAWAY, still open
        const stream = await muxer.createStream()
        const reading = readPattern(stream, 7)
        reading.catch(() => {}) // awaited below
        await write(stream, patternChunk(7, 0, 500))

        await peer.waitFor('goaway-sent')
        // the event is printed after Go wrote the frame; give it a moment to cross loopback. No
        // retry loop: a stream opened before our muxer saw the GOAWAY would be echoed by Go
        await sleep(200)
        const rejection = await muxer.createStream().then(
          (s) => { s.abort(new Error('opened after GOAWAY')); return undefined },
          (err: Error) => err
        )
        expect(rejection, 'createStream after GOAWAY').to.be.an.instanceOf(RemoteGoAwayError)
        expect(rejection).to.have.property('errorCode', 0)
        expect(muxer.status).to.equal('open')

        // finish the stream Go saw: it is below the GOAWAY's last id and keeps working
        await write(stream, patternChunk(7, 500, 500))
        await stream.close()
        const checker = await reading
        expect(checker.problem(1000)).to.equal(undefined)

        await peer.expectSuccess()
        expect(peer.find('goaway-sent')).to.include({ ok: true })
        expect(peer.find('streams-done')).to.include({ ok: true })
      })

      it('GOAWAY from TS (muxer.close()): exact frame on the wire, Go parses it', async function () {
        this.timeout(20_000)
        const { peer, muxer, proxy, tsToGo } = await dir.start([], { proxy: true, timeoutMs: 15_000 })
        const check = await openAndCheck(muxer, 3, 1000)
        expect(failures([check])).to.deep.equal([])

        await muxer.close()
        expect(muxer.status).to.equal('closed')
        await peer.expectSuccess()
        // Go read our 8-byte GOAWAY body exactly, then a clean EOF (Go reports EOF as code 2, B2).
        // A misframed GOAWAY would end in "unexpected EOF" or an illegal frame type instead.
        expect(peer.find('session-end')).to.include({ code: 2, error: 'EOF' })

        if (proxy == null) { throw new Error('no proxy') }
        await until(() => proxy.chunks.length > 0, 'recorded bytes', 1000, 10)
        const sent = proxy.bytes(tsToGo)
        const frames = decodeFrames(sent)
        const last = frames[frames.length - 1]
        expect(last, formatFrames(frames)).to.include({ type: FrameType.GOAWAY, errorCode: 0 })
        expect(frames.filter(f => f.type === FrameType.GOAWAY)).to.have.lengthOf(1)
        // lastStreamId = the highest id Go opened (its heartbeat stream, at least)
        const goSyns = decodeFrames(proxy.bytes(tsToGo === 'c2s' ? 's2c' : 'c2s')).filter(f => f.type === FrameType.SYN)
        // with none, Go's convention: 1 on a server, 0 on a client
        const noneSeen = dir.tsRole === 'server' ? 1 : 0
        const expectedLast = goSyns.length > 0 ? Math.max(...goSyns.map(f => f.streamId)) : noneSeen
        const lastId = expectedLast.toString(16).padStart(8, '0')
        expect(toHex(sent.subarray(sent.byteLength - 16))).to.equal(`0008000600000000${lastId}00000000`)
      })

      it('Go Close() with streams open: every TS stream and the muxer end, nothing hangs', async function () {
        this.timeout(20_000)
        const { peer, muxer } = await dir.start(['-close-after', '300ms'], { timeoutMs: 15_000 })
        const streams: MuxadoStream[] = []
        const outcomes: Array<Promise<{ received: number, readError?: Error, writeError?: Error }>> = []
        for (let i = 0; i < 4; i++) {
          const stream = await muxer.createStream()
          streams.push(stream)
          outcomes.push((async () => {
            const reading = readPattern(stream, i).then(c => ({ received: c.received, readError: undefined }), (err: Error) => ({ received: -1, readError: err }))
            let writeError: Error | undefined
            try {
              // outlives the session: 16 KiB every 20 ms, 1 MiB in all (~1.3 s)
              for (let offset = 0; offset < MB; offset += 16 * KB) {
                await write(stream, patternChunk(i, offset, 16 * KB))
                await sleep(20)
              }
              await stream.close()
            } catch (err: any) {
              writeError = err
            }
            return { ...(await reading), writeError }
          })())
        }
        const settled = await Promise.race([
          Promise.all(outcomes),
          sleep(5000).then(() => { throw new Error(`streams still open 5 s after Go's Close(): ${streams.map(s => `${s.streamId}:${s.status}`).join(', ')}`) })
        ])
        await peer.expectSuccess()
        expect(peer.find('close-called')).to.include({ reason: 'close-after' })
        expect(peer.find('session-end')).to.include({ code: 0, error: 'Session Close()' })
        expect(muxer.status).to.equal('closed')
        expect(muxer.streams).to.deep.equal([])
        for (const [i, outcome] of settled.entries()) {
          const stream = streams[i]
          expect(stream.status, `stream ${stream.streamId}`).to.be.oneOf(['aborted', 'reset', 'closed'])
          expect(outcome.received, `stream ${stream.streamId} echo`).to.be.below(MB)
          // the writer was cut off in the middle, and the reader is told so
          expect(outcome.writeError, `stream ${stream.streamId} write`).to.be.an.instanceOf(Error)
          expect(outcome.readError, `stream ${stream.streamId} read (received ${outcome.received})`).to.be.an.instanceOf(Error)
        }
        // a stream opened afterwards is refused at once
        await expect(muxer.createStream()).to.eventually.be.rejected()
      })

      it('Go Close() with a stream open: its reader gets an error, not a clean end', async function () {
        this.timeout(20_000)
        // Go echoes 1000 bytes, never sends FIN, then Close(): GOAWAY(NoError) and TCP close
        const { peer, muxer } = await dir.start(['-close-after', '300ms'], { timeoutMs: 15_000 })
        const stream = await muxer.createStream()
        const reading = readPattern(stream, 0)
        reading.catch(() => {})
        await write(stream, patternChunk(0, 0, 1000))
        await peer.waitFor('session-end')
        const outcome = await Promise.race([
          reading.then(c => `the read ended cleanly after ${c.received} bytes, stream status '${stream.status}'`, (err: Error) => err),
          sleep(5000).then(() => 'the read hung')
        ])
        if (!(outcome instanceof Error)) { expect.fail(`reading a stream whose peer went away before its FIN: ${outcome}`) }
        expect(stream.status).to.be.oneOf(['aborted', 'reset'])
      })

      it('idle session held 20 s: heartbeats keep it alive', async function () {
        this.timeout(40_000)
        const echo = new EchoServer()
        const { peer, muxer } = await dir.start(['-hold', '20s'], { onStream: echo.handler, timeoutMs: 35_000 })
        await peer.waitFor('hold-start')
        const held = await peer.waitFor(e => e.event === 'hold-ok' || e.event === 'hold-failed', 30_000)
        expect(held.event, peer.diagnostics()).to.equal('hold-ok')
        await peer.expectSuccess()
        expect((await echo.settled()).filter(r => r.error != null)).to.deep.equal([])
        const rtt = muxer.rtt
        expect(rtt, 'muxer.rtt after 20 s of heartbeats').to.be.a('number')
        expect(rtt).to.be.at.least(0).and.below(500)
      })
    })
  }
})

describe('heartbeat against a raw TCP peer', () => {
  const init: MuxadoInit = { heartbeatInterval: 200, heartbeatTimeout: 1000 }

  afterEach(() => {
    cleanupTcp()
  })

  /**
   * A server that reads everything and answers nothing, except the first `answers` pings on our
   * heartbeat stream, which it echoes (WNDINC + the same 4 bytes) as Go would.
   */
  async function rawPeer (answers: number): Promise<{ port: number, received(): Uint8Array, answered(): number }> {
    const chunks: Uint8Array[] = []
    let answered = 0
    const { port } = await listenRaw((socket) => {
      const decoder = new FrameDecoder()
      let heartbeatId = -1
      socket.on('data', (data: Buffer) => {
        chunks.push(new Uint8Array(data))
        decoder.push(new Uint8Array(data))
        try {
          decoder.decode({
            onSyn: (id, _flags, _priority, type) => { if (type === HEARTBEAT_STREAM_TYPE) { heartbeatId = id } },
            onData: (id, _flags, payload) => {
              if (id !== heartbeatId || payload.byteLength === 0 || answered >= answers) { return }
              answered++
              const ping = payload instanceof Uint8Array ? payload.slice() : payload.subarray()
              socket.write(encodeWndinc(id, ping.byteLength))
              socket.write(encodeDataHeader(id, ping.byteLength, false))
              socket.write(ping)
            },
            onRst: () => {},
            onWndinc: () => {},
            onGoaway: () => {}
          })
        } catch {
          // our muxer's frames always decode; a failure here shows up in the assertions
        }
      })
      socket.on('error', () => {})
    })
    return { port, received: () => Buffer.concat(chunks), answered: () => answered }
  }

  async function expectHeartbeatTimeout (answers: number): Promise<void> {
    const peer = await rawPeer(answers)
    const started = Date.now()
    const { muxer } = await dialMuxer(peer.port, init)
    const stream = await muxer.createStream()
    stream.send(new TextEncoder().encode('anyone there?'))
    const error = await Promise.race([
      closed(stream),
      sleep(5000).then(() => { throw new Error('no heartbeat timeout within 5 s') })
    ])
    const elapsed = Date.now() - started
    expect(error, 'the open stream ends with the heartbeat error').to.be.an.instanceOf(Error)
    expect(error).to.be.an.instanceOf(HeartbeatTimeoutError)
    expect(muxer.status).to.equal('closed')
    expect(stream.status).to.equal('aborted')
    expect(peer.answered()).to.equal(answers)
    if (answers > 0) {
      expect(muxer.rtt, 'rtt after answered pings').to.be.a('number')
    }
    // no earlier than the timeout, no later than interval + timeout + slack
    expect(elapsed).to.be.at.least(900 + (answers > 0 ? 200 : 0)).and.at.most(1000 + 200 * (answers + 2) + 1500)

    await until(() => decodeFrames(peer.received()).some(f => f.type === FrameType.GOAWAY), 'our GOAWAY', 1000, 10)
    const frames = decodeFrames(peer.received())
    expect(frames.find(f => f.type === FrameType.GOAWAY), formatFrames(frames)).to.include({ errorCode: 0 })
    const syn = frames.find(f => f.type === FrameType.SYN && f.streamType === HEARTBEAT_STREAM_TYPE)
    expect(syn, 'our heartbeat SYN').to.not.equal(undefined)
    expect(frames.filter(f => f.type === FrameType.DATA && f.streamId === syn?.streamId).length, 'pings sent').to.be.at.least(answers + 1)
  }

  it('a peer that never answers: HeartbeatTimeoutError', async function () {
    this.timeout(10_000)
    await expectHeartbeatTimeout(0)
  })

  it('a peer that answers two pings, then stops: rtt set, then HeartbeatTimeoutError', async function () {
    this.timeout(10_000)
    await expectHeartbeatTimeout(2)
  })

  it('enableHeartbeat: false sends no heartbeat SYN', async function () {
    this.timeout(10_000)
    const peer = await rawPeer(0)
    const { muxer } = await dialMuxer(peer.port, { ...init, enableHeartbeat: false })
    await sleep(1500)
    expect(muxer.status).to.equal('open')
    expect(decodeFrames(peer.received()).filter(f => f.type === FrameType.SYN)).to.deep.equal([])
    await muxer.close()
  })
})

describe('interop helpers', () => {
  it('the pattern checker accepts the Go pattern and catches a corrupt or short echo', () => {
    const good = goPattern(5, 100_000)
    expect(good[40_000]).to.equal((5 * 31 + 40_000) & 0xff)
    const ok = new PatternChecker(5)
    ok.push(good.subarray(0, 12_345))
    ok.push(good.subarray(12_345))
    expect(ok.problem(100_000)).to.equal(undefined)
    expect(ok.problem(100_001)).to.match(/received 100000 of 100001/)

    const bad = good.slice()
    bad[70_001] ^= 1
    const corrupt = new PatternChecker(5)
    corrupt.push(bad)
    expect(corrupt.problem(100_000)).to.match(/mismatch at offset 70001/)
    const wrongIndex = new PatternChecker(6)
    wrongIndex.push(good)
    expect(wrongIndex.firstMismatch).to.equal(0)
  })
})
