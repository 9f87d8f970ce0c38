// Keys of the Annotate page (dashboard/ui/pages/annotate.py): each clicks its button, so a key does
// exactly what the button does. Typing in a text box, or with a modifier held, is left alone.
(function () {
  var KEYS = {c: "annotate-correct", i: "annotate-incorrect", u: "annotate-unsure", d: "annotate-send",
              s: "annotate-skip"};
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) { return; }
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) { return; }
    var id = KEYS[event.key];
    var button = id && document.getElementById(id);
    if (button && !button.hidden && !button.disabled) {
      event.preventDefault();
      button.click();
    }
  });
})();
