// The thread view: the summary with citation links (POST /v1/summarize), the messages with
// quoted text folded (GET /v1/threads/{id}), and under each message that triggers the
// smart-reply chips (POST /v1/smart-reply), a reply box and a full draft streamed from
// POST /v1/drafts.

import { ApiError, get, post, stream } from "./api.js";
import { fill, h, longDate, timeEl, who } from "./dom.js";
import { sendFeedback, thumbs } from "./feedback.js";
import { errorText, showError, status } from "./ui.js";

const $ = (id) => document.getElementById(id);
let current = null; // {id, order: Map(messageId -> 1-based position)}

/** Move the reader to a message of the open thread (a citation's target). */
export function focusMessage(messageId) {
  const el = document.getElementById(`msg-${messageId}`);
  if (!el) return false;
  for (const old of document.querySelectorAll(".message.cited")) old.classList.remove("cited");
  el.classList.add("cited");
  el.scrollIntoView({ block: "start" });
  el.focus({ preventScroll: true });
  return true;
}

export function isOpen(threadId) {
  return current?.id === threadId;
}

/** Open a thread (its summary, messages and chips); focus ``messageId`` or the title. */
export async function showThread(threadId, messageId) {
  const title = $("thread-title");
  const box = $("thread-messages");
  title.textContent = "Loading the thread…";
  fill($("summary-body"));
  fill(box, h("p", { class: "loading" }, "Loading messages…"));
  status("Loading the thread…");
  let thread;
  try {
    thread = await get(`/v1/threads/${encodeURIComponent(threadId)}`);
  } catch (error) {
    title.textContent = "This thread could not be opened";
    fill(box, h("p", { class: "error" }, errorText(error)));
    throw error;
  }
  current = { id: thread.id, order: new Map(thread.messages.map((m, i) => [m.id, i + 1])) };
  title.textContent = thread.subject || "(no subject)";
  fill(box, thread.messages.map((m, i) => messageView(m, i + 1, thread.messages.length)));
  status(`${thread.message_count} messages in this thread.`);
  if (!messageId || !focusMessage(messageId)) title.focus();
  loadSummary(thread);
  loadChips(thread);
}

function messageView(m, n, count) {
  const own = (m.new_text || "").trim();
  const whole = (m.body_text || "").trim();
  return h(
    "article",
    { id: `msg-${m.id}`, class: "message", tabindex: "-1", "aria-labelledby": `msg-${m.id}-head` },
    h(
      "header",
      { id: `msg-${m.id}-head`, class: "message-head" },
      h("span", { class: "msg-n", "aria-label": `Message ${n} of ${count}` }, `${n}`),
      h("span", { class: "msg-from" }, who(m.sender)),
      h("span", { class: "msg-date" }, timeEl(m.date)),
    ),
    m.to.length ? h("p", { class: "msg-to" }, "To: ", m.to.map(who).join(", ")) : null,
    h("div", { class: "msg-body" }, own || whole || "(no text)"),
    whole && own && whole !== own
      ? h("details", { class: "quoted" }, h("summary", {}, "Show quoted text"), h("div", { class: "msg-body" }, whole))
      : null,
    m.attachments.length
      ? h("ul", { class: "attachments", "aria-label": "Attachments" },
          m.attachments.map((a) => h("li", {}, `Attachment: ${a.filename || a.content_type} (${Math.ceil(a.size / 1024)} kB)`)))
      : null,
    h("div", { class: "reply-slot", id: `reply-slot-${m.id}` }),
  );
}

function citeLinks(ids, threadId) {
  return (ids || []).map((id) => {
    const n = current?.order.get(id);
    return h(
      "a",
      {
        href: `#/thread/${threadId}/${id}`,
        class: "cite",
        "data-cite": id,
        "aria-label": n ? `Source: message ${n}` : "Source message",
        onclick: (event) => {
          if (focusMessage(id)) event.preventDefault();
        },
      },
      `[${n ?? "?"}]`,
    );
  });
}

async function loadSummary(thread) {
  const body = $("summary-body");
  body.setAttribute("aria-busy", "true");
  fill(body, h("p", { class: "loading" }, "Summarising the thread…"));
  try {
    const s = await post("/v1/summarize", { thread_id: thread.id });
    if (!isOpen(thread.id)) return;
    const parts = [];
    if (s.sentences.length) {
      parts.push(h("ul", { class: "summary-sentences" },
        s.sentences.map((x) => h("li", {}, `${x.text} `, ...citeLinks(x.citations, thread.id)))));
    } else {
      parts.push(h("p", { class: "empty" }, "Nothing to summarise."));
    }
    if (s.action_items.length) {
      parts.push(h("h4", {}, "Action items"));
      parts.push(h("ul", { class: "actions" }, s.action_items.map((a) =>
        h("li", {}, a.text, a.due ? h("span", { class: "due" }, ` (due ${a.due})`) : null, " ",
          ...citeLinks(a.citations, thread.id)))));
    }
    if (s.dates.length) {
      parts.push(h("h4", {}, "Dates"));
      parts.push(h("ul", { class: "dates" }, s.dates.map((d) =>
        h("li", {}, h("time", { datetime: d.date }, d.date), ": ", d.text, " ", ...citeLinks(d.citations, thread.id)))));
    }
    if (s.warnings?.length) {
      parts.push(h("p", { class: "warning", role: "note" }, "⚠ Some messages here look like phishing: check the sender before acting."));
    }
    parts.push(h("p", { class: "method" }, s.method === "abstractive" ? "Written by the model, checked against the messages." : "Sentences taken from the messages."));
    parts.push(thumbs("summary", thread.id, "summary"));
    fill(body, parts);
  } catch (error) {
    if (isOpen(thread.id)) fill(body, h("p", { class: "error" }, errorText(error)));
  } finally {
    body.setAttribute("aria-busy", "false");
  }
}

async function loadChips(thread) {
  // Newest first: the message most likely to need an answer gets its chips first.
  for (const m of [...thread.messages].reverse()) {
    if (!isOpen(thread.id)) return;
    let result;
    try {
      result = await post("/v1/smart-reply", { message_id: m.id });
    } catch (error) {
      showError(error);
      return;
    }
    const slot = document.getElementById(`reply-slot-${m.id}`);
    if (slot && result.triggered && result.chips.length) fill(slot, replyBox(m, result));
  }
}

function calendarNote(result) {
  const p = result.proposed_time;
  if (!p) return null;
  const check = result.calendar_check;
  const words = { free: "you are free", tentative: "something tentative is booked", busy: "you are busy",
    on_calendar: "it is already on your calendar", past: "that time has passed", no_calendar: "no calendar to check" };
  return h(
    "p",
    { class: "calendar-note" },
    "Proposed: ", h("time", { datetime: p.start }, longDate(p.start)), ` (“${p.text}”)`,
    check ? ` — ${words[check.status] || check.status}` : "",
    check?.conflicts?.length ? ` (${check.conflicts.join(", ")})` : "",
    check?.alternative ? [". Free slot checked: ", h("time", { datetime: check.alternative, class: "free-slot" }, longDate(check.alternative))] : "",
    ".",
  );
}

function replyBox(message, result) {
  const boxId = `reply-${message.id}`;
  const texts = result.chips.map((c) => c.text);
  let chosen = null;
  const box = h("textarea", { id: boxId, class: "reply-text", rows: "4" });
  const note = h("p", { class: "draft-note", "aria-live": "polite" });
  const chips = result.chips.map((chip, i) =>
    h(
      "button",
      {
        type: "button",
        class: "chip",
        "aria-pressed": "false",
        "data-intent": chip.intent,
        onclick: async (event) => {
          chosen = chip.text;
          box.value = chip.text;
          for (const b of chips) b.setAttribute("aria-pressed", String(b === event.currentTarget));
          box.focus();
          const row = await sendFeedback(
            { kind: "chip", target_id: message.id, chip_chosen: i, chips_shown: texts },
            "Chip chosen: the reply box is filled and your choice is saved.",
          );
          if (row) box.dataset.feedbackId = String(row.id);
        },
      },
      chip.text,
    ),
  );
  const draft = h("button", { type: "button", class: "draft" }, "Draft a full reply");
  draft.addEventListener("click", async () => {
    draft.disabled = true;
    note.textContent = "Drafting a reply with the model…";
    box.setAttribute("aria-busy", "true");
    box.value = "";
    let out = null;
    try {
      // The draft streams in token by token (Server-Sent Events), then "done" has all of it.
      await stream("/v1/drafts", { message_id: message.id, instructions: chosen }, (event, data) => {
        if (event === "token") box.value += data.text;
        else if (event === "done") out = data;
        else if (event === "error") throw new ApiError(data.status || 500, data.title || "error", data.detail || "", null, data.code);
      });
      if (!out) throw new ApiError(0, "stream ended", "the draft stopped before it was complete");
      box.value = out.draft;
      note.textContent = out.calendar_context ? `Grounded in: ${out.calendar_context}` : "Draft ready: edit it before sending.";
      box.focus();
    } catch (error) {
      note.textContent = errorText(error);
    } finally {
      draft.disabled = false;
      box.setAttribute("aria-busy", "false");
    }
  });
  return h(
    "section",
    { class: "reply", "aria-label": `Reply to ${who(message.sender)}` },
    calendarNote(result),
    h("div", { class: "chips", role: "group", "aria-label": "Suggested replies" }, chips),
    h("label", { for: boxId }, "Your reply"),
    box,
    h("div", { class: "reply-actions" }, draft),
    note,
  );
}
