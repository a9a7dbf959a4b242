/**
 * Node-only upstream behaviour (docs/upstream-bugs.md): the browser build of `weald` asks no
 * terminal, so this file is left out of the browser runs.
 */
import tty from 'node:tty'
import { logger } from '@libp2p/logger'
import { expect } from 'aegir/chai'

describe('upstream behaviour the workarounds rely on (Node)', () => {
  it('@libp2p/logger\'s newScope makes weald loggers that each call isatty(2), logging on or off (workaround: MuxadoMuxer.streamLog)', () => {
    const isatty = tty.isatty
    let calls = 0
    tty.isatty = (fd: number) => { calls++; return isatty(fd) }
    try {
      logger('muxado:upstream-pin').newScope('outbound:3')
    } finally {
      tty.isatty = isatty
    }
    expect(calls).to.be.greaterThan(0)
  })
})
