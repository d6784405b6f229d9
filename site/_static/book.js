// Click a figure to see it at full size; click again (or press Escape) to close.
document.addEventListener("click", (e) => {
  const img = e.target.closest(".cell_output img, figure img");
  const open = document.querySelector(".figure-zoom");
  if (open) { open.remove(); return; }
  if (!img) return;
  const box = document.createElement("div");
  box.className = "figure-zoom";
  box.title = "click or press Escape to close";
  box.appendChild(img.cloneNode());
  document.body.appendChild(box);
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") document.querySelector(".figure-zoom")?.remove();
});
