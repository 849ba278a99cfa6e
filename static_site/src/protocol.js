// The wire protocol's names and the messages the browser builds: a mirror of shared/protocol.py
// (read it, and docs/PROTOCOL.md, for the why). tests/mirror checks the two against each other.

export const EVENTS = Object.freeze({
  joinRoom: 'joinRoom', // client to server
  sendToRoom: 'sendToRoom',
  login: 'login', // server to client: connected, join now
  message: 'message', // server to client: every message
});

export const TYPES = Object.freeze({
  ACK_JOIN_ROOM: 'ackJoinRoom',
  EDITOR_MESSAGE: 'editorMessage',
  PRESENCE: 'presence',
  SUPERSEDED: 'superseded',
  ERROR: 'error',
  DELTA: 'delta',
  FULL: 'full',
  CURSOR: 'cursor',
  LANGUAGE: 'language',
  MARKER: 'marker', // a labelled point in the stream, from its writer
  ENDED: 'ended', // the stream's end of life, to its viewers and writers
  DELETED: 'deleted',
});

export const ERROR_CODES = Object.freeze([
  'bad_request',
  'unauthorized',
  'room_not_found',
  'too_large',
  'rate_limited',
  'internal',
]);

export const CONTROL_SUFFIX = '-control'; // room R's writers are in R-control, its viewers in R
export const SYNC = 'sync';
export const NUMBERINGS = Object.freeze(['native', 'tutorial']);
export const LIFETIMES = Object.freeze([3600, 86400, 7 * 86400, 30 * 86400]); // seconds a writer may choose
export const MAX_MARKER_LABEL = 80; // characters

export function vocabulary() {
  return {
    events: { ...EVENTS },
    types: { ...TYPES },
    errorCodes: [...ERROR_CODES],
    controlSuffix: CONTROL_SUFFIX,
    sync: SYNC,
    numberings: [...NUMBERINGS],
    lifetimes: [...LIFETIMES],
    maxMarkerLabel: MAX_MARKER_LABEL,
  };
}

export const controlRoom = (roomId) => roomId + CONTROL_SUFFIX;

// --- what clients send ---

export function joinRoomPayload(roomId, writerKey = null) {
  const payload = { room_id: roomId };
  if (writerKey !== null && writerKey !== undefined) payload.writer_key = writerKey;
  return payload;
}

export function sendToRoomPayload(roomId, data, writerKey = null) {
  const payload = { room_id: roomId, data };
  if (writerKey !== null && writerKey !== undefined) payload.writer_key = writerKey;
  return payload;
}

export const deltaMessage = (version, changes) => ({ type: TYPES.DELTA, version, changes });
export const cursorMessage = (version, selections) => ({ type: TYPES.CURSOR, version, selections });
export const languageMessage = (language) => ({ type: TYPES.LANGUAGE, language });
export const markerMessage = (version, label) => ({ type: TYPES.MARKER, version, label });

export function fullMessage(version, content, language = null, numbering = null) {
  const message = { type: TYPES.FULL, version, content };
  if (language !== null && language !== undefined) message.language = language;
  if (numbering !== null && numbering !== undefined) message.numbering = numbering;
  return message;
}

export const syncRequest = () => ({ data: SYNC });

export function isSyncRequest(data) {
  return typeof data === 'object' && data !== null && !Array.isArray(data) && data.type == null && data.data === SYNC;
}
