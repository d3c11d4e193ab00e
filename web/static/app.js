// Progressive enhancement only: every control also works as a plain form or link.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  // empty fields (an untouched date or person box) stay out of the address of the search
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.method.toLowerCase() !== "get") return;
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && (el.value === "" || el.value == null) && !el.disabled) el.disabled = true;
    });
    window.setTimeout(function () {  // re-enable for a page restored from the back/forward cache
      Array.prototype.forEach.call(form.elements, function (el) { el.disabled = false; });
    }, 0);
  });
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches("[data-autosubmit]") && el.form) {
      // submitting navigates, so each state gets its own history entry (the back button works)
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });
})();

// People look-up in the people facet's "More people" box: suggestions from /api/people as
// links that add the person to the current search. Without JavaScript the box is a plain
// form field: typing a full name and pressing Enter filters by that person.
(function () {
  "use strict";
  var input = document.getElementById("people-lookup");
  var list = document.getElementById("people-suggestions");
  if (!input || !list || !window.fetch) return;
  var timer = null;
  var asked = "";

  function urlWith(name) {
    var url = new URL(window.location.href);
    var chosen = url.searchParams.getAll("person");
    if (chosen.indexOf(name) === -1) url.searchParams.append("person", name);
    url.searchParams.delete("page");
    return url.pathname + url.search;
  }

  function show(people) {
    list.textContent = "";
    people.forEach(function (p) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = urlWith(p.name);
      a.className = "name";
      a.textContent = p.name;
      var n = document.createElement("span");
      n.className = "n";
      n.textContent = String(p.count);
      li.appendChild(a);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(n);
      list.appendChild(li);
    });
    if (!people.length && input.value.trim()) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = "Nobody in the archive by that name";
      list.appendChild(none);
    }
  }

  function ask() {
    var prefix = input.value.trim();
    if (prefix === asked) return;
    asked = prefix;
    if (!prefix) { show([]); return; }
    fetch("/api/people?limit=10&prefix=" + encodeURIComponent(prefix), {headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : {people: []}; })
      .then(function (body) { if (asked === prefix) show(body.people || []); })
      .catch(function () { /* the plain form still works */ });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 150);
  });
})();
