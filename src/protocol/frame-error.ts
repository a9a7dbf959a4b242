import { errorCodeName } from './constants.ts'
import type { ErrorCode } from './constants.ts'

/**
 * A frame the peer sent breaks the wire format. Always session-fatal: the session answers with
 * GOAWAY carrying `errorCode` and closes, because a reader that rejects a header cannot know
 * where the next frame starts (Go never skips a rejected body either).
 */
export class FrameError extends Error {
  static name = 'FrameError'
  name = 'FrameError'
  readonly errorCode: ErrorCode

  constructor (message: string, errorCode: ErrorCode) {
    super(`${message} (${errorCodeName(errorCode)})`)
    this.errorCode = errorCode
  }
}
