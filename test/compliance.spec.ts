import tests from '@libp2p/interface-compliance-tests/stream-muxer'
import { muxado } from '../src/index.ts'

describe('libp2p stream-muxer compliance', () => {
  tests({
    async setup () {
      return muxado()()
    },
    async teardown () {}
  })
})
