// Page-wide states: the status line (loading, saved) and the error banner (problem+json).

import { ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);

/** Say what is happening in the polite status line ("" clears it). */
export function status(text) {
  $("status").textContent = text;
}

/** Show an error (an ApiError's readable text, or any error's message) in the alert banner. */
export function showError(error) {
  const text = error instanceof ApiError ? error.readable : String(error?.message || error);
  $("error-text").textContent = text;
  $("error").hidden = false;
  status("");
}

export function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

/** The readable text of an error, for showing inside a panel. */
export function errorText(error) {
  return error instanceof ApiError ? error.readable : String(error?.message || error);
}

/** Keyboard-reachable list rows: Up/Down move between the rows' main links. */
export function arrowKeys(list, selector) {
  list.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const items = [...list.querySelectorAll(selector)];
    const at = items.indexOf(document.activeElement);
    if (at < 0) return;
    const next = items[at + (event.key === "ArrowDown" ? 1 : -1)];
    if (next) {
      next.focus();
      event.preventDefault();
    }
  });
}
