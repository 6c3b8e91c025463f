// Boot and routing of the web client. Routes live in the URL fragment, so the server only
// ever serves one page:  #/folder/NAME[/OFFSET]  #/search/QUERY  #/thread/ID[/MESSAGE_ID]
// #/message/ID.  ``#key=mm_...`` (the link `mailmind serve` prints) signs in with that key.

import { loadActions } from "./actions.js";
import { ApiError, clearKey, get, getKey, setKey } from "./api.js";
import { ask, newConversation, restore } from "./assistant.js";
import { loadFolders, markFolder, showFolder, showSearch } from "./mailbox.js";
import { focusMessage, isOpen, showThread } from "./thread.js";
import { arrowKeys, clearError, showError, status } from "./ui.js";

const $ = (id) => document.getElementById(id);
const narrow = window.matchMedia("(max-width: 760px)");
let lastList = "#/folder/INBOX";

function showLogin(message) {
  $("app").hidden = true;
  $("search-form").hidden = true;
  $("top-actions").hidden = true;
  $("login").hidden = false;
  if (message) showError(message);
  $("key").focus();
}

function setAssistant(open) {
  document.body.dataset.assistant = open ? "open" : "closed";
  $("assistant-toggle").setAttribute("aria-expanded", String(open));
}

function showView(name) {
  $("list-view").hidden = name !== "list";
  $("thread-view").hidden = name !== "thread";
}

async function route() {
  // In-page anchors (the skip link's #main) are not routes.
  if (location.hash && !location.hash.startsWith("#/")) return;
  // Split first, then decode: a search for "a/b" arrives as "a%2Fb" in one part.
  const [, kind, arg, extra] = location.hash.slice(1).split("/").map(decodeURIComponent);
  clearError();
  if (narrow.matches && kind) setAssistant(false);
  try {
    if (kind === "thread" && arg) {
      showView("thread");
      if (isOpen(arg) && extra && focusMessage(extra)) return;
      await showThread(arg, extra);
    } else if (kind === "message" && arg) {
      showView("thread");
      const found = await get(`/v1/messages/${encodeURIComponent(arg)}`);
      if (isOpen(found.message.thread_id) && focusMessage(arg)) return;
      await showThread(found.message.thread_id, arg);
    } else if (kind === "search" && arg) {
      lastList = location.hash;
      showView("list");
      markFolder(null);
      await showSearch(arg);
    } else {
      const folder = kind === "folder" && arg ? arg : "INBOX";
      lastList = location.hash || "#/folder/INBOX";
      showView("list");
      markFolder(folder);
      await showFolder(folder, Number(extra) || 0);
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      clearKey();
      showLogin(error);
    } else {
      showError(error);
    }
  }
}

async function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("search-form").hidden = false;
  $("top-actions").hidden = false;
  try {
    await loadFolders("INBOX");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      clearKey();
      showLogin(error);
      return;
    }
    showError(error);
  }
  await route();
  await restore();
  loadActions();
}

function wire() {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setKey($("key").value.trim());
    $("key").value = "";
    clearError();
    start();
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = $("q").value.trim();
    if (q) location.hash = `#/search/${encodeURIComponent(q)}`;
  });
  $("sign-out").addEventListener("click", () => {
    clearKey();
    status("Signed out.");
    showLogin();
  });
  $("assistant-toggle").addEventListener("click", () => {
    const open = document.body.dataset.assistant !== "open";
    setAssistant(open);
    if (open) $("question").focus();
  });
  $("back").addEventListener("click", () => {
    location.hash = lastList;
  });
  $("error-close").addEventListener("click", clearError);
  $("new-chat").addEventListener("click", newConversation);
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question) return;
    $("question").value = "";
    ask(question);
  });
  $("question").addEventListener("keydown", (event) => {
    // Enter asks, Shift+Enter is a new line (as in chat apps).
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("chat-form").requestSubmit();
    }
  });
  arrowKeys($("message-list"), "a.row-link");
  window.addEventListener("hashchange", () => {
    if (getKey()) route();
  });
}

wire();
setAssistant(!narrow.matches);
const fromLink = location.hash.match(/^#key=(mm_[A-Za-z0-9_-]+)$/);
if (fromLink) {
  setKey(fromLink[1]);
  history.replaceState(null, "", "#/folder/INBOX"); // the key leaves the address bar
}
if (getKey()) start();
else showLogin();
