/**
 * The muxado v1 wire vocabulary (github.com/inconshreveable/muxado at f693c7e).
 * Values from the Go library (github.com/inconshreveable/muxado at f693c7e, proto/frame/).
 */

/** Bytes in every frame header: `[R2|length14] [flags8] [R3|type5] [R1|streamId31]` */
export const HEADER_LENGTH = 8

/** The 14-bit length field caps every frame body */
export const MAX_PAYLOAD = 0x3fff

/** Both directions of every stream start with this window; v1 never negotiates it */
export const INITIAL_WINDOW = 0x10000

/** Stream ids, priorities, increments and GOAWAY last ids are 31-bit */
export const MAX_UINT31 = 0x7fffffff

/** A GOAWAY body is always read as exactly this many bytes */
export const GOAWAY_BODY_LENGTH = 8

/** The first id each role opens: the client (dialer) uses odd ids from 3, the server even ids from 2 */
export const FIRST_CLIENT_STREAM_ID = 3
export const FIRST_SERVER_STREAM_ID = 2

/** Stream types at or above this value are reserved for session extensions */
export const MIN_EXTENSION_TYPE = 0xfffffeff

/** The heartbeat extension's stream type (Go opens it with priority 0x7fffffff) */
export const HEARTBEAT_STREAM_TYPE = 0xfffffeff

export enum FrameType {
  SYN = 1,
  RST = 2,
  DATA = 3,
  WNDINC = 4,
  GOAWAY = 6
}

export const Flag = {
  FIN: 0x01,
  PRIORITY: 0x02,
  TYPE: 0x04
} as const

export enum ErrorCode {
  NoError = 0,
  ProtocolError = 1,
  InternalError = 2,
  FlowControlError = 3,
  StreamClosed = 4,
  FrameSizeError = 5,
  RefusedStream = 6,
  Cancel = 7
}

/** The highest code the Go writer accepts in an RST (rst.go:62-67) */
export const MAX_ERROR_CODE = ErrorCode.Cancel

/** A readable name for a wire error code; codes outside the table are kept as numbers */
export function errorCodeName (code: number): string {
  return ErrorCode[code] ?? `Unknown(${code})`
}
