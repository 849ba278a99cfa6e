// The rooms' HTTP API (docs/API.md): a stream's history and text, ending and deleting it, and
// the export file that holds a whole stream.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

export const EXPORT_FORMAT = 'codestream-stream';
export const EXPORT_VERSION = 1;

async function call(apiBase, path, { method = 'GET', query = {}, writerKey = null } = {}) {
  const url = new URL(`${apiBase}${path}`, location.href);
  for (const [name, value] of Object.entries(query)) if (value !== null && value !== undefined) url.searchParams.set(name, value);
  const headers = writerKey ? { Authorization: `Bearer ${writerKey}` } : {};
  let response;
  try {
    response = await fetch(url, { method, headers, cache: 'no-store' });
  } catch (error) {
    throw new ApiError(0, 'network', String(error));
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body?.error?.code ?? 'internal', body?.error?.message ?? '');
  return body;
}

const roomPath = (roomId) => `/api/rooms/${encodeURIComponent(roomId)}`;

// One page of the history: entries after version `after` (null: from the start).
export const historyPage = (apiBase, roomId, after = null) =>
  call(apiBase, `${roomPath(roomId)}/history`, { query: { after } });

// Every page from `after` on; `onPage(page)` hears each as it comes. Answers the last page.
export async function loadHistory(apiBase, roomId, after, onPage) {
  for (;;) {
    const page = await historyPage(apiBase, roomId, after);
    onPage(page);
    if (page.next_after === null || page.next_after === undefined) return page;
    after = page.next_after;
  }
}

export const textAt = (apiBase, roomId, version = null) =>
  call(apiBase, `${roomPath(roomId)}/text`, { query: { version } });

export const endStream = (apiBase, roomId, writerKey) =>
  call(apiBase, `${roomPath(roomId)}/end`, { method: 'POST', writerKey });

export const deleteStream = (apiBase, roomId, writerKey) =>
  call(apiBase, roomPath(roomId), { method: 'DELETE', writerKey });

// --- the export file ---

export function exportFile({ roomId, endedAt = null, expiresAt = null, entries }) {
  return {
    format: EXPORT_FORMAT,
    format_version: EXPORT_VERSION,
    room_id: roomId,
    exported_at: Date.now() / 1000,
    ended_at: endedAt,
    expires_at: expiresAt,
    entries,
  };
}

// The export file's text read back; a plain Error saying what is wrong with anything else.
export function parseExport(text) {
  let file;
  try {
    file = JSON.parse(text);
  } catch {
    throw new Error('this file is not JSON');
  }
  if (file?.format !== EXPORT_FORMAT) throw new Error('this file is not a codestream recording');
  if (file.format_version !== EXPORT_VERSION) {
    throw new Error(`this recording has format version ${file.format_version}; this page reads ${EXPORT_VERSION}`);
  }
  if (!Array.isArray(file.entries)) throw new Error('this recording has no entries');
  return file;
}

export function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
