// Small DOM helpers. Mail content is untrusted: it only ever becomes text nodes, never HTML.

/** ``h("a", {href: "#x", class: "y"}, "text", child)``: an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** ``text`` with every occurrence of ``terms`` wrapped in <mark> (case-insensitive). */
export function highlight(text, terms) {
  const words = (terms || []).filter((t) => t && t.length > 1).map(escapeRe);
  if (!words.length) return [text];
  const re = new RegExp(`(${words.join("|")})`, "gi");
  return text.split(re).map((part, i) => (i % 2 ? h("mark", {}, part) : part));
}

const dateFmt = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
});
const shortFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

/** A date for a message header. */
export function longDate(iso) {
  return iso ? dateFmt.format(new Date(iso)) : "no date";
}

/** A date for a list row. */
export function shortDate(iso) {
  return iso ? shortFmt.format(new Date(iso)) : "";
}

/** A <time> element. */
export function timeEl(iso, short = false) {
  return h("time", { datetime: iso || null }, short ? shortDate(iso) : longDate(iso));
}

/** "Name <email>" for an address object, or the email alone. */
export function who(address) {
  if (!address) return "(no sender)";
  return address.name ? `${address.name} <${address.email}>` : address.email;
}

/** A folder name as people read it (Maildir++ folders start with a dot). */
export function folderLabel(name) {
  if (name === "INBOX") return "Inbox";
  return name.replace(/^\./, "").replace(/\./g, " / ");
}
