// The version rules that keep a viewer's text equal to the writer's.
// A line-by-line mirror of shared/versions.py (read it for the why); keep the two in step.
//
// native numbering (codestream's writer): deltas 1, 2, 3, ...; delta.version is the version
// after it, full.version the version of its content. tutorial numbering: deltas from 0 and
// full.version is the number of the next delta, so its delta v is native v + 1.

export const Outcome = Object.freeze({
  APPLIED: 'applied',
  DUPLICATE: 'duplicate',
  HELD: 'held',
  STALE: 'stale',
});

export class VersionTracker {
  constructor() {
    this.version = null; // native version of the text held; null: no base yet
    this.numbering = null; // 'native' | 'tutorial' | null
    this.held = new Map(); // by the number it was sent with
    this.gapSince = null; // when the oldest unresolved gap appeared (ms)
  }

  native(sent) {
    if (this.numbering === 'tutorial') return sent + 1;
    if (this.numbering === 'native') return sent;
    return null;
  }

  hasBase() {
    return this.version !== null;
  }

  isCurrent() {
    return this.version !== null && this.held.size === 0;
  }

  acceptsFull(version) {
    return this.version === null || version >= this.version;
  }

  // Account for a full text with `version` whose content the caller has just stored.
  // `numbering` is the full's own word on it ('native' | 'tutorial'; the server's snapshots
  // and codestream's writer say it), which settles what inference could get wrong.
  onFull(version, apply, numbering = null) {
    if (!this.acceptsFull(version)) return Outcome.STALE;
    this.version = version;
    if (numbering === 'native' || numbering === 'tutorial') this.numbering = numbering;
    // A held delta k reached us before full k, so it was sent first: a native writer's delta k
    // (inside the full). The tutorial's delta k is sent after its full k, so deciding here
    // "tutorial" would apply a native delta twice on the usual sync-recovery path.
    if (this.numbering === null && (this.held.has(version) || this.held.has(version + 1))) {
      this.numbering = 'native';
    }
    this.drain(apply);
    return Outcome.APPLIED;
  }

  onDelta(sent, delta, apply, now) {
    const before = [this.numbering, this.version];
    this.infer(sent);
    const version = this.native(sent);
    if (version !== null && this.version !== null && version <= this.version) return Outcome.DUPLICATE;
    if (version === null || this.version === null || version > this.version + 1) {
      if (!this.held.has(sent) && this.gapSince === null) this.gapSince = now;
      if (!this.held.has(sent)) this.held.set(sent, delta);
      return Outcome.HELD;
    }
    try {
      apply(delta);
    } catch (error) {
      [this.numbering, this.version] = before; // a refused delta decides nothing, not even a base
      throw error;
    }
    this.version = version;
    this.drain(apply);
    return Outcome.APPLIED;
  }

  // Apply held deltas while the next one is there.
  drain(apply) {
    this.dropOld();
    while (this.version !== null && this.numbering !== null) {
      const sent = this.numbering === 'tutorial' ? this.version : this.version + 1;
      if (!this.held.has(sent)) break;
      const delta = this.held.get(sent);
      this.held.delete(sent);
      apply(delta);
      this.version += 1;
    }
    if (this.held.size === 0) this.gapSince = null;
  }

  gapAge(now) {
    return this.gapSince === null ? 0 : now - this.gapSince;
  }

  reset() {
    this.held.clear();
    this.gapSince = null;
  }

  infer(sent) {
    if (this.numbering !== null) return;
    if (sent === 0) {
      this.numbering = 'tutorial';
    } else if (this.version === null) {
      if (sent === 1) {
        this.numbering = 'native';
        this.version = 0;
      }
    } else if (sent === this.version) {
      this.numbering = 'tutorial';
    } else if (sent === this.version + 1) {
      this.numbering = 'native';
    }
    if (this.numbering === 'tutorial' && this.version === null) this.version = 0;
    if (this.numbering !== null) this.dropOld();
  }

  dropOld() {
    if (this.version === null) return;
    // Under either numbering a delta sent with a number below the version is old.
    const last = this.numbering === 'native' ? this.version : this.version - 1;
    for (const sent of [...this.held.keys()]) {
      if (sent <= last) this.held.delete(sent);
    }
    if (this.held.size === 0) this.gapSince = null;
  }
}
