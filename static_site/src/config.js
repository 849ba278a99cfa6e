// The runtime config (dist/config.json): where the API lives, so one build serves both hostings.
// Self-hosted it is empty (same origin); the Azure deploy writes the Function App's URL.

const DEFAULTS = { apiBaseUrl: '', sendWindowMs: 50 };
const WINDOW_MS = { min: 30, max: 2000 }; // the writer also keeps to the server's messages_per_second

export async function loadConfig() {
  let file = {};
  try {
    const response = await fetch('/config.json', { cache: 'no-store' });
    if (response.ok) file = await response.json();
  } catch {
    // no config file: same origin, default pacing
  }
  const config = { ...DEFAULTS, ...file };
  const override = new URLSearchParams(location.search).get('sendWindowMs');
  if (override !== null) config.sendWindowMs = Number(override);
  return {
    apiBaseUrl: String(config.apiBaseUrl || '').replace(/\/+$/, ''),
    sendWindowMs: clamp(Number(config.sendWindowMs) || DEFAULTS.sendWindowMs, WINDOW_MS.min, WINDOW_MS.max),
  };
}

function clamp(value, min, max) {
  return Math.min(max, Math.max(min, value));
}
