// A "Copy link" button copies the field named by its data-copy and says so where its
// data-copied points. The clipboard API needs a secure context (HTTPS or localhost); over
// plain HTTP the selected field is copied the old way.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copied);
  field.select();
  let copied = false;
  try {
    await navigator.clipboard.writeText(field.value);
    copied = true;
  } catch {
    copied = document.execCommand("copy");
  }
  status.textContent = copied ? "Copied to the clipboard." : "Press Ctrl+C to copy the selected link.";
});
