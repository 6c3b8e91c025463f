// Pending actions (GET /v1/actions?status=pending): what the assistant proposed to do (send a
// mail, answer an invitation, ...), with warnings where an argument came from mail content,
// and the user's approve / reject (POST /v1/actions/{id}/approve|reject). Nothing runs unseen.

import { get, post } from "./api.js";
import { fill, h } from "./dom.js";
import { errorText, showError, status } from "./ui.js";

const $ = (id) => document.getElementById(id);

function actionView(action) {
  const note = h("p", { class: "action-note", "aria-live": "polite" });
  const decide = (decision) => async (event) => {
    const buttons = event.currentTarget.parentElement.querySelectorAll("button");
    for (const b of buttons) b.disabled = true;
    try {
      const out = await post(`/v1/actions/${encodeURIComponent(action.id)}/${decision}`, {});
      status(`Action ${out.status}: ${out.summary}`);
      await loadActions();
    } catch (error) {
      note.textContent = errorText(error);
      for (const b of buttons) b.disabled = false;
    }
  };
  return h(
    "li",
    { class: "action", "data-action": action.id },
    h("p", { class: "action-summary" }, action.summary),
    action.flags.length
      ? h("ul", { class: "action-flags", "aria-label": "Warnings" }, action.flags.map((f) => h("li", {}, `⚠ ${f}`)))
      : null,
    h(
      "div",
      { class: "action-buttons" },
      h("button", { type: "button", class: "approve", onclick: decide("approve") }, "Approve"),
      h("button", { type: "button", class: "reject", onclick: decide("reject") }, "Reject"),
    ),
    note,
  );
}

/** Show the pending actions (the section hides when there are none). */
export async function loadActions() {
  const section = $("actions");
  try {
    const body = await get("/v1/actions", { status: "pending" });
    fill($("action-list"), body.actions.map(actionView));
    section.hidden = body.actions.length === 0;
  } catch (error) {
    showError(error);
  }
}
