// Thumbs up/down and chip choices, stored through POST /v1/feedback.

import { post } from "./api.js";
import { h } from "./dom.js";
import { showError, status } from "./ui.js";

/** Record one feedback signal; resolves to the stored row, or null after showing the error. */
export async function sendFeedback(body, saved = "Thanks: your feedback is saved.") {
  try {
    const row = await post("/v1/feedback", body);
    status(saved);
    return row;
  } catch (error) {
    showError(error);
    return null;
  }
}

/** A pair of thumbs buttons rating ``targetId`` as ``kind`` ("answer" or "summary"). */
export function thumbs(kind, targetId, what) {
  const group = h("div", { class: "thumbs", role: "group", "aria-label": `Rate this ${what}` });
  const buttons = ["up", "down"].map((rating) =>
    h(
      "button",
      {
        type: "button",
        class: `thumb thumb-${rating}`,
        "aria-pressed": "false",
        "aria-label": rating === "up" ? `Good ${what}` : `Poor ${what}`,
        "data-rating": rating,
        onclick: async () => {
          const row = await sendFeedback({ kind, target_id: targetId, rating });
          if (row) {
            for (const b of buttons) b.setAttribute("aria-pressed", String(b === buttons[rating === "up" ? 0 : 1]));
            group.dataset.feedbackId = String(row.id);
          }
        },
      },
      rating === "up" ? "▲ Helpful" : "▼ Not helpful",
    ),
  );
  group.append(...buttons);
  return group;
}
