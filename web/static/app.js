// Progressive enhancement only: every control also works as a plain form or link.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches("[data-autosubmit]") && el.form) {
      // submitting navigates, so each state gets its own history entry (the back button works)
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });
})();
