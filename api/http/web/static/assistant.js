// The assistant panel: POST /v1/chat as Server-Sent Events (tokens and tool calls appear as
// they happen), citations as links into the mailbox, and the conversation read back from
// GET /v1/conversations/{id} after a reload; actions it proposes wait in actions.js.

import { loadActions } from "./actions.js";
import { ApiError, get, stream } from "./api.js";
import { fill, h } from "./dom.js";
import { thumbs } from "./feedback.js";
import { errorText, showError, status } from "./ui.js";

const $ = (id) => document.getElementById(id);
const CONVERSATION_ITEM = "mailmind.conversation";
const CITE = /\[((?:[mt][0-9a-f]{12,40})|(?:[\w.+-]+@[\w.-]+))\]/g;

function conversationId() {
  let id = localStorage.getItem(CONVERSATION_ITEM);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    id = "web-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(CONVERSATION_ITEM, id);
  }
  return id;
}

function citationHref(c) {
  if (c.kind === "message") return `#/message/${c.id}`;
  if (c.kind === "thread") return `#/thread/${c.id}`;
  return null;
}

/** The answer's text with each ``[id]`` turned into a numbered link into the mailbox, and the
 * citations the text does not show inline listed below it. */
function renderAnswer(answer, citations) {
  const unique = [...new Map(citations.map((c) => [c.id, c])).values()];
  const byId = new Map(unique.map((c, i) => [c.id, { ...c, n: i + 1 }]));
  const inline = new Set();
  const parts = [];
  let last = 0;
  for (const match of answer.matchAll(CITE)) {
    parts.push(answer.slice(last, match.index));
    last = match.index + match[0].length;
    const c = byId.get(match[1]);
    if (!c) continue; // not a checked citation: never shown as a source
    inline.add(c.id);
    const href = citationHref(c);
    const label = c.description ? `Source ${c.n}: ${c.description}` : `Source ${c.n}`;
    parts.push(href ? h("a", { href, class: "cite", "data-cite": c.id, title: label, "aria-label": label }, `[${c.n}]`) : `[${c.n}]`);
  }
  parts.push(answer.slice(last));
  const rest = [...byId.values()].filter((c) => !inline.has(c.id));
  const sources = rest.length
    ? h("ol", { class: "sources", "aria-label": "More sources" }, rest.map((c) => {
        const href = citationHref(c);
        const text = c.description || `${c.kind} ${c.id}`;
        return h("li", {}, href ? h("a", { href, class: "source", "data-cite": c.id }, text) : text);
      }))
    : null;
  return [h("div", { class: "answer-text" }, parts), sources];
}

function toolLine(name, args) {
  const shown = Object.entries(args || {}).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
  return h("li", { class: "tool", "data-tool": name }, h("span", { class: "tool-name" }, name), shown ? ` (${shown})` : "");
}

function turnView(question) {
  const answer = h("div", { class: "answer", "aria-busy": "true" });
  const tools = h("ul", { class: "tools", "aria-label": "Tools used" });
  const item = h(
    "li",
    { class: "turn" },
    h("p", { class: "question" }, h("span", { class: "sr-only" }, "You asked: "), question),
    h("div", { class: "bubble" }, h("span", { class: "sr-only" }, "Assistant: "), tools, answer),
  );
  $("chat-log").append(item);
  return { item, answer, tools };
}

function finish(view, done, conversation) {
  fill(view.answer, renderAnswer(done.answer, done.citations));
  view.answer.setAttribute("aria-busy", "false");
  view.item.querySelector(".bubble").append(thumbs("answer", conversation, "answer"));
}

/** Show the stored conversation again (after a reload); forget it if the server has none. */
export async function restore() {
  const id = localStorage.getItem(CONVERSATION_ITEM);
  fill($("chat-log"));
  if (!id) return;
  try {
    const body = await get(`/v1/conversations/${encodeURIComponent(id)}`);
    for (const turn of body.turns) {
      const view = turnView(turn.question);
      for (const c of turn.tool_calls) view.tools.append(toolLine(c.name, c.args));
      finish(view, turn, id);
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) localStorage.removeItem(CONVERSATION_ITEM);
    else showError(error);
  }
}

export function newConversation() {
  localStorage.removeItem(CONVERSATION_ITEM);
  fill($("chat-log"));
  status("New conversation started.");
  $("question").focus();
}

/** Ask one question and stream the answer into the panel. */
export async function ask(question) {
  const conversation = conversationId();
  const view = turnView(question);
  const button = $("ask");
  button.disabled = true;
  status("The assistant is working…");
  let tokens = "";
  let done = null;
  try {
    await stream(
      "/v1/chat",
      { messages: [{ role: "user", content: question }], conversation_id: conversation },
      (event, data) => {
        if (event === "tool_call") view.tools.append(toolLine(data.name, data.args));
        else if (event === "tool_result") {
          const line = [...view.tools.querySelectorAll(`[data-tool="${CSS.escape(data.name)}"]`)].pop();
          if (line) line.append(data.ok ? ` ✓ ${data.chars} chars` : " ✗ failed");
        } else if (event === "token") {
          tokens += data.text;
          view.answer.textContent = tokens;
        } else if (event === "done") done = data;
        else if (event === "error") {
          throw new ApiError(data.status || 500, data.title || "error", data.detail || "", null, data.code);
        }
      },
    );
    if (!done) throw new ApiError(0, "stream ended", "the answer stopped before it was complete");
    finish(view, done, conversation);
    status("Answer ready.");
    loadActions(); // the answer may have proposed an action that needs approval
  } catch (error) {
    view.answer.setAttribute("aria-busy", "false");
    fill(view.answer, h("p", { class: "error" }, errorText(error)));
    showError(error);
  } finally {
    button.disabled = false;
  }
}
