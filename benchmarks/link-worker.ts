/**
 * The link emulator on a thread of its own, so its timers keep time while both muxers keep the
 * main thread busy. Posts the port to dial; ends with the worker.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { LinkEmulator } from '../test/helpers/link-emulator.ts'
import type { LinkOptions } from '../test/helpers/link-emulator.ts'

const { targetPort, options } = workerData as { targetPort: number, options: LinkOptions }
const link = await LinkEmulator.start(targetPort, options)
parentPort?.postMessage(link.port)
