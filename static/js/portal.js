// Small progressive enhancements; every page works without this file.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el.matches && el.matches("select[data-autosubmit]")) {
    el.form.submit();
  }
});
