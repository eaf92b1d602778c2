// Buttons marked data-print print the page; without JavaScript they stay hidden and the browser's menu prints.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
