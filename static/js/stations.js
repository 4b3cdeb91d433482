// 附近驿站: ask for the position once, and draw the optional map.
// The page works without this file (district select + GET form).
(function () {
  "use strict";
  var locate = document.getElementById("locate");
  var button = document.getElementById("locate-btn");
  var statusEl = document.getElementById("locate-status");

  // UI text comes translated from the template's data-msg-* attributes (no JS
  // catalog); the Chinese fallback only shows if an attribute is missing.
  function msg(el, key, fallback) {
    return (el && el.dataset[key]) || fallback;
  }

  function say(text) {
    if (statusEl) statusEl.textContent = text;
  }

  function goTo(lat, lng) {
    var params = new URLSearchParams(window.location.search);
    params.delete("district");
    params.set("lat", lat.toFixed(6));
    params.set("lng", lng.toFixed(6));
    window.location.search = params.toString();
  }

  function askPosition() {
    if (!("geolocation" in navigator)) {
      say(msg(locate, "msgNoGeo", "这个浏览器不能定位,请在下面选择所在区。"));
      return;
    }
    say(msg(locate, "msgLocating", "正在获取你的位置…"));
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        goTo(pos.coords.latitude, pos.coords.longitude);
      },
      function () {
        say(msg(locate, "msgDenied", "没有获得位置权限,请在下面选择所在区。"));
      },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
    );
  }

  if (locate && button) {
    button.hidden = false;
    button.addEventListener("click", askPosition);
    if (locate.dataset.hasOrigin === "0") askPosition();
  }

  var district = document.getElementById("id_district");
  if (district) {
    district.addEventListener("change", function () {
      ["id_lat", "id_lng"].forEach(function (id) {
        var el = document.getElementById(id);
        if (el) el.remove();
      });
    });
  }

  var mapEl = document.getElementById("station-map");
  var toggle = document.getElementById("map-toggle");
  var dataEl = document.getElementById("station-map-data");
  if (!mapEl || !toggle || !dataEl || typeof L === "undefined") return;
  toggle.hidden = false;
  var map = null;
  toggle.addEventListener("click", function () {
    mapEl.hidden = !mapEl.hidden;
    toggle.textContent = mapEl.hidden
      ? msg(toggle, "msgShow", "显示地图")
      : msg(toggle, "msgHide", "隐藏地图");
    if (mapEl.hidden || map) return;
    var centre = [parseFloat(mapEl.dataset.lat), parseFloat(mapEl.dataset.lng)];
    map = L.map(mapEl).setView(centre, 14);
    var opts = {
      subdomains: mapEl.dataset.subdomains || "abc",
      maxZoom: 18,
      attribution: mapEl.dataset.attribution || "",
    };
    L.tileLayer(mapEl.dataset.tiles, opts).addTo(map);
    if (mapEl.dataset.labels) {
      L.tileLayer(mapEl.dataset.labels, { subdomains: opts.subdomains, maxZoom: 18 }).addTo(map);
    }
    L.circleMarker(centre, { radius: 7 }).addTo(map).bindTooltip(msg(mapEl, "msgYou", "你的位置"));
    JSON.parse(dataEl.textContent).forEach(function (s) {
      var box = document.createElement("div");
      var link = document.createElement("a");
      link.href = s.url;
      link.textContent = s.name;
      var note = document.createElement("div");
      note.textContent = s.status;
      box.appendChild(link);
      box.appendChild(note);
      L.marker([s.lat, s.lng]).addTo(map).bindPopup(box);
    });
  });
})();
