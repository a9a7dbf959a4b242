import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { ErrorCode, FrameType, MuxadoStream, ProtocolViolationError, RemoteGoAwayError, StreamResetByPeerError } from '../src/index.ts'
import { encodeDataHeader, encodeGoaway, encodeRst, encodeSyn, encodeWndinc } from '../src/protocol/index.ts'
import { concatBytes, fromHex, toHex } from './helpers/bytes.ts'
import { RawPeer } from './helpers/raw-peer.ts'
import type { WireFrame } from './helpers/frames.ts'

const isGoaway = (f: WireFrame): boolean => f.type === FrameType.GOAWAY

function data (streamId: number, payload: Uint8Array, fin = false): Uint8Array[] {
  return [encodeDataHeader(streamId, payload.byteLength, fin), payload]
}

describe('muxer', () => {
  describe('stream loggers', () => {
    it('while the session\'s logger is off, a stream logs through it: no logger is made per stream', async () => {
      const peer = new RawPeer('client')
      const log = (peer.muxer as any).log
      expect(log.enabled, 'off (weald reports undefined until DEBUG is set)').to.not.equal(true)
      const stream = await peer.muxer.createStream()
      expect(stream.log).to.equal(log)
    })

    it('while it is on, each stream gets a logger scoped to its direction and id', async () => {
      const peer = new RawPeer('client')
      const log = (peer.muxer as any).log
      log.enabled = true
      const stream = await peer.muxer.createStream()
      log.enabled = false
      expect(stream.log).to.not.equal(log)
      expect((stream.log as any).namespace).to.equal(`${log.namespace as string}:outbound:3`)
    })
  })

  describe('roles and stream ids', () => {
    it('a client opens odd ids from 3, each with a plain SYN', async () => {
      const peer = new RawPeer('client')
      const streams = await Promise.all([peer.muxer.createStream(), peer.muxer.createStream(), peer.muxer.createStream()])
      expect(streams.map(s => s.streamId)).to.deep.equal([3, 5, 7])
      await peer.settle()
      expect(peer.framesOf(FrameType.SYN)).to.deep.equal([3, 5, 7].map(streamId => ({ type: FrameType.SYN, streamId, flags: 0, streamType: 0 })))
    })

    it('opens a typed stream with a TYPE SYN, and refuses types reserved for extensions', async () => {
      const peer = new RawPeer('client')
      const stream = await peer.muxer.createStream({ streamType: 0x2a })
      expect(stream.streamType).to.equal(0x2a)
      const syn = await peer.waitForFrame(f => f.type === FrameType.SYN)
      expect(syn).to.deep.equal({ type: FrameType.SYN, streamId: 3, flags: 0x04, streamType: 0x2a })
      await expect(peer.muxer.createStream({ streamType: 0xfffffeff })).to.eventually.be.rejectedWith(RangeError)
    })

    it('a server opens even ids from 2', async () => {
      const peer = new RawPeer('server')
      const streams = [await peer.muxer.createStream(), await peer.muxer.createStream()]
      expect(streams.map(s => s.streamId)).to.deep.equal([2, 4])
    })

    it('leaves stream.protocol empty so libp2p negotiates it', async () => {
      const peer = new RawPeer('client')
      const stream = await peer.muxer.createStream({ protocol: '/echo/1.0.0' })
      expect(stream.protocol).to.equal('')
    })

    it('a server accepts increasing odd SYNs and shows typed streams with their type', async () => {
      const peer = new RawPeer('server')
      const accepted: MuxadoStream[] = []
      peer.muxer.addEventListener('stream', (evt) => { accepted.push(evt.detail) })
      peer.send(encodeSyn(3), encodeSyn(9, 0x2a), encodeSyn(11, 0, 7))
      await peer.settle()
      expect(accepted.map(s => [s.streamId, s.streamType, s.direction])).to.deep.equal([[3, 0, 'inbound'], [9, 0x2a, 'inbound'], [11, 0, 'inbound']])
    })

    for (const [role, id, why] of [
      ['server', 2, 'wrong parity'],
      ['client', 3, 'wrong parity'],
      ['server', 1, 'id 1 is below the first client id'],
      ['server', 0, 'id 0']
    ] as const) {
      it(`a ${role} kills the session on SYN id ${id} (${why}) with GOAWAY ProtocolError`, async () => {
        const peer = new RawPeer(role)
        peer.send(encodeSyn(id))
        const goaway = await peer.waitForFrame(isGoaway)
        expect(goaway.errorCode).to.equal(ErrorCode.ProtocolError)
        expect(peer.muxer.status).to.equal('closed')
      })
    }

    it('kills the session on a SYN id that does not increase', async () => {
      const peer = new RawPeer('server')
      peer.send(encodeSyn(5), encodeSyn(5))
      const goaway = await peer.waitForFrame(isGoaway)
      expect(goaway).to.include({ errorCode: ErrorCode.ProtocolError, lastStreamId: 5 })
    })

    it('aborts open streams with a typed error when the peer breaks the protocol', async () => {
      const peer = new RawPeer('server')
      peer.send(encodeSyn(3))
      const stream = await peer.nextStream()
      const closed = pEvent(stream, 'close')
      peer.send(encodeSyn(3))
      const evt: any = await closed
      expect(evt.error).to.be.instanceOf(ProtocolViolationError)
    })
  })

  describe('frames for unknown or closed streams (docs/protocol.md §2.7)', () => {
    it('answers DATA with a payload on a closed stream with RST StreamClosed', async () => {
      const peer = new RawPeer('server')
      peer.send(encodeSyn(3))
      const stream = await peer.nextStream()
      stream.abort(new Error('done with it'))
      await peer.waitForFrame(f => f.type === FrameType.RST && f.streamId === 3)
      peer.send(...data(3, fromHex('68656c6c6f')))
      const rst = await peer.waitForFrame(f => f.type === FrameType.RST && f.errorCode === ErrorCode.StreamClosed)
      expect(rst.streamId).to.equal(3)
      expect(peer.muxer.status).to.equal('open')
    })

    it('ignores WNDINC, RST and FIN-only DATA on closed streams', async () => {
      const peer = new RawPeer('server')
      peer.send(encodeSyn(3))
      const stream = await peer.nextStream()
      stream.abort(new Error('done with it'))
      await peer.settle()
      const before = peer.frames.length
      peer.send(encodeWndinc(3, 100), encodeRst(3, ErrorCode.StreamClosed), encodeDataHeader(3, 0, true))
      await peer.settle()
      expect(peer.frames.slice(before)).to.deep.equal([])
      expect(peer.muxer.status).to.equal('open')
    })

    for (const [what, frame] of [
      ['DATA on id 0', encodeDataHeader(0, 0, true)],
      ['WNDINC on id 0', encodeWndinc(0, 1)],
      ['RST on id 0', encodeRst(0, 0)]
    ] as const) {
      it(`kills the session on ${what}, which Go tolerates but never sends`, async () => {
        const peer = new RawPeer('server')
        peer.send(encodeSyn(3), frame)
        const goaway = await peer.waitForFrame(isGoaway)
        expect(goaway.errorCode).to.equal(ErrorCode.ProtocolError)
      })
    }

    for (const [what, frame] of [
      ['DATA', encodeDataHeader(7, 0, true)],
      ['WNDINC', encodeWndinc(7, 1)],
      ['RST', encodeRst(7, 0)]
    ] as const) {
      it(`kills the session on ${what} for an id the peer never opened`, async () => {
        const peer = new RawPeer('server')
        peer.send(encodeSyn(3), frame)
        const goaway = await peer.waitForFrame(isGoaway)
        expect(goaway.errorCode).to.equal(ErrorCode.ProtocolError)
      })
    }

    it('kills the session on a frame for one of our ids we never opened', async () => {
      const peer = new RawPeer('client')
      await peer.muxer.createStream()
      peer.send(encodeWndinc(5, 1))
      const goaway = await peer.waitForFrame(isGoaway)
      expect(goaway.errorCode).to.equal(ErrorCode.ProtocolError)
    })
  })

  describe('closed streams', () => {
    it('the session is done with a stream before its \'close\' listeners run: the slot is free there', async () => {
      const peer = new RawPeer('client', { maxOutboundStreams: 1 })
      const first = await peer.muxer.createStream()
      let second: Promise<MuxadoStream> | undefined
      first.addEventListener('close', () => { second = peer.muxer.createStream() })
      first.abort(new Error('done with it'))
      expect(second, 'the listener ran').to.not.equal(undefined)
      const stream = await second
      expect(stream?.streamId).to.equal(5)
      expect(peer.muxer.streams).to.deep.equal([stream])
    })
  })

  describe('RST', () => {
    it('abort() sends RST Cancel for that stream only', async () => {
      const peer = new RawPeer('client')
      const [a, b] = [await peer.muxer.createStream(), await peer.muxer.createStream()]
      a.abort(new Error('cancelled'))
      const rst = await peer.waitForFrame(f => f.type === FrameType.RST)
      expect(rst).to.include({ streamId: a.streamId, errorCode: ErrorCode.Cancel })
      expect(b.status).to.equal('open')
      expect(peer.muxer.streams).to.deep.equal([b])
    })

    it('a remote RST resets the stream with a typed error carrying the code', async () => {
      const peer = new RawPeer('client')
      const stream = await peer.muxer.createStream()
      const closed = pEvent(stream, 'close')
      peer.send(encodeRst(stream.streamId, ErrorCode.FlowControlError))
      const evt: any = await closed
      expect(evt.error).to.be.instanceOf(StreamResetByPeerError)
      expect(evt.error).to.have.property('name', 'StreamResetError')
      expect(evt.error).to.have.property('errorCode', ErrorCode.FlowControlError)
      expect(stream.status).to.equal('reset')
    })

    it('keeps data that arrived before a remote RST readable', async () => {
      const peer = new RawPeer('server')
      peer.send(encodeSyn(3), ...data(3, fromHex('010203')), fromHex('00040002 00000003 ffffffff'))
      const stream = await peer.nextStream()
      const chunks: Uint8Array[] = []
      stream.addEventListener('message', (evt) => { chunks.push(evt.data.subarray()) })
      await peer.settle()
      expect(chunks).to.deep.equal([fromHex('010203')])
      expect(stream.status).to.equal('reset')
    })
  })

  describe('Go quirks (docs/protocol.md §3)', () => {
    it('tolerates a duplicate FIN (HalfClose then Close, B5)', async () => {
      const peer = new RawPeer('server')
      peer.send(encodeSyn(3), ...data(3, fromHex('6869'), true), encodeDataHeader(3, 0, true))
      const stream = await peer.nextStream()
      const received = new Uint8Array(await collect(stream))
      expect(received).to.deep.equal(fromHex('6869'))
      stream.send(fromHex('6f6b'))
      await stream.close()
      await peer.settle()
      expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
      expect(peer.muxer.status).to.equal('open')
    })

    it('treats RST StreamClosed after the peer\'s FIN as a normal close', async () => {
      const peer = new RawPeer('server')
      peer.send(encodeSyn(3), encodeDataHeader(3, 0, true))
      const stream = await peer.nextStream()
      const closed = pEvent(stream, 'close')
      peer.send(encodeRst(3, ErrorCode.StreamClosed))
      const evt: any = await closed
      expect(evt.error).to.equal(undefined)
    })

    it('ignores a WNDINC after the stream closed', async () => {
      const peer = new RawPeer('client')
      const stream = await peer.muxer.createStream()
      await stream.close()
      const closed = pEvent(stream, 'close')
      peer.send(encodeDataHeader(stream.streamId, 0, true))
      await closed
      peer.send(encodeWndinc(stream.streamId, 8))
      await peer.settle()
      expect(peer.muxer.status).to.equal('open')
    })

    it('reads a Go GOAWAY (length 16 + debug, 8 body bytes) and keeps framing', async () => {
      const peer = new RawPeer('client')
      const stream = await peer.muxer.createStream()
      peer.send(fromHex('001f0006 00000000 00000000 00000000'), encodeWndinc(stream.streamId, 5))
      await peer.settle()
      expect(peer.muxer.status).to.equal('open')
      await expect(peer.muxer.createStream()).to.eventually.be.rejectedWith(RemoteGoAwayError)
    })

    it('opens a stream on SYN|FIN and still accepts DATA on it (B4)', async () => {
      const peer = new RawPeer('server')
      peer.send(fromHex('00000101 00000003'), ...data(3, fromHex('616263'), true))
      const stream = await peer.nextStream()
      expect(new Uint8Array(await collect(stream))).to.deep.equal(fromHex('616263'))
    })
  })

  describe('GOAWAY', () => {
    it('close() flushes pending data, sends GOAWAY(NoError, last remote id) with length 8, then closes the connection', async () => {
      const peer = new RawPeer('server')
      peer.send(encodeSyn(3), encodeSyn(5))
      await peer.settle()
      const stream = await peer.muxer.createStream()
      stream.send(fromHex('cafe'))
      const rawBytes: Uint8Array[] = []
      peer.connection.addEventListener('message', (evt) => { rawBytes.push(evt.data.subarray()) })
      const connectionClosed = pEvent(peer.connection, 'close')
      await peer.muxer.close()
      await connectionClosed
      const kinds = peer.frames.map(f => f.type)
      expect(kinds.indexOf(FrameType.DATA)).to.be.lessThan(kinds.indexOf(FrameType.GOAWAY))
      expect(peer.frames.filter(isGoaway)).to.deep.equal([{ type: FrameType.GOAWAY, streamId: 0, flags: 0, lastStreamId: 5, errorCode: ErrorCode.NoError }])
      const wire = toHex(concatBytes(rawBytes))
      expect(wire).to.include('0008000600000000' + '00000005' + '00000000')
    })

    it('abort() sends GOAWAY with the error\'s code at once and closes every stream', async () => {
      const peer = new RawPeer('client')
      const stream = await peer.muxer.createStream()
      peer.muxer.abort(new ProtocolViolationError('test'))
      const goaway = await peer.waitForFrame(isGoaway)
      expect(goaway.errorCode).to.equal(ErrorCode.ProtocolError)
      expect(stream.status).to.equal('aborted')
      // the GOAWAY replaces per-stream RSTs
      expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
    })

    it('a received GOAWAY stops new streams and closes our streams above its last id, without RST', async () => {
      const peer = new RawPeer('client')
      const [seen, unseen] = [await peer.muxer.createStream(), await peer.muxer.createStream()]
      const unseenClosed = pEvent(unseen, 'close')
      peer.send(encodeGoaway(seen.streamId, ErrorCode.NoError))
      const evt: any = await unseenClosed
      expect(evt.error).to.be.instanceOf(RemoteGoAwayError)
      expect(seen.status).to.equal('open')
      await expect(peer.muxer.createStream()).to.eventually.be.rejectedWith(RemoteGoAwayError)
      await peer.settle()
      expect(peer.framesOf(FrameType.RST)).to.deep.equal([])
    })
  })

  describe('connection loss', () => {
    it('ends streams the peer had not finished with ConnectionClosedError, finished ones cleanly', async () => {
      const peer = new RawPeer('server')
      peer.send(encodeSyn(3), ...data(3, fromHex('0102')), encodeSyn(5), ...data(5, fromHex('0304'), true))
      await peer.settle()
      const [unfinished, finished] = peer.muxer.streams
      const events = Promise.all([pEvent(unfinished, 'close'), pEvent(finished, 'close')])
      await peer.connection.close()
      const [cut, clean]: any[] = await events
      expect(cut.error).to.have.property('name', 'ConnectionClosedError')
      expect(clean.error).to.equal(undefined)
      expect(peer.muxer.status).to.equal('closed')
    })
  })

  describe('writes', () => {
    it('frames produced in one event-loop turn reach the connection in one send(), uncopied where the connection is not known to write piece by piece', async () => {
      const peer = new RawPeer('client')
      const streams = await Promise.all(Array.from({ length: 10 }, async () => peer.muxer.createStream()))
      await peer.settle()
      const before = { writes: peer.writes, contiguous: peer.contiguousWrites }
      // past 1 KiB a payload is not copied in after its header (test/writer.spec.ts)
      const payload = new Uint8Array(2000).fill(7)
      for (const stream of streams) { stream.send(payload) }
      for (const stream of streams) { void stream.close() }
      await peer.settle()
      expect(peer.writes - before.writes).to.equal(1)
      // an in-memory pair gets the frames as views; test/e2e/write-path.spec.ts covers the copies
      expect(peer.contiguousWrites - before.contiguous).to.equal(0)
      expect(peer.framesOf(FrameType.DATA).length).to.equal(20)
    })

    it('splits a large write into DATA frames of at most 16383 bytes', async () => {
      const peer = new RawPeer('client')
      const stream = await peer.muxer.createStream()
      stream.send(new Uint8Array(40000).fill(7))
      await peer.settle()
      expect(peer.framesOf(FrameType.DATA).map(f => f.payload?.byteLength)).to.deep.equal([16383, 16383, 7234])
    })

    it('half-close is an empty DATA|FIN, never a SYN|FIN', async () => {
      const peer = new RawPeer('client')
      const stream = await peer.muxer.createStream()
      await stream.close()
      await peer.settle()
      expect(peer.frames.map(f => [f.type, f.flags, f.payload?.byteLength])).to.deep.equal([[FrameType.SYN, 0, undefined], [FrameType.DATA, 1, 0]])
    })
  })
})

async function collect (stream: MuxadoStream): Promise<number[]> {
  const bytes: number[] = []
  for await (const chunk of stream) { bytes.push(...chunk.subarray()) }
  return bytes
}
