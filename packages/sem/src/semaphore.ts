/**
 * `Semaphore`: a counting semaphore shared between processes — POSIX named (`sem_open`) or System
 * V (`semget`, with `SEM_UNDO` by default). `acquire()` takes a free unit on the event loop's
 * thread at once (`sem_trywait`: no system call when a unit is free) and otherwise waits on a
 * thread of this handle's own, never the event loop and never the libuv threadpool.
 */
import { IpcError, type WaitOptions } from '@ipc/core'
import { abortError, checkTimeout, debug, timeoutError } from '@ipc/core/mechanism'
import { type Semaphore as NativeSemaphore, native } from '@ipc/native'
import { SEMVMX, SEM_VALUE_MAX, semError } from './errors.js'
import { type KeyFile, SEM_PROJ_ID, checkPosixName, keyFilePath, removeKeyFile, useKeyFile } from './names.js'

const { IPC_CREAT, IPC_EXCL } = native.semConstants

/** Which kernel object a {@link Semaphore} is. */
export type SemaphoreKind = 'posix' | 'sysv'

/** Options of {@link Semaphore.create}. */
export interface SemaphoreCreateOptions {
  /**
   * Units free at first: 0 to `SEM_VALUE_MAX` (POSIX) or 32767 (`SEMVMX`, System V).
   * @defaultValue `1` (a lock)
   */
  initial?: number
  /**
   * `'posix'` (default): a named POSIX semaphore `/name`. `'sysv'`: a System V set named by a key file path.
   * @defaultValue `'posix'`
   */
  kind?: SemaphoreKind
  /**
   * System V only: every `acquire()`/`release()` of this handle is recorded (`SEM_UNDO`) and undone
   * by the kernel when the process ends, so a holder that crashes gives its units back. Right for
   * a lock (acquired and released by the same process); wrong for a semaphore that one process
   * releases and another acquires. POSIX semaphores have no undo.
   * @defaultValue `true` for `'sysv'`
   */
  undo?: boolean
}

/** Options of {@link Semaphore.open}. */
export interface SemaphoreOpenOptions {
  /**
   * As for {@link SemaphoreCreateOptions.kind}.
   * @defaultValue `'posix'`
   */
  kind?: SemaphoreKind
  /** As for {@link SemaphoreCreateOptions.undo}. */
  undo?: boolean
}

/** A held unit from {@link Semaphore.lock}: disposing it releases the unit (once). */
export interface SemaphoreLock extends AsyncDisposable, Disposable {
  /** Releases the unit; later calls do nothing. */
  release(): void
}

/** One `acquire()` waiting for the waiter thread, in order. */
interface Waiting {
  resolve(): void
  reject(err: IpcError): void
  disarm(): void
  next: Waiting | undefined
  prev: Waiting | undefined
}

const RESOLVED: Promise<void> = Promise.resolve()

/**
 * A process-shared counting semaphore. Make one with {@link Semaphore.create} or
 * {@link Semaphore.open}; close it with {@link Semaphore.close} (the kernel object stays until
 * {@link Semaphore.unlink}).
 *
 * Crash behaviour, plainly: a System V semaphore with `undo` gives back the units of a process
 * that dies holding them. A POSIX named semaphore does not: a holder that dies leaves the count
 * lowered for good, so wait with a `timeout` where that matters, and remove a stale one with
 * `unlink()` (or `ipc clean`).
 *
 * @example
 * ```ts
 * const sem = await Semaphore.create('/jobs', { initial: 2 })
 * await using held = await sem.lock({ timeout: 1000 })
 * // at most two processes are here at once
 * ```
 */
export class Semaphore implements AsyncDisposable, Disposable {
  /** The name it was created or opened with (a POSIX name, or the key file path for System V). */
  readonly name: string
  /** POSIX named or System V. */
  readonly kind: SemaphoreKind
  /** Whether this handle's operations are undone at process exit (System V only). */
  readonly undo: boolean
  private handle: NativeSemaphore | undefined
  private head: Waiting | undefined
  private tail: Waiting | undefined
  private waiting = 0
  private readonly semid: number | undefined
  private readonly keyFile: KeyFile | undefined

  private constructor(
    name: string,
    kind: SemaphoreKind,
    undo: boolean,
    make: (onUnits: (e: Error | null, n: number) => void) => NativeSemaphore,
    semid?: number,
    keyFile?: KeyFile,
  ) {
    this.name = name
    this.kind = kind
    this.undo = undo
    this.semid = semid
    this.keyFile = keyFile
    this.handle = make((error, count) => this.onUnits(error, count))
  }

  /**
   * Creates a semaphore that must not exist yet (`ERR_IPC_ADDRESS_IN_USE` if it does), owner-only
   * (0600). POSIX: `name` is `/name`. System V: `name` is a key file path; the file is created
   * (0600) if missing and must otherwise be an owner-only regular file of this user.
   */
  static async create(name: string, options: SemaphoreCreateOptions = {}): Promise<Semaphore> {
    const kind = kindOf(options.kind)
    const undo = undoOf(kind, options.undo)
    const initial = options.initial ?? 1
    const max = kind === 'posix' ? SEM_VALUE_MAX : SEMVMX
    if (!Number.isSafeInteger(initial) || initial < 0 || initial > max) {
      throw new IpcError(
        'ERR_IPC_INVALID_ARGUMENT',
        `initial must be an integer from 0 to ${max} (${kind === 'posix' ? 'SEM_VALUE_MAX' : 'SEMVMX'}), got ${String(initial)}`,
      )
    }
    const what = `create semaphore ${name}`
    if (kind === 'posix') {
      checkPosixName(name)
      try {
        return new Semaphore(name, kind, false, (on) => new native.Semaphore(0, name, 1, initial, on))
      } catch (err) {
        throw semError(err, what)
      }
    }
    const path = keyFilePath(name)
    const keyFile = useKeyFile(path, true, what)
    let semid: number | undefined
    try {
      const key = native.ftokKey(path, SEM_PROJ_ID)
      semid = native.semGet(key, 1, IPC_CREAT | IPC_EXCL | 0o600)
      native.semSetVal(semid, 0, initial)
      native.semTouch(semid, 0) // sem_otime set: openers know the value is there (semget(2) NOTES)
      const id = semid
      return new Semaphore(path, kind, undo, (on) => new native.Semaphore(1, id, 0, undo, on), id, keyFile)
    } catch (err) {
      if (semid !== undefined) quietly(() => native.semRemove(semid!))
      if (keyFile.created) removeKeyFile(keyFile)
      throw semError(err, what)
    }
  }

  /**
   * Opens an existing semaphore (`ERR_IPC_NO_LISTENER` if there is none). System V: the set must
   * belong to this user and be owner-only (`ERR_IPC_PERMISSION` otherwise), and is waited for
   * briefly while its creator is still initialising it.
   */
  static async open(name: string, options: SemaphoreOpenOptions = {}): Promise<Semaphore> {
    const kind = kindOf(options.kind)
    const undo = undoOf(kind, options.undo)
    const what = `open semaphore ${name}`
    if (kind === 'posix') {
      checkPosixName(name)
      try {
        return new Semaphore(name, kind, false, (on) => new native.Semaphore(0, name, 0, undefined, on))
      } catch (err) {
        throw semError(err, what)
      }
    }
    const path = keyFilePath(name)
    const keyFile = useKeyFile(path, false, what)
    try {
      const semid = native.semGet(native.ftokKey(path, SEM_PROJ_ID), 1, 0)
      const deadline = performance.now() + 1000
      for (;;) {
        const st = native.semStat(semid)
        if (st.cuid !== process.getuid!() || st.uid !== process.getuid!() || (st.mode & 0o077) !== 0) {
          throw new IpcError('ERR_IPC_PERMISSION', `${what}: the set belongs to uid ${st.cuid} or is not owner-only (mode ${st.mode.toString(8)})`)
        }
        if (st.nsems !== 1) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${what}: the set has ${st.nsems} semaphores; not one of this package`)
        if (st.otime !== 0) break
        if (performance.now() > deadline) throw new IpcError('ERR_IPC_TIMEOUT', `${what}: its creator never finished initialising it`)
        await new Promise((r) => setTimeout(r, 5)) // semget(2): no event tells when a new set's value is set
      }
      return new Semaphore(path, kind, undo, (on) => new native.Semaphore(1, semid, 0, undo, on), semid, { ...keyFile, created: false })
    } catch (err) {
      throw semError(err, what)
    }
  }

  /** Units free now (`sem_getvalue`, `GETVAL`): a snapshot, stale as soon as it is read. */
  get value(): number {
    try {
      return this.open('value').value()
    } catch (err) {
      throw semError(err, `semaphore ${this.name}: value`)
    }
  }

  /**
   * Takes one unit: at once if one is free (and nobody of this handle waits before it), else when
   * one is released. Never blocks the event loop. `signal`/`timeout` reject it with
   * `ERR_IPC_ABORTED`/`ERR_IPC_TIMEOUT`, and then no unit is taken (one taken in the race is
   * given back). `ERR_IPC_CLOSED` when the handle is closed or the semaphore removed meanwhile.
   */
  acquire(options?: WaitOptions): Promise<void> {
    const handle = this.handle
    if (handle === undefined) return Promise.reject(closedError(this.name))
    if (options !== undefined) {
      try {
        checkTimeout(options.timeout)
      } catch (err) {
        return Promise.reject(err)
      }
      if (options.signal?.aborted) return Promise.reject(abortError(options.signal, `acquire of ${this.name}`))
    }
    if (this.waiting === 0) {
      try {
        if (handle.tryWait()) return RESOLVED
      } catch (err) {
        return Promise.reject(semError(err, `semaphore ${this.name}: acquire`))
      }
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiting = { resolve, reject, disarm: noop, next: undefined, prev: this.tail }
      if (this.tail) this.tail.next = w
      else this.head = w
      this.tail = w
      this.waiting++
      if (options?.signal !== undefined || options?.timeout !== undefined) w.disarm = this.arm(w, options)
      try {
        handle.want(1)
      } catch (err) {
        this.unlinkWaiting(w)
        w.disarm()
        reject(semError(err, `semaphore ${this.name}: acquire`))
      }
    })
  }

  /** Takes one unit if one is free now: `true`, else `false`. Never waits. */
  tryAcquire(): boolean {
    try {
      return this.open('tryAcquire').tryWait()
    } catch (err) {
      throw semError(err, `semaphore ${this.name}: tryAcquire`)
    }
  }

  /**
   * Gives back `n` units (1 to 32767). Past the kind's largest value (`SEM_VALUE_MAX`, `SEMVMX`)
   * it throws `ERR_IPC_INVALID_ARGUMENT` and gives back none.
   */
  release(n = 1): void {
    if (!Number.isSafeInteger(n) || n < 1 || n > 32767)
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `release(n): n must be an integer from 1 to 32767, got ${String(n)}`)
    try {
      this.open('release').post(n)
    } catch (err) {
      throw semError(err, `semaphore ${this.name}: release`)
    }
  }

  /**
   * Acquires one unit (as {@link Semaphore.acquire}) and returns it as a disposable, for
   * `await using held = await sem.lock()`: leaving the block releases it.
   */
  async lock(options?: WaitOptions): Promise<SemaphoreLock> {
    await this.acquire(options)
    let held = true
    const release = (): void => {
      if (!held) return
      held = false
      this.release()
    }
    return {
      release,
      [Symbol.dispose]: release,
      [Symbol.asyncDispose]: async () => release(),
    }
  }

  /**
   * Closes this handle: pending `acquire()`s reject with `ERR_IPC_CLOSED`, the waiter thread ends
   * (a unit it took for nobody is given back). The semaphore itself stays; see {@link Semaphore.unlink}.
   */
  close(): void {
    const handle = this.handle
    if (handle === undefined) return
    this.handle = undefined
    handle.close()
    this.settleAll(closedError(this.name))
  }

  /**
   * Removes the semaphore from the system and closes this handle. POSIX: the name goes at once;
   * processes that have it open keep using it until they close it. System V: the set is removed
   * (every waiter, in every process, fails with `ERR_IPC_CLOSED`), and so is the key file if this
   * package created it.
   */
  unlink(): void {
    const what = `unlink semaphore ${this.name}`
    this.close()
    try {
      if (this.kind === 'posix') native.semUnlink(this.name)
      else native.semRemove(this.semid!)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' && code !== 'EINVAL' && code !== 'EIDRM') throw semError(err, what)
    } finally {
      if (this.keyFile !== undefined) removeKeyFile(this.keyFile)
    }
  }

  /** Removes the POSIX semaphore `name` without opening it (`ERR_IPC_NO_LISTENER` if there is none). */
  static unlink(name: string): void {
    checkPosixName(name)
    try {
      native.semUnlink(name)
    } catch (err) {
      throw semError(err, `unlink semaphore ${name}`)
    }
  }

  /** The same as {@link Semaphore.close}. */
  [Symbol.dispose](): void {
    this.close()
  }

  /** The same as {@link Semaphore.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }

  private open(what: string): NativeSemaphore {
    if (this.handle === undefined) throw new IpcError('ERR_IPC_CLOSED', `semaphore ${this.name}: ${what} after close()`)
    return this.handle
  }

  /** Units from the waiter thread: to the oldest waits; any left over (their waits ended) go back. */
  private onUnits(error: Error | null, count: number): void {
    const handle = this.handle
    if (handle === undefined) return
    if (error !== null) {
      this.settleAll(semError(error, `semaphore ${this.name}: acquire`))
      return
    }
    let left = count
    while (left > 0 && this.head !== undefined) {
      const w = this.head
      this.unlinkWaiting(w)
      w.disarm()
      w.resolve()
      left--
    }
    if (left > 0) {
      debug('sem %s: %d unit(s) arrived for waits that ended; given back', this.name, left)
      try {
        handle.post(left)
      } catch (err) {
        debug('sem %s: giving back %d unit(s) failed: %s', this.name, left, (err as Error).message)
      }
    }
    this.syncDemand(handle)
  }

  /** Makes the waiter thread's demand equal the waits there are (units in flight can leave it off). */
  private syncDemand(handle: NativeSemaphore): void {
    const demand = handle.want(0)
    if (demand !== this.waiting) handle.want(this.waiting - demand)
  }

  private arm(w: Waiting, options: WaitOptions): () => void {
    const { signal, timeout } = options
    let timer: NodeJS.Timeout | undefined
    const cancel = (err: IpcError): void => {
      disarm()
      this.unlinkWaiting(w)
      if (this.handle !== undefined) {
        try {
          this.handle.want(-1)
        } catch {
          // closing: nothing waits any more
        }
      }
      w.reject(err)
    }
    const onAbort = (): void => cancel(abortError(signal!, `acquire of ${this.name}`))
    const disarm = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    if (timeout !== undefined) timer = setTimeout(() => cancel(timeoutError(timeout, `acquire of ${this.name}`)), timeout)
    return disarm
  }

  private unlinkWaiting(w: Waiting): void {
    if (w.prev) w.prev.next = w.next
    else if (this.head === w) this.head = w.next
    else return // not queued any more
    if (w.next) w.next.prev = w.prev
    else this.tail = w.prev
    w.next = w.prev = undefined
    this.waiting--
  }

  private settleAll(err: IpcError): void {
    for (let w = this.head; w !== undefined; w = this.head) {
      this.unlinkWaiting(w)
      w.disarm()
      w.reject(err)
    }
  }
}

function kindOf(kind: SemaphoreKind | undefined): SemaphoreKind {
  if (kind === undefined || kind === 'posix' || kind === 'sysv') return kind ?? 'posix'
  throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `kind must be 'posix' or 'sysv', got ${String(kind)}`)
}

function undoOf(kind: SemaphoreKind, undo: boolean | undefined): boolean {
  if (undo !== undefined && typeof undo !== 'boolean') throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `undo must be a boolean, got ${String(undo)}`)
  if (kind === 'posix' && undo === true) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', 'undo: POSIX semaphores have no undo; use kind: "sysv"')
  return kind === 'sysv' ? (undo ?? true) : false
}

function closedError(name: string): IpcError {
  return new IpcError('ERR_IPC_CLOSED', `semaphore ${name} is closed`)
}

function quietly(fn: () => void): void {
  try {
    fn()
  } catch {
    // cleanup of a failed create
  }
}

function noop(): void {}
