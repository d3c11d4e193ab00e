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

// Name look-up in the people, organisations and places facets' "More" boxes: suggestions from
// /api/people, /api/organizations or /api/places (the input's data-lookup) as links that add
// the name to the current search. Without JavaScript each box is a plain form field: typing a
// full name and pressing Enter filters by it.
document.querySelectorAll("input[data-lookup]").forEach(function (input) {
  "use strict";
  var list = document.getElementById(input.getAttribute("aria-controls"));
  if (!list || !window.fetch) return;
  var endpoint = input.getAttribute("data-lookup");
  var key = input.getAttribute("data-key");
  var param = input.getAttribute("data-param");
  var none = input.getAttribute("data-none");
  var timer = null;
  var asked = "";

  function urlWith(name) {
    var url = new URL(window.location.href);
    var chosen = url.searchParams.getAll(param);
    if (chosen.indexOf(name) === -1) url.searchParams.append(param, name);
    url.searchParams.delete("page");
    return url.pathname + url.search;
  }

  function show(names) {
    list.textContent = "";
    names.forEach(function (p) {
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
    if (!names.length && input.value.trim()) {
      var nothing = document.createElement("li");
      nothing.className = "none";
      nothing.textContent = none;
      list.appendChild(nothing);
    }
  }

  function ask() {
    var prefix = input.value.trim();
    if (prefix === asked) return;
    asked = prefix;
    if (!prefix) { show([]); return; }
    fetch(endpoint + "?limit=10&prefix=" + encodeURIComponent(prefix), {headers: {Accept: "application/json"}})
      .then(function (r) { var empty = {}; empty[key] = []; return r.ok ? r.json() : empty; })
      .then(function (body) { if (asked === prefix) show(body[key] || []); })
      .catch(function () { /* the plain form still works */ });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 150);
  });
});

// "What stands out" on the results page: the words and names of /api/significant (the panel's
// data-api) as links that add them to the search. Without JavaScript the panel is a link to
// the page /significant.
document.querySelectorAll("section.significant[data-api]").forEach(function (panel) {
  "use strict";
  var target = panel.querySelector(".sig-panel");
  var kinds = [["words", "Words"], ["people", "People"], ["organizations", "Organisations"],
               ["places", "Places"]];
  fetch(panel.getAttribute("data-api"), {headers: {Accept: "application/json"}})
    .then(function (resp) { return resp.ok ? resp.json() : null; })
    .then(function (body) {
      if (!body) return;
      var shown = 0;
      kinds.forEach(function (kind) {
        var terms = body[kind[0]] || [];
        if (!terms.length) return;
        var box = document.createElement("div");
        box.className = "sig-kind";
        var title = document.createElement("h3");
        title.textContent = kind[1];
        box.appendChild(title);
        var list = document.createElement("ul");
        list.className = "sig-list";
        list.setAttribute("data-kind", kind[0]);
        terms.forEach(function (t) {
          var item = document.createElement("li");
          var link = document.createElement("a");
          link.href = t.search_url;
          link.textContent = t.term;
          link.title = "Add to the search";
          var counts = document.createElement("span");
          counts.className = "sig-counts";
          counts.textContent = " " + t.foreground + " / " + t.background;
          counts.title = t.foreground + " of the " + body.foreground +
            " matching articles; " + t.background + " of all " + body.background;
          item.appendChild(link);
          item.appendChild(counts);
          list.appendChild(item);
          shown += 1;
        });
        box.appendChild(list);
        target.appendChild(box);
      });
      if (!shown) target.textContent = "Nothing stands out in these articles.";
      panel.classList.add("loaded");
    })
    .catch(function () { /* the link stays */ });
});
