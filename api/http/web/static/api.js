// The public API as the client uses it: the key, JSON calls, problem+json errors and the
// Server-Sent Events of POST /v1/chat (EventSource cannot POST, so the stream is read by hand).

const KEY_ITEM = "mailmind.key";

export function getKey() {
  return localStorage.getItem(KEY_ITEM);
}

export function setKey(key) {
  localStorage.setItem(KEY_ITEM, key);
}

export function clearKey() {
  localStorage.removeItem(KEY_ITEM);
}

/** An error answer of the API (RFC 9457 problem document), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, title, detail, retryAfter, code) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.code = code;
  }

  /** What the page shows: the problem in words, and when to retry for 429/503. */
  get readable() {
    const first = this.title ? this.title[0].toUpperCase() + this.title.slice(1) : "Error";
    let text = this.detail ? `${first}: ${this.detail}.` : `${first}.`;
    if (this.status === 422 && this.errors?.length) {
      text += " " + this.errors.map((e) => `${e.field || e.loc?.join(".")}: ${e.msg}`).join("; ");
    }
    if ((this.status === 429 || this.status === 503) && this.retryAfter != null) {
      text += ` Retry after ${this.retryAfter} s.`;
    }
    return text;
  }
}

async function toError(response) {
  const retry = response.headers.get("Retry-After");
  const retryAfter = retry != null && /^\d+$/.test(retry) ? Number(retry) : null;
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = new ApiError(
    response.status,
    body?.title || response.statusText || `HTTP ${response.status}`,
    body?.detail || "",
    retryAfter,
    body?.code,
  );
  error.errors = body?.errors;
  return error;
}

function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  const key = getKey();
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}

async function send(method, path, body, extraHeaders, signal) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body === undefined ? extraHeaders : { "Content-Type": "application/json", ...extraHeaders }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, "network error", "the server could not be reached", null, "network");
  }
  if (!response.ok) throw await toError(response);
  return response;
}

/** GET a JSON route; ``query`` values that are null/undefined are left out. */
export async function get(path, query = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v != null) params.set(k, String(v));
  const qs = params.toString();
  const response = await send("GET", qs ? `${path}?${qs}` : path);
  return response.json();
}

/** POST JSON, answer JSON. */
export async function post(path, body) {
  const response = await send("POST", path, body);
  return response.json();
}

/**
 * POST and read the answer as Server-Sent Events: ``onEvent(name, data)`` for each one.
 * Errors before the stream starts throw an ApiError; an ``error`` event is passed on.
 */
export async function stream(path, body, onEvent, signal) {
  const response = await send("POST", path, body, { Accept: "text/event-stream" }, signal);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}
