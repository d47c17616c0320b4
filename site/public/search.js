// Package search over /packages.json: rows of
// [name, downloads last 30 days, downloads all time, summary].
(function () {
  'use strict';
  var input = document.getElementById('q');
  var status = document.getElementById('status');
  var results = document.getElementById('results');
  var rows = [];
  var LIMIT = 100;

  function canonical(s) {
    return s.trim().toLowerCase().replace(/[-_.]+/g, '-');
  }
  function grouped(n) {
    return n.toLocaleString('en-US');
  }
  function show(query) {
    results.textContent = '';
    var q = canonical(query);
    if (q.length < 2) {
      status.textContent = 'Type at least 2 characters of a name (' + grouped(rows.length) + ' packages).';
      return;
    }
    var found = rows.filter(function (r) { return r[0].indexOf(q) !== -1; });
    found.sort(function (a, b) {
      return (b[0] === q) - (a[0] === q) || b[1] - a[1] || b[2] - a[2] || (a[0] < b[0] ? -1 : 1);
    });
    found.slice(0, LIMIT).forEach(function (r) {
      var li = document.createElement('li');
      var dl = li.appendChild(document.createElement('span'));
      dl.className = 'dl';
      dl.textContent = grouped(r[1]) + ' downloads / 30 days';
      var a = li.appendChild(document.createElement('a'));
      a.href = '/project/' + encodeURIComponent(r[0]) + '/';
      a.textContent = r[0];
      if (r[3]) {
        var d = li.appendChild(document.createElement('span'));
        d.className = 'desc';
        d.textContent = r[3];
      }
      results.appendChild(li);
    });
    status.textContent = found.length === 0 ? 'No package matches.'
      : found.length > LIMIT ? 'Showing the top ' + LIMIT + ' of ' + grouped(found.length) + ' matches.'
      : grouped(found.length) + (found.length === 1 ? ' match.' : ' matches.');
  }
  fetch('/packages.json')
    .then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    })
    .then(function (data) {
      rows = data;
      input.disabled = false;
      input.addEventListener('input', function () { show(input.value); });
      var initial = new URLSearchParams(location.search).get('q');
      if (initial) input.value = initial;
      show(input.value);
      input.focus();
    })
    .catch(function (e) {
      status.textContent = 'Could not load the package list (' + e.message + ').';
    });
})();
