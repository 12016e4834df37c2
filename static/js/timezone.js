// Time zone page: offer the zone this device is set to, when it is one of the list and not
// the one selected. The page works without this file.
(function () {
  "use strict";
  var box = document.querySelector("[data-device-zone]");
  var select = document.querySelector("select[name=time_zone]");
  if (!box || !select || !window.Intl || !Intl.DateTimeFormat) { return; }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  var aliases = document.getElementById("zone-aliases");
  if (zone && aliases) { zone = JSON.parse(aliases.textContent)[zone] || zone; }  // "Asia/Calcutta" -> "Asia/Kolkata"
  var option = Array.prototype.find.call(select.options, function (o) { return o.value === zone; });
  if (!zone || !option || select.value === zone) { return; }
  box.querySelector("[data-device-zone-name]").textContent = option.textContent;
  box.classList.remove("d-none");
  box.querySelector("[data-device-zone-use]").addEventListener("click", function () {
    select.value = zone;
    select.focus();
    box.classList.add("d-none");
  });
})();
