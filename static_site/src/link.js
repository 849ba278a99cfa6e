// The connection to the server: negotiate, Socket.IO, join the room, and come back by itself
// (backoff; a new token when the old one is refused; joining again when the room is missing).

import { io } from 'socket.io-client';
import { EVENTS, TYPES, joinRoomPayload, sendToRoomPayload } from './protocol.js';

export class Backoff {
  constructor(first = 250, max = 4000) {
    this.first = first;
    this.max = max;
    this.attempt = 0;
  }

  // Exponential with jitter, so a restarted server is not hit by every client at once.
  next() {
    const base = Math.min(this.max, this.first * 2 ** this.attempt);
    this.attempt += 1;
    return base / 2 + (Math.random() * base) / 2;
  }

  reset() {
    this.attempt = 0;
  }
}

export class NegotiateError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function negotiate(apiBase, params) {
  const url = new URL(`${apiBase}/api/negotiate`, location.href);
  for (const [name, value] of Object.entries(params)) if (value) url.searchParams.set(name, value);
  let response;
  try {
    response = await fetch(url, { cache: 'no-store' });
  } catch (error) {
    throw new NegotiateError(0, 'network', String(error));
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new NegotiateError(response.status, body?.error?.code ?? 'internal', body?.error?.message ?? '');
  }
  return body;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const OFFLINE_AFTER = 4; // failed attempts in a row before "reconnecting" becomes "offline"

// Status: connecting | live | reconnecting | offline | waiting (room unknown) | refused |
// superseded (the writer's key joined from elsewhere).
export class Link {
  // onTrouble(text): a reason to show the user ('' when it is over).
  constructor({ apiBase, params, onGrant, onJoined, onMessage, onStatus, onRefused, onTrouble }) {
    Object.assign(this, { apiBase, params, onGrant, onJoined, onMessage, onStatus, onRefused, onTrouble });
    this.grant = null;
    this.socket = null;
    this.joined = false;
    this.everJoined = false;
    this.failures = 0;
    this.negotiations = 0; // successful ones; read by the browser tests
    this.backoff = new Backoff();
    this.joinBackoff = new Backoff(250, 3000);
    this.joinTimer = null;
    this.status = 'connecting';
    this.negotiating = false;
    this.stopped = false; // the stream is gone: no more tries
    window.addEventListener('offline', () => this.setStatus('offline'));
    window.addEventListener('online', () => {
      if (this.socket && !this.socket.connected) this.socket.connect();
    });
  }

  get roomId() {
    return this.grant?.room_id ?? null;
  }

  start() {
    this.renegotiate();
  }

  // Negotiate until it works; a 4xx other than 404 is final (wrong writer key, bad link).
  async renegotiate() {
    if (this.negotiating) return;
    this.negotiating = true;
    try {
      await this.negotiateUntilDone();
    } finally {
      this.negotiating = false;
    }
  }

  async negotiateUntilDone() {
    this.closeSocket();
    while (!this.stopped) {
      try {
        const grant = await negotiate(this.apiBase, this.params());
        if (this.stopped) return;
        this.grant = grant;
        this.negotiations += 1;
        this.backoff.reset();
        this.onGrant?.(this.grant);
        this.openSocket();
        return;
      } catch (error) {
        if (error.status === 400 || error.status === 403) {
          this.setStatus('refused');
          this.onRefused?.(error);
          return;
        }
        this.failures += 1;
        this.onTrouble?.(error.status === 413 ? error.message : '');
        this.setStatus(error.status === 404 ? 'waiting' : this.troubleStatus());
        await sleep(this.backoff.next());
      }
    }
  }

  // For good: the stream was deleted (the server disconnects every socket next).
  stop(status) {
    this.stopped = true;
    this.closeSocket();
    this.joined = false;
    this.setStatus(status);
  }

  openSocket() {
    if (this.stopped) return;
    const { endpoint, path, token } = this.grant;
    const socket = io(endpoint, {
      path,
      auth: { token },
      transports: ['websocket'],
      reconnectionDelay: 250,
      reconnectionDelayMax: 4000,
      randomizationFactor: 0.5,
    });
    socket.on(EVENTS.login, () => this.join());
    socket.on(EVENTS.message, (message) => this.receive(message));
    socket.on('disconnect', (reason) => {
      this.left();
      if (reason === 'io server disconnect') socket.connect(); // the server closed us: try again
    });
    socket.on('connect_error', (error) => {
      this.left();
      this.failures += 1;
      // Refused by the server (an expired or foreign token): negotiate again. Otherwise the
      // manager retries by itself with backoff.
      if (!socket.active) {
        this.closeSocket();
        sleep(this.backoff.next()).then(() => this.renegotiate());
      }
    });
    this.socket = socket;
  }

  closeSocket() {
    clearTimeout(this.joinTimer);
    if (!this.socket) return;
    this.socket.removeAllListeners();
    this.socket.disconnect();
    this.socket = null;
  }

  join() {
    clearTimeout(this.joinTimer);
    this.socket?.emit(EVENTS.joinRoom, joinRoomPayload(this.grant.room_id, this.grant.writer_key));
  }

  receive(message) {
    if (message?.type === TYPES.SUPERSEDED) {
      // The same writer key joined from another tab or device, which now streams: stop here
      // rather than take the room back and forth.
      this.closeSocket();
      this.setStatus('superseded');
      this.onTrouble?.(message.message);
      return;
    }
    if (message?.type === TYPES.DELETED) {
      this.stop('deleted');
      this.onMessage(message);
      return;
    }
    if (message?.type !== TYPES.ACK_JOIN_ROOM) {
      this.onMessage(message);
      return;
    }
    if (message.success) {
      this.onTrouble?.('');
      this.joined = true;
      this.everJoined = true;
      this.failures = 0;
      this.joinBackoff.reset();
      this.setStatus('live');
      this.onJoined(message);
      return;
    }
    const code = message.error?.code;
    if (code === 'unauthorized') {
      this.renegotiate();
      return;
    }
    // room_not_found: the server restarted and forgot the room; its writer will bring it back.
    // too_large: the room is full; someone may leave.
    if (code === 'too_large') this.onTrouble?.(message.error?.message ?? '');
    this.setStatus(code === 'room_not_found' ? 'waiting' : this.troubleStatus());
    this.joinTimer = setTimeout(() => this.join(), this.joinBackoff.next());
  }

  left() {
    const was = this.joined;
    this.joined = false;
    if (was || this.status === 'live') this.failures = 0;
    this.setStatus(this.troubleStatus());
  }

  troubleStatus() {
    if (!navigator.onLine || this.failures >= OFFLINE_AFTER) return 'offline';
    return this.everJoined ? 'reconnecting' : 'connecting';
  }

  // Sends `data` to the room (or to `room`, e.g. R-control); only once joined.
  send(data, room = this.grant?.room_id) {
    if (!this.joined || !this.socket) return false;
    this.socket.emit(EVENTS.sendToRoom, sendToRoomPayload(room, data, this.grant.writer_key));
    return true;
  }

  // The server's limits from the negotiate answer (docs/PROTOCOL.md); {} before the first grant
  // or from a server that sends none (then the server's refusals are the only guard).
  get limits() {
    return this.grant?.limits ?? {};
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }
}
