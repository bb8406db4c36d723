/** A FIFO with O(1) push and shift (a growable ring), and O(n) removal of one item. */
export class Queue<T> implements Iterable<T> {
  private items: (T | undefined)[] = new Array(4) // a power of two; idle connections hold a few of these
  private head = 0
  private size = 0

  get length(): number {
    return this.size
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow()
    this.items[(this.head + this.size) & (this.items.length - 1)] = item
    this.size++
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) & (this.items.length - 1)
    this.size--
    return item
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head]
  }

  /** Removes the first occurrence of `item`; returns whether it was there. */
  remove(item: T): boolean {
    const mask = this.items.length - 1
    for (let i = 0; i < this.size; i++) {
      if (this.items[(this.head + i) & mask] === item) {
        for (let j = i; j < this.size - 1; j++) {
          this.items[(this.head + j) & mask] = this.items[(this.head + j + 1) & mask]
        }
        this.items[(this.head + this.size - 1) & mask] = undefined
        this.size--
        return true
      }
    }
    return false
  }

  *[Symbol.iterator](): Iterator<T> {
    const mask = this.items.length - 1
    for (let i = 0; i < this.size; i++) yield this.items[(this.head + i) & mask] as T
  }

  private grow(): void {
    const bigger: (T | undefined)[] = new Array(this.items.length * 2)
    for (let i = 0; i < this.size; i++) bigger[i] = this.items[(this.head + i) & (this.items.length - 1)]
    this.items = bigger
    this.head = 0
  }
}
