// Folders, the paginated message list (GET /v1/folders, GET /v1/messages) and search results
// (GET /v1/search) with the matched terms highlighted.

import { get } from "./api.js";
import { fill, folderLabel, h, highlight, timeEl } from "./dom.js";
import { errorText, status } from "./ui.js";

const $ = (id) => document.getElementById(id);
export const PAGE = 20;

/** Draw the folder list; ``current`` is marked as the current page. */
export async function loadFolders(current) {
  const list = $("folder-list");
  const body = await get("/v1/folders");
  fill(
    list,
    body.folders.map((f) =>
      h(
        "li",
        {},
        h(
          "a",
          {
            href: `#/folder/${encodeURIComponent(f.name)}`,
            "aria-current": f.name === current ? "page" : null,
            "data-folder": f.name,
          },
          h("span", { class: "folder-name" }, folderLabel(f.name)),
          f.unread
            ? h("span", { class: "badge", "aria-label": `${f.unread} unread` }, String(f.unread))
            : null,
        ),
      ),
    ),
  );
  if (!body.folders.length) fill(list, h("li", { class: "empty" }, "No folders yet."));
}

export function markFolder(current) {
  for (const a of document.querySelectorAll("#folder-list a")) {
    if (a.dataset.folder === current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function row({ href, unread, sender, subject, date, summary, terms, threadSize, attach }) {
  const label = `${unread ? "Unread. " : ""}${sender}: ${subject || "(no subject)"}`;
  return h(
    "li",
    { class: unread ? "row unread" : "row" },
    h(
      "a",
      { href, class: "row-link", "aria-label": label },
      h("span", { class: "row-top" },
        h("span", { class: "row-sender" }, sender),
        threadSize > 1 ? h("span", { class: "count", title: "messages in the thread" }, String(threadSize)) : null,
        attach ? h("span", { class: "attach", title: "has attachments" }, "attachment") : null,
        h("span", { class: "row-date" }, timeEl(date, true)),
      ),
      h("span", { class: "row-subject" }, ...highlight(subject || "(no subject)", terms)),
      h("span", { class: "row-summary" }, ...highlight(summary || "", terms)),
    ),
  );
}

function setLoading(title) {
  $("list-title").textContent = title;
  const list = $("message-list");
  list.setAttribute("aria-busy", "true");
  fill(list, h("li", { class: "loading" }, "Loading messages…"));
  status("Loading messages…");
}

/** One page of a folder, newest first. */
export async function showFolder(folder, offset) {
  setLoading(folderLabel(folder));
  const list = $("message-list");
  const pager = { prev: $("prev-page"), next: $("next-page"), info: $("page-info") };
  try {
    const page = await get("/v1/messages", { folder, offset, limit: PAGE });
    fill(
      list,
      page.messages.map((m) =>
        row({
          href: `#/thread/${m.thread_id}`,
          unread: m.unread,
          sender: m.sender ? m.sender.name || m.sender.email : "(no sender)",
          subject: m.subject,
          date: m.date,
          summary: m.summary,
          threadSize: m.thread_size,
          attach: m.has_attachments,
        }),
      ),
    );
    if (!page.messages.length) fill(list, h("li", { class: "empty" }, "No messages in this folder."));
    const last = page.offset + page.messages.length;
    pager.info.textContent = page.total ? `${page.offset + 1}–${last} of ${page.total}` : "";
    pager.prev.hidden = page.offset === 0;
    pager.next.hidden = page.next_offset == null;
    pager.prev.onclick = () => (location.hash = `#/folder/${encodeURIComponent(folder)}/${Math.max(0, offset - PAGE)}`);
    pager.next.onclick = () => (location.hash = `#/folder/${encodeURIComponent(folder)}/${page.next_offset}`);
    status(`${page.total} messages in ${folderLabel(folder)}.`);
  } catch (error) {
    fill(list, h("li", { class: "error" }, errorText(error)));
    pager.prev.hidden = pager.next.hidden = true;
    pager.info.textContent = "";
    throw error;
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

/** Search results, best first, with the matched terms highlighted. */
export async function showSearch(q) {
  setLoading(`Search: ${q}`);
  $("q").value = q;
  const list = $("message-list");
  $("prev-page").hidden = $("next-page").hidden = true;
  $("page-info").textContent = "";
  try {
    const body = await get("/v1/search", { q, limit: 25 });
    fill(
      list,
      body.results.map((r) =>
        row({
          href: `#/thread/${r.thread_id}/${r.message_id}`,
          unread: false,
          sender: r.sender_name || r.sender,
          subject: r.subject,
          date: r.date,
          summary: r.snippet,
          terms: r.matched_terms,
        }),
      ),
    );
    if (!body.results.length) fill(list, h("li", { class: "empty" }, `No messages match “${q}”.`));
    status(`${body.count} results for “${q}”.`);
  } catch (error) {
    fill(list, h("li", { class: "error" }, errorText(error)));
    throw error;
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}
