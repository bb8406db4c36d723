/** Options of `signal:` addresses and of `connect()`/`listen()` for them. */
import type { ConnectOptions, ListenOptions } from '@ipc/core'
import { IpcError } from '@ipc/core'
import { count, duration } from '@ipc/core/mechanism'
import { SIGRTMAX, SIGRTMIN, type SignalName, signalNumber } from './names.js'
import { DEFAULT_DATA_OFFSET } from './wire.js'

/** Options of `connect()` for `signal:<pid>` (also as `signal:1234?sig=SIGRTMIN+20`). */
export interface SignalConnectOptions<In = unknown> extends ConnectOptions<In> {
  /**
   * The data signal (the control signal is the next one); both ends must use the same.
   * @defaultValue `SIGRTMIN+20`
   */
  sig?: SignalName | string
}

/** Options of `listen()` for `signal:`. */
export interface SignalListenOptions<In = unknown> extends ListenOptions<In> {
  /** As for {@link SignalConnectOptions.sig}. */
  sig?: SignalName | string
  /**
   * Connections waiting for `accept()`.
   * @defaultValue `511`
   */
  backlog?: number
  /**
   * Milliseconds a client may take to finish its hello.
   * @defaultValue `10_000`
   */
  handshakeTimeout?: number
}

/** The parsers of the scheme's options (core applies them to address and options alike). */
export const SIGNAL_OPTIONS = {
  sig: (value: unknown, name: string): string => {
    try {
      signalSet(String(value))
    } catch (err) {
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name}: ${(err as Error).message}`, { details: { option: name } })
    }
    return String(value)
  },
  handshakeTimeout: duration(1),
  backlog: count(1, 1 << 20),
}

/** The data, control and hello signal numbers the options name. */
export function signalSet(signal: SignalName | string | undefined): { data: number; control: number; hello: number } {
  const data = signal === undefined ? SIGRTMIN + DEFAULT_DATA_OFFSET : signalNumber((/^\d+$/.test(String(signal)) ? Number(signal) : signal) as SignalName)
  if (data + 2 > SIGRTMAX)
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `sig: the control and hello signals are the two after the data signal; ${data} leaves no room for them`)
  return { data, control: data + 1, hello: data + 2 }
}
